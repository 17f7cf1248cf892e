package stream

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
)

// sliceReader is a source that has all its batches at once (a file):
// Next never waits. stall, if set, makes Next wait for ctx once the
// batches are out, like a topic with nothing new; otherwise the end is
// io.EOF.
type sliceReader struct {
	recs  []arrow.Record
	next  int
	stall bool
}

func (r *sliceReader) Next(ctx context.Context) (exec.Batch, error) {
	if r.next == len(r.recs) {
		if r.stall {
			<-ctx.Done()
			return exec.Batch{}, ctx.Err()
		}
		return exec.Batch{}, io.EOF
	}
	r.next++
	return exec.Batch{Record: r.recs[r.next-1]}, nil
}

func (r *sliceReader) Offsets() exec.Offsets { return exec.Offsets{"p0": int64(r.next)} }
func (r *sliceReader) Partitions() []int32   { return []int32{0} }
func (r *sliceReader) Close() error {
	for _, rec := range r.recs[r.next:] {
		rec.Release()
	}
	r.next = len(r.recs)
	return nil
}

// alignRows is one input's rows: n rows, step ms apart, keys cycling
// over 4.
func alignRows(side, n int, step int64) []jrow {
	rows := make([]jrow, n)
	for i := range rows {
		rows[i] = jrow{side: side, k: kp(int64(i % 4)), v: int64(i), ts: int64(i) * step}
	}
	return rows
}

// TestAlignmentBoundsJoinState: an interval join over two inputs that
// cover the same 32 s of event time, one in 40 batches (800 ms each), the
// other in 400 (80 ms each). Read as fast as each goes, the sparse input
// is read through long before the dense one and nearly all its rows wait
// in the join's state for the dense input's watermark (about 300 rows).
// Aligned, the sparse input is held back while it is more than the drift
// ahead, so the state stays within the drift, a batch of each input and
// the union's buffer (well under 64 rows) — and the joined rows are the
// same.
func TestAlignmentBoundsJoinState(t *testing.T) {
	for _, tt := range []struct {
		name    string
		align   bool
		maxHeld int
	}{
		{"aligned", true, 64},
		// Unaligned is the reference for the rows; its state is not
		// bounded (not asserted: it depends on scheduling).
		{"unaligned", false, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := checkedMem(t)
			ctx := context.Background()
			sparse, dense := alignRows(0, 320, 100), alignRows(1, 3200, 10)
			batches := func(rows []jrow) *sliceReader {
				r := &sliceReader{}
				for i := 0; i < len(rows); i += 8 {
					r.recs = append(r.recs, joinBatch(t, mem, rows[i].side, false, rows[i:i+8]))
				}
				return r
			}
			spec := intervalSpec(InnerJoin, 10, 10, 0)
			spec.Residual = intervalResidual(t, 10, 10)
			j, err := NewJoin(mem, joinLeft, joinRight, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			var al Alignment
			if tt.align {
				// IdleAfter: a loaded machine's scheduler must not make a
				// busy input look idle here.
				al = Alignment{TimeCols: []int{2, 2}, MaxDrift: 100 * time.Millisecond, IdleAfter: time.Minute}
			}
			u := NewAlignedUnionReader(ctx, []UnionInput{{Reader: batches(sparse)}, {Reader: batches(dense)}}, al)
			defer u.Close()
			var out []string
			held := 0
			var seen, lead [2]int64
			for {
				b, err := u.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				side := UnionInputOf(b.Partition)
				if b.Record.NumRows() > 0 {
					seen[side] = max(seen[side], b.Record.Column(2).(*array.Int64).Value(int(b.Record.NumRows())-1))
				}
				lead[side] = max(lead[side], seen[side]-seen[1-side])

				res, err := j.Push(ctx, b.Record, b.Partition)
				b.Record.Release()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, rowsOf(t, res)...)
				if res != nil {
					res.Release()
				}
				held = max(held, int(j.Stats().Groups))
			}
			res, err := j.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rowsOf(t, res)...)
			if res != nil {
				res.Release()
			}
			want := refJoin(InnerJoin, append(append([]jrow(nil), sparse...), dense...), nil,
				func(l, r jrow) bool { return r.ts >= l.ts-10 && r.ts <= l.ts+10 })
			if got := foldOut(t, false, out); !equalStrings(got, want) {
				t.Fatalf("joined %d rows, want %d", len(got), len(want))
			}
			t.Logf("held at most %d rows, lead %v", held, lead)
			if tt.maxHeld >= 0 && held > tt.maxHeld {
				t.Fatalf("the join held up to %d rows, want at most %d", held, tt.maxHeld)
			}
		})
	}
}

// TestAlignmentNeverDeadlocks: an input far ahead is not held forever by
// one that has ended, nor by one idle at its source (waiting in Next),
// nor by one without event time; every batch of the fast input arrives.
func TestAlignmentNeverDeadlocks(t *testing.T) {
	for _, tt := range []struct {
		name  string
		stall bool
		cols  []int
	}{
		{"other ended", false, []int{2, 2}},
		{"other idle", true, []int{2, 2}},
		{"other without event time", true, []int{2, -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := checkedMem(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			fast := &sliceReader{}
			rows := alignRows(0, 400, 1000)
			for i := 0; i < len(rows); i += 8 {
				fast.recs = append(fast.recs, joinBatch(t, mem, 0, false, rows[i:i+8]))
			}
			slow := &sliceReader{stall: tt.stall, recs: []arrow.Record{joinBatch(t, mem, 1, false, alignRows(1, 2, 1))}}
			u := NewAlignedUnionReader(ctx, []UnionInput{{Reader: fast}, {Reader: slow}},
				Alignment{TimeCols: tt.cols, MaxDrift: time.Millisecond, IdleAfter: 20 * time.Millisecond})
			defer u.Close()
			got := 0
			for got < 51 {
				b, err := u.Next(ctx)
				if err != nil {
					t.Fatalf("after %d of 51 batches: %v", got, err)
				}
				b.Record.Release()
				got++
			}
		})
	}
}
