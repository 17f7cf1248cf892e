package stream

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// temporalOp pushes a record to the input whose schema it has, so a
// temporal join runs as one Operator in checkDeltaChain.
type temporalOp struct{ *TemporalJoin }

func (o temporalOp) Push(ctx context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	side := 0
	if rec.Schema().Field(1).Name == "v" {
		side = 1
	}
	return o.PushSide(ctx, side, rec, 0)
}

// temporalChunks is n chunks of a temporal join's inputs: versions of a
// few keys (replaced, and freed as the watermarks pass) and left rows
// looking them up, event time rising within each input.
func temporalChunks(t *testing.T, mem memory.Allocator, seed int64, n int) [][]arrow.Record {
	rng := rand.New(rand.NewSource(seed))
	chunks := make([][]arrow.Record, n)
	var ts [2]int64
	for i := range chunks {
		for b := rng.Intn(4); b > 0; b-- {
			side := rng.Intn(2)
			var js []string
			for r := 1 + rng.Intn(5); r > 0; r-- {
				ts[side] += int64(rng.Intn(3))
				k := rng.Intn(6)
				if side == 0 {
					js = append(js, fmt.Sprintf(`{"k":%d,"a":%d,"ts":%d}`, k, rng.Intn(100), ts[side]))
				} else {
					js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"vf":%d}`, k, rng.Intn(100), ts[side]))
				}
			}
			chunks[i] = append(chunks[i], fromJSON(t, mem, []*arrow.Schema{temporalLeft, temporalRight}[side], "["+strings.Join(js, ",")+"]"))
		}
	}
	t.Cleanup(func() {
		for _, ch := range chunks {
			releaseAll(ch)
		}
	})
	return chunks
}

// TestTemporalJoinDeltaSnapshots: a temporal join checkpointed as chains
// of deltas restores to its twin's state (same versions, waiting rows
// and watermarks: the same output for the rest of the input).
func TestTemporalJoinDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	for _, kind := range []JoinKind{InnerJoin, LeftJoin} {
		checkDeltaChain(t, func() deltaOperator {
			j, err := NewTemporalJoin(mem, temporalLeft, temporalRight, temporalSpec(kind))
			if err != nil {
				t.Fatal(err)
			}
			return temporalOp{j}
		}, temporalChunks(t, mem, 7, 60), false)
	}
}

// TestTemporalJoinDeltaHoldsOnlyChanges: of a versioned table of 3000
// keys, a delta after a batch changing two of them holds those two keys'
// versions.
func TestTemporalJoinDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	j, err := NewTemporalJoin(mem, temporalLeft, temporalRight, temporalSpec(InnerJoin))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var js []string
	for k := 0; k < 3000; k++ {
		js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"vf":1}`, k, k))
	}
	table := fromJSON(t, mem, temporalRight, "["+strings.Join(js, ",")+"]")
	defer table.Release()
	change := fromJSON(t, mem, temporalRight, `[{"k":7,"v":70,"vf":2},{"k":3001,"v":1,"vf":2}]`)
	defer change.Release()
	push := func(rec arrow.Record) {
		out, err := j.PushSide(ctx, 1, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
	}
	push(table)
	full, err := j.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	push(change)
	data, err := j.SnapshotDelta()
	if err != nil {
		t.Fatal(err)
	}
	var d temporalDelta
	if err := decode(data, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Snap.Versions) != 2 || len(d.Gone) != 0 {
		t.Fatalf("delta holds %d keys' versions and %d gone, want 2 and 0", len(d.Snap.Versions), len(d.Gone))
	}
	if len(data)*20 > len(full) {
		t.Errorf("delta of %d bytes against a full snapshot of %d", len(data), len(full))
	}
}
