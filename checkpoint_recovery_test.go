package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// windowJob is a windowed generator → file query checkpointed into ckpt;
// out is a directory ("…/") or a single CSV file.
type windowJob struct {
	t          *testing.T
	mem        *memory.CheckedAllocator
	out, ckpt  string
	aggregates string // the SELECT's aggregates
}

func newWindowJob(t *testing.T, out string) *windowJob {
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	if strings.HasSuffix(out, "/") {
		out = filepath.Join(dir, out) + "/"
	} else {
		out = filepath.Join(dir, out)
	}
	return &windowJob{t: t, mem: mem, out: out, ckpt: filepath.Join(dir, "ckpt"), aggregates: "SUM(value) AS total, COUNT(*) AS n"}
}

func (j *windowJob) setup() string {
	return `
CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '` + fmt.Sprint(windowJobRows) + `', categories = '3', seed = '11', max_out_of_orderness = '500ms');
CREATE SINK totals WITH (connector = 'file', path = '` + j.out + `', format = 'csv');`
}

// run runs the INSERT until ctx ends or the input does.
func (j *windowJob) run(ctx context.Context) error {
	db, err := sluice.Open(sluice.Config{Allocator: j.mem, CheckpointDir: j.ckpt})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Exec(context.Background(), j.setup()); err != nil {
		return err
	}
	return db.Exec(ctx, `INSERT INTO totals SELECT window_start, category, `+j.aggregates+`
  FROM TUMBLE(orders, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, category EMIT EVERY 200ms`)
}

// windowJobRows is the generator's input: 10 s of rows at its pace, so
// that a run the tests stop after a few commits is still reading (with 3
// s, a run starved of CPU under -race read its whole input in a few
// large batches and ended with fewer parts than runUntil waited for).
const windowJobRows = 30000

// runUntil runs the INSERT and cancels it (a clean stop) once ready says
// so. A run that ends by itself first fails the test at once: the
// restart it was to be stopped for would not happen.
func (j *windowJob) runUntil(ready func() bool) {
	j.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- j.run(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case err := <-done:
			parts, _ := filepath.Glob(filepath.Join(j.out, "part-*.csv"))
			j.t.Fatalf("the run ended (%v) before it could be stopped, %d part files committed", err, len(parts))
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		j.t.Fatalf("run: %v", err)
	}
}

// committed reports whether the sink shows at least n part files (or,
// for a single file, more than a header).
func (j *windowJob) committed(n int) func() bool {
	return func() bool {
		if strings.HasSuffix(j.out, "/") {
			parts, _ := filepath.Glob(filepath.Join(j.out, "part-*.csv"))
			return len(parts) >= n
		}
		b, _ := os.ReadFile(j.out)
		return strings.Count(string(b), "\n") > 2*n
	}
}

// check asserts the sink holds every window exactly once, equal to the
// batch answer.
func (j *windowJob) check() {
	j.t.Helper()
	db, err := sluice.Open(sluice.Config{Allocator: j.mem})
	if err != nil {
		j.t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), j.setup()+`
CREATE SOURCE back (window_start TIMESTAMP, category VARCHAR, total BIGINT, n BIGINT) WITH (connector = 'file', path = '`+j.out+`', format = 'csv');`); err != nil {
		j.t.Fatal(err)
	}
	if dups := queryLines(j.t, db, `SELECT window_start, category, COUNT(*) FROM back GROUP BY window_start, category HAVING COUNT(*) > 1`); len(dups) > 0 {
		j.t.Fatalf("%d windows written more than once, e.g. %v", len(dups), head(dups))
	}
	got := queryLines(j.t, db, `SELECT window_start, category, total, n FROM back ORDER BY window_start, category`)
	want := queryLines(j.t, db, `SELECT window_start, category, SUM(value), COUNT(*) FROM TUMBLE(orders, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, category ORDER BY window_start, category`)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		j.t.Fatalf("restarted stream differs from batch: %d rows vs %d\nfirst got: %v\nfirst want: %v", len(got), len(want), head(got), head(want))
	}
}

// A query restarted from its checkpoint and stopped again before its
// first trigger must checkpoint the offsets it restored: it saved empty
// ones, and the next start replayed the source into the restored state,
// writing windows twice.
func TestCheckpointQuickStopAfterRestart(t *testing.T) {
	j := newWindowJob(t, "out/")
	j.runUntil(j.committed(2))
	for i := 0; i < 2; i++ {
		j.runUntil(func() bool { return true }) // stopped at once
	}
	if err := j.run(context.Background()); err != nil {
		t.Fatalf("last run: %v", err)
	}
	j.check()
}

// A single-file sink keeps what a stopped run committed and appends the
// restart's rows, instead of replacing the file with the restart's
// output alone.
func TestSingleFileSinkAppendsAcrossRestarts(t *testing.T) {
	j := newWindowJob(t, "totals.csv")
	j.runUntil(j.committed(5))
	j.runUntil(j.committed(20))
	if err := j.run(context.Background()); err != nil {
		t.Fatalf("last run: %v", err)
	}
	j.check()
	b, err := os.ReadFile(j.out)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "window_start,"); n != 1 {
		t.Fatalf("the file has %d header lines, want 1", n)
	}
}

// A damaged newest checkpoint is reported with its path and the previous
// one is used; the output the damaged checkpoint had committed is rolled
// back with it, so nothing is lost or written twice.
func TestCheckpointDamagedNewestFallsBack(t *testing.T) {
	for _, out := range []string{"out/", "totals.csv"} {
		t.Run(out, func(t *testing.T) {
			j := newWindowJob(t, out)
			j.runUntil(j.committed(3))
			mans, _ := filepath.Glob(filepath.Join(j.ckpt, "*", "chk-*.manifest"))
			if len(mans) < 2 {
				t.Fatalf("%d checkpoints kept, want at least 2", len(mans))
			}
			newest := mans[len(mans)-1]
			if err := os.Truncate(newest, 40); err != nil {
				t.Fatal(err)
			}
			var log strings.Builder
			db, err := sluice.Open(sluice.Config{Allocator: j.mem, CheckpointDir: j.ckpt, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			if err := db.Exec(ctx, j.setup()); err != nil {
				t.Fatal(err)
			}
			if err := db.Exec(ctx, `INSERT INTO totals SELECT window_start, category, `+j.aggregates+`
  FROM TUMBLE(orders, ts, INTERVAL '100' MILLISECOND) GROUP BY window_start, category EMIT EVERY 200ms`); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), newest) {
				t.Errorf("the damaged checkpoint %s was not reported; log:\n%s", newest, log.String())
			}
			j.check()
		})
	}
}

// A checkpoint directory written by a different query is refused with a
// message saying how to start fresh (it silently restored the old state,
// or panicked in the aggregate after an AVG was added).
func TestCheckpointOfChangedQueryRefused(t *testing.T) {
	j := newWindowJob(t, "out/")
	j.runUntil(j.committed(1))
	j.aggregates = "SUM(value) AS total, COUNT(*) AS n, AVG(value) AS mean"
	err := j.run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "different query") || !strings.Contains(err.Error(), "delete the directory") {
		t.Fatalf("got %v, want a refusal naming the fix", err)
	}
}
