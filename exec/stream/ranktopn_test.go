package stream

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestRankTopN(t *testing.T) {
	tests := []struct {
		name  string
		clog  bool
		input string
		batch int
		want  []string
	}{
		{
			name:  "append input: top 2 per key, numbers move down",
			input: `[{"k":"a","v":1},{"k":"b","v":5},{"k":"a","v":3},{"k":"a","v":2},{"k":"b","v":0}]`,
			batch: 1,
			want: []string{
				"+I|a|1|1", "+I|b|5|1",
				"-D|a|1|1", "+I|a|3|1", "+I|a|1|2",
				"-D|a|1|2", "+I|a|2|2",
				"+I|b|0|2",
			},
		},
		{
			name:  "one batch compacts the changes per key",
			input: `[{"k":"a","v":1},{"k":"a","v":3},{"k":"a","v":2}]`,
			batch: 10,
			want:  []string{"+I|a|3|1", "+I|a|2|2"},
		},
		{
			name:  "a retraction brings back a row from below",
			clog:  true,
			input: `[{"op":0,"k":"a","v":1},{"op":0,"k":"a","v":2},{"op":0,"k":"a","v":3},{"op":3,"k":"a","v":3},{"op":3,"k":"a","v":1}]`,
			batch: 1,
			want: []string{
				"+I|a|1|1", "-D|a|1|1", "+I|a|2|1", "+I|a|1|2",
				"-D|a|2|1", "-D|a|1|2", "+I|a|3|1", "+I|a|2|2",
				"-D|a|3|1", "-D|a|2|2", "+I|a|2|1", "+I|a|1|2",
				"-D|a|1|2",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			sch, part, key := kvSchema, []int{0}, []SortKey{{Col: 1, Desc: true}}
			if tc.clog {
				sch, part, key = clSchema, []int{1}, []SortKey{{Col: 2, Desc: true}}
			}
			rec := fromJSON(t, mem, sch, tc.input)
			defer rec.Release()
			top, err := NewRankTopN(mem, sch, part, key, 2, "rn")
			if err != nil {
				t.Fatal(err)
			}
			defer top.Close()
			batches := cut(rec, tc.batch)
			defer releaseAll(batches)
			if got := pushAll(t, top, batches, true); !equalStrings(got, tc.want) {
				t.Fatalf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestRankTopNSnapshot restores a snapshot into a new operator, which then
// goes on exactly as the original would.
func TestRankTopNSnapshot(t *testing.T) {
	mem := checkedMem(t)
	rec := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1},{"k":"b","v":5},{"k":"a","v":3},{"k":"a","v":0},{"k":"b","v":4}]`)
	defer rec.Release()
	batches := cut(rec, 1)
	defer releaseAll(batches)
	a, err := NewRankTopN(mem, kvSchema, []int{0}, []SortKey{{Col: 1}}, 1, "rn")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pushAll(t, a, batches[:3], false)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRankTopN(mem, kvSchema, []int{0}, []SortKey{{Col: 1}}, 1, "rn")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if b.Stats().Groups != a.Stats().Groups || b.Stats().Groups != 2 {
		t.Fatalf("restored %d rows, original %d (want 2: one per key)", b.Stats().Groups, a.Stats().Groups)
	}
	wa, wb := pushAll(t, a, batches[3:], true), pushAll(t, b, batches[3:], true)
	if !equalStrings(wa, wb) || len(wa) == 0 {
		t.Fatalf("after restore %q, original %q", wb, wa)
	}
	if err := b.Restore([]byte("junk")); err == nil {
		t.Fatal("a damaged snapshot was accepted")
	}
}

// TestWindowRankTopN: each key's rows arrive in one batch; the top rows
// come out once, without an op column, and no state stays behind.
func TestWindowRankTopN(t *testing.T) {
	mem := checkedMem(t)
	rec := fromJSON(t, mem, kvSchema, `[{"k":"w1","v":1},{"k":"w1","v":4},{"k":"w1","v":3},{"k":"w2","v":2}]`)
	defer rec.Release()
	top, err := NewWindowRankTopN(mem, kvSchema, []int{0}, []SortKey{{Col: 1, Desc: true}}, 2, "rn")
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	if top.SinkMode().Changelog || top.Schema().NumFields() != 3 {
		t.Fatalf("per-window top-N: changelog %v, %d columns; want append-only k, v, rn", top.SinkMode().Changelog, top.Schema().NumFields())
	}
	got := pushAll(t, top, []arrow.Record{rec}, false)
	if want := []string{"w1|4|1", "w1|3|2", "w2|2|1"}; !equalStrings(got, want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if s := top.Stats(); s.Groups != 0 {
		t.Fatalf("%d rows held after the windows closed, want 0", s.Groups)
	}
	again := fromJSON(t, mem, kvSchema, `[{"k":"w1","v":9}]`)
	defer again.Release()
	// A key coming back yields only inserts of a fresh top (state was
	// freed), which is exactly what the planner rules out; the operator
	// itself must not crash or leak.
	out, err := top.Push(context.Background(), again, 0)
	if out != nil {
		out.Release()
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewWindowRankTopN(mem, clSchema, []int{1}, []SortKey{{Col: 2}}, 1, "rn"); err == nil {
		t.Fatal("a per-window top-N over a changelog was accepted")
	}
}
