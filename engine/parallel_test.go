package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// queryLines runs text and renders every row, in order.
func queryLines(t *testing.T, db *Session, text string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), text)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		rec := rows.Record()
		for i := range int(rec.NumRows()) {
			var cells []string
			for _, c := range rec.Columns() {
				cells = append(cells, c.ValueStr(i))
			}
			out = append(out, strings.Join(cells, "\t"))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return out
}

// TestParallelBatchEqualsSerial: the same queries at parallelism 1 and 4
// (with morsels small enough that the file splits many times) return the
// same rows in the same order, and the bad rows skipped in every morsel
// are reported once, summed.
func TestParallelBatchEqualsSerial(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,category,value,price\n")
	bad := 0
	for i := range 3000 {
		v := fmt.Sprint(i*7%1000 - 300)
		if i%97 == 5 {
			v, bad = "oops", bad+1
		}
		fmt.Fprintf(&b, "%d,cat-%d,%s,%d.%02d\n", i, i*13%17, v, i%50, i%100)
	}
	path := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var log bytes.Buffer
	db, err := Open(Config{Allocator: mem, Parallelism: 4, MorselBytes: 512, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, fmt.Sprintf("CREATE SOURCE t (id BIGINT, category VARCHAR, value BIGINT, price DECIMAL(10, 2)) WITH (connector = 'file', path = '%s', format = 'csv', on_error = 'skip')", path)); err != nil {
		t.Fatal(err)
	}
	queries := []string{
		"SELECT category, SUM(value), COUNT(*), COUNT(value), AVG(value), MIN(value), MAX(value), SUM(price), AVG(price) FROM t GROUP BY category",
		"SELECT COUNT(*), SUM(value) FROM t WHERE value > 100",
		"SELECT COUNT(DISTINCT value), COUNT(DISTINCT category) FROM t",
		"SELECT category, COUNT(DISTINCT value), SUM(DISTINCT value), AVG(DISTINCT value), MAX(DISTINCT value) FROM t GROUP BY category",
		"SELECT COUNT(DISTINCT price % 7) FROM t WHERE value > 0",
		"SELECT id, value FROM t WHERE id % 101 = 0",
		"SELECT id FROM t LIMIT 7",
		"SELECT category, value FROM t ORDER BY value DESC, id LIMIT 5",
		"SELECT a.category, COUNT(*) FROM t a JOIN t b ON a.id = b.id + 1 GROUP BY a.category ORDER BY a.category",
	}
	for _, q := range queries {
		if err := db.Exec(ctx, "SET parallelism = 1"); err != nil {
			t.Fatal(err)
		}
		log.Reset()
		want := queryLines(t, db, q)
		wantLog := log.String()
		if err := db.Exec(ctx, "SET parallelism = 4"); err != nil {
			t.Fatal(err)
		}
		log.Reset()
		got := queryLines(t, db, q)
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
			t.Errorf("%s\nparallelism 4:\n%s\nparallelism 1:\n%s", q, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if log.String() != wantLog {
			t.Errorf("%s: log at parallelism 4 %q, at 1 %q", q, log.String(), wantLog)
		}
	}
	log.Reset()
	queryLines(t, db, "SELECT COUNT(value) FROM t")
	if want := fmt.Sprintf("skipped %d bad row(s)", bad); strings.Count(log.String(), "skipped") != 1 || !strings.Contains(log.String(), want) {
		t.Errorf("log %q, want one line with %q", log.String(), want)
	}
	for _, v := range []string{"0", "-2", "x", "100000"} {
		if err := db.Exec(ctx, "SET parallelism = "+v); err == nil || !strings.Contains(err.Error(), "parallelism must be") {
			t.Errorf("SET parallelism = %s: %v", v, err)
		}
	}
}
