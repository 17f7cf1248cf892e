package stream

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestOverAggregateDeltaSnapshots: an OVER aggregate (a RANGE frame over
// keys that come and go idle, so history is added, trimmed and swept)
// checkpointed as chains of deltas restores to its twin's state: the
// same rows held and the same output for the rest of the input.
func TestOverAggregateDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(11))
	chunks := make([][]arrow.Record, 60)
	ts := 0
	for i := range chunks {
		var js []string
		for r := rng.Intn(8); r > 0; r-- {
			ts += rng.Intn(2)
			// Keys 0-2 often, 3-9 now and then: those go idle and are swept.
			k := rng.Intn(3)
			if rng.Intn(4) == 0 {
				k = 3 + rng.Intn(7)
			}
			js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"ts":%d}`, k, rng.Intn(10), ts))
		}
		if len(js) > 0 {
			rec := fromJSON(t, mem, overIn, "["+strings.Join(js, ",")+"]")
			chunks[i] = cut(rec, 1+rng.Intn(4))
			rec.Release()
		}
	}
	defer func() {
		for _, ch := range chunks {
			releaseAll(ch)
		}
	}()
	checkDeltaChain(t, func() deltaOperator {
		o, err := NewOverAggregate(mem, overIn, overSpec(t))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}, chunks, false)
}

// TestOverAggregateDeltaHoldsOnlyChanges: of 3000 keys' history, a delta
// after a batch with a row of one key holds that key's history (and the
// keys the watermark swept).
func TestOverAggregateDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	spec := overSpec(t)
	spec.Range = 1 << 40 // nothing is swept: every key stays
	o, err := NewOverAggregate(mem, overIn, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	push := func(js string) {
		rec := fromJSON(t, mem, overIn, js)
		defer rec.Release()
		out, err := o.Push(ctx, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
	}
	var js []string
	for k := 0; k < 3000; k++ {
		js = append(js, fmt.Sprintf(`{"k":%d,"v":1,"ts":%d}`, k, k))
	}
	push("[" + strings.Join(js, ",") + "]")
	push(`[{"k":7,"v":2,"ts":3000}]`) // lets the 3000 rows out into the history
	full, err := o.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	push(`[{"k":7,"v":3,"ts":3001}]`)
	data, err := o.SnapshotDelta()
	if err != nil {
		t.Fatal(err)
	}
	var d overDelta
	if err := decode(data, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Snap.History) != 1 || len(d.Gone) != 0 {
		t.Fatalf("delta holds %d keys' history and %d gone, want 1 and 0", len(d.Snap.History), len(d.Gone))
	}
	if len(data)*20 > len(full) {
		t.Errorf("delta of %d bytes against a full snapshot of %d", len(data), len(full))
	}
}
