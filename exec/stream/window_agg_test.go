package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// evSchema is an event stream: ts (epoch ms), k, v.
var evSchema = arrow.NewSchema([]arrow.Field{
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64},
}, nil)

type ev struct {
	ts int64 // ms
	k  string
	v  int64
}

func evRecord(mem memory.Allocator, evs []ev) arrow.Record {
	b := array.NewRecordBuilder(mem, evSchema)
	defer b.Release()
	for _, e := range evs {
		b.Field(0).(*array.Int64Builder).Append(e.ts)
		b.Field(1).(*array.StringBuilder).Append(e.k)
		b.Field(2).(*array.Int64Builder).Append(e.v)
	}
	return b.NewRecord()
}

func newWinAgg(t testing.TB, mem memory.Allocator, spec WindowSpec, opts WindowOptions) *WindowAggregate {
	t.Helper()
	w, err := NewWindowAggregate(mem, evSchema, spec, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}},
		[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(evSchema, 2), Name: "s"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func sec(s int64) int64 { return s * 1000 }

func TestWindowAggregateWatermarkAndLateness(t *testing.T) {
	evs := []ev{{sec(1), "a", 1}, {sec(12), "a", 12}, {sec(8), "a", 8}, {sec(16), "a", 16}, {sec(3), "a", 3}, {sec(25), "a", 25}}
	want := []string{"0|10000|a|2|9", "10000|20000|a|2|28", "20000|30000|a|1|25"}
	for _, bs := range batchSizes {
		t.Run(fmt.Sprint("batch", bs), func(t *testing.T) {
			mem := checkedMem(t)
			rec := evRecord(mem, evs)
			defer rec.Release()
			w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Delay: 5 * time.Second})
			defer w.Close()
			batches := cut(rec, bs)
			defer releaseAll(batches)
			got := pushAll(t, w, batches, true)
			if !equalStrings(got, want) {
				t.Fatalf("got %q want %q", got, want)
			}
			if w.Late() != 1 {
				t.Fatalf("late = %d, want 1 (the row at 3s after the watermark reached 11s)", w.Late())
			}
			if s := w.Stats(); s.Groups != 0 {
				t.Fatalf("state left after finish: %+v", s)
			}
		})
	}
}

func TestWindowAggregateEmitsWhenWatermarkPasses(t *testing.T) {
	mem := checkedMem(t)
	w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Delay: 2 * time.Second})
	defer w.Close()
	steps := []struct {
		in   []ev
		want []string
	}{
		{[]ev{{sec(1), "a", 1}, {sec(5), "b", 5}}, nil},
		{[]ev{{sec(11), "a", 11}}, nil},                                        // wm 9: [0,10) still open
		{[]ev{{sec(9), "a", 9}}, nil},                                          // in time
		{[]ev{{sec(12), "b", 1}}, []string{"0|10000|a|2|10", "0|10000|b|1|5"}}, // wm 10 closes [0,10)
		{[]ev{{sec(10) - 1, "c", 9}}, nil},                                     // late: window end 10s <= watermark 10s
	}
	for i, s := range steps {
		rec := evRecord(mem, s.in)
		got := pushAll(t, w, []arrow.Record{rec}, false)
		rec.Release()
		if !equalStrings(got, s.want) {
			t.Fatalf("step %d: got %q want %q", i, got, s.want)
		}
	}
	if w.Late() != 1 {
		t.Fatalf("late = %d", w.Late())
	}
}

func TestWindowAggregateLatePolicies(t *testing.T) {
	evs := []ev{{sec(1), "a", 1}, {sec(30), "a", 2}, {sec(2), "a", 3}}
	t.Run("error names the row", func(t *testing.T) {
		mem := checkedMem(t)
		w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Late: LateError})
		defer w.Close()
		rec := evRecord(mem, evs)
		defer rec.Release()
		out, err := w.Push(context.Background(), rec, 4)
		if out != nil {
			out.Release()
		}
		var le *LateRowError
		if !errors.As(err, &le) || !errors.Is(err, ErrLateRow) {
			t.Fatalf("err = %v, want LateRowError", err)
		}
		if le.Row.Partition != 4 || le.Row.Row != 2 || le.Row.EventTime != sec(2) {
			t.Fatalf("late row = %+v", le.Row)
		}
		if !strings.Contains(err.Error(), "partition 4 row 2") {
			t.Fatalf("message %q does not name the row", err)
		}
	})
	t.Run("route hands the row to the callback", func(t *testing.T) {
		mem := checkedMem(t)
		var routed []string
		w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Late: LateRoute,
			OnLate: func(r LateRow) error {
				routed = append(routed, fmt.Sprintf("%d/%d@%d: %s", r.Partition, r.Row, r.EventTime, r.Reason))
				return nil
			}})
		defer w.Close()
		rec := evRecord(mem, evs)
		defer rec.Release()
		got := pushAll(t, w, []arrow.Record{rec}, true)
		want := []string{"0|10000|a|1|1", "30000|40000|a|1|2"}
		if !equalStrings(got, want) {
			t.Fatalf("got %q want %q", got, want)
		}
		if len(routed) != 1 || routed[0] != "0/2@2000: window end 1970-01-01 00:00:10 <= watermark 1970-01-01 00:00:30" {
			t.Fatalf("routed %q", routed)
		}
	})
}

func TestWindowAggregateHopAndSession(t *testing.T) {
	tests := []struct {
		name string
		spec WindowSpec
		opts WindowOptions
		evs  []ev
		want []string
	}{
		{
			name: "hop counts a row in every window containing it",
			spec: WindowSpec{Kind: Hop, TimeCol: 0, Size: 10 * time.Second, Slide: 5 * time.Second},
			evs:  []ev{{sec(7), "a", 7}, {sec(12), "a", 12}},
			want: []string{"0|10000|a|1|7", "5000|15000|a|2|19", "10000|20000|a|1|12"},
		},
		{
			name: "hop before the epoch aligns by floor",
			spec: WindowSpec{Kind: Hop, TimeCol: 0, Size: 10 * time.Second, Slide: 5 * time.Second},
			evs:  []ev{{-sec(1), "a", 1}},
			want: []string{"-10000|0|a|1|1", "-5000|5000|a|1|1"},
		},
		{
			// As batch WindowAssign: a row between two windows is in
			// none, and is not late either.
			name: "hop with slide > size skips rows in the gaps",
			spec: WindowSpec{Kind: Hop, TimeCol: 0, Size: 5 * time.Second, Slide: 10 * time.Second},
			evs:  []ev{{sec(1), "a", 1}, {sec(7), "a", 7}, {sec(12), "a", 12}, {sec(14), "a", 14}, {sec(15), "a", 15}},
			want: []string{"0|5000|a|1|1", "10000|15000|a|2|26"},
		},
		{
			name: "sessions merge as rows arrive",
			spec: WindowSpec{Kind: Session, TimeCol: 0, Gap: 5 * time.Second},
			opts: WindowOptions{Delay: 100 * time.Second},
			evs: []ev{{sec(1), "a", 1}, {sec(3), "a", 3}, {sec(10), "a", 10}, {sec(12), "a", 12},
				{sec(7), "a", 7}, {sec(30), "a", 30}, {sec(2), "b", 2}},
			want: []string{"2000|7000|b|1|2", "1000|17000|a|5|33", "30000|35000|a|1|30"},
		},
		{
			name: "sessions close when the watermark passes their end",
			spec: WindowSpec{Kind: Session, TimeCol: 0, Gap: 5 * time.Second},
			evs:  []ev{{sec(1), "a", 1}, {sec(20), "a", 20}, {sec(3), "a", 3}},
			want: []string{"1000|6000|a|1|1", "20000|25000|a|1|20"},
		},
	}
	for _, tc := range tests {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, bs), func(t *testing.T) {
				mem := checkedMem(t)
				w := newWinAgg(t, mem, tc.spec, tc.opts)
				defer w.Close()
				rec := evRecord(mem, tc.evs)
				defer rec.Release()
				batches := cut(rec, bs)
				defer releaseAll(batches)
				got := pushAll(t, w, batches, true)
				if !equalStrings(got, tc.want) {
					t.Fatalf("got %q want %q", got, tc.want)
				}
				if s := w.Stats(); s.Groups != 0 {
					t.Fatalf("state left: %+v", s)
				}
				if tc.opts.Delay == 0 && tc.spec.Kind == Hop && w.Late() != 0 {
					t.Fatalf("%d late rows, want none", w.Late())
				}
			})
		}
	}
}

// TestWindowAggregateStateStaysBounded runs 10,000 windows of each kind and
// checks that closed windows free their state.
func TestWindowAggregateStateStaysBounded(t *testing.T) {
	specs := map[string]WindowSpec{
		"tumble":  {Kind: Tumble, TimeCol: 0, Size: time.Second},
		"hop":     {Kind: Hop, TimeCol: 0, Size: 2 * time.Second, Slide: time.Second},
		"session": {Kind: Session, TimeCol: 0, Gap: 500 * time.Millisecond},
	}
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			mem := checkedMem(t)
			w := newWinAgg(t, mem, spec, WindowOptions{Delay: 100 * time.Millisecond})
			defer w.Close()
			const windows = 10000
			var emitted int
			maxGroups, maxBytes := pushManyWindows(t, mem, w, windows, func(out arrow.Record) {
				emitted += int(out.NumRows())
			})
			out, err := w.Finish(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			emitted += int(out.NumRows())
			out.Release()
			wantRows := windows * 2
			if spec.Kind == Hop {
				wantRows = (windows + 1) * 2
			}
			if emitted != wantRows {
				t.Fatalf("emitted %d rows, want %d", emitted, wantRows)
			}
			if maxGroups > 8 || maxBytes > 4096 {
				t.Fatalf("state grew: max %d groups, %d bytes", maxGroups, maxBytes)
			}
		})
	}
}

func TestWindowAggregateIdleTimeoutClosesWindows(t *testing.T) {
	mem := checkedMem(t)
	clock := NewManualClock(epoch)
	w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second},
		WindowOptions{Delay: 2 * time.Second, IdleTimeout: 5 * time.Second, Clock: clock})
	defer w.Close()
	w.SetPartitions([]int32{0, 1})
	ctx := context.Background()
	rec := evRecord(mem, []ev{{sec(1), "a", 1}, {sec(15), "a", 15}})
	defer rec.Release()
	if out, err := w.Push(ctx, rec, 0); err != nil || out != nil {
		t.Fatalf("partition 1 never produced, yet output %v err %v", out, err)
	}
	clock.Advance(5 * time.Second) // partition 1 idle since registration, 0 too
	tick := func() []string {
		out, err := w.Tick(ctx, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if out != nil {
				out.Release()
			}
		}()
		return rowsOf(t, out)
	}
	if got := tick(); !equalStrings(got, []string{"0|10000|a|1|1"}) {
		t.Fatalf("after idle: %q", got)
	}
	// All input idle: the watermark (13s) advances with processing time,
	// 7 more seconds close [10s, 20s).
	clock.Advance(6 * time.Second)
	if got := tick(); got != nil {
		t.Fatalf("closed too early: %q", got)
	}
	clock.Advance(time.Second)
	if got := tick(); !equalStrings(got, []string{"10000|20000|a|1|15"}) {
		t.Fatalf("after processing time: %q", got)
	}
}

func TestWatermarkTrackerPartitions(t *testing.T) {
	tr := NewWatermarkTracker(10, 0, 1)
	tr.SetPartitions([]int32{0, 1}, epoch)
	steps := []struct {
		part int32
		ts   int64
		want int64
	}{
		{0, 100, MinWatermark}, // partition 1 has not produced
		{1, 50, 40},
		{0, 200, 40},
		{1, 300, 190},
		{1, 20, 190}, // never moves back
	}
	for i, s := range steps {
		if got := tr.Observe(s.part, s.ts); got != s.want {
			t.Fatalf("step %d: watermark %d, want %d", i, got, s.want)
		}
	}
	tr.Finish()
	if tr.Watermark() != MaxWatermark {
		t.Fatal("finish did not set +inf")
	}
}

// pushManyWindows pushes windows one-second windows of four rows (keys x
// and y) one batch each, hands every output record to onOut (which must
// not keep it), and returns the largest state seen between batches.
func pushManyWindows(t *testing.T, mem memory.Allocator, w *WindowAggregate, windows int64, onOut func(arrow.Record)) (maxGroups int, maxBytes int64) {
	t.Helper()
	ctx := context.Background()
	for win := int64(0); win < windows; win++ {
		var evs []ev
		for j := int64(0); j < 4; j++ {
			evs = append(evs, ev{win*1000 + j*100, []string{"x", "y"}[j%2], j})
		}
		rec := evRecord(mem, evs)
		out, err := w.Push(ctx, rec, 0)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			onOut(out)
			out.Release()
		}
		s := w.Stats()
		maxGroups, maxBytes = max(maxGroups, s.Groups), max(maxBytes, s.Bytes)
	}
	return maxGroups, maxBytes
}
