// Package nexmark holds the Nexmark queries in sluice SQL (q*.sql) and
// the test and benchmark that run them: each runnable query streams over
// the nexmark connector and must fold to the same table as its batch
// twin (the same SELECT without the EMIT clause); BenchmarkNexmark runs
// each into a blackhole sink and reports events per CPU-second.
//
// A query file whose header has a "-- requires:" line uses something
// sluice cannot run yet (it says what); the test runs every other file.
package nexmark

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
)

// query is one q*.sql file.
type query struct {
	name     string
	text     string // the SELECT with its EMIT clause
	requires string // what it needs that sluice lacks, or ""
	// compare, when set ("-- compare: 1,3"), are the only columns
	// (1-based) the batch check compares: the query picks among rows
	// tied on its ORDER BY, and which tied row it keeps may differ
	// between batch and streaming, while these columns may not.
	compare []int
}

var emitClause = regexp.MustCompile(`(?is)\s+EMIT\s+(CHANGES|FINAL|EVERY\s+\S+)\s*;?\s*$`)

func loadQueries(t testing.TB) []query {
	t.Helper()
	files, err := filepath.Glob("q*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no query files: %v", err)
	}
	var qs []query
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q := query{name: strings.TrimSuffix(f, ".sql")}
		var body []string
		for _, l := range strings.Split(string(b), "\n") {
			if r, ok := strings.CutPrefix(l, "-- requires:"); ok {
				q.requires = strings.TrimSpace(r)
			}
			if r, ok := strings.CutPrefix(l, "-- compare:"); ok {
				for _, c := range strings.Split(r, ",") {
					var n int
					if _, err := fmt.Sscan(strings.TrimSpace(c), &n); err != nil || n < 1 {
						t.Fatalf("%s: bad column %q in -- compare:", f, c)
					}
					q.compare = append(q.compare, n)
				}
			}
			if !strings.HasPrefix(l, "--") {
				body = append(body, l)
			}
		}
		q.text = strings.TrimSpace(strings.Join(body, "\n"))
		if !emitClause.MatchString(q.text) {
			t.Fatalf("%s: no EMIT clause at the end", f)
		}
		qs = append(qs, q)
	}
	sort.Slice(qs, func(i, j int) bool {
		var a, b int
		fmt.Sscanf(qs[i].name, "q%d", &a)
		fmt.Sscanf(qs[j].name, "q%d", &b)
		return a < b
	})
	return qs
}

// setup creates the three streams of one sequence of events and the
// side input of q13.
func setup(t testing.TB, db *sluice.DB, events int) {
	t.Helper()
	dir := t.TempDir()
	side := filepath.Join(dir, "side_input.csv")
	var b strings.Builder
	b.WriteString("key,value\n")
	for i := range 10000 {
		fmt.Fprintf(&b, "%d,%d\n", i, i*7)
	}
	if err := os.WriteFile(side, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ddl := ""
	for _, table := range []string{"person", "auction", "bid"} {
		ddl += fmt.Sprintf("CREATE SOURCE %s WITH (connector = 'nexmark', table = '%s', events = '%d');\n", table, table, events)
	}
	ddl += fmt.Sprintf("CREATE SOURCE side_input (`key` BIGINT, `value` VARCHAR) WITH (connector = 'file', path = '%s', format = 'csv');", side)
	if err := db.Exec(context.Background(), ddl); err != nil {
		t.Fatal(err)
	}
}

// collect renders every row (op first for a changelog).
func collect(ctx context.Context, db *sluice.DB, text string) (rows []string, changelog bool, err error) {
	rs, err := db.Query(ctx, text)
	if err != nil {
		return nil, false, err
	}
	defer rs.Close()
	for rs.Next() {
		rec := rs.Record()
		for i := range int(rec.NumRows()) {
			var cells []string
			for j, c := range rec.Columns() {
				if j == 0 && rs.Changelog() {
					cells = append(cells, exec.Op(c.(*array.Int8).Value(i)).String())
					continue
				}
				cells = append(cells, c.ValueStr(i))
			}
			rows = append(rows, strings.Join(cells, "\t"))
		}
	}
	return rows, rs.Changelog(), rs.Err()
}

// TestQueriesEqualBatch: every runnable query, streamed, folds to its
// batch twin's rows, and its result is not empty (so the check compares
// something).
func TestQueriesEqualBatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	setup(t, db, 30000)
	ran := 0
	for _, q := range loadQueries(t) {
		if q.requires != "" {
			continue
		}
		ran++
		t.Run(q.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			batch, _, err := collect(ctx, db, emitClause.ReplaceAllString(q.text, ""))
			if err != nil {
				t.Fatalf("batch twin: %v", err)
			}
			sort.Strings(batch)
			got, changelog, err := collect(ctx, db, q.text)
			if err != nil {
				t.Fatalf("stream: %v", err)
			}
			if changelog {
				if got, err = stream.FoldLines(got); err != nil {
					t.Fatal(err)
				}
			} else {
				sort.Strings(got)
			}
			if len(batch) == 0 {
				t.Fatal("the batch twin returns no rows: the comparison would prove nothing")
			}
			if q.compare != nil {
				got, batch = columns(got, q.compare), columns(batch, q.compare)
			}
			if !slices.Equal(got, batch) {
				t.Errorf("stream folds to %d rows, batch has %d; first difference: %s", len(got), len(batch), firstDiff(got, batch))
			}
		})
	}
	if ran < 6 {
		t.Errorf("only %d queries runnable, want at least q0, q1, q2, q11, q12, q14", ran)
	}
}

// columns keeps the given columns (1-based) of tab-separated rows,
// sorted.
func columns(rows []string, cols []int) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		cells := strings.Split(r, "\t")
		var kept []string
		for _, c := range cols {
			if c <= len(cells) {
				kept = append(kept, cells[c-1])
			}
		}
		out[i] = strings.Join(kept, "\t")
	}
	sort.Strings(out)
	return out
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("stream %q, batch %q", a[i], b[i])
		}
	}
	return "one is a prefix of the other"
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNexmark runs each runnable query into a blackhole sink over
// NEXMARK_EVENTS events (default 1000000) and reports events per
// CPU-second (all goroutines of the process) and per wall second.
func BenchmarkNexmark(b *testing.B) {
	events := 1000000
	if v := os.Getenv("NEXMARK_EVENTS"); v != "" {
		fmt.Sscan(v, &events)
	}
	for _, q := range loadQueries(b) {
		if q.requires != "" {
			continue
		}
		b.Run(q.name, func(b *testing.B) {
			db, err := sluice.Open(sluice.Config{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			setup(b, db, events)
			var cpu time.Duration
			b.ResetTimer()
			for i := range b.N {
				c0 := cpuTime()
				stmt := fmt.Sprintf("CREATE SINK out_%d WITH (connector = 'blackhole') AS %s", i, q.text)
				if err := db.Exec(context.Background(), stmt); err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
			}
			b.ReportMetric(float64(events)*float64(b.N)/cpu.Seconds(), "events/cpu-s")
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
