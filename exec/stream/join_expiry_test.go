package stream

import (
	"math/rand"
	"slices"
	"testing"
)

// TestExpiryQueueOrder: entries leave the expiry queue in exactly the
// order one heap gives them (exp, then arrival), whether they arrive in
// order (the FIFO), out of order (the heap), or mixed, with pops
// interleaved.
func TestExpiryQueueOrder(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		var q expiryQueue
		var ref []expEntry // what is queued
		var seq uint64
		exp := int64(0)
		// About 2000 entries stay queued at the end, so the FIFO fills
		// and empties several chunks (expChunk entries each) on the way.
		for step := 0; step < 6000; step++ {
			if rng.Intn(3) > 0 {
				exp += int64(rng.Intn(5))
				e := exp
				if rng.Intn(int(seed)+1) == 0 {
					e -= int64(rng.Intn(40)) // out of order
				}
				seq++
				q.push(expEntry{exp: e, seq: seq})
				ref = append(ref, expEntry{exp: e, seq: seq})
				continue
			}
			if len(ref) == 0 {
				if _, ok := q.peek(); ok || q.len() != 0 {
					t.Fatalf("seed %d: an empty queue peeks an entry", seed)
				}
				continue
			}
			first := 0
			for i := range ref {
				if ref[i].before(ref[first]) {
					first = i
				}
			}
			want := ref[first]
			ref = slices.Delete(ref, first, first+1)
			if p, _ := q.peek(); p != want {
				t.Fatalf("seed %d step %d: peek %+v, want %+v", seed, step, p, want)
			}
			if got := q.pop(); got != want {
				t.Fatalf("seed %d step %d: pop %+v, want %+v", seed, step, got, want)
			}
			if q.len() != len(ref) {
				t.Fatalf("seed %d: len %d, want %d", seed, q.len(), len(ref))
			}
		}
		if len(ref) < expChunk+expChunk/2 {
			t.Fatalf("seed %d: %d entries left queued, want more than a chunk and a half", seed, len(ref))
		}
	}
}

// TestExpiryQueueChunks: a queue that fills and empties many chunks
// keeps at most one spare and frees the chunks it emptied, in order.
func TestExpiryQueueChunks(t *testing.T) {
	var q expiryQueue
	var seq uint64
	next := uint64(1)
	for round := 0; round < 5; round++ {
		for range 3*expChunk + 17 {
			seq++
			q.push(expEntry{exp: int64(seq / 3), seq: seq})
		}
		if want := (q.n + q.head + expChunk - 1) / expChunk; len(q.chunks) != want {
			t.Fatalf("round %d: %d chunks for %d entries, want %d", round, len(q.chunks), q.n, want)
		}
		for q.len() > expChunk/2 {
			if e := q.pop(); e.seq != next {
				t.Fatalf("round %d: popped seq %d, want %d", round, e.seq, next)
			}
			next++
		}
		if len(q.chunks) > 2 {
			t.Fatalf("round %d: %d chunks kept for %d entries", round, len(q.chunks), q.len())
		}
	}
}

// TestIntervalJoinFreesByOtherWatermark: a row is freed once the other
// input's watermark passes the last time a partner could have: with the
// left input far ahead, the lagging right input's rows are freed as they
// arrive (no left row still to come can match them), instead of waiting
// for the right's own watermark; the output is the same.
func TestIntervalJoinFreesByOtherWatermark(t *testing.T) {
	mem := checkedMem(t)
	spec := intervalSpec(InnerJoin, 10, 10, 0)
	spec.Residual = intervalResidual(t, 10, 10)
	j, err := NewJoin(mem, joinLeft, joinRight, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rows := []jrow{
		{side: 0, k: kp(1), v: 1, ts: 5},
		{side: 0, k: kp(1), v: 2, ts: 1000}, // the left watermark moves to 1000
	}
	for ts := int64(0); ts < 50; ts++ {
		rows = append(rows, jrow{side: 1, k: kp(1), v: 10 + ts, ts: ts}) // right rows, far behind
	}
	out := runJoin(t, mem, j, false, rows, 1, false)
	// Held: the left row at 1000 (the right watermark, 49, is far from
	// it) and the right row that arrived last (freed by the next expiry).
	if st := j.Stats(); st.Groups > 2 {
		t.Fatalf("%d rows held, want ≤ 2: the right rows wait for their own watermark", st.Groups)
	}
	out = append(out, runJoin(t, mem, j, false, nil, 1, true)...)
	want := refJoin(InnerJoin, rows, nil, func(l, r jrow) bool { return r.ts >= l.ts-10 && r.ts <= l.ts+10 })
	if got := foldOut(t, false, out); !equalStrings(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
