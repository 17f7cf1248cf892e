package sluice_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// A windowed streaming INSERT into a file sink, cancelled mid-stream and
// restarted from its checkpoint, writes every window exactly once: what was
// committed stays, what was not is discarded and recomputed from the
// checkpointed state and source offsets.
func TestCheckpointRestartExactlyOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	out := filepath.Join(dir, "out") + "/"
	ckpt := filepath.Join(dir, "ckpt")
	setup := `
CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '9000', categories = '3', seed = '11', max_out_of_orderness = '500ms');
CREATE SINK totals WITH (connector = 'file', path = '` + out + `', format = 'csv');`
	insert := `INSERT INTO totals SELECT window_start, category, SUM(value) AS total, COUNT(*) AS n
  FROM TUMBLE(orders, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, category EMIT EVERY 200ms`

	run := checkpointedRun(mem, ckpt, setup, insert)

	// First run: cancel once some output is committed.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	if !waitForParts(out, 2, 20*time.Second) {
		t.Fatal("no output committed by the first run")
	}
	cancel()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("first run: %v", err)
	}
	firstParts, _ := filepath.Glob(filepath.Join(out, "part-*.csv"))

	// Restart: resumes from the checkpoint and runs to the end of input.
	if err := run(context.Background()); err != nil {
		t.Fatalf("restart: %v", err)
	}
	allParts, _ := filepath.Glob(filepath.Join(out, "part-*.csv"))
	if len(allParts) <= len(firstParts) {
		t.Fatalf("restart wrote nothing new: %d parts before, %d after", len(firstParts), len(allParts))
	}

	// Every window appears exactly once and equals the batch answer.
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx = context.Background()
	if err := db.Exec(ctx, setup+`
CREATE SOURCE back (window_start TIMESTAMP, category VARCHAR, total BIGINT, n BIGINT) WITH (connector = 'file', path = '`+out+`', format = 'csv');`); err != nil {
		t.Fatal(err)
	}
	dups := queryLines(t, db, `SELECT window_start, category, COUNT(*) FROM back GROUP BY window_start, category HAVING COUNT(*) > 1`)
	if len(dups) > 0 {
		t.Fatalf("windows written more than once: %v", dups)
	}
	got := queryLines(t, db, `SELECT window_start, category, total, n FROM back ORDER BY window_start, category`)
	want := queryLines(t, db, `SELECT window_start, category, SUM(value), COUNT(*) FROM TUMBLE(orders, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, category ORDER BY window_start, category`)
	// Rows that arrived after their window closed are dropped by the
	// stream and counted by the batch, so compare only when none were.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restarted stream differs from batch: %d rows vs %d\nfirst got: %v\nfirst want: %v", len(got), len(want), head(got), head(want))
	}
	_ = os.RemoveAll(ckpt)
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}

func queryLines(t *testing.T, db *sluice.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		out = append(out, renderRecord(rows.Record())...)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// checkpointedRun is one run of a restartable streaming job: a fresh DB
// checkpointing into ckpt runs setup, then insert until ctx is done.
func checkpointedRun(mem memory.Allocator, ckpt, setup, insert string) func(context.Context) error {
	return func(ctx context.Context) error {
		db, err := sluice.Open(sluice.Config{Allocator: mem, CheckpointDir: ckpt})
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Exec(context.Background(), setup); err != nil {
			return err
		}
		return db.Exec(ctx, insert)
	}
}

// waitForParts reports whether the folder sink out published at least n
// part files within d.
func waitForParts(out string, n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		parts, _ := filepath.Glob(filepath.Join(out, "part-*.csv"))
		if len(parts) >= n {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
