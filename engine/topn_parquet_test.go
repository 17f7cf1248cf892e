package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// topnRow is a row of TestTopNParquetPrunes' file: k repeats (ties), f
// is sometimes NULL, id is sorted, s and ts follow it.
type topnRow struct {
	ID int64     `parquet:"id"`
	K  int64     `parquet:"k"`
	F  *float64  `parquet:"f,optional"`
	S  string    `parquet:"s,dict"`
	TS time.Time `parquet:"ts,timestamp(microsecond)"`
}

// TestTopNParquetPrunes: ORDER BY … LIMIT over Parquet, where the top-N's
// cut-off prunes row groups, pages and rows at the scan, returns exactly
// the first rows of the full sort — ties in scan order, NULLs where
// MySQL puts them, NaN before the numbers (which statistics do not
// show), with an offset, a filter and second keys — at
// parallelism 1, 2 and 4, with nothing leaked.
func TestTopNParquetPrunes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[topnRow](f, parquet.MaxRowsPerRowGroup(3000), parquet.PageBufferSize(1024))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []topnRow
	for i := range 20000 {
		r := topnRow{ID: int64(i), K: int64(i*7919) % 500, S: fmt.Sprintf("s%03d", i*31%200), TS: start.Add(time.Duration(i*37%20000) * time.Second)}
		if i%9 != 4 {
			x := float64(i*13%1000) / 4
			if i%97 == 50 {
				x = math.NaN() // sorts before every number, and writers leave it out of the statistics
			}
			r.F = &x
		}
		rows = append(rows, r)
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := Open(Config{Allocator: mem, Parallelism: 1, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, fmt.Sprintf("CREATE SOURCE t WITH (connector = 'file', path = '%s', format = 'parquet')", path)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct{ sel, order string }{
		{"SELECT id, k FROM t", "k DESC"},
		{"SELECT id, k FROM t", "k"},
		{"SELECT id, k, s FROM t", "id DESC"},
		{"SELECT id, k, s FROM t", "id"},
		{"SELECT id, f FROM t", "f"}, // NULLs first
		{"SELECT id, f FROM t", "f DESC"},
		{"SELECT id, f FROM t WHERE k < 100", "f DESC, id"},
		{"SELECT id, f FROM t WHERE f IS NOT NULL AND id >= 1000", "f"}, // NaN first
		{"SELECT id, f FROM t WHERE f IS NOT NULL AND id >= 1000", "f DESC"},
		{"SELECT s, id FROM t", "s DESC, id DESC"},
		{"SELECT ts, id FROM t", "ts"},
		{"SELECT k AS kk, id FROM t WHERE s > 's100'", "kk DESC"},
	} {
		full := queryLines(t, db, q.sel+" ORDER BY "+q.order)
		for _, lo := range [][2]int{{5, 0}, {40, 0}, {3, 17}, {1, 0}} {
			limit, offset := lo[0], lo[1]
			want := full[min(offset, len(full)):min(offset+limit, len(full))]
			sql := fmt.Sprintf("%s ORDER BY %s LIMIT %d OFFSET %d", q.sel, q.order, limit, offset)
			for _, p := range []int{1, 2, 4} {
				if err := db.Exec(ctx, fmt.Sprintf("SET parallelism = %d", p)); err != nil {
					t.Fatal(err)
				}
				if got := queryLines(t, db, sql); strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("%s at parallelism %d:\n got %v\nwant %v", sql, p, got, want)
				}
			}
		}
	}
	// The cut-off did prune: once the first row group set it, the scan
	// passes over the other groups (EXPLAIN ANALYZE counts its rows).
	if err := db.Exec(ctx, "SET parallelism = 1"); err != nil {
		t.Fatal(err)
	}
	an := strings.Join(queryLines(t, db, "EXPLAIN ANALYZE SELECT id FROM t ORDER BY id LIMIT 5"), "\n")
	if !strings.Contains(an, "topn-bound=id  (rows out: 3000,") {
		t.Errorf("no pruning:\n%s", an)
	}
}
