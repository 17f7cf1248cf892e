package exec

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

var sortData = `[{"k":"b","v":2},{"k":"a","v":null},{"k":null,"v":1},{"k":"a","v":3},{"k":"c","v":2},{"k":"b","v":null}]`

func TestSort(t *testing.T) {
	sch := schemaOf(f("k", str), f("v", i64))
	k, v := col(0, str), col(1, i64)
	tests := []struct {
		name string
		keys []SortKey
		want []string
	}{
		{"asc nulls last stable", []SortKey{{Expr: v}}, []string{"NULL|1", "b|2", "c|2", "a|3", "a|NULL", "b|NULL"}},
		{"desc nulls first", []SortKey{{Expr: v, Desc: true, NullsFirst: true}}, []string{"a|NULL", "b|NULL", "a|3", "b|2", "c|2", "NULL|1"}},
		{"desc nulls last", []SortKey{{Expr: v, Desc: true}}, []string{"a|3", "b|2", "c|2", "NULL|1", "a|NULL", "b|NULL"}},
		{"two keys", []SortKey{{Expr: k, NullsFirst: true}, {Expr: v, Desc: true}}, []string{"NULL|1", "a|3", "a|NULL", "b|2", "b|NULL", "c|2"}},
	}
	for _, tc := range tests {
		for _, bs := range batchSizes {
			t.Run(fmt.Sprintf("%s/batch%d", tc.name, bs), func(t *testing.T) {
				mem := newMem(t)
				eq(t, collect(t, NewSort(mem, input(t, mem, sch, sortData, bs), tc.keys)), tc.want)
			})
			t.Run(fmt.Sprintf("topn %s/batch%d", tc.name, bs), func(t *testing.T) {
				mem := newMem(t)
				op, err := NewTopN(mem, input(t, mem, sch, sortData, bs), tc.keys, 3, 2)
				if err != nil {
					t.Fatal(err)
				}
				eq(t, collect(t, op), tc.want[2:5])
			})
		}
	}
}

func TestSortTypes(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 5, Scale: 1}
	sch := schemaOf(f("ts", tsUS), f("x", f64), f("b", arrow.FixedWidthTypes.Boolean), f("d", dec), f("u", arrow.PrimitiveTypes.Uint8))
	data := `[{"ts":"2024-01-01T00:00:02Z","x":-1.5,"b":true,"d":"-2.5","u":200},{"ts":"2024-01-01T00:00:01Z","x":2,"b":false,"d":"10.0","u":3}]`
	for i, typ := range []arrow.DataType{tsUS, f64, arrow.FixedWidthTypes.Boolean, dec, arrow.PrimitiveTypes.Uint8} {
		mem := newMem(t)
		got := collect(t, NewSort(mem, input(t, mem, sch, data, 1), []SortKey{{Expr: col(i, typ)}}))
		// Row 1 is smaller in ts, b, u; row 0 in x and d.
		first := "2024-01-01 00:00:01Z"
		if i == 1 || i == 3 {
			first = "2024-01-01 00:00:02Z"
		}
		if len(got) != 2 || got[0][:len(first)] != first {
			t.Errorf("%s: got %v", typ, got)
		}
	}
}

func TestTopNCompaction(t *testing.T) {
	mem := newMem(t)
	const n = 30000
	b := array.NewInt64Builder(mem)
	for i := 0; i < n; i++ {
		b.Append(int64(i*7919) % n)
	}
	a := b.NewArray()
	b.Release()
	rec := array.NewRecord(schemaOf(f("v", i64)), []arrow.Array{a}, n)
	a.Release()
	defer rec.Release()
	keys := []SortKey{{Expr: col(0, i64), Desc: true}}
	op, err := NewTopN(mem, newSliceOp(rec, 1000), keys, 3, 20000)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, collect(t, op), []string{"9999", "9998", "9997"})
	ref := NewLimit(mem, NewSort(mem, newSliceOp(rec, 1000), keys), 3, 20000)
	eq(t, collect(t, ref), []string{"9999", "9998", "9997"})
}

func TestTopNZero(t *testing.T) {
	mem := newMem(t)
	op, err := NewTopN(mem, input(t, mem, schemaOf(f("k", str), f("v", i64)), sortData, 2), []SortKey{{Expr: col(1, i64)}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, collect(t, op), nil)
	if _, err := NewTopN(mem, nil, nil, -1, 0); err == nil {
		t.Error("negative limit accepted")
	}
}

// TestTopNMatchesSortLimit holds the cut-off top-N to Sort+Limit on random
// rows with many ties and NULLs (an id column shows that ties keep input
// order), for several keys, limits, offsets and batch sizes.
func TestTopNMatchesSortLimit(t *testing.T) {
	mem := newMem(t)
	rng := rand.New(rand.NewSource(7))
	const n = 5000
	kb, vb, ib := array.NewStringBuilder(mem), array.NewInt64Builder(mem), array.NewInt64Builder(mem)
	for i := 0; i < n; i++ {
		if rng.Intn(10) == 0 {
			kb.AppendNull()
		} else {
			kb.Append(fmt.Sprint("k", rng.Intn(20)))
		}
		if rng.Intn(10) == 0 {
			vb.AppendNull()
		} else {
			vb.Append(int64(rng.Intn(50)))
		}
		ib.Append(int64(i))
	}
	cols := []arrow.Array{kb.NewArray(), vb.NewArray(), ib.NewArray()}
	kb.Release()
	vb.Release()
	ib.Release()
	rec := array.NewRecord(schemaOf(f("k", str), f("v", i64), f("id", i64)), cols, n)
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()
	keySets := [][]SortKey{
		{{Expr: col(1, i64), Desc: true}},
		{{Expr: col(1, i64)}},
		{{Expr: col(0, str), NullsFirst: true}, {Expr: col(1, i64), Desc: true}},
		{{Expr: col(1, i64), Desc: true, NullsFirst: true}, {Expr: col(0, str)}},
	}
	for ki, keys := range keySets {
		for _, lim := range [][2]int64{{1, 0}, {10, 0}, {10, 7}, {700, 0}, {1500, 1200}, {n + 5, 0}} {
			for _, bs := range []int{1, 97, 4096} {
				op, err := NewTopN(mem, newSliceOp(rec, bs), keys, lim[0], lim[1])
				if err != nil {
					t.Fatal(err)
				}
				got := collect(t, op)
				want := collect(t, NewLimit(mem, NewSort(mem, newSliceOp(rec, bs), keys), lim[0], lim[1]))
				if !slices.Equal(got, want) {
					t.Fatalf("keys %d limit %d offset %d batch %d: got %d rows %.200v\nwant %d rows %.200v", ki, lim[0], lim[1], bs, len(got), got, len(want), want)
				}
			}
		}
	}
}
