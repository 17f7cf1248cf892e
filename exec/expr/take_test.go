package expr

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

var allTypes = []arrow.DataType{i32, i64, f64, dec(10, 2), str, boo, tsus, d32}

const allRows = `[
 {"a": 1, "b": 10, "c": 1.5, "d": "1.25", "e": "x", "f": true, "g": 1000000, "h": 1},
 {"a": null, "b": null, "c": null, "d": null, "e": null, "f": null, "g": null, "h": null},
 {"a": 3, "b": 30, "c": 3.5, "d": "-3.50", "e": "zzz", "f": false, "g": 3000000, "h": 3},
 {"a": 4, "b": 40, "c": -4.5, "d": "4.00", "e": "", "f": true, "g": -4000000, "h": -4}
]`

func TestFilterTake(t *testing.T) {
	cases := []struct {
		name string
		mask string
		take []int32
		want string
	}{
		{"keep some, drop NULL mask", `[true, null, false, true]`, nil, `[` + row(0) + `,` + row(3) + `]`},
		{"keep null row", `[false, true, true, false]`, nil, `[` + row(1) + `,` + row(2) + `]`},
		{"none", `[false, false, null, false]`, nil, `[]`},
		{"take reorder", ``, []int32{3, 1, 0, 0}, `[` + row(3) + `,` + row(1) + `,` + row(0) + `,` + row(0) + `]`},
		{"take negative is null", ``, []int32{2, -1}, `[` + row(2) + `,` + row(1) + `]`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			rec := record(t, mem, allTypes, allRows)
			defer rec.Release()
			var got arrow.Record
			var err error
			if tc.mask != "" {
				mask, _, jerr := array.FromJSON(mem, boo, strings.NewReader(tc.mask))
				if jerr != nil {
					t.Fatal(jerr)
				}
				defer mask.Release()
				got, err = Filter(context.Background(), mem, rec, mask)
			} else {
				got, err = Take(mem, rec, tc.take)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			want := record(t, mem, allTypes, tc.want)
			defer want.Release()
			if !array.RecordEqual(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
		})
	}
}

func row(i int) string {
	lines := strings.Split(strings.TrimSpace(allRows), "\n")
	return strings.TrimSuffix(strings.TrimSpace(lines[i+1]), ",")
}

func TestFilterAllTrueReturnsSameRecord(t *testing.T) {
	mem := newMem(t)
	rec := record(t, mem, allTypes, allRows)
	defer rec.Release()
	mask, _, _ := array.FromJSON(mem, boo, strings.NewReader(`[true,true,true,true]`))
	defer mask.Release()
	got, err := Filter(context.Background(), mem, rec, mask)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got != rec {
		t.Fatal("want the same record retained")
	}
}

func TestFilterSlicedAndLarge(t *testing.T) {
	mem := newMem(t)
	b := array.NewInt64Builder(mem)
	sb := array.NewStringBuilder(mem)
	mb := array.NewBooleanBuilder(mem)
	const n = 1000
	for i := 0; i < n; i++ {
		if i%7 == 0 {
			b.AppendNull()
			sb.AppendNull()
		} else {
			b.Append(int64(i))
			sb.Append(fmt.Sprint(i))
		}
		mb.Append(i%3 == 0)
	}
	ia, sa, ma := b.NewArray(), sb.NewArray(), mb.NewArray()
	b.Release()
	sb.Release()
	mb.Release()
	defer ia.Release()
	defer sa.Release()
	defer ma.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: i64, Nullable: true}, {Name: "s", Type: str, Nullable: true}}, nil)
	full := array.NewRecord(schema, []arrow.Array{ia, sa}, n)
	defer full.Release()
	rec := full.NewSlice(13, 900)
	defer rec.Release()
	mask := array.NewSlice(ma, 13, 900)
	defer mask.Release()
	got, err := Filter(context.Background(), mem, rec, mask)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	j := 0
	for i := 13; i < 900; i++ {
		if i%3 != 0 {
			continue
		}
		g := got.Column(0).(*array.Int64)
		gs := got.Column(1).(*array.String)
		if i%7 == 0 {
			if !g.IsNull(j) || !gs.IsNull(j) {
				t.Fatalf("row %d: want NULL", i)
			}
		} else if g.Value(j) != int64(i) || gs.Value(j) != fmt.Sprint(i) {
			t.Fatalf("row %d: got %d %q", i, g.Value(j), gs.Value(j))
		}
		j++
	}
	if int(got.NumRows()) != j {
		t.Fatalf("rows %d want %d", got.NumRows(), j)
	}
}

// TestTakeSlicedStrings gathers from a string array sliced away from its
// first offset, where offsets index the whole data buffer.
func TestTakeSlicedStrings(t *testing.T) {
	mem := newMem(t)
	full, _, err := array.FromJSON(mem, str, strings.NewReader(`["aa","bbb","c",null,"dddd"]`))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Release()
	sl := array.NewSlice(full, 1, 5)
	defer sl.Release()
	got, err := TakeArray(mem, sl, []int32{3, 0, 2, -1, 1})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	want, _, _ := array.FromJSON(mem, str, strings.NewReader(`["dddd","bbb",null,null,"c"]`))
	defer want.Release()
	if !array.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

// Taking only NULL rows (index -1) from an empty array works for every
// type, including a BOOLEAN array built empty (no values buffer) and the
// NULL type: a lookup join's empty table (an instance given none of its
// rows) gathers its columns for unmatched outer rows this way.
func TestTakeNullsFromEmpty(t *testing.T) {
	mem := newMem(t)
	for _, typ := range append(append([]arrow.DataType{}, allTypes...), arrow.Null) {
		b := array.NewBuilder(mem, typ)
		empty := b.NewArray()
		b.Release()
		got, err := TakeArray(mem, empty, []int32{-1, -1, -1})
		empty.Release()
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if got.Len() != 3 || got.NullN() != 3 || !arrow.TypeEqual(got.DataType(), typ) {
			t.Errorf("%s: got %v (%d NULLs)", typ, got, got.NullN())
		}
		got.Release()
	}
}
