package sluice_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
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
			r := &restartRuns{mem: mem, ckpt: filepath.Join(t.TempDir(), "ckpt"), sink: "joined", setup: setup,
				stmts: []string{`INSERT INTO joined ` + tc.query + ` EMIT CHANGES`}}
			first := r.stopMidStream(t, 4, 300*time.Millisecond) // mid-stream: the sources run ~2 s
			err := r.run(context.Background(), 2)
			if err == nil || !strings.Contains(err.Error(), "parallelism") {
				t.Fatalf("restart at parallelism 2 from a checkpoint of 4: %v, want a refusal naming the parallelism", err)
			}
			if err := r.run(context.Background(), 4); err != nil {
				t.Fatalf("restart: %v", err)
			}
			want := batchLines(t, mem, setup, tc.query)
			if len(want) < 100 {
				t.Fatalf("the batch join has only %d rows: a vacuous case", len(want))
			}
			r.checkRestarted(t, first, want, "restarted parallel join")
		})
	}
}
