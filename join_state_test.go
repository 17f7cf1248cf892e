package sluice_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// TestJoinStateBoundedOnEndlessStream: on the endless generator (one row
// per millisecond of event time, 200ms watermark delay) joined with
// itself, an interval join, a window join, a window join of two windowed
// aggregates' closed windows, and (one input) an OVER aggregate ordered by
// event time keep their state bounded by
// the watermarks — the Go heap stops growing, and Rows.Stats and EXPLAIN
// ANALYZE report a few hundred rows held — while a regular join on a key
// that never repeats (the control) keeps every row and is seen to grow by
// the same measurements.
func TestJoinStateBoundedOnEndlessStream(t *testing.T) {
	// The rows held are those the other input's watermark has not passed
	// yet: a few hundred by event time (200ms delay, 20ms bound or 100ms
	// windows, one row per ms), plus how far one input's reader runs
	// ahead of the other's — both read the same unpaced generator on their
	// own goroutines, and the lead measured stays under ~25 batches of
	// 4096 rows (about 90,000 rows) however long the stream runs.
	const rowBound = 200_000
	for _, tc := range []struct {
		name      string
		query     string
		bounded   bool
		warm, run int64
	}{
		{"interval join",
			`SELECT a.category, a.value, b.value AS v2 FROM g a JOIN g b ON a.category = b.category AND b.ts BETWEEN a.ts - INTERVAL '0.02' SECOND AND a.ts EMIT CHANGES`,
			true, 200_000, 600_000},
		{"window join",
			`SELECT a.window_start, a.category, a.value, b.value AS v2 FROM TUMBLE(g, ts, INTERVAL '100' MILLISECOND) a JOIN TUMBLE(g, ts, INTERVAL '100' MILLISECOND) b ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.category = b.category EMIT FINAL`,
			true, 200_000, 600_000},
		{"window join of windowed aggregates",
			`SELECT a.window_start, a.category, a.n, b.s FROM (SELECT window_start, window_end, category, COUNT(*) AS n FROM TUMBLE(g, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, window_end, category) a JOIN (SELECT window_start, window_end, category, SUM(value) AS s FROM TUMBLE(g, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, window_end, category) b ON a.window_start = b.window_start AND a.window_end = b.window_end AND a.category = b.category EMIT FINAL`,
			true, 200_000, 600_000},
		{"OVER aggregate",
			`SELECT category, value, SUM(value) OVER (PARTITION BY category ORDER BY ts RANGE BETWEEN INTERVAL '0.05' SECOND PRECEDING AND CURRENT ROW) AS s, COUNT(*) OVER (PARTITION BY category ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS c FROM g EMIT CHANGES`,
			true, 200_000, 600_000},
		{"regular join (control)",
			`SELECT a.category, b.value FROM g a JOIN g b ON a.ts = b.ts EMIT CHANGES`,
			false, 50_000, 400_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			db := openEndless(t, mem, stateCategories)
			defer db.Close()
			growth, _, sampled := heapGrowth(t, db, mem, tc.query, tc.warm, tc.run)
			held, rowsIn := analyzeState(t, db, tc.query, 1)
			t.Logf("heap growth %d KiB over %d rows in; most rows held sampled while running %d; EXPLAIN ANALYZE: %d rows held after %d rows in",
				growth>>10, tc.run-tc.warm, sampled, held, rowsIn)
			// EXPLAIN ANALYZE stops early, while one reader may still
			// lead the other by its whole start: it must report the
			// state, the bound is judged on the long run above.
			if rowsIn == 0 || held == 0 {
				t.Errorf("EXPLAIN ANALYZE reports %d rows held after %d rows in", held, rowsIn)
			}
			if !tc.bounded {
				if growth < stateHeapBound {
					t.Errorf("heap grew by only %d bytes over %d rows; the measurement cannot detect growing state", growth, tc.run-tc.warm)
				}
				if sampled <= rowBound {
					t.Errorf("a regular join on a key that never repeats held at most %d rows, want > %d", sampled, rowBound)
				}
				return
			}
			if growth >= stateHeapBound {
				t.Errorf("heap grew by %d bytes over %d rows, want < %d: the join's state is not freed", growth, tc.run-tc.warm, stateHeapBound)
			}
			if sampled > rowBound {
				t.Errorf("Rows.Stats sampled %d rows held while running, want ≤ %d", sampled, rowBound)
			}
		})
	}
}

// TestJoinStateSizeAtParallelism: the state a regular join reports in
// Stats (what the REPL status line and EXPLAIN ANALYZE show) is the rows
// it holds, the same at parallelism 1 and 4 (summed over the instances):
// every row of both inputs, as nothing bounds a regular join's state.
func TestJoinStateSizeAtParallelism(t *testing.T) {
	dir := t.TempDir()
	var l, r strings.Builder
	l.WriteString("k,v\n")
	r.WriteString("k,w\n")
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&l, "%d,%d\n", i%10, i)
	}
	for i := 0; i < 15; i++ {
		fmt.Fprintf(&r, "%d,%d\n", i, i)
	}
	for name, body := range map[string]string{"l.csv": l.String(), "r.csv": r.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, par := range []int{1, 4} {
		t.Run(fmt.Sprintf("p%d", par), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			db, err := sluice.Open(sluice.Config{Allocator: mem, Parallelism: par, BaseDir: dir, Log: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := t.Context()
			if err := db.Exec(ctx, `CREATE SOURCE l (k BIGINT, v BIGINT) WITH (connector = 'file', path = 'l.csv', format = 'csv');
				CREATE SOURCE r (k BIGINT, w BIGINT) WITH (connector = 'file', path = 'r.csv', format = 'csv')`); err != nil {
				t.Fatal(err)
			}
			if plan := joinRows(kRows(t, db, `EXPLAIN SELECT l.k, v, w FROM l JOIN r ON l.k = r.k EMIT CHANGES`)); par > 1 && !strings.Contains(plan, "partitioned by keys") {
				t.Fatalf("the join is not partitioned at parallelism %d:\n%s", par, plan)
			}
			rows, err := db.Query(ctx, `SELECT l.k, v, w FROM l JOIN r ON l.k = r.k EMIT CHANGES`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := int64(0)
			for rows.Next() {
				n += rows.Record().NumRows()
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n != 40 {
				t.Fatalf("%d rows out, want 40", n)
			}
			if st := rows.Stats(); st.StateGroups != 55 || st.StateBytes <= 0 {
				t.Errorf("state %d groups, %d bytes; want the 55 rows of both inputs held", st.StateGroups, st.StateBytes)
			}
		})
	}
}
