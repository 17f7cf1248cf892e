package stream

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// clOverKernel is a window function over clSchema's values (k, v): each
// row with the number of rows of its key (COUNT(*) OVER (PARTITION BY k)),
// so a change to a key rewrites every output row of that key.
func clOverKernel(t *testing.T) (func(context.Context, arrow.Record) ([]arrow.Record, error), *arrow.Schema) {
	mem := checkedMem(t)
	out := arrow.NewSchema(append(DropOp(clSchema).Fields(), arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64}), nil)
	return func(_ context.Context, rec arrow.Record) ([]arrow.Record, error) {
		rows, err := readRows(rec)
		if err != nil {
			return nil, err
		}
		n := map[string]int64{}
		for _, r := range rows {
			n[r[0].S]++
		}
		var res [][]Value
		for _, r := range rows {
			res = append(res, append(append([]Value(nil), r...), Int(n[r[0].S])))
		}
		rb := array.NewRecordBuilder(mem, out)
		defer rb.Release()
		o, err := buildRecord(rb, res)
		if err != nil {
			return nil, err
		}
		return []arrow.Record{o}, nil
	}, out
}

// TestOverChangelogDeltaSnapshots: an OVER aggregate over a changelog
// (rows inserted and retracted, keys emptied and refilled) checkpointed
// as chains of deltas restores to its twin's state: the same rows held,
// and the same changes for the rest of the input.
func TestOverChangelogDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	kernel, out := clOverKernel(t)
	chunks := changelogChunks(t, mem, 17, 60)
	defer func() {
		for _, ch := range chunks {
			releaseAll(ch)
		}
	}()
	checkDeltaChain(t, func() deltaOperator {
		o, err := NewOverChangelog(mem, clSchema, []int{0}, kernel, out)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}, chunks, false)
}

// TestOverChangelogDeltaHoldsOnlyChanges: of 2000 keys' live rows, a
// delta after a change to one key holds that key only, and after a key
// lost its last row, only that it is gone.
func TestOverChangelogDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	kernel, out := clOverKernel(t)
	o, err := NewOverChangelog(mem, clSchema, []int{0}, kernel, out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	push := func(js string) {
		rec := fromJSON(t, mem, clSchema, js)
		defer rec.Release()
		res, err := o.Push(ctx, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if res != nil {
			res.Release()
		}
	}
	js := "["
	for k := 0; k < 2000; k++ {
		if k > 0 {
			js += ","
		}
		js += fmt.Sprintf(`{"op":0,"k":"k%d","v":%d}`, k, k)
	}
	push(js + "]")
	full, err := o.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	push(`[{"op":0,"k":"k7","v":1}]`)
	d, err := o.SnapshotDelta()
	if err != nil {
		t.Fatal(err)
	}
	var got overChangelogDelta
	if err := decode(d, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Parts) != 1 || len(got.Gone) != 0 || len(d)*50 > len(full) {
		t.Fatalf("delta after one key's change: %d partitions, %d gone, %d bytes (full %d)", len(got.Parts), len(got.Gone), len(d), len(full))
	}
	if d, err := o.SnapshotDelta(); err != nil || d != nil {
		t.Fatalf("delta with nothing changed: %d bytes, %v", len(d), err)
	}
	push(`[{"op":3,"k":"k9","v":9}]`)
	if d, err = o.SnapshotDelta(); err != nil {
		t.Fatal(err)
	}
	got = overChangelogDelta{}
	if err := decode(d, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Parts) != 0 || len(got.Gone) != 1 {
		t.Fatalf("delta after a key emptied: %d partitions, gone %v", len(got.Parts), got.Gone)
	}
}
