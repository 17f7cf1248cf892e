package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// syncBuffer is a log the pipeline goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// drain runs ddl and then query on a DB opened with cfg (its allocator a
// checked one) to the query's end, and returns how many rows it gave and
// the query's error, having checked that the DB gave back every byte of
// its memory budget and of Arrow memory.
func drain(t *testing.T, cfg Config, ddl, query string) (int, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg.Allocator = mem
	db, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := db.Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	err = rows.Err()
	rows.Close()
	if used := db.budgetNow().Used(); used != 0 {
		t.Errorf("%s: %d bytes still accounted", query, used)
	}
	return n, err
}

// wantMemoryLimit fails unless err is the memory limit error, its text
// holds every one of wants (the operator, the limit), and, when slack is
// not 0, the state it reached was within slack bytes of the limit.
func wantMemoryLimit(t *testing.T, what string, err error, slack int64, wants ...string) {
	t.Helper()
	var mle *exec.MemoryLimitError
	if !errors.As(err, &mle) {
		t.Fatalf("%s: %v, want the memory limit error", what, err)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v, want the memory limit error naming %q", what, err, want)
		}
	}
	t.Logf("%s: %v", what, mle)
	if slack != 0 && mle.Need > mle.Limit+slack {
		t.Errorf("%s: the state reached %d bytes before the %d-byte limit stopped it", what, mle.Need, mle.Limit)
	}
}

// A streaming GROUP BY over an unbounded key space warns at start, logs
// its state as it doubles, and fails at the memory limit with an error
// naming the operator and the limit, instead of growing without end.
func TestUnboundedStreamingStateHitsMemoryLimit(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var log syncBuffer
	db, err := Open(Config{Allocator: mem, Log: &log, MemoryLimit: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Unbounded, 20000 distinct event times a second.
	if err := db.Exec(ctx, `CREATE SOURCE g WITH (connector = 'generator', rows_per_second = '20000')`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT ts, COUNT(*) AS n FROM g GROUP BY ts EMIT CHANGES`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	err = rows.Err()
	rows.Close()
	var mle *exec.MemoryLimitError
	if !errors.As(err, &mle) || !strings.Contains(err.Error(), "GroupAggregate: keys=[ts]") || !strings.Contains(err.Error(), "memory limit of 8.0 MiB") {
		t.Fatalf("got %v, want the memory limit error naming the aggregate", err)
	}
	out := log.String()
	for _, want := range []string{
		"warning: state of GROUP BY ts grows without bound",
		"sluice: unbounded state of GroupAggregate: keys=[ts]",
		"of memory_limit 8.0 MiB)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// The failed query gave its share back.
	if used := db.budgetNow().Used(); used != 0 {
		t.Errorf("%d bytes still accounted", used)
	}
}

// Every kind of stateful streaming operator counts its state against the
// memory limit — windows (their groups and the MIN/MAX/DISTINCT value
// sets), top-N, per-key top-N and join state — and a query whose state
// outgrows it fails with an error naming the operator and the limit,
// giving its share back. The inputs are bounded (40,000 rows as fast as
// the generator goes) and each query holds well over the limit before its
// input ends, where the state is always measured.
func TestStreamingOperatorsHitMemoryLimit(t *testing.T) {
	const sources = `
CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '40000');
CREATE SOURCE g2 (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '40000', seed = '2');`
	for _, tc := range []struct {
		name, query, operator string
	}{
		{"window groups", `SELECT window_start, ts, COUNT(*) AS n FROM TUMBLE(g, ts, INTERVAL '1' HOUR) GROUP BY window_start, ts EMIT FINAL`,
			"WindowAggregate: tumble(ts, 1h0m0s) keys=[ts]"},
		{"window DISTINCT and MAX value sets", `SELECT window_start, category, COUNT(DISTINCT ts) AS d, MAX(value) AS m FROM HOP(g, ts, INTERVAL '1' HOUR, INTERVAL '2' HOUR) GROUP BY window_start, category EMIT FINAL`,
			"WindowAggregate: hop(ts, slide=1h0m0s, size=2h0m0s) keys=[category]"},
		{"top-N", `SELECT ts, value FROM g ORDER BY value DESC LIMIT 30000 EMIT CHANGES`,
			"TopN: value DESC limit=30000"},
		{"per-key top-N", `SELECT ts, value FROM (SELECT ts, value, ROW_NUMBER() OVER (PARTITION BY ts ORDER BY value DESC) AS rn FROM g) t WHERE rn <= 1 EMIT CHANGES`,
			"RankTopN: deduplicate, keep 1 per [ts]"},
		{"regular join", `SELECT a.ts, b.value FROM g a JOIN g2 b ON a.ts = b.ts EMIT CHANGES`,
			"RegularJoin: inner keys=[ts] = [ts]"},
		{"interval join", `SELECT a.ts, b.value FROM g a JOIN g2 b ON a.ts = b.ts AND b.ts BETWEEN a.ts - INTERVAL '1' HOUR AND a.ts + INTERVAL '1' HOUR EMIT CHANGES`,
			"IntervalJoin: inner keys=[ts] = [ts]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := drain(t, Config{Log: &syncBuffer{}, MemoryLimit: 256 << 10}, sources, tc.query)
			wantMemoryLimit(t, tc.name, err, 0, tc.operator, "memory limit of 256 KiB")
		})
	}
}

// Under the limit the same accounting lets a query run to its end: a
// bounded-state window query over the same input is not refused.
func TestStreamingOperatorsUnderMemoryLimit(t *testing.T) {
	n, err := drain(t, Config{MemoryLimit: 2 << 20}, `CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '200000')`,
		`SELECT window_start, category, COUNT(*) AS n, MAX(value) AS m FROM TUMBLE(g, ts, INTERVAL '1' SECOND) GROUP BY window_start, category EMIT FINAL`)
	if err != nil || n == 0 {
		t.Fatalf("%d rows, error %v", n, err)
	}
}

// TestJoinBudgetCheckedPerBatch: a join counts its state as it goes
// (stream.StateSizer) and is checked after every batch, so it stops
// within a batch (8192 rows, ~1.5 MiB of join state) of the limit.
// Sampled every 100 ms, it read the whole input of a fast source before
// the next sample and overshot a 4 MiB limit to 9-15 MiB.
func TestJoinBudgetCheckedPerBatch(t *testing.T) {
	const sources = `
CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '60000');
CREATE SOURCE g2 (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '60000', seed = '2');`
	for _, query := range []string{
		`SELECT a.ts, b.value FROM g a JOIN g2 b ON a.ts = b.ts EMIT CHANGES`,
		`SELECT a.ts, b.value FROM g a JOIN g2 b ON a.ts = b.ts AND b.ts BETWEEN a.ts - INTERVAL '1' HOUR AND a.ts + INTERVAL '1' HOUR EMIT CHANGES`,
	} {
		_, err := drain(t, Config{MemoryLimit: 4 << 20}, sources, query)
		wantMemoryLimit(t, query, err, 2<<20)
	}
}

// TestWindowAndTopNBudgetCheckedPerBatch: windowed aggregates, per-key
// and plain top-N count their state as they go (stream.StateSizer) and
// are checked against the budget after every batch, as joins are: each
// stops within a batch of the limit. Sampled every 100 ms, a fast source
// fed the windows far past it between two samples (the top-N queries are
// slow enough to stay within the slack sampled too: the per-message
// check of top-N is stream.TestTopNBudgetCheckedPerMessage).
func TestWindowAndTopNBudgetCheckedPerBatch(t *testing.T) {
	const source = `
CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '400000', categories = '1000000');`
	for _, query := range []string{
		`SELECT window_start, category, COUNT(*) AS n, MAX(value) AS hi FROM TUMBLE(g, ts, INTERVAL '1' HOUR) GROUP BY window_start, category EMIT FINAL`,
		`SELECT window_start, category, COUNT(*) AS n FROM SESSION(g, ts, INTERVAL '1' HOUR) GROUP BY window_start, category EMIT FINAL`,
		`SELECT * FROM (SELECT category, ts, ROW_NUMBER() OVER (PARTITION BY category ORDER BY ts) AS rn FROM g) WHERE rn <= 1 EMIT CHANGES`,
		`SELECT category, value FROM (SELECT category, MAX(value) AS value FROM g GROUP BY category) ORDER BY value DESC LIMIT 3 EMIT CHANGES`,
	} {
		_, err := drain(t, Config{MemoryLimit: 4 << 20}, source, query)
		wantMemoryLimit(t, query, err, 2<<20)
	}
}

// TestTemporalJoinBudgetCheckedPerBatch: a temporal join whose versioned
// table has a million keys fails at the memory limit naming the join,
// within a batch of it, serial and partitioned (the per-message check
// itself: stream.TestTemporalJoinBudgetCheckedPerMessage).
func TestTemporalJoinBudgetCheckedPerBatch(t *testing.T) {
	const sources = `
CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '400000', categories = '1000000');
CREATE SOURCE r (category VARCHAR, value BIGINT, ts TIMESTAMP, PRIMARY KEY (category) NOT ENFORCED,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '400000', categories = '1000000', seed = '2');`
	const query = `SELECT a.ts, v.value FROM g a JOIN r FOR SYSTEM_TIME AS OF a.ts AS v ON a.category = v.category EMIT CHANGES`
	for _, p := range []int{1, 2} {
		_, err := drain(t, Config{MemoryLimit: 4 << 20, Parallelism: p}, sources, query)
		wantMemoryLimit(t, fmt.Sprintf("parallelism %d", p), err, 1<<20, "TemporalJoin")
	}
}

// TestOverHitsMemoryLimit: both streaming OVER operators count their
// state against the memory limit and fail naming the operator and the
// limit, within a batch of it, giving their share back — the one over an
// append-only input keeping an hour of rows per key for its RANGE frame,
// and the one over an updating input (a Debezium file, which keeps no
// state of its own) keeping every live row. The per-message check itself:
// stream.TestOverBudgetCheckedPerMessage.
func TestOverHitsMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 40000 {
		lines = append(lines, fmt.Sprintf(`{"before":null,"after":{"id":%d,"category":"c%d","price":%d},"op":"c"}`, i, i%3, i))
	}
	path := filepath.Join(dir, "changes.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sources := `
CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '0', max_rows = '400000');
CREATE SOURCE d WITH (connector = 'file', path = '` + path + `', format = 'debezium-json');`
	for _, tc := range []struct {
		name, query, operator string
	}{
		{"append-only", `SELECT ts, category, COUNT(*) OVER (PARTITION BY category ORDER BY ts RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW) AS c FROM g EMIT CHANGES`,
			"OverAggregate: [count(*) RANGE BETWEEN INTERVAL '3600' SECOND PRECEDING AND CURRENT ROW AS c] over (PARTITION BY category ORDER BY ts)"},
		{"updating", `SELECT id, category, SUM(price) OVER (PARTITION BY category ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM d EMIT CHANGES`,
			"OverAggregate: [sum(price) ROWS BETWEEN 1 PRECEDING AND CURRENT ROW AS s] over (PARTITION BY category ORDER BY id)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Batches of 1024 rows: each adds ~300 KB of OVER state.
			_, err := drain(t, Config{MemoryLimit: 1 << 20, BatchSize: 1024}, sources, tc.query)
			wantMemoryLimit(t, tc.name, err, 1<<20, tc.operator, "memory limit of 1.0 MiB")
		})
	}
}
