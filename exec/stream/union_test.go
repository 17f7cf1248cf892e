package stream

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// TestUnionReader reads two inputs through one UnionReader: batches come
// in arrival order with partitions renumbered per input, a transform that
// drops a batch still delivers it empty (its partition stays active),
// offsets merge per input and split back, and the end is io.EOF once both
// inputs ended.
func TestUnionReader(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	a, b := newScriptReader(0), newScriptReader(2, 3)
	dropAll := func(context.Context, arrow.Record) (arrow.Record, error) { return nil, nil }
	u := NewUnionReader(ctx, []UnionInput{{Reader: a}, {Reader: b, Transforms: []Transform{dropAll}}})
	a.start()
	b.start()
	recA := evRecord(mem, []ev{{ts: 1, k: "x", v: 1}, {ts: 2, k: "y", v: 2}})
	defer recA.Release()
	next := func() exec.Batch {
		t.Helper()
		bt, err := u.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return bt
	}
	a.push(recA, 0)
	got := next()
	if got.Partition != UnionPartition(0, 0) || got.Record.NumRows() != 2 {
		t.Fatalf("batch from input 0: partition %d, %d rows", got.Partition, got.Record.NumRows())
	}
	got.Record.Release()
	b.push(recA, 3)
	got = next()
	if got.Partition != UnionPartition(1, 3) || got.Record.NumRows() != 0 || UnionInputOf(got.Partition) != 1 {
		t.Fatalf("batch from input 1: partition %d, %d rows", got.Partition, got.Record.NumRows())
	}
	got.Record.Release()
	if want := []int32{UnionPartition(0, 0), UnionPartition(1, 2), UnionPartition(1, 3)}; !slices.Equal(u.Partitions(), want) {
		t.Errorf("partitions %v, want %v", u.Partitions(), want)
	}
	offs := u.Offsets()
	if offs["0:p0"] != 2 || offs["1:p3"] != 2 || len(offs) != 2 {
		t.Errorf("offsets %v", offs)
	}
	parts, err := SplitUnionOffsets(offs, 2)
	if err != nil || parts[0]["p0"] != 2 || parts[1]["p3"] != 2 {
		t.Errorf("split %v, %v", parts, err)
	}
	if _, err := SplitUnionOffsets(exec.Offsets{"2:p0": 1}, 2); err == nil {
		t.Error("an offset of a third input split into two")
	}
	a.end()
	b.end()
	if _, err := u.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("after both ends: %v, want io.EOF", err)
	}
	if err := u.Close(); err != nil || !a.closed || !b.closed {
		t.Fatalf("Close: %v, closed %v %v", err, a.closed, b.closed)
	}
}

// TestUnionReaderCloseDrains closes a union whose inputs have batches in
// flight: every record is released (the checked allocator would see a
// leak) and the inputs' goroutines end.
func TestUnionReaderCloseDrains(t *testing.T) {
	mem := checkedMem(t)
	a := newScriptReader(0)
	u := NewUnionReader(context.Background(), []UnionInput{{Reader: a}})
	a.start()
	rec := evRecord(mem, []ev{{ts: 1, k: "x", v: 1}})
	defer rec.Release()
	a.push(rec, 0)
	a.push(rec, 0)
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWindowWatermarkPerUnionInput: over a UNION ALL each input's
// watermark is its own max(ts) − delay and the window closes when the
// minimum over the inputs passes its end.
func TestWindowWatermarkPerUnionInput(t *testing.T) {
	run := func(opts WindowOptions) []string {
		mem := checkedMem(t)
		w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 5 * time.Second}, opts)
		defer w.Close()
		p0, p1 := UnionPartition(0, 0), UnionPartition(1, 0)
		w.SetPartitions([]int32{p0, p1})
		var out []string
		for _, step := range []struct {
			p  int32
			ts int64
		}{{p0, sec(1)}, {p1, sec(2)}, {p0, sec(8)}, {p1, sec(11)}} {
			rec := evRecord(mem, []ev{{ts: step.ts, k: "a", v: 1}})
			res, err := w.Push(context.Background(), rec, step.p)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rowsOf(t, res)...)
			if res != nil {
				res.Release()
			}
		}
		return out
	}
	// Input 0 without delay, input 1 with 5s: after the last row the
	// watermarks are 8s and 6s, so [0s, 5s) closes.
	if got := run(WindowOptions{InputDelays: []time.Duration{0, 5 * time.Second}}); !equalStrings(got, []string{"0|5000|a|2|2"}) {
		t.Errorf("per-input delays: %q", got)
	}
	// One delay of 5s for both: 3s and 6s, nothing closes.
	if got := run(WindowOptions{Delay: 5 * time.Second}); len(got) != 0 {
		t.Errorf("one delay: %q", got)
	}
}
