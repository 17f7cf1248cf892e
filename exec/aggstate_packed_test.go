package exec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// packedRow is one row of a packed (agg_args) argument: the struct row is
// NULL when !keep (a FILTER dropped it); a, b are its fields (nil: NULL).
type packedRow struct {
	g    int
	keep bool
	a, b *int
	seq  int // arrival
}

// buildPacked builds the struct argument {a VARCHAR, b BIGINT}.
func buildPacked(mem memory.Allocator, rows []packedRow) arrow.Array {
	typ := arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "f1", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	b := array.NewStructBuilder(mem, typ)
	defer b.Release()
	fa, fb := b.FieldBuilder(0).(*array.StringBuilder), b.FieldBuilder(1).(*array.Int64Builder)
	for _, r := range rows {
		b.AppendValues([]bool{r.keep}) // the fields are appended below, also under a NULL row
		if r.a == nil {
			fa.AppendNull()
		} else {
			fa.Append(fmt.Sprintf("a%03d", *r.a))
		}
		if r.b == nil {
			fb.AppendNull()
		} else {
			fb.Append(int64(*r.b))
		}
	}
	return b.NewArray()
}

// packedExpected is the brute-force result of fn over a group's live rows
// (in arrival order).
func packedExpected(fn string, p AggParams, live []packedRow) string {
	var rows []packedRow
	for _, r := range live {
		if r.keep {
			rows = append(rows, r)
		}
	}
	str := func(v *int) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("a%03d", *v)
	}
	switch fn {
	case "first", "last":
		if len(rows) == 0 {
			return "NULL"
		}
		if fn == "first" {
			return str(rows[0].a)
		}
		return str(rows[len(rows)-1].a)
	case "arg_min", "arg_max":
		var best *packedRow
		for k := range rows {
			r := &rows[k]
			if r.a == nil || r.b == nil {
				continue
			}
			if best == nil || (fn == "arg_min" && *r.b < *best.b) || (fn == "arg_max" && *r.b > *best.b) {
				best = r
			}
		}
		if best == nil {
			return "NULL"
		}
		return str(best.a)
	case "array_agg_distinct": // NULL is a value; each once, by first arrival
		if len(rows) == 0 {
			return "NULL"
		}
		seen := map[string]bool{}
		var parts []any
		for _, r := range rows {
			if k := str(r.a); !seen[k] {
				seen[k] = true
				if r.a == nil {
					parts = append(parts, nil)
				} else {
					parts = append(parts, k)
				}
			}
		}
		b, _ := json.Marshal(parts)
		return string(b)
	case "string_agg", "array_agg":
		var vals []packedRow
		for _, r := range rows {
			if r.a != nil || fn == "array_agg" {
				vals = append(vals, r)
			}
		}
		if len(vals) == 0 {
			return "NULL"
		}
		o := p.Order[0]
		slices.SortStableFunc(vals, func(x, y packedRow) int {
			switch {
			case x.b == nil && y.b == nil:
				return 0
			case x.b == nil:
				return map[bool]int{true: -1, false: 1}[o.NullsFirst]
			case y.b == nil:
				return map[bool]int{true: 1, false: -1}[o.NullsFirst]
			}
			c := cmp.Compare(*x.b, *y.b)
			if o.Desc {
				c = -c
			}
			return c
		})
		parts := make([]string, len(vals))
		for i, r := range vals {
			parts[i] = str(r.a)
		}
		if fn == "array_agg" { // as Arrow prints a list
			elems := make([]any, len(vals))
			for i, r := range vals {
				if r.a != nil {
					elems[i] = parts[i]
				}
			}
			b, _ := json.Marshal(elems)
			return string(b)
		}
		return strings.Join(parts, p.Sep)
	}
	return "?"
}

// TestAggStatePacked drives the aggregates over packed arguments (FIRST,
// LAST, ARG_MIN, ARG_MAX, ordered STRING_AGG) with random rows, filtered
// rows and NULL fields, with retractions where the function takes them,
// against brute force after every batch, then through Save/Load and
// Merge. Each row's first field is unique, so a retraction names its row.
func TestAggStatePacked(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	argType := arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "f1", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	firstType := arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String, Nullable: true})
	cases := []struct {
		fn      string
		p       AggParams
		retract bool
	}{
		{"first", AggParams{}, false}, {"last", AggParams{}, false},
		{"arg_min", AggParams{}, false}, {"arg_max", AggParams{}, false},
		{"arg_min", AggParams{}, true}, {"arg_max", AggParams{}, true},
		{"string_agg", AggParams{Sep: ",", Order: []AggOrder{{}}}, true},
		{"string_agg", AggParams{Sep: "; ", Order: []AggOrder{{Desc: true, NullsFirst: true}}}, true},
		{"string_agg", AggParams{Sep: "", Order: []AggOrder{{NullsFirst: true}}}, false},
		{"array_agg", AggParams{Order: []AggOrder{{}}}, true},
		{"array_agg", AggParams{Order: []AggOrder{{Desc: true, NullsFirst: true}}}, false},
		{"array_agg_distinct", AggParams{}, false},
	}
	const groups = 3
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%s/retract=%v", c.fn, c.p.Sep, c.retract), func(t *testing.T) {
			typ := argType
			fn, distinct := strings.CutSuffix(c.fn, "_distinct")
			if c.fn == "first" || c.fn == "last" || distinct {
				typ = firstType
			}
			opts := AggOptions{Retract: c.retract, Streaming: true}
			st, err := NewAggStateParams(mem, fn, typ, distinct, c.p, opts)
			if err != nil {
				t.Fatal(err)
			}
			st.Grow(groups)
			rng := rand.New(rand.NewSource(7))
			live := make([][]packedRow, groups)
			check := func(st AggState, what string) {
				t.Helper()
				res, err := st.Result(mem, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Release()
				for g := range live {
					if got, want := cellText(res, g), packedExpected(c.fn, c.p, live[g]); got != want {
						t.Fatalf("%s: group %d: got %s, want %s", what, g, got, want)
					}
				}
			}
			id := 0
			for batch := 0; batch < 40; batch++ {
				var rows []packedRow
				var gids []uint32
				var signs []int8
				for r := 0; r < 1+rng.Intn(6); r++ {
					g := rng.Intn(groups)
					if c.retract && len(live[g]) > 0 && rng.Intn(3) == 0 {
						k := rng.Intn(len(live[g]))
						row := live[g][k]
						live[g] = slices.Delete(live[g], k, k+1)
						rows, gids, signs = append(rows, row), append(gids, uint32(g)), append(signs, -1)
						continue
					}
					id++
					a, b := id, rng.Intn(5)
					row := packedRow{g: g, keep: rng.Intn(5) != 0, a: &a, b: &b, seq: id}
					if rng.Intn(6) == 0 {
						row.a = nil
					}
					if rng.Intn(6) == 0 {
						row.b = nil
					}
					if typ == firstType {
						row.b = nil
					}
					live[g] = append(live[g], row)
					rows, gids, signs = append(rows, row), append(gids, uint32(g)), append(signs, 1)
				}
				arr := buildPacked(mem, rows)
				if typ == firstType {
					s := arr.(*array.Struct)
					f0 := s.Field(0)
					data := array.NewData(firstType, s.Len(), s.Data().Buffers(), []arrow.ArrayData{f0.Data()}, s.NullN(), 0)
					arr.Release()
					arr = array.MakeFromData(data)
					data.Release()
				}
				err := st.Update(gids, arr, signs)
				arr.Release()
				if err != nil {
					t.Fatal(err)
				}
				check(st, fmt.Sprintf("batch %d", batch))
			}
			fresh, err := NewAggStateParams(mem, fn, typ, distinct, c.p, opts)
			if err != nil {
				t.Fatal(err)
			}
			fresh.Grow(groups)
			for g := uint32(0); g < groups; g++ {
				b, err := st.Save(nil, g)
				if err != nil {
					t.Fatal(err)
				}
				rest, err := fresh.Load(g, append(b, 0xEE))
				if err != nil || len(rest) != 1 || rest[0] != 0xEE {
					t.Fatalf("Load: %v, rest %x", err, rest)
				}
			}
			check(fresh, "after Save/Load")
			if _, err := fresh.Load(0, []byte{1, 2}); err == nil {
				t.Fatal("Load of a truncated state succeeded")
			}
			// Merge group 1 into 0: as if 0 had seen 1's rows, in arrival order.
			if err := st.Merge(0, 1); err != nil {
				t.Fatal(err)
			}
			live[0] = append(live[0], live[1]...)
			slices.SortFunc(live[0], func(x, y packedRow) int { return cmp.Compare(x.seq, y.seq) })
			live[1] = nil
			check(st, "after Merge")
			if st.Bytes() <= 0 {
				t.Fatal("Bytes is 0")
			}
		})
	}
}
