package sluice_test

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
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
