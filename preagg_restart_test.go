package sluice_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// A GROUP BY the planner pre-aggregates (each batch folded into partial
// rows on the goroutine that decoded it, the partial rows merged by two
// key-partitioned instances), stopped mid-stream and restarted from its
// checkpoint, hands its sink a changelog that folds to exactly what an
// uninterrupted run's folds to, and to the batch result: the checkpoint
// holds the merged state and the offsets of the rows whose partial rows
// were merged, never of rows a decoder had read ahead.
func TestPreAggregatedCheckpointRestart(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	for f := range 3 {
		var b strings.Builder
		b.WriteString("category,value,price\n")
		for i := range 3000 {
			v := fmt.Sprint((i*31+f*7)%997 - 400)
			if i%211 == 17 {
				v = "bad" // skipped: on_error = 'skip'
			}
			fmt.Fprintf(&b, "c%d,%s,%d.%02d\n", (i*7+f)%29, v, i%90, (i*13)%100)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.csv", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setup := fmt.Sprintf(`CREATE SOURCE f (category VARCHAR, value BIGINT, price DECIMAL(10, 2)) WITH (connector = 'file', path = '%s', format = 'csv', on_error = 'skip')`,
		filepath.Join(dir, "part-*.csv"))
	query := `SELECT category, COUNT(*) AS n, SUM(value) AS total, MIN(value) AS lo, MAX(price) AS hi, AVG(price) AS mean FROM f GROUP BY category`
	want := batchLines(t, mem, setup, query)

	db, err := sluice.Open(sluice.Config{Allocator: mem, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(context.Background(), setup); err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(queryLines(t, db, "EXPLAIN "+query+" EMIT CHANGES"), "\n")
	db.Close()
	if !strings.Contains(plan, "pre-aggregated per batch") || !strings.Contains(plan, "decoded in morsels by up to parallelism goroutines") {
		t.Fatalf("at parallelism 2 the query is not pre-aggregated on the goroutines decoding the files:\n%s", plan)
	}

	stmts := []string{`SET batch_size = 64`, `INSERT INTO totals ` + query + ` EMIT CHANGES`}
	whole := &restartRuns{mem: mem, ckpt: filepath.Join(dir, "ckpt-whole"), sink: "totals", setup: setup, stmts: stmts}
	if err := whole.run(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	uninterrupted := foldChanges(t, whole.changes)
	if strings.Join(uninterrupted, "\n") != strings.Join(foldChanges(t, want), "\n") {
		t.Fatalf("uninterrupted run: first differences from the batch result:\n%s", firstDiff(uninterrupted, foldChanges(t, want)))
	}

	r := &restartRuns{mem: mem, ckpt: filepath.Join(dir, "ckpt"), sink: "totals", setup: setup, slow: 2 * time.Millisecond, stmts: stmts}
	first := r.stopMidStream(t, 2, 100*time.Millisecond)
	if err := r.run(context.Background(), 2); err != nil {
		t.Fatalf("restart: %v", err)
	}
	r.checkRestarted(t, first, uninterrupted, "restarted pre-aggregated GROUP BY")
}
