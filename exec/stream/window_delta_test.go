package stream

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestWindowAggregateDeltaSnapshots: a windowed aggregate checkpointed as
// a chain of deltas restores to the state of the one that wrote them —
// windows opened, groups added and changed, windows closed by the
// watermark, sessions extended and merged — which is checked by ending
// the restored aggregate and its twin (restored from the twin's full
// snapshot): they emit the same windows. MIN and MAX keep their value
// sets across the chain.
func TestWindowAggregateDeltaSnapshots(t *testing.T) {
	for _, spec := range []WindowSpec{
		{Kind: Tumble, TimeCol: 0, Size: 2 * time.Second},
		{Kind: Hop, TimeCol: 0, Size: 3 * time.Second, Slide: time.Second},
		{Kind: Session, TimeCol: 0, Gap: 700 * time.Millisecond},
	} {
		t.Run(fmt.Sprint(spec.Kind), func(t *testing.T) {
			mem := checkedMem(t)
			newAgg := func() *WindowAggregate {
				w, err := NewWindowAggregate(mem, evSchema, spec, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}},
					[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(evSchema, 2), Name: "s"},
						{Func: AggMin, Arg: col(evSchema, 2), Name: "lo"}, {Func: AggMax, Arg: col(evSchema, 2), Name: "hi"}},
					WindowOptions{Delay: 500 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				return w
			}
			// a is checkpointed; b is its twin, fed the same rows.
			a, b := newAgg(), newAgg()
			defer a.Close()
			defer b.Close()
			rng := rand.New(rand.NewSource(4))
			var base []byte
			var deltas [][]byte
			ts := int64(0)
			for chunk := 0; chunk < 25; chunk++ {
				if chunk%10 == 0 {
					var err error
					if base, err = a.Snapshot(); err != nil {
						t.Fatal(err)
					}
					deltas = nil
				}
				var evs []ev
				for n := rng.Intn(20); n > 0; n-- {
					ts += int64(rng.Intn(150))
					// Some rows arrive out of order, within the delay.
					evs = append(evs, ev{ts: max(0, ts-int64(rng.Intn(400))), k: fmt.Sprint("k", rng.Intn(6)), v: int64(rng.Intn(100))})
				}
				if len(evs) > 0 {
					rec := evRecord(mem, evs)
					pushAll(t, a, []arrow.Record{rec}, false)
					pushAll(t, b, []arrow.Record{rec}, false)
					rec.Release()
				}
				d, err := a.SnapshotDelta()
				if err != nil {
					t.Fatal(err)
				}
				deltas = append(deltas, d)
				c := newAgg()
				if err := c.Restore(base); err != nil {
					t.Fatal(err)
				}
				for _, d := range deltas {
					if err := c.RestoreDelta(d); err != nil {
						t.Fatal(err)
					}
				}
				twin := newAgg()
				snap, err := b.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if err := twin.Restore(snap); err != nil {
					t.Fatal(err)
				}
				if c.Stats().Groups != twin.Stats().Groups {
					t.Fatalf("chunk %d: restored %d groups, want %d", chunk, c.Stats().Groups, twin.Stats().Groups)
				}
				got, want := pushAll(t, c, nil, true), pushAll(t, twin, nil, true)
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Fatalf("chunk %d: from a full snapshot and %d deltas the windows are\n%v\nwant\n%v", chunk, len(deltas), got, want)
				}
				c.Close()
				twin.Close()
			}
		})
	}
}

// TestWindowAggregateDeltaHoldsOnlyChanges: of a window with 3000 groups,
// a delta after a batch touching two of them holds those two.
func TestWindowAggregateDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: time.Hour}, WindowOptions{Delay: time.Second})
	defer w.Close()
	var evs []ev
	for i := 0; i < 3000; i++ {
		evs = append(evs, ev{ts: int64(i), k: fmt.Sprint("key-", i), v: 1})
	}
	push := func(evs []ev) {
		rec := evRecord(mem, evs)
		defer rec.Release()
		pushAll(t, w, []arrow.Record{rec}, false)
	}
	push(evs)
	full, err := w.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	push([]ev{{ts: 5000, k: "key-7", v: 2}, {ts: 5001, k: "new", v: 3}})
	data, err := w.SnapshotDelta()
	if err != nil {
		t.Fatal(err)
	}
	var d windowAggDelta
	if err := decode(data, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Windows) != 1 || len(d.Windows[0].Groups) != 2 {
		t.Fatalf("delta holds %d windows (%v)", len(d.Windows), d.Windows)
	}
	if len(data)*20 > len(full) {
		t.Errorf("delta of %d bytes against a full snapshot of %d", len(data), len(full))
	}
}
