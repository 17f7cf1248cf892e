package stream

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// deltaOperator is an operator checkpointed incrementally.
type deltaOperator interface {
	Operator
	Snapshotter
	DeltaSnapshotter
}

// checkDeltaChain feeds chunks to a and to its twin b, takes a delta of a
// after each chunk (a full snapshot every 10), and restores a third
// operator from the full snapshot and the deltas since: it must be the
// state of b restored from b's own full snapshot — the same rows and
// bytes held (Stats), the same full snapshot when encodings are deterministic
// (same), and the same output for the rest of the input (then finished).
func checkDeltaChain(t *testing.T, newOp func() deltaOperator, chunks [][]arrow.Record, same bool) {
	t.Helper()
	a, b := newOp(), newOp()
	defer a.Close()
	defer b.Close()
	var base []byte
	var deltas [][]byte
	for i, chunk := range chunks {
		if i%10 == 0 {
			var err error
			if base, err = a.Snapshot(); err != nil {
				t.Fatal(err)
			}
			deltas = nil
		}
		pushAll(t, a, chunk, false)
		pushAll(t, b, chunk, false)
		d, err := a.SnapshotDelta()
		if err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
		c := newOp()
		if err := c.Restore(base); err != nil {
			t.Fatal(err)
		}
		for _, d := range deltas {
			if err := c.RestoreDelta(d); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
		}
		twin := newOp()
		snap, err := b.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := twin.Restore(snap); err != nil {
			t.Fatal(err)
		}
		if got, want := c.Stats(), twin.Stats(); got != want {
			t.Fatalf("chunk %d: restored from deltas the state holds %+v, want %+v", i, got, want)
		}
		if same {
			cs, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			ts, err := twin.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cs, ts) {
				t.Fatalf("chunk %d: from a full snapshot and %d deltas the state differs from the twin's", i, len(deltas))
			}
		}
		var rest []arrow.Record
		for _, ch := range chunks[i+1:] {
			rest = append(rest, ch...)
		}
		got, want := pushAll(t, c, rest, true), pushAll(t, twin, rest, true)
		if !equalStrings(got, want) {
			t.Fatalf("chunk %d: restored from %d deltas the rest of the input gives\n%v\nwant\n%v", i, len(deltas), got, want)
		}
		c.Close()
		twin.Close()
	}
}

// changelogChunks is n chunks of a random changelog over clSchema (op, k,
// v): inserts of rows over a few keys and values, and retractions of
// rows inserted before (so a row's count goes up and down, and rows
// leave), in batches of 1-6 rows.
func changelogChunks(t *testing.T, mem memory.Allocator, seed int64, n int) [][]arrow.Record {
	rng := rand.New(rand.NewSource(seed))
	var live []string
	chunks := make([][]arrow.Record, n)
	for i := range chunks {
		var rows []string
		for r := rng.Intn(12); r > 0; r-- {
			if len(live) > 0 && rng.Intn(3) == 0 {
				j := rng.Intn(len(live))
				rows = append(rows, fmt.Sprintf(`{"op":3,%s}`, live[j]))
				live = append(live[:j], live[j+1:]...)
				continue
			}
			row := fmt.Sprintf(`"k":"k%d","v":%d`, rng.Intn(5), rng.Intn(8))
			live = append(live, row)
			rows = append(rows, fmt.Sprintf(`{"op":0,%s}`, row))
		}
		if len(rows) == 0 {
			continue
		}
		rec := fromJSON(t, mem, clSchema, "["+strings.Join(rows, ",")+"]")
		chunks[i] = cut(rec, 1+rng.Intn(6))
		rec.Release()
	}
	t.Cleanup(func() {
		for _, ch := range chunks {
			releaseAll(ch)
		}
	})
	return chunks
}

// TestTopNDeltaSnapshots: a top-N over a changelog (it holds every live
// row) and over an append-only input (the first n), checkpointed as
// chains of deltas, restores to its twin's state: same rows and counts
// in the same order, same output for the rest of the input.
func TestTopNDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	for _, tc := range []struct {
		name   string
		schema *arrow.Schema
		keys   []SortKey
	}{
		{"changelog", clSchema, []SortKey{{Col: 2, Desc: true}}},
		{"append", kvSchema, []SortKey{{Col: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chunks := changelogChunks(t, mem, 3, 40)
			if tc.schema == kvSchema {
				chunks = appendOnly(t, mem, chunks)
			}
			checkDeltaChain(t, func() deltaOperator {
				top, err := NewTopN(mem, tc.schema, tc.keys, 3)
				if err != nil {
					t.Fatal(err)
				}
				return top
			}, chunks, true)
		})
	}
}

// appendOnly is the chunks' inserts without the op column (kvSchema).
func appendOnly(t *testing.T, mem memory.Allocator, chunks [][]arrow.Record) [][]arrow.Record {
	out := make([][]arrow.Record, len(chunks))
	for i, ch := range chunks {
		for _, rec := range ch {
			var rows []string
			for _, r := range rowsOf(t, rec) {
				f := strings.Split(r, "|")
				if f[0] == "+I" {
					rows = append(rows, fmt.Sprintf(`{"k":%q,"v":%s}`, f[1], f[2]))
				}
			}
			if len(rows) > 0 {
				out[i] = append(out[i], fromJSON(t, mem, kvSchema, "["+strings.Join(rows, ",")+"]"))
			}
		}
	}
	t.Cleanup(func() {
		for _, ch := range out {
			releaseAll(ch)
		}
	})
	return out
}

// TestRankTopNDeltaSnapshots: a per-key top-N (ROW_NUMBER and RANK, over
// a changelog and an append-only input) checkpointed as chains of deltas
// restores to its twin's state; keys that empty out leave through the
// delta's gone list.
func TestRankTopNDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	for _, fn := range []RankFunc{RowNumber, Rank} {
		for _, schema := range []*arrow.Schema{clSchema, kvSchema} {
			name := fmt.Sprintf("fn%d/changelog=%v", fn, schema == clSchema)
			t.Run(name, func(t *testing.T) {
				chunks := changelogChunks(t, mem, 5, 40)
				part, keys := []int{1}, []SortKey{{Col: 2}}
				if schema == kvSchema {
					chunks = appendOnly(t, mem, chunks)
					part, keys = []int{0}, []SortKey{{Col: 1}}
				}
				checkDeltaChain(t, func() deltaOperator {
					r, err := NewRankTopN(mem, schema, part, keys, 2, "rn")
					if err != nil {
						t.Fatal(err)
					}
					r.SetRankFunc(fn)
					return r
				}, chunks, true)
			})
		}
	}
}

// TestTopNDeltaHoldsOnlyChanges: of 3000 rows a top-N over a changelog
// holds, a delta after a batch that adds one row and retracts another
// holds the one and names the other gone; a per-key top-N's delta after
// a batch touching two of 3000 keys holds those two keys.
func TestTopNDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	var rows []string
	for i := 0; i < 3000; i++ {
		rows = append(rows, fmt.Sprintf(`{"op":0,"k":"key-%d","v":%d}`, i, i))
	}
	all := fromJSON(t, mem, clSchema, "["+strings.Join(rows, ",")+"]")
	defer all.Release()
	change := fromJSON(t, mem, clSchema, `[{"op":0,"k":"new","v":-1},{"op":3,"k":"key-7","v":7},{"op":0,"k":"key-9","v":10}]`)
	defer change.Release()

	top, err := NewTopN(mem, clSchema, []SortKey{{Col: 2}}, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	rank, err := NewRankTopN(mem, clSchema, []int{1}, []SortKey{{Col: 2}}, 1, "rn")
	if err != nil {
		t.Fatal(err)
	}
	defer rank.Close()
	for _, op := range []deltaOperator{top, rank} {
		pushAll(t, op, []arrow.Record{all}, false)
		full, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		pushAll(t, op, []arrow.Record{change}, false)
		data, err := op.SnapshotDelta()
		if err != nil {
			t.Fatal(err)
		}
		if len(data)*20 > len(full) {
			t.Errorf("%T: delta of %d bytes against a full snapshot of %d", op, len(data), len(full))
		}
		switch op.(type) {
		case *TopN:
			var d topNDelta
			if err := decode(data, &d); err != nil {
				t.Fatal(err)
			}
			if len(d.Rows) != 2 || len(d.Gone) != 1 {
				t.Errorf("top-N delta holds %d rows and %d gone, want 2 and 1", len(d.Rows), len(d.Gone))
			}
		case *RankTopN:
			var d rankSnap
			if err := decode(data, &d); err != nil {
				t.Fatal(err)
			}
			if !d.Delta || len(d.Keys) != 2 || len(d.Gone) != 1 {
				t.Errorf("per-key top-N delta holds keys %q, gone %q; want 2 keys (new, key-9) and key-7 gone", d.Keys, d.Gone)
			}
		}
	}
}
