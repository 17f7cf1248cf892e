package stream

import (
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// A crash between saving checkpoint n and committing the sink's
// transaction n leaves the sink at n-1: RestoreMatching goes back to the
// previous checkpoint, so the interval is recomputed rather than lost.
func TestRestoreMatchingPicksTheCheckpointTheSinkCommitted(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	for i, offs := range []exec.Offsets{{"t/0": 10}, {"t/0": 20}} {
		if err := ck.Save(Checkpoint{Seq: int64(i + 1), Offsets: map[string]exec.Offsets{PipelineSource: offs}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		committed exec.Offsets
		want      int64
	}{
		{"sink committed the newest", exec.Offsets{"t/0": 20}, 20},
		{"crash before the sink commit", exec.Offsets{"t/0": 10}, 10},
		{"sink cannot tell", nil, 20},
		{"neither matches: newest", exec.Offsets{"t/0": 5}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NewCheckpointer(dir, 0, 0).RestoreMatching(nil, tc.committed)
			if err != nil {
				t.Fatal(err)
			}
			if got["t/0"] != tc.want {
				t.Fatalf("resumed from %v, want t/0=%d", got, tc.want)
			}
		})
	}
}
