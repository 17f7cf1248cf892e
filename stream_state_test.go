package sluice_test

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// Window state must be freed when the watermark passes the window's end,
// so an endless windowed query runs in flat memory (issue 4, "Windows").
// The same measurements on a GROUP BY over a high-cardinality key without
// a window must show growth, so the test can tell the two apart.
//
// The generator runs unpaced and unbounded: row i has event time
// start + i ms, so 100 rows fill a 100ms TUMBLE window and 200,000 rows
// are 2,000 windows. With a 200ms watermark delay at most ~3 windows are
// open at once.
const (
	stateCategories   = 50
	stateWindow       = "INTERVAL '100' MILLISECOND"
	stateWindowsOpen  = 10 // generous: 200ms delay / 100ms windows + slack
	stateHeapBound    = 16 << 20
	stateHighCardKeys = 1_000_000
)

func TestStreamStateBoundedOnEndlessStream(t *testing.T) {
	for _, tc := range []struct {
		name       string
		categories int
		query      string
		bounded    bool
		// The heap is sampled after warm rows in and again after run
		// rows in: 2,000 and 12,000 windows for the windowed query; the
		// control needs enough new keys to outgrow the bound even with a
		// compact group table (~50 bytes a key measured: 700,000 keys).
		warm, run int64
	}{
		{"tumble emit final", stateCategories,
			`SELECT window_start, category, SUM(value) AS total FROM TUMBLE(g, ts, ` + stateWindow + `) GROUP BY window_start, category EMIT FINAL`,
			true, 200_000, 1_200_000},
		// Deduplication keeps the latest row per key: one row a key,
		// however long the stream runs (issue 11).
		{"dedup latest per key", stateCategories,
			`SELECT category, value, ts FROM (SELECT category, value, ts, ROW_NUMBER() OVER (PARTITION BY category ORDER BY ts DESC) AS rn FROM g) t WHERE rn = 1 EMIT CHANGES`,
			true, 50_000, 300_000},
		{"high-cardinality group by", stateHighCardKeys,
			`SELECT category, SUM(value) AS total FROM g GROUP BY category EMIT CHANGES`,
			false, 50_000, 750_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			db := openEndless(t, mem, tc.categories)
			defer db.Close()

			growth, windows, sampled := heapGrowth(t, db, mem, tc.query, tc.warm, tc.run)
			groupBound := int64(stateWindowsOpen * stateCategories)
			groups, rowsIn := analyzeState(t, db, tc.query, 10*groupBound)
			t.Logf("heap growth %d KiB over %d rows; most groups sampled while running %d; EXPLAIN ANALYZE: %d groups after %d rows in; %d windows emitted",
				growth>>10, tc.run-tc.warm, sampled, groups, rowsIn, windows)

			if rowsIn < 10*groupBound {
				t.Fatalf("EXPLAIN ANALYZE saw only %d rows in: too few to tell bounded from growing state", rowsIn)
			}
			if tc.bounded {
				if strings.Contains(tc.query, "window_start") && windows < 1000 {
					t.Errorf("%d windows emitted, want ≥ 1000 (the stream must run for many windows)", windows)
				}
				if growth >= stateHeapBound {
					t.Errorf("heap grew by %d bytes over %d rows, want < %d: window state is not freed", growth, tc.run-tc.warm, stateHeapBound)
				}
				if int64(sampled) > groupBound {
					t.Errorf("Rows.Stats sampled %d state groups while running, want ≤ %d", sampled, groupBound)
				}
				if groups > groupBound {
					t.Errorf("state at end: %d groups after %d rows, want ≤ %d (%d open windows × %d keys)", groups, rowsIn, groupBound, stateWindowsOpen, stateCategories)
				}
				return
			}
			// The control: without a window, state tracks the distinct
			// keys seen, which the same bounds must catch.
			if growth < stateHeapBound {
				t.Errorf("heap grew by only %d bytes over %d new keys; the measurement cannot detect growing state", growth, tc.run-tc.warm)
			}
			if groups <= groupBound {
				t.Errorf("state at end: %d groups, want > %d for an unwindowed high-cardinality GROUP BY", groups, groupBound)
			}
		})
	}
}

// openEndless opens a DB over mem with an unpaced, unbounded generator g
// whose watermark trails event time by 200ms.
func openEndless(t *testing.T, mem memory.Allocator, categories int) *sluice.DB {
	t.Helper()
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	ddl := fmt.Sprintf(`CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '200' MILLISECOND)
		WITH (connector='generator', rows_per_second='0', categories='%d', seed='7')`, categories)
	if err := db.Exec(context.Background(), ddl); err != nil {
		t.Fatal(err)
	}
	return db
}

// heapGrowth runs query on the endless source and returns how much the
// live Go heap grew between warm and run rows in, how many distinct
// windows were emitted (0 for an unwindowed query) and the most state
// groups Rows.Stats reported meanwhile (it samples every 500ms).
func heapGrowth(t *testing.T, db *sluice.DB, mem *memory.CheckedAllocator, query string, warm, run int64) (growth int64, windows int, sampled int) {
	t.Helper()
	rows, err := db.Query(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ws := -1
	if idx := rows.Schema().FieldIndices("window_start"); len(idx) > 0 {
		ws = idx[0]
	}
	seen := map[string]bool{}
	// The heap is sampled heapSamples times, at least sampleEvery rows
	// in apart, from warm and again from run rows in, and the least of
	// each phase counts: what is in flight between the readers and the
	// operators comes and goes with how far one reader runs ahead of the
	// other (a window join's pending output rows with it: up to ~27 MiB
	// measured on a loaded machine, in samples taken at consecutive
	// records), while state that stays is in every sample. Spreading the
	// samples over ~100,000 rows finds a moment of small lead in each
	// phase; a state that grows with the input still shows, as the
	// phases lie hundreds of thousands of rows apart.
	const heapSamples, sampleEvery = 12, 8192
	var base, now int64
	var nBase, nNow int
	var nextBase, nextNow = warm, run
	least := func(v *int64, n *int, next *int64, rowsIn int64) {
		if h := liveHeap(); *n == 0 || h < *v {
			*v = h
		}
		*n++
		*next = rowsIn + sampleEvery
	}
	for rows.Next() {
		rec := rows.Record()
		if ws >= 0 {
			col := rec.Column(ws)
			for i := 0; i < col.Len(); i++ {
				seen[col.ValueStr(i)] = true
			}
		}
		st := rows.Stats()
		sampled = max(sampled, st.StateGroups)
		if nBase < heapSamples && st.RowsIn >= nextBase && st.RowsIn < run {
			least(&base, &nBase, &nextBase, st.RowsIn)
		}
		if nBase > 0 && st.RowsIn >= nextNow {
			least(&now, &nNow, &nextNow, st.RowsIn)
			if nNow == heapSamples {
				t.Logf("arrow memory in flight at %d rows: %d bytes", st.RowsIn, mem.CurrentAlloc())
				return now - base, len(seen), sampled
			}
		}
	}
	t.Fatalf("query ended after %d rows in (err %v); it should run until closed", rows.Stats().RowsIn, rows.Err())
	return 0, 0, 0
}

// liveHeap is the Go heap in use after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

var (
	analyzeRowsIn  = regexp.MustCompile(`rows in: (\d+)`)
	analyzeStateRe = regexp.MustCompile(`state at end: (\d+) groups, (\d+) bytes`)
)

// analyzeState runs EXPLAIN ANALYZE of the endless query for a while and
// returns the state groups it reports as the query stopped (mid-stream, so
// no end-of-input flush hides anything) and the rows it took in. It runs for 1.5s,
// and again for twice as long while fewer than minRows came in (up to 24s),
// so a loaded machine gets the same evidence as a quiet one, only slower.
func analyzeState(t *testing.T, db *sluice.DB, query string, minRows int64) (groups, rowsIn int64) {
	t.Helper()
	for d := 1500 * time.Millisecond; ; d *= 2 {
		groups, rowsIn = analyzeFor(t, db, query, d)
		if rowsIn >= minRows || d >= 24*time.Second {
			return groups, rowsIn
		}
		t.Logf("EXPLAIN ANALYZE saw %d rows in %v, want %d: running it longer", rowsIn, d, minRows)
	}
}

// analyzeFor runs EXPLAIN ANALYZE of query for d, then cancels it: a
// stopped streaming query ends cleanly and reports what it saw.
func analyzeFor(t *testing.T, db *sluice.DB, query string, d time.Duration) (groups, rowsIn int64) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(d, cancel).Stop()
	defer cancel()
	rows, err := db.Query(ctx, "EXPLAIN ANALYZE "+query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		col := rows.Record().Column(0)
		for i := 0; i < col.Len(); i++ {
			lines = append(lines, col.ValueStr(i))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(lines, "\n")
	m, s := analyzeRowsIn.FindStringSubmatch(text), analyzeStateRe.FindStringSubmatch(text)
	if m == nil || s == nil {
		t.Fatalf("EXPLAIN ANALYZE output lacks rows in / state at end:\n%s", text)
	}
	rowsIn, _ = strconv.ParseInt(m[1], 10, 64)
	groups, _ = strconv.ParseInt(s[1], 10, 64)
	return groups, rowsIn
}
