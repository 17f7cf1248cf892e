package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// updEvents: TUMBLE 10s, delay 2s. The row at 12s moves the watermark to
// 10s and closes [0s,10s), so the row at 4s is late; the row at 11s is out
// of order but its window is still open.
var updEvents = []ev{{sec(1), "a", 1}, {sec(3), "a", 2}, {sec(12), "a", 3}, {sec(4), "a", 4}, {sec(15), "b", 5}, {sec(11), "a", 6}, {sec(23), "a", 7}}

func TestWindowAggregateUpdatesChangelog(t *testing.T) {
	cases := []struct {
		name  string
		batch int
		want  []string
	}{
		{"row by row", 1, []string{
			"+I|0|10000|a|1|1",
			"-U|0|10000|a|1|1", "+U|0|10000|a|2|3",
			"+I|10000|20000|a|1|3",
			"+I|10000|20000|b|1|5",
			"-U|10000|20000|a|1|3", "+U|10000|20000|a|2|9",
			"+I|20000|30000|a|1|7",
		}},
		{"one batch", 100, []string{
			"+I|0|10000|a|2|3",
			"+I|10000|20000|a|2|9",
			"+I|10000|20000|b|1|5",
			"+I|20000|30000|a|1|7",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := checkedMem(t)
			rec := evRecord(mem, updEvents)
			defer rec.Release()
			w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Delay: 2 * time.Second, Updates: true})
			defer w.Close()
			batches := cut(rec, c.batch)
			defer releaseAll(batches)
			got := pushAll(t, w, batches, false)
			if !equalStrings(got, c.want) {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
			if w.Late() != 1 {
				t.Fatalf("late = %d, want 1 (the row at 4s)", w.Late())
			}
			// Only [20s,30s) a is open: the watermark (21s) freed the others.
			if s := w.Stats(); s.Groups != 1 {
				t.Fatalf("open groups = %d, want 1", s.Groups)
			}
			out, err := w.Finish(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if out != nil {
				defer out.Release()
				t.Fatalf("Finish emitted %q, want nothing (rows were emitted as they changed)", rowsOf(t, out))
			}
			if s := w.Stats(); s.Groups != 0 {
				t.Fatalf("state left after finish: %+v", s)
			}
		})
	}
}

func TestWindowAggregateUpdatesSinkModeAndSchema(t *testing.T) {
	mem := checkedMem(t)
	w := newWinAgg(t, mem, WindowSpec{Kind: Hop, TimeCol: 0, Size: 10 * time.Second, Slide: 5 * time.Second}, WindowOptions{Updates: true})
	defer w.Close()
	m := w.SinkMode()
	if !m.Changelog || fmt.Sprint(m.Keys) != "[1 2 3]" {
		t.Fatalf("sink mode = %+v, want changelog keyed by [1 2 3]", m)
	}
	if !IsChangelog(w.Schema()) || w.Schema().Field(1).Name != "window_start" {
		t.Fatalf("schema = %s, want op, window_start, …", w.Schema())
	}
	if _, err := NewWindowAggregate(mem, evSchema, WindowSpec{Kind: Session, TimeCol: 0, Gap: time.Second}, nil,
		[]AggSpec{{Func: AggCountStar, Name: "n"}}, WindowOptions{Updates: true}); err == nil {
		t.Fatal("SESSION with Updates: want an error")
	}
}

func TestWindowAggregateUpdatesSnapshotRestore(t *testing.T) {
	mem := checkedMem(t)
	rec := evRecord(mem, updEvents)
	defer rec.Release()
	batches := cut(rec, 1)
	defer releaseAll(batches)
	spec := WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}
	opts := WindowOptions{Delay: 2 * time.Second, Updates: true}
	whole := newWinAgg(t, mem, spec, opts)
	defer whole.Close()
	want := pushAll(t, whole, batches, false)

	a := newWinAgg(t, mem, spec, opts)
	defer a.Close()
	got := pushAll(t, a, batches[:4], false)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := newWinAgg(t, mem, spec, opts)
	defer b.Close()
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got = append(got, pushAll(t, b, batches[4:], false)...)
	if !equalStrings(got, want) {
		t.Fatalf("restored run: got %q\nwant %q", got, want)
	}
	if b.Late() != 1 {
		t.Fatalf("late after restore = %d, want 1", b.Late())
	}
}

func TestWindowAggregateUpdatesStateStaysBounded(t *testing.T) {
	specs := map[string]WindowSpec{
		"tumble": {Kind: Tumble, TimeCol: 0, Size: time.Second},
		"hop":    {Kind: Hop, TimeCol: 0, Size: 2 * time.Second, Slide: time.Second},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			mem := checkedMem(t)
			w := newWinAgg(t, mem, spec, WindowOptions{Delay: 100 * time.Millisecond, Updates: true})
			defer w.Close()
			const windows = 10000
			var inserts int
			maxGroups, maxBytes := pushManyWindows(t, mem, w, windows, func(out arrow.Record) {
				for _, r := range rowsOf(t, out) {
					if r[:2] == exec.OpInsert.String() {
						inserts++
					}
				}
			})
			// Every (window, key) group is inserted once: 2 keys per window,
			// and HOP's windows overlap (one more window at the start).
			wantInserts := windows * 2
			if spec.Kind == Hop {
				wantInserts = (windows + 1) * 2
			}
			if inserts != wantInserts {
				t.Fatalf("inserted %d groups, want %d", inserts, wantInserts)
			}
			if maxGroups > 8 || maxBytes > 4096 {
				t.Fatalf("state grew: max %d groups, %d bytes", maxGroups, maxBytes)
			}
			if w.Late() != 0 {
				t.Fatalf("late = %d, want 0", w.Late())
			}
		})
	}
}
