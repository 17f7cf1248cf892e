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
)

// A keyed aggregate over a UNION ALL of two sources, run as 4
// key-partitioned instances (each with its own checkpoint part), stopped
// mid-stream and restarted from its checkpoint, hands its sink a changelog
// that folds to exactly the batch result: every instance resumes its own
// groups and every source its own offsets. A restart at another
// parallelism is refused rather than fed state partitioned for 4.
func TestParallelCheckpointRestartTwoSources(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ckpt := filepath.Join(t.TempDir(), "ckpt")
	setup := `
CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '9', seed = '11');
CREATE SOURCE b (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '2000', max_rows = '4000', categories = '13', seed = '12');`
	query := `SELECT category, COUNT(*) AS n, SUM(value) AS total FROM (SELECT category, value FROM a UNION ALL SELECT category, value FROM b WHERE value > 0) u GROUP BY category`
	insert := `INSERT INTO totals ` + query + ` EMIT CHANGES`

	var mu sync.Mutex
	var changes []string
	someOutput := make(chan struct{}, 1)
	run := func(ctx context.Context, parallelism int) error {
		db, err := sluice.Open(sluice.Config{Allocator: mem, CheckpointDir: ckpt, Parallelism: parallelism})
		if err != nil {
			return err
		}
		defer db.Close()
		err = db.RegisterSink("totals", func(_ context.Context, rec arrow.Record) error {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, renderRecord(rec)...)
			select {
			case someOutput <- struct{}{}:
			default:
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := db.Exec(context.Background(), setup); err != nil {
			return err
		}
		return db.Exec(ctx, insert)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, 4) }()
	select {
	case <-someOutput:
	case <-time.After(30 * time.Second):
		t.Fatal("no output from the first run")
	}
	time.Sleep(300 * time.Millisecond) // mid-stream: the sources run ~2 s
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("first run: %v", err)
	}
	mu.Lock()
	first := len(changes)
	mu.Unlock()

	err := run(context.Background(), 2)
	if err == nil || !strings.Contains(err.Error(), "parallelism") {
		t.Fatalf("restart at parallelism 2 from a checkpoint of 4: %v, want a refusal naming the parallelism", err)
	}
	if err := run(context.Background(), 4); err != nil {
		t.Fatalf("restart: %v", err)
	}

	// Fold the changelog (op first) into the table it describes.
	count := map[string]int{}
	for _, c := range changes {
		op, row, _ := strings.Cut(c, "\t")
		switch op {
		case "+I", "+U":
			count[row]++
		case "-U", "-D":
			count[row]--
		default:
			t.Fatalf("change %q has no op", c)
		}
	}
	var got []string
	for row, n := range count {
		if n < 0 || n > 1 {
			t.Fatalf("row %s folds to %d copies (first run %d changes)", row, n, first)
		}
		if n == 1 {
			got = append(got, row)
		}
	}
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), setup); err != nil {
		t.Fatal(err)
	}
	want := queryLines(t, db, query)
	sort.Strings(got)
	sort.Strings(want)
	if first == 0 || first == len(changes) {
		t.Fatalf("first run %d changes of %d: the restart did not continue a stopped run", first, len(changes))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restarted parallel aggregate folds to\n%s\nbatch:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
	ckpt := filepath.Join(dir, "ckpt")
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

	var mu sync.Mutex
	var changes []string
	someOutput := make(chan struct{}, 1)
	run := func(ctx context.Context) error {
		db, err := sluice.Open(sluice.Config{Allocator: mem, CheckpointDir: ckpt, Parallelism: 2})
		if err != nil {
			return err
		}
		defer db.Close()
		err = db.RegisterSink("totals", func(_ context.Context, rec arrow.Record) error {
			time.Sleep(2 * time.Millisecond) // a slow sink: the first run stops mid-scan
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, renderRecord(rec)...)
			select {
			case someOutput <- struct{}{}:
			default:
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := db.Exec(context.Background(), setup); err != nil {
			return err
		}
		if err := db.Exec(ctx, `SET batch_size = 64`); err != nil {
			return err
		}
		return db.Exec(ctx, `INSERT INTO totals `+query+` EMIT CHANGES`)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	select {
	case <-someOutput:
	case <-time.After(30 * time.Second):
		t.Fatal("no output from the first run")
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("first run: %v", err)
	}
	mu.Lock()
	first := len(changes)
	mu.Unlock()
	if err := run(context.Background()); err != nil {
		t.Fatalf("restart: %v", err)
	}
	got := foldChanges(t, changes)
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), setup); err != nil {
		t.Fatal(err)
	}
	want := queryLines(t, db, query)
	sort.Strings(want)
	if first == 0 || first == len(changes) {
		t.Fatalf("first run %d changes of %d: the restart did not continue a stopped run", first, len(changes))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restarted parallel scan and aggregate fold to\n%s\nbatch:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// foldChanges folds a changelog (op first, then the row) into the sorted
// rows of the table it describes, failing on a row held twice or
// retracted more often than inserted.
func foldChanges(t *testing.T, changes []string) []string {
	t.Helper()
	count := map[string]int{}
	for _, c := range changes {
		op, row, _ := strings.Cut(c, "\t")
		switch op {
		case "+I", "+U":
			count[row]++
		case "-U", "-D":
			count[row]--
		default:
			t.Fatalf("change %q has no op", c)
		}
	}
	var got []string
	for row, n := range count {
		if n < 0 || n > 1 {
			t.Fatalf("row %s folds to %d copies", row, n)
		}
		if n == 1 {
			got = append(got, row)
		}
	}
	sort.Strings(got)
	return got
}
