package sluice_test

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// A streaming UNION ALL of two sources into a file sink, cancelled
// mid-stream and restarted from its checkpoint, writes every input row
// exactly once: the checkpoint holds each input's own offsets and the
// restart resumes each input from them.
func TestUnionCheckpointRestartExactlyOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	out := filepath.Join(dir, "out") + "/"
	ckpt := filepath.Join(dir, "ckpt")
	setup := `
CREATE SOURCE a (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '3000', max_rows = '6000', categories = '3', seed = '11');
CREATE SOURCE b (category VARCHAR, value BIGINT, ts TIMESTAMP)
  WITH (connector = 'generator', rows_per_second = '2000', max_rows = '4000', categories = '5', seed = '12');
CREATE SINK both WITH (connector = 'file', path = '` + out + `', format = 'csv');`
	insert := `INSERT INTO both SELECT 'a' AS src, category, value, ts FROM a UNION ALL SELECT 'b', category, value, ts FROM b WHERE value > 0 EMIT CHANGES`

	run := checkpointedRun(mem, ckpt, setup, insert)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	if !waitForParts(out, 1, 30*time.Second) {
		cancel()
		<-done
		t.Fatal("no output committed by the first run")
	}
	cancel()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("first run: %v", err)
	}
	if err := run(context.Background()); err != nil {
		t.Fatalf("restart: %v", err)
	}

	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Exec(context.Background(), setup+`
CREATE SOURCE back (src VARCHAR, category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '`+out+`', format = 'csv');`); err != nil {
		t.Fatal(err)
	}
	got := queryLines(t, db, `SELECT src, category, value, ts FROM back`)
	want := queryLines(t, db, `SELECT 'a', category, value, ts FROM a UNION ALL SELECT 'b', category, value, ts FROM b WHERE value > 0`)
	sort.Strings(got)
	sort.Strings(want)
	if len(want) < 9000 {
		t.Fatalf("batch union has %d rows: the test reads too little", len(want))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("restarted union wrote %d rows, the inputs hold %d (first got %v, want %v)", len(got), len(want), head(got), head(want))
	}
}
