package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec/stream"
)

// restartRuns runs one streaming INSERT again and again over one
// checkpoint directory, each run on a fresh DB whose sink collects the
// rendered rows, so a test can stop a run mid-stream and check what the
// restarts add up to.
type restartRuns struct {
	mem   memory.Allocator
	ckpt  string
	sink  string
	setup string        // DDL run on every DB before stmts
	stmts []string      // run in order on the run's context; the last is the INSERT
	slow  time.Duration // per sink call: a slow sink keeps the first run mid-scan
	// compact is Config.CheckpointCompactEvery (0: the default).
	compact int

	mu      sync.Mutex
	changes []string
	some    chan struct{}
}

func (r *restartRuns) run(ctx context.Context, parallelism int) error {
	db, err := sluice.Open(sluice.Config{Allocator: r.mem, CheckpointDir: r.ckpt, Parallelism: parallelism, CheckpointCompactEvery: r.compact})
	if err != nil {
		return err
	}
	defer db.Close()
	err = db.RegisterSink(r.sink, func(_ context.Context, rec arrow.Record) error {
		time.Sleep(r.slow)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.changes = append(r.changes, renderRecord(rec)...)
		select {
		case r.some <- struct{}{}:
		default:
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := db.Exec(context.Background(), r.setup); err != nil {
		return err
	}
	for _, st := range r.stmts {
		if err := db.Exec(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// stopMidStream runs at parallelism until the sink got some output, lets
// it go on for settle, cancels it, and returns how many rows it gave.
func (r *restartRuns) stopMidStream(t *testing.T, parallelism int, settle time.Duration) int {
	t.Helper()
	r.some = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.run(ctx, parallelism) }()
	select {
	case <-r.some:
	case <-time.After(30 * time.Second):
		cancel()
		<-done
		t.Fatal("no output from the first run")
	}
	time.Sleep(settle)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("first run: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.changes)
}

// checkRestarted fails unless the first run stopped partway (some rows,
// not all) and the rows of all runs, folded, equal want.
func (r *restartRuns) checkRestarted(t *testing.T, first int, want []string, what string) {
	t.Helper()
	got := foldChanges(t, r.changes)
	sort.Strings(want)
	if first == 0 || first == len(r.changes) {
		t.Fatalf("first run %d rows of %d: the restart did not continue a stopped run", first, len(r.changes))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: %d rows, batch %d; first differences:\n%s", what, len(got), len(want), firstDiff(got, want))
	}
}

// batchLines is query's result in batch mode over the sources setup
// declares.
func batchLines(t *testing.T, mem memory.Allocator, setup, query string) []string {
	t.Helper()
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), setup); err != nil {
		t.Fatal(err)
	}
	return queryLines(t, db, query)
}

// A keyed aggregate over a UNION ALL of two sources, run as 4
// key-partitioned instances (each with its own checkpoint part), stopped
// mid-stream and restarted from its checkpoint, hands its sink a changelog
// that folds to exactly the batch result: every instance resumes its own
// groups and every source its own offsets. A restart at another
// parallelism is refused rather than fed state partitioned for 4.
func TestParallelCheckpointRestartTwoSources(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	setup := `
CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '9', seed = '11');
CREATE SOURCE b (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '2000', max_rows = '4000', categories = '13', seed = '12');`
	query := `SELECT category, COUNT(*) AS n, SUM(value) AS total FROM (SELECT category, value FROM a UNION ALL SELECT category, value FROM b WHERE value > 0) u GROUP BY category`
	r := &restartRuns{mem: mem, ckpt: filepath.Join(t.TempDir(), "ckpt"), sink: "totals", setup: setup,
		stmts: []string{`INSERT INTO totals ` + query + ` EMIT CHANGES`}}
	first := r.stopMidStream(t, 4, 300*time.Millisecond) // mid-stream: the sources run ~2 s
	err := r.run(context.Background(), 2)
	if err == nil || !strings.Contains(err.Error(), "parallelism") {
		t.Fatalf("restart at parallelism 2 from a checkpoint of 4: %v, want a refusal naming the parallelism", err)
	}
	if err := r.run(context.Background(), 4); err != nil {
		t.Fatalf("restart: %v", err)
	}
	r.checkRestarted(t, first, batchLines(t, mem, setup, query), "restarted parallel aggregate")
}

// A per-key top-N (RANK, peers included) run as 4 key-partitioned
// instances (stream.ParallelRankTopN, a checkpoint part each), stopped
// mid-stream and restarted from its checkpoint, hands its sink a
// changelog that folds to exactly the batch result; a restart at another
// parallelism is refused rather than fed state partitioned for 4.
func TestParallelCheckpointRestartRankTopN(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	setup := `CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '17', seed = '5')`
	query := `SELECT category, value, rk FROM (SELECT category, value, RANK() OVER (PARTITION BY category ORDER BY value DESC) AS rk FROM a) t WHERE rk <= 2`
	r := &restartRuns{mem: mem, ckpt: filepath.Join(t.TempDir(), "ckpt"), sink: "tops", setup: setup,
		stmts: []string{`INSERT INTO tops ` + query + ` EMIT CHANGES`}}
	first := r.stopMidStream(t, 4, 300*time.Millisecond)
	err := r.run(context.Background(), 2)
	if err == nil || !strings.Contains(err.Error(), "parallelism") {
		t.Fatalf("restart at parallelism 2 from a checkpoint of 4: %v, want a refusal naming the parallelism", err)
	}
	if err := r.run(context.Background(), 4); err != nil {
		t.Fatalf("restart: %v", err)
	}
	r.checkRestarted(t, first, batchLines(t, mem, setup, query), "restarted parallel top-N")
}

// Streaming OVER aggregates with PARTITION BY run as 2 key-partitioned
// instances (stream.ParallelOver over the source's rows, each tracking
// every row's event time; stream.ParallelOverChangelog over a per-key
// top-N's changelog), each with its own checkpoint part, stopped
// mid-stream and restarted from their checkpoint: the sink's rows fold
// to exactly the batch result (no row is late: the generator's times
// rise), and a restart at another parallelism is refused rather than
// fed state partitioned for 2.
func TestParallelCheckpointRestartOver(t *testing.T) {
	setup := `CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '13', seed = '7')`
	for _, tc := range []struct{ name, query string }{
		{"append-only", `SELECT category, value, ts, SUM(value) OVER (PARTITION BY category ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s4,
  COUNT(*) OVER (PARTITION BY category ORDER BY ts) AS n FROM a`},
		{"updating", `SELECT category, value, SUM(value) OVER (PARTITION BY category ORDER BY value ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s2
  FROM (SELECT category, value, ROW_NUMBER() OVER (PARTITION BY category ORDER BY value DESC) AS rn FROM a) t WHERE rn <= 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := &restartRuns{mem: mem, ckpt: filepath.Join(t.TempDir(), "ckpt"), sink: "out", setup: setup,
				stmts: []string{`INSERT INTO out ` + tc.query + ` EMIT CHANGES`}}
			first := r.stopMidStream(t, 2, 300*time.Millisecond)
			err := r.run(context.Background(), 3)
			if err == nil || !strings.Contains(err.Error(), "parallelism") {
				t.Fatalf("restart at parallelism 3 from a checkpoint of 2: %v, want a refusal naming the parallelism", err)
			}
			if err := r.run(context.Background(), 2); err != nil {
				t.Fatalf("restart: %v", err)
			}
			r.checkRestarted(t, first, batchLines(t, mem, setup, tc.query), "restarted parallel OVER")
		})
	}
}

// A global top-N run in two phases at parallelism 2 (stream.ParallelTopN:
// a checkpoint part per local instance and one for the merge), over the
// source's rows and over an updating aggregate, stopped mid-stream and
// restarted from its checkpoint: the sink's changes fold to exactly the
// batch result, and a restart at another parallelism is refused.
func TestParallelCheckpointRestartTopN(t *testing.T) {
	setup := `CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '11', seed = '9')`
	for _, tc := range []struct{ name, query string }{
		{"append-only", `SELECT category, value, ts FROM a ORDER BY value DESC, ts LIMIT 5`},
		{"updating", `SELECT category, SUM(value) AS s FROM a GROUP BY category ORDER BY s DESC LIMIT 3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r := &restartRuns{mem: mem, ckpt: filepath.Join(t.TempDir(), "ckpt"), sink: "out", setup: setup,
				stmts: []string{`INSERT INTO out ` + tc.query + ` EMIT CHANGES`}}
			first := r.stopMidStream(t, 2, 300*time.Millisecond)
			err := r.run(context.Background(), 3)
			if err == nil || !strings.Contains(err.Error(), "parallelism") {
				t.Fatalf("restart at parallelism 3 from a checkpoint of 2: %v, want a refusal naming the parallelism", err)
			}
			if err := r.run(context.Background(), 2); err != nil {
				t.Fatalf("restart: %v", err)
			}
			r.checkRestarted(t, first, batchLines(t, mem, setup, tc.query), "restarted two-phase top-N")
		})
	}
}

// A keyed aggregate over a glob of CSV files, decoded on two goroutines
// in scan order (exec.OpenOrdered) and folded by two key-partitioned
// instances, stopped mid-stream and restarted from its checkpoint, hands
// its sink a changelog that folds to exactly the batch result: the
// offsets the parallel scan checkpoints are those of a sequential scan,
// so the restart resumes each file at the row where the first run
// stopped, neither skipping nor repeating one.
func TestParallelCheckpointRestartFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	for f := range 4 {
		var b strings.Builder
		b.WriteString("category,value\n")
		for i := range 3000 {
			fmt.Fprintf(&b, "c%d,%d\n", (i*7+f)%23, i%101-f)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setup := fmt.Sprintf(`CREATE SOURCE f (category VARCHAR, value BIGINT) WITH (connector = 'file', path = '%s', format = 'csv')`,
		filepath.Join(dir, "part-*.csv"))
	query := `SELECT category, COUNT(*) AS n, SUM(value) AS total FROM f GROUP BY category`
	r := &restartRuns{mem: mem, ckpt: filepath.Join(dir, "ckpt"), sink: "totals", setup: setup, slow: 2 * time.Millisecond,
		stmts: []string{`SET batch_size = 64`, `INSERT INTO totals ` + query + ` EMIT CHANGES`}}
	first := r.stopMidStream(t, 2, 100*time.Millisecond)
	if err := r.run(context.Background(), 2); err != nil {
		t.Fatalf("restart: %v", err)
	}
	r.checkRestarted(t, first, batchLines(t, mem, setup, query), "restarted parallel scan and aggregate")
}

// foldChanges folds a sink's rendered rows into the sorted multiset they
// leave: changelog lines (op first) by stream.FoldLines, the rows of an
// append-only result (no op column) as they are.
func foldChanges(t *testing.T, lines []string) []string {
	t.Helper()
	var changes, got []string
	for _, l := range lines {
		switch op, _, _ := strings.Cut(l, "\t"); op {
		case "+I", "-U", "+U", "-D":
			changes = append(changes, l)
		default:
			got = append(got, l)
		}
	}
	folded, err := stream.FoldLines(changes)
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, folded...)
	sort.Strings(got)
	return got
}

// firstDiff lists the first lines only one of two sorted lists has.
func firstDiff(a, b []string) string {
	var out []string
	i, k := 0, 0
	for (i < len(a) || k < len(b)) && len(out) < 10 {
		switch {
		case k >= len(b) || i < len(a) && a[i] < b[k]:
			out = append(out, "got only: "+a[i])
			i++
		case i >= len(a) || a[i] > b[k]:
			out = append(out, "batch only: "+b[k])
			k++
		default:
			i++
			k++
		}
	}
	return strings.Join(out, "\n")
}
