package file

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// pruneRow is a row of the late-materialisation test file: id sorted
// (so pages have narrow statistics), v unsorted, a dictionary-encoded
// and a plain string, a nullable float and a bool.
type pruneRow struct {
	ID   int64    `parquet:"id"`
	V    int64    `parquet:"v"`
	Cat  string   `parquet:"cat,dict"`
	Note string   `parquet:"note"`
	F    *float64 `parquet:"f,optional"`
	B    bool     `parquet:"b"`
}

const pruneRows = 6000

func pruneRowAt(i int) pruneRow {
	r := pruneRow{ID: int64(i), V: int64(i*7919) % 1000, Cat: fmt.Sprintf("c%02d", i%13), Note: fmt.Sprintf("n%d", i), B: i%3 == 0}
	if i%5 != 0 {
		f := float64(i%100) / 2
		r.F = &f
	}
	return r
}

// writePruneParquet writes the rows in row groups of 2000 rows and pages
// of a few dozen values, with page indexes (parquet-go's default).
func writePruneParquet(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prune.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[pruneRow](f, parquet.MaxRowsPerRowGroup(2000), parquet.PageBufferSize(512))
	rows := make([]pruneRow, pruneRows)
	for i := range rows {
		rows[i] = pruneRowAt(i)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestParquetLateMaterialisation: pushed-down filters and a top-N's
// cut-off drop exactly the rows that fail them — whole row groups, pages
// passed over through the page index, and rows whose other columns are
// then never decoded — and every row that passes comes out whole, in
// order, at every batch size, with and without dictionary arrays, with
// nothing leaked. Covered: a sorted key whose pages prune, an unsorted
// one that prunes only rows, row groups where nothing survives, NULLs
// (dropped by comparisons, kept by a top-N whose NULLs sort first),
// dictionary and plain string pages, conjunctions.
func TestParquetLateMaterialisation(t *testing.T) {
	path := writePruneParquet(t)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const (
		id = iota
		v
		cat
		note
		fcol
		bcol
	)
	full, err := fuzzScan(t, src, exec.ScanSpec{BatchSize: 1024}, nil)
	if err != nil || len(full) != pruneRows {
		t.Fatalf("full scan: %d rows, %v", len(full), err)
	}
	bound := func(col int, desc, nullsFirst bool, cut arrow.Array) *exec.TopNBound {
		b := exec.NewTopNBound(col, desc, nullsFirst)
		b.Tighten(cut, 0)
		cut.Release()
		return b
	}
	mem := memory.NewGoAllocator()
	i64 := func(x int64) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.Append(x)
		return b.NewArray()
	}
	f64 := func(x float64) arrow.Array {
		b := array.NewFloat64Builder(mem)
		defer b.Release()
		b.Append(x)
		return b.NewArray()
	}
	fOf := func(i int) (float64, bool) {
		r := pruneRowAt(i)
		if r.F == nil {
			return 0, false
		}
		return *r.F, true
	}
	for _, tc := range []struct {
		name    string
		filters []exec.Predicate
		bound   func() *exec.TopNBound
		keep    func(i int) bool
		skipped int64 // row groups skipped by footer statistics
	}{
		{"sorted key: pages pruned", []exec.Predicate{{Column: id, Op: "ge", Value: int64(2950)}, {Column: id, Op: "lt", Value: int64(3100)}}, nil,
			func(i int) bool { return i >= 2950 && i < 3100 }, 2},
		{"unsorted key: rows pruned", []exec.Predicate{{Column: v, Op: "lt", Value: int64(20)}}, nil,
			func(i int) bool { return (i*7919)%1000 < 20 }, 0},
		{"nothing survives, stats cannot tell", []exec.Predicate{{Column: note, Op: "eq", Value: "n2500x"}}, nil,
			func(int) bool { return false }, 1}, // the last group's notes are n4000…n5999
		{"dictionary string", []exec.Predicate{{Column: cat, Op: "eq", Value: "c05"}, {Column: id, Op: "gt", Value: int64(4000)}}, nil,
			func(i int) bool { return i%13 == 5 && i > 4000 }, 2},
		{"plain string range", []exec.Predicate{{Column: note, Op: "le", Value: "n1005"}}, nil,
			func(i int) bool { return fmt.Sprintf("n%d", i) <= "n1005" }, 2},
		{"NULLs fail a comparison", []exec.Predicate{{Column: fcol, Op: "gt", Value: 45.0}}, nil,
			func(i int) bool { f, ok := fOf(i); return ok && f > 45 }, 0},
		{"is null", []exec.Predicate{{Column: fcol, Op: "is_null"}}, nil,
			func(i int) bool { _, ok := fOf(i); return !ok }, 0},
		{"top-N ascending on the sorted key", nil, func() *exec.TopNBound { return bound(id, false, false, i64(150)) },
			func(i int) bool { return i <= 150 }, 2},
		{"top-N descending, NULLs last", nil, func() *exec.TopNBound { return bound(fcol, true, false, f64(48)) },
			func(i int) bool { f, ok := fOf(i); return ok && f >= 48 }, 0},
		{"top-N descending, NULLs first", nil, func() *exec.TopNBound { return bound(fcol, true, true, f64(48)) },
			func(i int) bool { f, ok := fOf(i); return !ok || f >= 48 }, 0},
		{"top-N and a filter", []exec.Predicate{{Column: v, Op: "ge", Value: int64(500)}}, func() *exec.TopNBound { return bound(id, true, false, i64(5000)) },
			func(i int) bool { return i >= 5000 && (i*7919)%1000 >= 500 }, 2},
	} {
		var want []string
		for i, row := range full {
			if tc.keep(i) {
				want = append(want, row)
			}
		}
		for _, bs := range []int{1, 3, 1024} {
			for _, dict := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/batch%d/dict=%v", tc.name, bs, dict), func(t *testing.T) {
					spec := exec.ScanSpec{BatchSize: bs, Filters: tc.filters}
					if tc.bound != nil {
						spec.Bound = tc.bound()
					}
					var keepDict []int
					if dict {
						keepDict = []int{cat, note}
					}
					got, err := fuzzScan(t, src, spec, keepDict)
					if err != nil {
						t.Fatal(err)
					}
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Fatalf("got %d rows, want %d\n got: %.300s\nwant: %.300s", len(got), len(want), strings.Join(got, " "), strings.Join(want, " "))
					}
					r, err := src.Open(t.Context(), memory.NewGoAllocator(), spec)
					if err != nil {
						t.Fatal(err)
					}
					defer r.Close()
					for {
						b, err := r.Next(t.Context())
						if err != nil {
							break
						}
						b.Record.Release()
					}
					st := r.(*Reader).Stats()
					if st.RowGroupsSkipped != tc.skipped {
						t.Errorf("row groups skipped %d, want %d", st.RowGroupsSkipped, tc.skipped)
					}
					read := int64(pruneRows) - 2000*st.RowGroupsSkipped
					if st.RowsPruned != read-int64(len(want)) {
						t.Errorf("rows pruned %d, want %d (of %d read, %d kept)", st.RowsPruned, read-int64(len(want)), read, len(want))
					}
				})
			}
		}
	}
}

// TestKeepRowsPlainEqualsDictionary: a string column's rows are judged
// alike read plain or as a dictionary, also for a predicate value the
// column cannot be compared with, which judges no row (the dictionary
// path dropped the NULLs the plain one kept: FuzzParquet crasher
// 174147a6837598dd), and for one it can, which drops the NULLs in both.
func TestKeepRowsPlainEqualsDictionary(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	vals := []string{"a", "", "ccc", "a", ""}
	valid := []bool{true, false, true, true, false}
	sb := array.NewStringBuilder(mem)
	sb.AppendValues(vals, valid)
	plain := sb.NewArray()
	defer plain.Release()
	sb.Release()
	db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
	for i, v := range vals {
		if valid[i] {
			if err := db.AppendString(v); err != nil {
				t.Fatal(err)
			}
		} else {
			db.AppendNull()
		}
	}
	dict := db.NewArray()
	defer dict.Release()
	db.Release()
	for _, tc := range []struct {
		p    exec.Predicate
		want string
	}{
		{exec.Predicate{Op: "lt", Value: arrow.Timestamp(1)}, "11111"},
		{exec.Predicate{Op: "eq", Value: int64(3)}, "11111"},
		{exec.Predicate{Op: "lt", Value: "b"}, "10010"},
		{exec.Predicate{Op: "ne", Value: "a"}, "00100"},
	} {
		for name, a := range map[string]arrow.Array{"plain": plain, "dictionary": dict} {
			keep := growBools(nil, len(vals))
			keepRows(a, prunePred{p: tc.p}, keep)
			var got strings.Builder
			for _, k := range keep {
				if k {
					got.WriteByte('1')
				} else {
					got.WriteByte('0')
				}
			}
			if got.String() != tc.want {
				t.Errorf("%s %s %v: kept %s, want %s", name, tc.p.Op, tc.p.Value, got.String(), tc.want)
			}
		}
	}
}
