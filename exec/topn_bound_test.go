package exec

import (
	"fmt"
	"testing"
)

// TestTopNPublishesBound: a TopN with SetBound publishes its k-th first
// key once it keeps k rows (">=" descending, "<=" ascending), never a
// NULL, and TopNs sharing a bound only ever tighten it.
func TestTopNPublishesBound(t *testing.T) {
	sch := schemaOf(f("v", i64), f("s", str))
	data := `[{"v":5,"s":"e"},{"v":null,"s":null},{"v":9,"s":"i"},{"v":1,"s":"a"},{"v":7,"s":"g"},{"v":3,"s":"c"},{"v":9,"s":"i"},{"v":null,"s":null}]`
	for _, tc := range []struct {
		key              int
		desc, nullsFirst bool
		limit, offset    int64
		want             string // the predicate, "" when unset
	}{
		{0, true, false, 3, 0, "ge 7"},
		{0, true, false, 2, 1, "ge 7"},
		{0, false, false, 2, 0, "le 3"},
		{0, false, true, 2, 0, ""}, // the 2nd row is a NULL
		{0, false, true, 3, 0, "le 1"},
		{1, true, false, 3, 0, "ge g"},
		{0, true, false, 10, 0, ""}, // never full
	} {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%+v/batch%d", tc, bs), func(t *testing.T) {
				mem := newMem(t)
				b := NewTopNBound(4, tc.desc, tc.nullsFirst)
				op, err := NewTopN(mem, input(t, mem, sch, data, bs), []SortKey{{Expr: col(tc.key, sch.Field(tc.key).Type), Desc: tc.desc, NullsFirst: tc.nullsFirst}}, tc.limit, tc.offset)
				if err != nil {
					t.Fatal(err)
				}
				op.SetBound(b)
				collect(t, op)
				got := ""
				if p, ok := b.Predicate(); ok {
					if p.Column != 4 {
						t.Errorf("column %d, want 4", p.Column)
					}
					got = fmt.Sprintf("%s %v", p.Op, p.Value)
				}
				if got != tc.want {
					t.Errorf("bound %q, want %q", got, tc.want)
				}
			})
		}
	}
	// Shared: a looser cut-off offered later does not replace a tighter one.
	mem := newMem(t)
	b := NewTopNBound(0, true, false)
	for _, js := range []string{`[{"v":9,"s":"x"},{"v":8,"s":"x"}]`, `[{"v":2,"s":"x"},{"v":1,"s":"x"}]`} {
		op, err := NewTopN(mem, input(t, mem, sch, js, 1024), []SortKey{{Expr: col(0, i64), Desc: true}}, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		op.SetBound(b)
		collect(t, op)
	}
	if p, ok := b.Predicate(); !ok || p.Value != int64(8) {
		t.Errorf("shared bound %+v, want ge 8", p)
	}
}
