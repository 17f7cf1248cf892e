package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// randomEvents is rows of 30 keys whose event times mostly rise, with
// some arriving out of order by up to 8 s (some of those late against a
// 2 s delay) and some NULL.
func randomEvents(mem memory.Allocator, rows int, seed int64) arrow.Record {
	rng := rand.New(rand.NewSource(seed))
	b := array.NewRecordBuilder(mem, evSchema)
	defer b.Release()
	now := int64(0)
	for i := 0; i < rows; i++ {
		now += int64(rng.Intn(40))
		ts := now
		if rng.Intn(8) == 0 {
			ts -= int64(rng.Intn(8000))
		}
		if rng.Intn(200) == 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Int64Builder).Append(ts)
		}
		b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("k%d", rng.Intn(30)))
		b.Field(2).(*array.Int64Builder).Append(int64(rng.Intn(100)))
	}
	return b.NewRecord()
}

// lateLog records routed late rows as text, for comparison.
type lateLog struct{ rows []string }

func (l *lateLog) add(r LateRow) error {
	rec := r.Record.(arrow.Record)
	k := rec.Column(1).(*array.String).Value(r.Index)
	l.rows = append(l.rows, fmt.Sprintf("%d/%d %s %s wm=%d", r.Partition, r.Row, k, r.Reason, r.Watermark))
	return nil
}

// windowNode is a window aggregate over evSchema grouped by k, as one
// operator (n = 1) or as n ParallelWindow instances.
func windowNode(t *testing.T, mem memory.Allocator, spec WindowSpec, opts WindowOptions, n int) Node {
	t.Helper()
	if n == 1 {
		return OperatorNode(newWinAgg(t, mem, spec, opts))
	}
	p, err := NewParallelWindow(mem, []Expr{col(evSchema, 1)}, n, func(int) (*WindowAggregate, error) {
		return newWinAgg(t, mem, spec, opts), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var parallelWindowSpecs = []struct {
	name    string
	spec    WindowSpec
	updates bool
}{
	{"tumble", WindowSpec{Kind: Tumble, TimeCol: 0, Size: 2 * time.Second}, false},
	{"tumble-updates", WindowSpec{Kind: Tumble, TimeCol: 0, Size: 2 * time.Second}, true},
	{"hop", WindowSpec{Kind: Hop, TimeCol: 0, Size: 3 * time.Second, Slide: time.Second}, false},
	{"hop-updates", WindowSpec{Kind: Hop, TimeCol: 0, Size: 3 * time.Second, Slide: time.Second}, true},
	{"session", WindowSpec{Kind: Session, TimeCol: 0, Gap: 300 * time.Millisecond}, false},
}

// TestParallelWindowEqualsOneInstance runs TUMBLE, HOP and SESSION window
// aggregates, EMIT FINAL and updating, as one operator and as 2 and 4
// instances at several batch sizes (the largest folds on the instances'
// own goroutines): the output is the same row for row, the same rows are
// late, routed in the same order with the same watermark, and the
// instances' watermark is the one operator's.
func TestParallelWindowEqualsOneInstance(t *testing.T) {
	mem := checkedMem(t)
	rec := randomEvents(mem, 3*parallelInlineRows, 1)
	defer rec.Release()
	for _, ws := range parallelWindowSpecs {
		for _, bs := range []int{1, 7, 300, parallelInlineRows + 1} {
			batches := cut(rec, bs)
			var oneLate lateLog
			opts := WindowOptions{Delay: 2 * time.Second, Late: LateRoute, OnLate: oneLate.add, Updates: ws.updates}
			one := windowNode(t, mem, ws.spec, opts, 1)
			want := pushNode(t, one, batches)
			oneWM := one.Watermark()
			oneLateN := one.(*opNode).op.(*WindowAggregate).Late()
			one.Close()
			if len(oneLate.rows) == 0 || len(want) == 0 {
				t.Fatalf("%s: the input has %d late rows and %d output rows: the test needs both", ws.name, len(oneLate.rows), len(want))
			}
			for _, n := range []int{2, 4} {
				t.Run(fmt.Sprintf("%s/batch=%d/instances=%d", ws.name, bs, n), func(t *testing.T) {
					var late lateLog
					opts := opts
					opts.OnLate = late.add
					p := windowNode(t, mem, ws.spec, opts, n)
					defer p.Close()
					got := pushNode(t, p, batches)
					if !slices.Equal(got, want) {
						t.Errorf("output differs from one operator's (%d vs %d rows):\n%v\nvs\n%v", len(got), len(want), head(got), head(want))
					}
					if !slices.Equal(late.rows, oneLate.rows) {
						t.Errorf("late rows differ:\n%v\nvs one operator's\n%v", head(late.rows), head(oneLate.rows))
					}
					pw := p.(*ParallelWindow)
					if l := pw.EventTimer().Late(); l != oneLateN {
						t.Errorf("late count %d, one operator %d", l, oneLateN)
					}
					if wm := p.Watermark(); wm != oneWM {
						t.Errorf("watermark %v, one operator %v", wm, oneWM)
					}
				})
			}
			releaseAll(batches)
		}
	}
}

func head(s []string) []string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// TestParallelWindowLateError fails on the row one operator fails on,
// the first late one in batch order, whichever instance holds its key.
func TestParallelWindowLateError(t *testing.T) {
	mem := checkedMem(t)
	rec := randomEvents(mem, 500, 3)
	defer rec.Release()
	spec := WindowSpec{Kind: Tumble, TimeCol: 0, Size: 2 * time.Second}
	opts := WindowOptions{Delay: 2 * time.Second, Late: LateError}
	run := func(n int) error {
		node := windowNode(t, mem, spec, opts, n)
		defer node.Close()
		for _, b := range []arrow.Record{rec} {
			out, err := node.Push(context.Background(), 0, exec.Batch{Record: b})
			if out != nil {
				out.Release()
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	want := run(1)
	var wantLate *LateRowError
	if !errors.As(want, &wantLate) {
		t.Fatalf("one operator: %v, want a late row", want)
	}
	for _, n := range []int{2, 3, 4} {
		var got *LateRowError
		if err := run(n); !errors.As(err, &got) || got.Error() != wantLate.Error() {
			t.Errorf("%d instances: %v, want %v", n, err, want)
		}
	}
}

// TestParallelWindowCheckpoint checkpoints 3 instances half way (a part
// per instance, each with the whole watermark), restores them into fresh
// ones and checks the rest gives what an uninterrupted run gives.
func TestParallelWindowCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	rec := randomEvents(mem, 2000, 4)
	defer rec.Release()
	batches := cut(rec, 50)
	defer releaseAll(batches)
	half := len(batches) / 2
	for _, ws := range parallelWindowSpecs {
		t.Run(ws.name, func(t *testing.T) {
			opts := WindowOptions{Delay: 2 * time.Second, Updates: ws.updates}
			whole := windowNode(t, mem, ws.spec, opts, 3)
			want := pushNode(t, whole, batches)
			whole.Close()

			first := windowNode(t, mem, ws.spec, opts, 3)
			got := pushOnly(t, first, batches[:half])
			parts, err := first.(PartedSnapshotter).SnapshotParts()
			if err != nil {
				t.Fatal(err)
			}
			first.Close()
			if len(parts) != 3 {
				t.Fatalf("%d parts, want one per instance", len(parts))
			}
			second := windowNode(t, mem, ws.spec, opts, 3)
			defer second.Close()
			if err := second.(PartedSnapshotter).RestoreParts(parts); err != nil {
				t.Fatal(err)
			}
			got = append(got, pushNode(t, second, batches[half:])...)
			if !slices.Equal(sorted(got), sorted(want)) {
				t.Fatalf("restored run differs (%d vs %d rows):\n%v\nvs\n%v", len(got), len(want), head(got), head(want))
			}
		})
	}
}
