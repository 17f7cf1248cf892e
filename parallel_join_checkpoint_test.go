package sluice_test

import (
	"context"
	"errors"
	"fmt"
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

// Streaming joins run as 4 key-partitioned instances (each its own
// checkpoint part, beside the part of the gate that tracks the inputs'
// watermarks), stopped mid-stream and restarted from the checkpoint, hand
// their sink rows that fold to exactly the batch join: every instance
// resumes its own rows, the gate its watermarks, every source its
// offsets. A restart at another parallelism is refused.
func TestParallelJoinCheckpointRestart(t *testing.T) {
	setup := `
CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '10', seed = '11');
CREATE SOURCE b (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'generator', rows_per_second = '2000', max_rows = '4000', categories = '10', seed = '12');`
	for _, tc := range []struct{ name, query string }{
		{"interval", `SELECT a.category, a.value, b.value AS v2, a.ts FROM a JOIN b ON a.category = b.category AND b.ts BETWEEN a.ts - INTERVAL '0.002' SECOND AND a.ts`},
		{"regular left", `SELECT a.category, a.value, a.ts, b.ts AS t2 FROM a LEFT JOIN b ON a.category = b.category AND a.value = b.value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			ckpt := filepath.Join(t.TempDir(), "ckpt")
			insert := `INSERT INTO joined ` + tc.query + ` EMIT CHANGES`
			var mu sync.Mutex
			var changes []string
			someOutput := make(chan struct{}, 1)
			run := func(ctx context.Context, parallelism int) error {
				db, err := sluice.Open(sluice.Config{Allocator: mem, CheckpointDir: ckpt, Parallelism: parallelism})
				if err != nil {
					return err
				}
				defer db.Close()
				err = db.RegisterSink("joined", func(_ context.Context, rec arrow.Record) error {
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
			count := map[string]int{}
			for _, c := range changes {
				op, row, _ := strings.Cut(c, "\t")
				switch op {
				case "+I", "+U":
					count[row]++
				case "-U", "-D":
					count[row]--
				default:
					count[c]++ // append-only: no op column
				}
			}
			var got []string
			for row, n := range count {
				if n < 0 {
					t.Fatalf("row %s folds to %d copies", row, n)
				}
				for ; n > 0; n-- {
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
			want := queryLines(t, db, tc.query)
			sort.Strings(got)
			sort.Strings(want)
			if first == 0 || first == len(changes) {
				t.Fatalf("first run %d rows of %d: the restart did not continue a stopped run", first, len(changes))
			}
			if len(want) < 100 {
				t.Fatalf("the batch join has only %d rows: a vacuous case", len(want))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("restarted parallel join: %d rows, batch %d; first differences:\n%s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
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
	return fmt.Sprint(strings.Join(out, "\n"))
}
