package exec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec/expr"
)

// TestUnnest covers zipped lists of unequal length, NULL and empty
// lists (no row; one row of NULLs when outer), NULL elements, and a
// changelog whose updates become -D/+I, at several input batch sizes.
func TestUnnest(t *testing.T) {
	i8 := arrow.PrimitiveTypes.Int8
	l64 := arrow.ListOf(i64)
	cases := []struct {
		name   string
		schema *arrow.Schema
		js     string
		lists  []int
		opCol  int
		outer  bool
		want   []string
	}{
		{"zip", schemaOf(f("s", str), f("a", l64), f("b", l64)),
			`[{"s": "x", "a": [1, 2], "b": [7]}, {"s": "y", "a": null, "b": []}, {"s": "z", "a": [], "b": [null, 9]}, {"s": "w", "a": [3], "b": null}]`,
			[]int{1, 2}, -1, false,
			[]string{"x|[1,2]|[7]|1|7", "x|[1,2]|[7]|2|NULL", "z|[]|[null,9]|NULL|NULL", "z|[]|[null,9]|NULL|9", "w|[3]|NULL|3|NULL"}},
		{"changelog", schemaOf(f("op", i8), f("a", l64)),
			`[{"op": 0, "a": [1]}, {"op": 1, "a": [1]}, {"op": 2, "a": [1, 2]}, {"op": 3, "a": [2]}]`,
			[]int{1}, 0, false,
			[]string{"0|[1]|1", "3|[1]|1", "0|[1,2]|1", "0|[1,2]|2", "3|[2]|2"}},
		// LEFT JOIN UNNEST(…) ON TRUE: a row whose lists are all NULL or
		// empty is kept once with NULL elements.
		{"outer", schemaOf(f("s", str), f("a", l64), f("b", l64)),
			`[{"s": "x", "a": [1, 2], "b": [7]}, {"s": "y", "a": null, "b": []}, {"s": "z", "a": [], "b": [null, 9]}, {"s": "v", "a": [], "b": null}, {"s": "w", "a": [3], "b": null}]`,
			[]int{1, 2}, -1, true,
			[]string{"x|[1,2]|[7]|1|7", "x|[1,2]|[7]|2|NULL", "y|NULL|[]|NULL|NULL", "z|[]|[null,9]|NULL|NULL", "z|[]|[null,9]|NULL|9", "v|[]|NULL|NULL|NULL", "w|[3]|NULL|3|NULL"}},
		{"outer changelog", schemaOf(f("op", i8), f("a", l64)),
			`[{"op": 0, "a": []}, {"op": 1, "a": []}, {"op": 2, "a": [1, 2]}, {"op": 3, "a": null}]`,
			[]int{1}, 0, true,
			[]string{"0|[]|NULL", "3|[]|NULL", "0|[1,2]|1", "0|[1,2]|2", "3|NULL|NULL"}},
	}
	for _, c := range cases {
		for _, batch := range []int{1, 2, 100} {
			t.Run(fmt.Sprintf("%s/batch=%d", c.name, batch), func(t *testing.T) {
				mem := newMem(t)
				var lists []expr.Expr
				names := make([]string, len(c.lists))
				for i, k := range c.lists {
					lists = append(lists, col(k, c.schema.Field(k).Type))
					names[i] = fmt.Sprintf("e%d", i)
				}
				u, err := NewUnnest(mem, input(t, mem, c.schema, c.js, batch), lists, names, c.opCol, c.outer)
				if err != nil {
					t.Fatal(err)
				}
				defer u.Close()
				if got, want := u.Schema().NumFields(), c.schema.NumFields()+len(c.lists); got != want {
					t.Fatalf("schema has %d fields, want %d", got, want)
				}
				eq(t, collect(t, u), c.want)
			})
		}
	}
}

// TestUnnestLongList splits one row's long list across output batches
// of at most DefaultBatchSize rows.
func TestUnnestLongList(t *testing.T) {
	mem := newMem(t)
	n := 2*DefaultBatchSize + 5
	elems := make([]string, n)
	for i := range elems {
		elems[i] = fmt.Sprint(i)
	}
	js := fmt.Sprintf(`[{"s": "x", "l": [%s]}, {"s": "y", "l": [-1]}]`, strings.Join(elems, ","))
	sch := schemaOf(f("s", str), f("l", arrow.ListOf(i64)))
	u, err := NewUnnest(mem, input(t, mem, sch, js, 10), []expr.Expr{col(1, sch.Field(1).Type)}, []string{"e"}, -1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	recs, err := Collect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(recs)
	total := 0
	for _, r := range recs {
		if r.NumRows() > DefaultBatchSize {
			t.Errorf("batch of %d rows, want at most %d", r.NumRows(), DefaultBatchSize)
		}
		total += int(r.NumRows())
	}
	last := recs[len(recs)-1]
	if total != n+1 || last.Column(2).ValueStr(int(last.NumRows())-1) != "-1" {
		t.Fatalf("got %d rows ending %s, want %d ending -1", total, last.Column(2).ValueStr(int(last.NumRows())-1), n+1)
	}
}
