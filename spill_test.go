package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
)

// spillFiles writes CSV files of (k, v) rows over a key space far larger
// than a small memory limit holds, each key seen several times, and
// returns the source DDL over them.
func spillFiles(t *testing.T, dir string) string {
	t.Helper()
	for f := range 3 {
		var b strings.Builder
		b.WriteString("k,v\n")
		for i := range 8000 {
			fmt.Fprintf(&b, "key%05d,%d\n", (i*7919+f*31)%12000, (i*13+f)%1000)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf(`CREATE SOURCE f (k VARCHAR, v BIGINT) WITH (connector = 'file', path = '%s', format = 'csv')`,
		filepath.Join(dir, "part-*.csv"))
}

// spillQuery's state (12,000 groups with MIN/MAX value sets) is several
// MiB, many times spillLimit.
const (
	spillQuery = `SELECT k, COUNT(*) AS n, SUM(v) AS total, MIN(v) AS lo, MAX(v) AS hi FROM f GROUP BY k`
	spillLimit = `SET memory_limit = '1MiB'`
)

// A streaming GROUP BY whose state passes memory_limit fails with the
// budget error; with SET spill_dir it spills its cold groups to disk and
// its changelog folds to exactly the batch result, at parallelism 1 and 2
// (instances sharing the budget); EXPLAIN ANALYZE says how much was on
// disk at the end, and the spill directory is left empty.
func TestStreamingGroupBySpillsToDisk(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	setup := spillFiles(t, dir)
	want := batchLines(t, mem, setup, spillQuery)
	sort.Strings(want)
	for _, p := range []int{1, 2} {
		t.Run(fmt.Sprintf("parallelism%d", p), func(t *testing.T) {
			ctx := context.Background()
			db, err := sluice.Open(sluice.Config{Allocator: mem, Parallelism: p})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Exec(ctx, setup+";\n"+spillLimit+";\nSET batch_size = 256"); err != nil {
				t.Fatal(err)
			}
			rows, err := db.Query(ctx, spillQuery+` EMIT CHANGES`)
			if err == nil {
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			var mle *exec.MemoryLimitError
			if !errors.As(err, &mle) {
				t.Fatalf("without spill_dir: %v, want the memory limit error", err)
			}
			spill := filepath.Join(t.TempDir(), "spill")
			if err := db.Exec(ctx, fmt.Sprintf(`SET spill_dir = '%s'`, spill)); err != nil {
				t.Fatal(err)
			}
			got := foldChanges(t, queryLines(t, db, spillQuery+` EMIT CHANGES`))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("spilled: %d rows, batch %d; first differences:\n%s", len(got), len(want), firstDiff(got, want))
			}
			an := queryLines(t, db, `EXPLAIN ANALYZE `+spillQuery+` EMIT CHANGES`)
			if text := strings.Join(an, "\n"); !strings.Contains(text, "spilled to disk: ") {
				t.Errorf("EXPLAIN ANALYZE does not say the state spilled:\n%s", text)
			}
			if left, err := os.ReadDir(spill); err != nil || len(left) != 0 {
				t.Fatalf("spill directory after the queries: %d entries, %v (want it created, and empty)", len(left), err)
			}
		})
	}
}

// A spilling GROUP BY stopped mid-stream and restarted from its
// checkpoint (groups on disk at the checkpoint included) hands its sink a
// changelog that folds to exactly the batch result, whether every
// checkpoint is full or deltas follow a full one.
func TestSpillCheckpointRestart(t *testing.T) {
	for _, compact := range []int{-1, 0} {
		t.Run(fmt.Sprintf("compact%d", compact), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			dir := t.TempDir()
			setup := spillFiles(t, dir)
			spill := filepath.Join(dir, "spill")
			r := &restartRuns{mem: mem, ckpt: filepath.Join(dir, "ckpt"), sink: "totals", setup: setup, slow: 2 * time.Millisecond,
				compact: compact,
				stmts: []string{`SET batch_size = 256`, spillLimit, fmt.Sprintf(`SET spill_dir = '%s'`, spill),
					`INSERT INTO totals ` + spillQuery + ` EMIT CHANGES`}}
			first := stopWhenSpilled(t, r, spill)
			if err := r.run(context.Background(), 2); err != nil {
				t.Fatalf("restart: %v", err)
			}
			r.checkRestarted(t, first, batchLines(t, mem, setup, spillQuery), "restarted spilling aggregate")
			if left, err := os.ReadDir(spill); err != nil || len(left) != 0 {
				t.Fatalf("spill directory after the runs: %d entries, %v (want it created, and empty)", len(left), err)
			}
		})
	}
}

// stopWhenSpilled runs r at parallelism 2 until a spill store exists
// under spill (so the checkpoint of the stop holds groups on disk),
// stops it, and returns how many rows the sink got.
func stopWhenSpilled(t *testing.T, r *restartRuns, spill string) int {
	t.Helper()
	r.some = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx, 2) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if m, _ := filepath.Glob(filepath.Join(spill, "sluice-spill-*")); len(m) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the first run ended before it spilled: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run never spilled")
		}
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("first run: %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.changes)
}
