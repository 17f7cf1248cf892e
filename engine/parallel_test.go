package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
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

// TestParallelSortWindowsEqualSerial: ORDER BY, window functions (OVER)
// and SESSION windows sort their whole input on every worker when it is
// large enough; their rows, and the order of rows with equal keys, are the
// same at parallelism 1, 2 and 4.
func TestParallelSortWindowsEqualSerial(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,category,value,ts\n")
	for i := range 60000 {
		// Few values per category, so most sort keys tie; distinct
		// seconds, 60,000 of 80,000, in scattered order, so sessions
		// break wherever a second is missing.
		s := i * 37 % 80000
		fmt.Fprintf(&b, "%d,cat-%d,%d,2026-01-01 %02d:%02d:%02d\n", i, i*13%7, i*31%23, s/3600, s/60%60, s%60)
	}
	path := filepath.Join(dir, "t.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := Open(Config{Allocator: mem, Parallelism: 1, MorselBytes: 64 << 10, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, fmt.Sprintf("CREATE SOURCE t (id BIGINT, category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '%s', format = 'csv')", path)); err != nil {
		t.Fatal(err)
	}
	queries := []string{
		"SELECT id, value FROM t ORDER BY value DESC",
		"SELECT id, category FROM t ORDER BY category, value",
		"SELECT id, ROW_NUMBER() OVER (PARTITION BY category ORDER BY value) AS rn, SUM(value) OVER (PARTITION BY category ORDER BY value) AS s FROM t",
		"SELECT id, RANK() OVER (ORDER BY value DESC) AS rk, LAG(id) OVER (ORDER BY value) AS prev FROM t",
		// Many partitions, cut into one run per worker and evaluated on
		// each: every kind of window function, defaults that index past
		// the run's rows, frames that end at the run's edge.
		"SELECT id, DENSE_RANK() OVER w, NTILE(3) OVER w, PERCENT_RANK() OVER w, CUME_DIST() OVER w, LAG(value, 2, -1) OVER w, LEAD(id, 1, 0) OVER w FROM t WINDOW w AS (PARTITION BY id % 101 ORDER BY value)",
		"SELECT id, FIRST_VALUE(id) OVER w, LAST_VALUE(id) OVER w, NTH_VALUE(category, 2) OVER w, MIN(value) OVER w, MAX(id) OVER w, AVG(value) OVER w, COUNT(value) OVER w FROM t WINDOW w AS (PARTITION BY category, value % 3 ORDER BY id ROWS BETWEEN 3 PRECEDING AND 1 FOLLOWING)",
		"SELECT id, SUM(value) OVER (PARTITION BY id % 13 ORDER BY value RANGE BETWEEN 2 PRECEDING AND 1 FOLLOWING), COUNT(*) OVER (PARTITION BY id % 13 ORDER BY value DESC RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) FROM t",
		"SELECT id, SUM(id) OVER (PARTITION BY ts ORDER BY id) FROM t",
		"SELECT category, window_start, window_end, COUNT(*), MIN(id) FROM SESSION(t, ts, INTERVAL '5' SECOND) GROUP BY category, window_start, window_end",
		"SELECT window_start, window_end, COUNT(*), SUM(value) FROM SESSION(t, ts, INTERVAL '1' SECOND) GROUP BY window_start, window_end",
	}
	for _, q := range queries {
		var want []string
		for _, p := range []int{1, 2, 4} {
			if err := db.Exec(ctx, fmt.Sprintf("SET parallelism = %d", p)); err != nil {
				t.Fatal(err)
			}
			got := queryLines(t, db, q)
			if p == 1 {
				want = got
				if len(want) < 2 {
					t.Fatalf("%s: %d rows", q, len(want))
				}
				continue
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Errorf("%s: parallelism %d differs from 1 at row %d of %d/%d", q, p, i, len(got), len(want))
			}
		}
	}
}

// firstDiff is the first index where a and b differ (-1 if equal).
func firstDiff(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

// foldChangelog folds rendered changelog rows (op first, as exec.Op
// numbers) into the sorted rows of the table they describe.
func foldChangelog(t *testing.T, lines []string) []string {
	t.Helper()
	count := map[string]int{}
	for _, l := range lines {
		op, rest, _ := strings.Cut(l, "\t")
		switch op {
		case fmt.Sprint(int8(exec.OpInsert)), fmt.Sprint(int8(exec.OpUpdateAfter)):
			count[rest]++
		case fmt.Sprint(int8(exec.OpUpdateBefore)), fmt.Sprint(int8(exec.OpDelete)):
			count[rest]--
		default:
			t.Fatalf("row %q has no op", l)
		}
	}
	var out []string
	for r, n := range count {
		if n < 0 {
			t.Fatalf("row %q retracted more often than inserted", r)
		}
		for ; n > 0; n-- {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

// TestParallelStreamGroupByPreAggregated: a streaming GROUP BY over a file
// that the planner pre-aggregates per batch (EXPLAIN says so) emits at
// parallelism 4 — decoding, filtering and pre-aggregating on 4 goroutines,
// merging in 4 key-partitioned instances — a changelog that folds to its
// batch twin's rows, as at parallelism 1 (bad rows skipped alike);
// aggregates without an exact merge (float sums) are not pre-aggregated.
func TestParallelStreamGroupByPreAggregated(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,category,value,price,f\n")
	for i := range 4000 {
		v := fmt.Sprint(i*7%1000 - 300)
		if i%97 == 5 {
			v = "oops"
		}
		if i%89 == 3 {
			v = ""
		}
		fmt.Fprintf(&b, "%d,cat-%d,%s,%d.%02d,%d.5\n", i, i*13%17, v, i%50, i%100, i%9)
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
	if err := db.Exec(ctx, fmt.Sprintf("CREATE SOURCE t (id BIGINT, category VARCHAR, value BIGINT, price DECIMAL(10, 2), f DOUBLE) WITH (connector = 'file', path = '%s', format = 'csv', on_error = 'skip')", path)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query string
		pre   bool
	}{
		{"SELECT category, SUM(value), COUNT(*), COUNT(value), AVG(value), MIN(value), MAX(value), SUM(price), AVG(price), MIN(f) FROM t GROUP BY category", true},
		{"SELECT category, id % 3 AS m, COUNT(*), MAX(price) FROM t WHERE value > 0 GROUP BY category, id % 3", true},
		{"SELECT value % 5 AS r, BIT_OR(id), MIN(category) FROM t GROUP BY value % 5", true},
		{"SELECT category, SUM(f) FROM t GROUP BY category", false},
		{"SELECT category, COUNT(DISTINCT value) FROM t GROUP BY category", false},
	} {
		t.Run(c.query, func(t *testing.T) {
			stream := c.query + " EMIT CHANGES"
			plan := strings.Join(queryLines(t, db, "EXPLAIN "+stream), "\n")
			if got := strings.Contains(plan, "pre-aggregated per batch"); got != c.pre {
				t.Fatalf("pre-aggregated %v, want %v:\n%s", got, c.pre, plan)
			}
			if err := db.Exec(ctx, "SET parallelism = 1"); err != nil {
				t.Fatal(err)
			}
			want := queryLines(t, db, c.query)
			log.Reset()
			serial := foldChangelog(t, queryLines(t, db, stream))
			serialLog := log.String()
			if err := db.Exec(ctx, "SET parallelism = 4"); err != nil {
				t.Fatal(err)
			}
			log.Reset()
			got := foldChangelog(t, queryLines(t, db, stream))
			slices.Sort(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") || strings.Join(serial, "\n") != strings.Join(want, "\n") || len(want) == 0 {
				t.Errorf("parallelism 4 folds to:\n%s\nparallelism 1:\n%s\nbatch:\n%s", strings.Join(got, "\n"), strings.Join(serial, "\n"), strings.Join(want, "\n"))
			}
			if log.String() != serialLog {
				t.Errorf("log at parallelism 4 %q, at 1 %q", log.String(), serialLog)
			}
		})
	}
}
