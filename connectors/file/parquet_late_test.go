package file

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// lateRow is a row of the random late-materialisation files: a sorted
// key (narrow page statistics), unsorted and nullable integers, a float
// with NULLs and NaN, a nullable dictionary-encoded string, a plain
// string, a nullable timestamp and a date.
type lateRow struct {
	ID  int64    `parquet:"id"`
	A   int64    `parquet:"a"`
	B   *int32   `parquet:"b,optional"`
	F   *float64 `parquet:"f,optional"`
	S   *string  `parquet:"s,optional,dict"`
	N   string   `parquet:"n"`
	TS  *int64   `parquet:"ts,optional,timestamp(microsecond)"`
	Day int32    `parquet:"day,date"`
}

// lateCols are lateRow's columns in file order.
var lateCols = []string{"id", "a", "b", "f", "s", "n", "ts", "day"}

func lateRowAt(rng *rand.Rand, i int) lateRow {
	r := lateRow{ID: int64(i), A: rng.Int64N(200) - 100, N: fmt.Sprintf("n%03d", rng.IntN(500)), Day: int32(19000 + i/50)}
	if rng.IntN(4) != 0 {
		b := int32(rng.IntN(60))
		r.B = &b
	}
	switch rng.IntN(10) {
	case 0: // NULL
	case 1:
		f := math.NaN()
		r.F = &f
	default:
		f := float64(rng.IntN(80)) / 4
		r.F = &f
	}
	if rng.IntN(5) != 0 {
		s := fmt.Sprintf("s%02d", rng.IntN(30))
		r.S = &s
	}
	if rng.IntN(3) != 0 {
		ts := int64(i) * 1_000_000
		r.TS = &ts
	}
	return r
}

// lateValue is column c of r as the predicate value type of that column
// (exec.Predicate), nil for NULL.
func lateValue(r lateRow, c int) any {
	switch lateCols[c] {
	case "id":
		return r.ID
	case "a":
		return r.A
	case "b":
		if r.B == nil {
			return nil
		}
		return int64(*r.B)
	case "f":
		if r.F == nil {
			return nil
		}
		return *r.F
	case "s":
		if r.S == nil {
			return nil
		}
		return *r.S
	case "n":
		return r.N
	case "ts":
		if r.TS == nil {
			return nil
		}
		return arrow.Timestamp(*r.TS)
	case "day":
		return arrow.Date32(r.Day)
	}
	panic(c)
}

// latePasses is the reference: whether the row's value x passes "x op v"
// — NULL fails every comparison. NaN passes only "ne" under strict, as in
// the Filter above the scan (Go's float comparisons); the scan may keep it
// for every operator (its row check leaves NaN to the Filter, while page
// and row-group statistics, which writers compute without NaN, may drop
// it), so !strict says what the scan may return.
func latePasses(x any, op string, v any, strict bool) bool {
	switch op {
	case "is_null":
		return x == nil
	case "is_not_null":
		return x != nil
	}
	if x == nil {
		return false
	}
	var c int
	switch x := x.(type) {
	case int64:
		c = cmpInt(x, v.(int64))
	case float64:
		if math.IsNaN(x) {
			return !strict || op == "ne"
		}
		c = cmpFloat(x, v.(float64))
	case string:
		c = strings.Compare(x, v.(string))
	case arrow.Timestamp:
		c = cmpInt(int64(x), int64(v.(arrow.Timestamp)))
	case arrow.Date32:
		c = cmpInt(int64(x), int64(v.(arrow.Date32)))
	}
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	}
	panic(op)
}

// TestParquetLateMaterialisationRandom: over files of random row-group
// and page sizes, random conjunctions of pushed-down predicates on every
// column kind (sorted and unsorted integers, int32, float with NaN,
// dictionary and plain strings, timestamp, date; NULLs in most) return
// exactly the rows of a plain read that pass them, in order, whole, at
// random batch sizes, with and without dictionary arrays, projected in a
// random column order, on a checked allocator (fuzzScan). The filter
// columns are decoded first and the others only for passing rows, and
// row groups and pages are skipped by statistics: any of those dropping
// a passing row, keeping a failing one, or misaligning the late columns
// with the early ones fails here.
func TestParquetLateMaterialisationRandom(t *testing.T) {
	ops := []string{"eq", "ne", "lt", "le", "gt", "ge", "is_null", "is_not_null"}
	for layout := range 6 {
		rng := rand.New(rand.NewPCG(uint64(layout), 17))
		nrows := 500 + rng.IntN(3000)
		groupRows := 50 + rng.IntN(1500)
		pageBytes := 64 << rng.IntN(6)
		rows := make([]lateRow, nrows)
		for i := range rows {
			rows[i] = lateRowAt(rng, i)
		}
		path := filepath.Join(t.TempDir(), "late.parquet")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := parquet.NewGenericWriter[lateRow](f, parquet.MaxRowsPerRowGroup(int64(groupRows)), parquet.PageBufferSize(pageBytes))
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		src, err := NewSource(connectors.Options{"path": path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for q := range 25 {
			cols := rng.Perm(len(lateCols))
			var preds []exec.Predicate
			for range 1 + rng.IntN(3) {
				c := rng.IntN(len(lateCols))
				op := ops[rng.IntN(len(ops))]
				var v any
				if op != "is_null" && op != "is_not_null" {
					// A value of the data, or of a random row (that one may be NULL:
					// then another's, then a constant of the column's type).
					for try := 0; v == nil && try < 20; try++ {
						v = lateValue(rows[rng.IntN(nrows)], c)
					}
					if x, ok := v.(float64); ok && math.IsNaN(x) {
						v = 5.0
					}
					if v == nil {
						t.Fatalf("column %s: no value", lateCols[c])
					}
				}
				preds = append(preds, exec.Predicate{Column: c, Op: op, Value: v})
			}
			full, err := fuzzScan(t, src, exec.ScanSpec{Columns: cols, BatchSize: 4096}, nil)
			if err != nil || len(full) != nrows {
				t.Fatalf("plain read: %d rows, %v", len(full), err)
			}
			// must: the rows that pass; may: those and the NaN rows the
			// scan leaves to the Filter.
			must, may := make([]bool, nrows), make([]bool, nrows)
			var want []string
			at := map[string]int{}
			for i, r := range rows {
				must[i], may[i] = true, true
				for _, p := range preds {
					x := lateValue(r, p.Column)
					must[i] = must[i] && latePasses(x, p.Op, p.Value, true)
					may[i] = may[i] && latePasses(x, p.Op, p.Value, false)
				}
				if must[i] {
					want = append(want, full[i])
				}
				at[full[i]] = i
			}
			bs := []int{1, 7, 100, 1024}[rng.IntN(4)]
			var dict []int
			if rng.IntN(2) == 0 {
				for i, c := range cols {
					if lateCols[c] == "s" || lateCols[c] == "n" {
						dict = append(dict, i)
					}
				}
			}
			got, err := fuzzScan(t, src, exec.ScanSpec{Columns: cols, Filters: preds, BatchSize: bs}, dict)
			if err != nil {
				t.Fatal(err)
			}
			// got must be full's rows in order, each one that may pass,
			// every one that must.
			ok, prev, kept := true, -1, 0
			for _, g := range got {
				i, found := at[g]
				if !found || i <= prev || !may[i] {
					ok = false
					break
				}
				if must[i] {
					kept++
				}
				prev = i
			}
			if !ok || kept != len(want) {
				t.Fatalf("layout %d (%d rows, groups of %d, pages of %d B), query %d: filters %v, batch %d, dictionaries %v: got %d rows, want %d\n got: %.400s\nwant: %.400s",
					layout, nrows, groupRows, pageBytes, q, preds, bs, dict != nil, len(got), len(want), strings.Join(got, " "), strings.Join(want, " "))
			}
		}
	}
}

// TestPageWalksFollowTheFile: the page locations remembered for a file's
// column chunks (pageWalks) are reused by a second reader of the
// unchanged file, and a file rewritten under the same path with other
// pages is walked again and read right (a cache keyed by path alone would
// seek its readers through the old file's pages).
func TestPageWalksFollowTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "walk.parquet")
	write := func(n, pageBytes int, base int64) {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := parquet.NewGenericWriter[lateRow](f, parquet.MaxRowsPerRowGroup(700), parquet.PageBufferSize(pageBytes))
		rows := make([]lateRow, n)
		for i := range rows {
			rows[i] = lateRow{ID: base + int64(i), N: "x"}
		}
		if _, err := w.Write(rows); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	read := func(spec exec.ScanSpec) []string {
		src, err := NewSource(connectors.Options{"path": path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := fuzzScan(t, src, spec, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	walked := func() int {
		pageWalks.Lock()
		defer pageWalks.Unlock()
		n := 0
		for id := range pageWalks.m {
			if id.path == path {
				n++
			}
		}
		return n
	}
	spec := exec.ScanSpec{Columns: []int{0}, BatchSize: 100, Filters: []exec.Predicate{{Column: 0, Op: "ge", Value: int64(1000)}}}
	write(2000, 64, 0)
	got := read(spec)
	if len(got) != 1000 || got[0] != "1000|" {
		t.Fatalf("first file: %d rows from %v", len(got), got[:min(1, len(got))])
	}
	// Three row groups of the one column read, the first ruled out by
	// its statistics; a second read walks nothing new.
	if n := walked(); n != 2 {
		t.Fatalf("%d chunks remembered, want 2", n)
	}
	if again := read(spec); len(again) != len(got) || walked() != 2 {
		t.Fatalf("second read: %d rows, %d chunks remembered", len(again), walked())
	}
	// Other pages, other rows, same path.
	write(3000, 4096, 500)
	got = read(spec)
	if len(got) != 2500 || got[0] != "1000|" || got[len(got)-1] != "3499|" {
		t.Fatalf("rewritten file: %d rows, first %q", len(got), got[:min(1, len(got))])
	}
	if n := walked(); n != 2+5 {
		t.Fatalf("%d chunks remembered, want the old 2 and the new 5", n)
	}
}

// TestSelectRowsEqualsKeepRows: the range test that judges integer,
// timestamp and date comparisons straight into row offsets (intRange,
// inRange) keeps exactly the rows the per-row flags of keepRows keep, for
// every operator, values at and past the ends of int64 and int32, a
// timestamp in another unit (not judged), NULLs (judged by keepRows), and
// conjunctions mixing both kinds, over random batches.
func TestSelectRowsEqualsKeepRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	ops := []string{"eq", "ne", "lt", "le", "gt", "ge"}
	edges := []int64{math.MinInt64, math.MinInt64 + 1, math.MinInt32 - 1, math.MinInt32, -1, 0, 1, 7, math.MaxInt32, math.MaxInt32 + 1, math.MaxInt64 - 1, math.MaxInt64}
	for round := range 300 {
		k := 1 + rng.IntN(300)
		nulls := rng.IntN(4) == 0
		i64 := array.NewInt64Builder(mem)
		i32 := array.NewInt32Builder(mem)
		ts := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond})
		tsn := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Nanosecond})
		for range k {
			v := edges[rng.IntN(len(edges))]
			if rng.IntN(2) == 0 {
				v = rng.Int64N(20) - 10
			}
			if nulls && rng.IntN(5) == 0 {
				i64.AppendNull()
			} else {
				i64.Append(v)
			}
			i32.Append(int32(v))
			ts.Append(arrow.Timestamp(v))
			tsn.Append(arrow.Timestamp(v))
		}
		arrs := []arrow.Array{i64.NewArray(), i32.NewArray(), ts.NewArray(), tsn.NewArray()}
		for _, b := range []array.Builder{i64, i32, ts, tsn} {
			b.Release()
		}
		var preds []prunePred
		for range 1 + rng.IntN(3) {
			c := rng.IntN(len(arrs))
			var v any = edges[rng.IntN(len(edges))]
			if rng.IntN(2) == 0 {
				v = rng.Int64N(20) - 10
			}
			if c >= 2 {
				v = arrow.Timestamp(v.(int64))
			}
			preds = append(preds, prunePred{p: exec.Predicate{Op: ops[rng.IntN(len(ops))], Value: v}, out: c})
		}
		keep := growBools(nil, k)
		for _, pp := range preds {
			keepRows(arrs[pp.out], pp, keep)
		}
		want, wantAll := selection(keep, nil)
		r := &parquetReader{}
		got, all := r.selectRows(arrs, preds, k)
		if !slices.Equal(got, want) || all != wantAll {
			t.Fatalf("round %d: %d rows, predicates %v: got %v (all %v), want %v (all %v)", round, k, preds, got, all, want, wantAll)
		}
		for _, a := range arrs {
			a.Release()
		}
	}
}

// TestParquetMorselsConcurrently: the morsels of a file whose row groups
// split are read at once, one goroutine each as a parallel scan's workers
// do, sharing the remembered page walks (pageWalks; run under -race), and
// together return every row once.
func TestParquetMorselsConcurrently(t *testing.T) {
	path := writePruneParquet(t)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := exec.ScanSpec{Columns: []int{0, 2}, BatchSize: 300, MorselBytes: 2 << 10}
	for round := range 3 { // the first walks, the later ones reuse
		ms, err := src.Morsels(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) < 6 {
			t.Fatalf("%d morsels, want row groups split", len(ms))
		}
		rows := make([][]string, len(ms))
		errs := make([]error, len(ms))
		var wg sync.WaitGroup
		for i, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rows[i], errs[i] = scanMorsel(t, m)
			}()
		}
		wg.Wait()
		var all []string
		for i := range ms {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			all = append(all, rows[i]...)
		}
		if len(all) != pruneRows {
			t.Fatalf("round %d: %d rows, want %d", round, len(all), pruneRows)
		}
		for i, r := range all {
			if want := fmt.Sprintf("%d|%s|", i, pruneRowAt(i).Cat); r != want {
				t.Fatalf("round %d: row %d is %q, want %q", round, i, r, want)
			}
		}
	}
}

// scanMorsel reads one morsel on a checked allocator.
func scanMorsel(t *testing.T, m exec.Morsel) ([]string, error) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := m.Open(t.Context(), mem)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []string
	for {
		b, err := r.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		for i := range int(b.Record.NumRows()) {
			out = append(out, fmt.Sprintf("%s|%s|", b.Record.Column(0).ValueStr(i), b.Record.Column(1).ValueStr(i)))
		}
		b.Record.Release()
	}
}
