package stream

import (
	"context"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

var kvSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

var clSchema = arrow.NewSchema([]arrow.Field{
	opField,
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func TestGroupAggregateChangelogSequence(t *testing.T) {
	input := `[{"k":"a","v":1},{"k":"b","v":2},{"k":"a","v":3},{"k":"b","v":null}]`
	tests := []struct {
		name      string
		batchSize int
		want      []string
	}{
		{"row by row", 1, []string{
			"+I|a|1|1|1", "+I|b|2|1|1",
			"-U|a|1|1|1", "+U|a|4|2|2",
			"-U|b|2|1|1", "+U|b|2|2|1",
		}},
		{"two-row batches compact per batch", 2, []string{
			"+I|a|1|1|1", "+I|b|2|1|1",
			"-U|a|1|1|1", "+U|a|4|2|2",
			"-U|b|2|1|1", "+U|b|2|2|1",
		}},
		{"one batch", 4, []string{"+I|a|4|2|2", "+I|b|2|2|1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			rec := fromJSON(t, mem, kvSchema, input)
			defer rec.Release()
			g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, []AggSpec{
				{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"},
				{Func: AggCountStar, Name: "n"},
				{Func: AggCount, Arg: col(kvSchema, 1), Name: "c"},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			batches := cut(rec, tc.batchSize)
			defer releaseAll(batches)
			got := pushAll(t, g, batches, true)
			if !equalStrings(got, tc.want) {
				t.Fatalf("changelog\n got %q\nwant %q", got, tc.want)
			}
			if s := g.Stats(); s.Groups != 2 || s.Bytes <= 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestGroupAggregateRetractions(t *testing.T) {
	tests := []struct {
		name  string
		aggs  func() []AggSpec
		input string
		want  []string
	}{
		{
			name: "min max under retraction",
			aggs: func() []AggSpec {
				return []AggSpec{{Func: AggMin, Arg: col(clSchema, 2), Name: "lo"}, {Func: AggMax, Arg: col(clSchema, 2), Name: "hi"}}
			},
			input: `[{"op":0,"k":"a","v":5},{"op":0,"k":"a","v":3},{"op":0,"k":"a","v":7},
				{"op":3,"k":"a","v":3},{"op":3,"k":"a","v":7},{"op":3,"k":"a","v":5}]`,
			want: []string{
				"+I|a|5|5",
				"-U|a|5|5", "+U|a|3|5",
				"-U|a|3|5", "+U|a|3|7",
				"-U|a|3|7", "+U|a|5|7",
				"-U|a|5|7", "+U|a|5|5",
				"-D|a|5|5",
			},
		},
		{
			name: "count distinct, sum and avg retract",
			aggs: func() []AggSpec {
				return []AggSpec{{Func: AggCountDistinct, Arg: col(clSchema, 2), Name: "d"},
					{Func: AggSum, Arg: col(clSchema, 2), Name: "s"},
					{Func: AggAvg, Arg: col(clSchema, 2), Name: "m"}}
			},
			input: `[{"op":0,"k":"a","v":1},{"op":0,"k":"a","v":1},{"op":0,"k":"a","v":2},
				{"op":1,"k":"a","v":1},{"op":2,"k":"a","v":4},{"op":3,"k":"a","v":1}]`,
			want: []string{
				"+I|a|1|1|1",
				"-U|a|1|1|1", "+U|a|1|2|1",
				"-U|a|1|2|1", "+U|a|2|4|1.33333",
				"-U|a|2|4|1.33333", "+U|a|2|3|1.5",
				"-U|a|2|3|1.5", "+U|a|3|7|2.33333",
				"-U|a|3|7|2.33333", "+U|a|2|6|3",
			},
		},
		{
			name:  "retraction of an unknown group is ignored",
			aggs:  func() []AggSpec { return []AggSpec{{Func: AggCountStar, Name: "n"}} },
			input: `[{"op":3,"k":"z","v":1},{"op":0,"k":"a","v":1}]`,
			want:  []string{"+I|a|1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			rec := fromJSON(t, mem, clSchema, tc.input)
			defer rec.Release()
			g, err := NewGroupAggregate(mem, clSchema, []GroupKey{{Expr: col(clSchema, 1), Name: "k"}}, tc.aggs())
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			batches := cut(rec, 1)
			defer releaseAll(batches)
			got := pushAll(t, g, batches, true)
			if !equalStrings(got, tc.want) {
				t.Fatalf("changelog\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestGroupAggregateRejectsBadSpecs(t *testing.T) {
	mem := checkedMem(t)
	if _, err := NewGroupAggregate(mem, kvSchema, nil, []AggSpec{{Func: AggSum, Name: "s"}}); err == nil {
		t.Fatal("SUM without argument accepted")
	}
	if _, err := NewGroupAggregate(mem, kvSchema, nil, []AggSpec{{Func: AggSum, Arg: col(kvSchema, 0), Name: "s"}}); err == nil {
		t.Fatal("SUM of strings accepted")
	}
}

// TestGroupAggregateDictionaryKey: a string key arriving dictionary-encoded
// (dictionaries changing between batches, some with a NULL key, which
// takes the decoding path) gives exactly the changelog the same rows give
// as plain strings, at several batch sizes, and through a snapshot
// restore; DictionaryKey allows it only for a single plain key column no
// argument reads.
func TestGroupAggregateDictionaryKey(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(5))
	words := []string{"a", "b", "c", "d", "e"}
	aggs := func() []AggSpec {
		return []AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}, {Func: AggCountStar, Name: "n"}}
	}
	keys := []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}
	// Batches of 7 rows over a dictionary of its own (a permutation of a
	// subset of words); every third batch has a NULL key.
	var plain, dict []arrow.Record
	for b := range 12 {
		perm := rng.Perm(len(words))[:2+rng.Intn(4)]
		db := array.NewStringBuilder(mem)
		for _, p := range perm {
			db.Append(words[p])
		}
		dv := db.NewArray()
		db.Release()
		ib := array.NewInt32Builder(mem)
		kb := array.NewStringBuilder(mem)
		vb := array.NewInt64Builder(mem)
		for r := range 7 {
			if b%3 == 2 && r == 3 {
				ib.AppendNull()
				kb.AppendNull()
			} else {
				i := rng.Intn(len(perm))
				ib.Append(int32(i))
				kb.Append(words[perm[i]])
			}
			vb.Append(int64(rng.Intn(10)))
		}
		idx, ks, vs := ib.NewArray(), kb.NewArray(), vb.NewArray()
		ib.Release()
		kb.Release()
		vb.Release()
		da := array.NewDictionaryArray(&arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, idx, dv)
		dsch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: da.DataType(), Nullable: true}, kvSchema.Field(1)}, nil)
		plain = append(plain, array.NewRecord(kvSchema, []arrow.Array{ks, vs}, 7))
		dict = append(dict, array.NewRecord(dsch, []arrow.Array{da, vs}, 7))
		for _, a := range []arrow.Array{dv, idx, ks, vs, da} {
			a.Release()
		}
	}
	defer releaseAll(plain)
	defer releaseAll(dict)
	run := func(batches []arrow.Record, size int, restoreAt int) []string {
		g, err := NewGroupAggregate(mem, kvSchema, keys, aggs())
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := g.DictionaryKey(kvSchema); !ok || c != 0 {
			t.Fatalf("DictionaryKey = %d, %v; want column 0", c, ok)
		}
		var out []string
		for i, rec := range batches {
			if i == restoreAt {
				snap, err := g.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				g.Close()
				if g, err = NewGroupAggregate(mem, kvSchema, keys, aggs()); err != nil {
					t.Fatal(err)
				}
				if err := g.Restore(snap); err != nil {
					t.Fatal(err)
				}
			}
			for off := int64(0); off < rec.NumRows(); off += int64(size) {
				part := rec.NewSlice(off, min(off+int64(size), rec.NumRows()))
				o, err := g.Push(ctx, part, 0)
				part.Release()
				if err != nil {
					t.Fatal(err)
				}
				if o != nil {
					out = append(out, rowsOf(t, o)...)
					o.Release()
				}
			}
		}
		g.Close()
		return out
	}
	for _, size := range []int{1, 3, 7} {
		for _, restoreAt := range []int{-1, 5} {
			want, got := run(plain, size, restoreAt), run(dict, size, restoreAt)
			if len(want) == 0 || !equalStrings(got, want) {
				t.Fatalf("size %d restore at %d: dictionary keys\n got %q\nwant %q", size, restoreAt, got, want)
			}
		}
	}
	two := []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}, {Expr: col(kvSchema, 1), Name: "v"}}
	for name, c := range map[string]struct {
		keys []GroupKey
		aggs []AggSpec
	}{
		"two keys":          {two, []AggSpec{{Func: AggCountStar, Name: "n"}}},
		"argument reads it": {keys, []AggSpec{{Func: AggMin, Arg: col(kvSchema, 0), Name: "m"}}},
		"integer key":       {[]GroupKey{{Expr: col(kvSchema, 1), Name: "v"}}, []AggSpec{{Func: AggCountStar, Name: "n"}}},
	} {
		g, err := NewGroupAggregate(mem, kvSchema, c.keys, c.aggs)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := g.DictionaryKey(kvSchema); ok {
			t.Fatalf("%s: DictionaryKey allowed", name)
		}
	}
}
