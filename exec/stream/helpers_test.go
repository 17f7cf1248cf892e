package stream

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// batchSizes are the batch sizes results must not depend on.
var batchSizes = []int{1, 3, 1024}

func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// fromJSON builds a record; the caller releases it.
func fromJSON(t testing.TB, mem memory.Allocator, schema *arrow.Schema, js string) arrow.Record {
	t.Helper()
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(js))
	if err != nil {
		t.Fatalf("RecordFromJSON: %v", err)
	}
	return rec
}

// cut cuts rec into batches of n rows; the caller releases them.
func cut(rec arrow.Record, n int) []arrow.Record {
	var out []arrow.Record
	for i := int64(0); i < rec.NumRows(); i += int64(n) {
		out = append(out, rec.NewSlice(i, min(i+int64(n), rec.NumRows())))
	}
	return out
}

// col is expr.Column of schema field i.
func col(s *arrow.Schema, i int) Expr {
	return expr.Column(i, s.Field(i).Type, s.Field(i).Name)
}

// rowsOf renders a record's rows as strings ("a|b|c") for comparisons.
func rowsOf(t testing.TB, rec arrow.Record) []string {
	t.Helper()
	if rec == nil {
		return nil
	}
	rows, err := readRows(rec)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = renderRow(rec.Schema(), r)
	}
	return out
}

func renderRow(s *arrow.Schema, r []Value) string {
	parts := make([]string, len(r))
	for i, v := range r {
		if i == 0 && IsChangelog(s) {
			parts[i] = exec.Op(v.I).String()
			continue
		}
		if v.K == KFloat {
			parts[i] = fmt.Sprintf("%.6g", v.F)
			continue
		}
		parts[i] = v.String()
	}
	return strings.Join(parts, "|")
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pushAll pushes batches through op (one partition) then finishes it when
// finish is set, returning all output rows rendered.
func pushAll(t testing.TB, op Operator, batches []arrow.Record, finish bool) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, b := range batches {
		rec, err := op.Push(ctx, b, 0)
		if err != nil {
			t.Fatalf("Push: %v", err)
		}
		out = append(out, rowsOf(t, rec)...)
		if rec != nil {
			rec.Release()
		}
	}
	if finish {
		rec, err := op.Finish(ctx)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		out = append(out, rowsOf(t, rec)...)
		if rec != nil {
			rec.Release()
		}
	}
	return out
}

// scriptReader is a SourceReader fed by the test: push hands it one batch
// and returns once the driver has taken it and asked for the next, so a
// test knows the batch has arrived before it moves the clock.
type scriptReader struct {
	ch     chan exec.Batch
	asked  chan struct{}
	mu     sync.Mutex
	rows   map[int32]int64
	parts  []int32
	closed bool
}

func newScriptReader(parts ...int32) *scriptReader {
	if len(parts) == 0 {
		parts = []int32{0}
	}
	return &scriptReader{ch: make(chan exec.Batch), asked: make(chan struct{}, 1<<16), rows: map[int32]int64{}, parts: parts}
}

func (r *scriptReader) Next(ctx context.Context) (exec.Batch, error) {
	r.asked <- struct{}{}
	select {
	case b, ok := <-r.ch:
		if !ok {
			return exec.Batch{}, io.EOF
		}
		r.mu.Lock()
		r.rows[b.Partition] += b.Record.NumRows()
		r.mu.Unlock()
		return b, nil
	case <-ctx.Done():
		return exec.Batch{}, ctx.Err()
	}
}

// start waits for the driver's first Next.
func (r *scriptReader) start() { <-r.asked }

// push hands rec (retained for the driver) from partition p and waits
// until the driver took it.
func (r *scriptReader) push(rec arrow.Record, p int32) {
	rec.Retain()
	r.ch <- exec.Batch{Record: rec, Partition: p}
	<-r.asked
}

// end makes the next Next return io.EOF.
func (r *scriptReader) end() { close(r.ch) }

func (r *scriptReader) Offsets() exec.Offsets {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := exec.Offsets{}
	for p, n := range r.rows {
		o[fmt.Sprintf("p%d", p)] = n
	}
	return o
}

func (r *scriptReader) Partitions() []int32 { return r.parts }

func (r *scriptReader) Close() error { r.closed = true; return nil }

// collector is a sink callback gathering rendered rows.
type collector struct {
	mu   sync.Mutex
	rows []string
	recs chan []string
}

func newCollector() *collector { return &collector{recs: make(chan []string, 1024)} }

func (c *collector) emit(t testing.TB) func(context.Context, arrow.Record) error {
	return func(_ context.Context, rec arrow.Record) error {
		rows := rowsOf(t, rec)
		c.mu.Lock()
		c.rows = append(c.rows, rows...)
		c.mu.Unlock()
		c.recs <- rows
		return nil
	}
}

func (c *collector) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.rows...)
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
