package exec

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func hashesOf(t *testing.T, mem memory.Allocator, cols ...arrow.Array) []uint64 {
	t.Helper()
	h, err := HashRows(context.Background(), mem, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func arrayFromJSON(t *testing.T, mem memory.Allocator, typ arrow.DataType, js string) arrow.Array {
	t.Helper()
	a, _, err := array.FromJSON(mem, typ, strings.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Rows equal as GROUP BY sees them hash alike, whatever their physical
// form (width, offset, dictionary, string kind); different values
// spread over the partitions.
func TestHashRowsEqualKeysHashAlike(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	same := func(name string, a, b []uint64) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s: %d and %d hashes", name, len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s: row %d hashes %x and %x", name, i, a[i], b[i])
			}
		}
	}
	s := arrayFromJSON(t, mem, arrow.BinaryTypes.String, `["a", null, "bb", "", "a"]`)
	defer s.Release()
	ls := arrayFromJSON(t, mem, arrow.BinaryTypes.LargeString, `["a", null, "bb", "", "a"]`)
	defer ls.Release()
	hs := hashesOf(t, mem, s)
	same("string vs large string", hs, hashesOf(t, mem, ls))
	if hs[0] != hs[4] || hs[0] == hs[2] || hs[1] == hs[3] {
		t.Errorf("string hashes %x: want rows 0 and 4 alike, the others apart", hs)
	}

	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int8, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	defer db.Release()
	// Two leading rows make the dictionary's order unlike the column's;
	// the slice drops them again.
	for _, v := range []string{"bb", "x"} {
		if err := db.AppendString(v); err != nil {
			t.Fatal(err)
		}
	}
	for i := range s.Len() {
		if s.IsNull(i) {
			db.AppendNull()
		} else if err := db.AppendString(s.(*array.String).Value(i)); err != nil {
			t.Fatal(err)
		}
	}
	whole := db.NewArray()
	defer whole.Release()
	dict := array.NewSlice(whole, 2, int64(whole.Len()))
	defer dict.Release()
	same("dictionary vs plain", hs, hashesOf(t, mem, dict))

	i64 := arrayFromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[7, null, -1, 0, 7, 123456789]`)
	defer i64.Release()
	i16 := arrayFromJSON(t, mem, arrow.PrimitiveTypes.Int16, `[7, null, -1, 0, 7]`)
	defer i16.Release()
	hi := hashesOf(t, mem, i64)
	same("int16 vs int64", hi[:5], hashesOf(t, mem, i16))
	sl := array.NewSlice(i64, 2, 6)
	defer sl.Release()
	same("sliced column", hi[2:6], hashesOf(t, mem, sl))

	f := array.NewFloat64Builder(mem)
	defer f.Release()
	f.AppendValues([]float64{0, math.Copysign(0, -1), math.NaN(), -math.NaN(), 1.5}, nil)
	fa := f.NewArray()
	defer fa.Release()
	hf := hashesOf(t, mem, fa)
	if hf[0] != hf[1] || hf[2] != hf[3] || hf[0] == hf[4] {
		t.Errorf("float hashes %x: want 0 = -0, NaN = NaN, 1.5 apart", hf)
	}

	// Two columns: the pair, in order, is the key.
	a := arrayFromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[1, 2, 1]`)
	defer a.Release()
	b := arrayFromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[2, 1, 2]`)
	defer b.Release()
	h2 := hashesOf(t, mem, a, b)
	if h2[0] != h2[2] || h2[0] == h2[1] {
		t.Errorf("(1,2), (2,1), (1,2) hash %x", h2)
	}

	// The hash is fixed (no seed): checkpoint parts of parallel
	// instances depend on it, so a change must come with a new
	// checkpoint format version.
	one := arrayFromJSON(t, mem, arrow.PrimitiveTypes.Int64, `[42]`)
	defer one.Release()
	if got := hashesOf(t, mem, one)[0]; got != mix64(42) {
		t.Errorf("hash of 42 is %x, want %x", got, mix64(42))
	}

	// 10,000 consecutive integers over 4 partitions: none gets less
	// than a fifth.
	ib := array.NewInt64Builder(mem)
	defer ib.Release()
	for i := range int64(10000) {
		ib.Append(i)
	}
	ints := ib.NewArray()
	defer ints.Release()
	var count [4]int
	for _, h := range hashesOf(t, mem, ints) {
		count[PartitionOf(h, 4)]++
	}
	for q, c := range count {
		if c < 2000 {
			t.Errorf("partition %d got %d of 10000 keys: %v", q, c, count)
		}
	}
}

// Nested keys cannot be hashed: an error, not a panic.
func TestHashRowsRejectsNested(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := arrayFromJSON(t, mem, arrow.ListOf(arrow.PrimitiveTypes.Int64), `[[1], [2, 3]]`)
	defer l.Release()
	if _, err := HashRows(context.Background(), mem, []arrow.Array{l}, nil); err == nil || !strings.Contains(err.Error(), "list") {
		t.Fatalf("got %v, want an error naming the list type", err)
	}
}
