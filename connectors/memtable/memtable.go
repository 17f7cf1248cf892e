// Package memtable is an in-memory table (CREATE TABLE): a source that
// scans the rows committed so far and a sink that appends to them
// (INSERT INTO, CREATE TABLE … AS).
package memtable

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Table holds rows in memory. Its rows are copied into its own allocator
// when committed, so they outlive the query that wrote them and the
// query's allocator sees every buffer it made released. Safe for
// concurrent scans and writes: a scan reads the rows committed when it
// opened.
type Table struct {
	schema *arrow.Schema
	mem    memory.Allocator

	mu   sync.Mutex
	recs []arrow.Record // committed, never modified
	rows int64
}

var (
	_ exec.Source = (*Table)(nil)
	_ exec.Sink   = Sink{}
)

// New returns an empty table of schema.
func New(schema *arrow.Schema) *Table {
	return &Table{schema: schema, mem: memory.NewGoAllocator()}
}

// Schema implements exec.Source.
func (t *Table) Schema() *arrow.Schema { return t.schema }

// Bounded implements exec.Source: a scan ends after the committed rows.
func (t *Table) Bounded() bool { return true }

// Rows is the number of committed rows.
func (t *Table) Rows() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rows
}

// Open implements exec.Source.
func (t *Table) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	cols := spec.Columns
	if cols == nil {
		cols = make([]int, t.schema.NumFields())
		for i := range cols {
			cols[i] = i
		}
	}
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c < 0 || c >= t.schema.NumFields() {
			return nil, fmt.Errorf("table: no column %d", c)
		}
		fs[i] = t.schema.Field(c)
	}
	size := spec.BatchSize
	if size <= 0 {
		size = exec.DefaultBatchSize
	}
	t.mu.Lock()
	recs := append([]arrow.Record(nil), t.recs...)
	for _, r := range recs {
		r.Retain()
	}
	t.mu.Unlock()
	return &reader{recs: recs, cols: cols, schema: arrow.NewSchema(fs, nil), size: int64(size)}, nil
}

// reader scans a snapshot of the committed records.
type reader struct {
	recs   []arrow.Record
	cols   []int
	schema *arrow.Schema
	size   int64
	i      int   // current record
	off    int64 // next row in it
	read   int64 // rows returned
}

func (r *reader) Next(ctx context.Context) (exec.Batch, error) {
	if err := ctx.Err(); err != nil {
		return exec.Batch{}, err
	}
	for r.i < len(r.recs) && r.off >= r.recs[r.i].NumRows() {
		r.i++
		r.off = 0
	}
	if r.i >= len(r.recs) {
		return exec.Batch{}, io.EOF
	}
	rec := r.recs[r.i]
	end := min(r.off+r.size, rec.NumRows())
	arrs := make([]arrow.Array, len(r.cols))
	for k, c := range r.cols {
		arrs[k] = array.NewSlice(rec.Column(c), r.off, end)
	}
	out := array.NewRecord(r.schema, arrs, end-r.off)
	for _, a := range arrs {
		a.Release()
	}
	r.read += end - r.off
	r.off = end
	return exec.Batch{Record: out}, nil
}

func (r *reader) Offsets() exec.Offsets { return exec.Offsets{"0": r.read} }

func (r *reader) Partitions() []int32 { return []int32{0} }

func (r *reader) Close() error {
	for _, rec := range r.recs {
		rec.Release()
	}
	r.recs = nil
	return nil
}

// Sink is the writing side of a Table (INSERT INTO).
type Sink struct{ t *Table }

// Sink returns the table's sink.
func (t *Table) Sink() Sink { return Sink{t: t} }

// Open implements exec.Sink: a writer whose rows join the table at
// Commit. The table takes appends only, in its own column types.
func (s Sink) Open(_ context.Context, _ memory.Allocator, schema *arrow.Schema, mode exec.SinkMode) (exec.SinkWriter, error) {
	if mode.Changelog {
		return nil, fmt.Errorf("an in-memory table takes appended rows only, not a changelog (drop the EMIT clause or use EMIT FINAL)")
	}
	t := s.t
	if schema.NumFields() != t.schema.NumFields() {
		return nil, fmt.Errorf("the table has %d columns but the query produces %d", t.schema.NumFields(), schema.NumFields())
	}
	for i, f := range schema.Fields() {
		if !arrow.TypeEqual(f.Type, t.schema.Field(i).Type) {
			return nil, fmt.Errorf("column %s is %s but the query gives %s", t.schema.Field(i).Name, t.schema.Field(i).Type, f.Type)
		}
	}
	return &writer{t: t}, nil
}

// writer stages copies of the written records until Commit.
type writer struct {
	t       *Table
	pending []arrow.Record
}

func (w *writer) Write(_ context.Context, rec arrow.Record) error {
	if rec.NumRows() == 0 {
		return nil
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		c, err := array.Concatenate([]arrow.Array{rec.Column(i)}, w.t.mem)
		if err != nil {
			for _, p := range cols[:i] {
				p.Release()
			}
			return err
		}
		cols[i] = c
	}
	out := array.NewRecord(w.t.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	w.pending = append(w.pending, out)
	return nil
}

func (w *writer) Commit(context.Context, exec.Offsets) error {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	for _, r := range w.pending {
		w.t.recs = append(w.t.recs, r)
		w.t.rows += r.NumRows()
	}
	w.pending = nil
	return nil
}

func (w *writer) Close() error {
	for _, r := range w.pending {
		r.Release()
	}
	w.pending = nil
	return nil
}

var _ exec.AppendOnlySink = Sink{}

// AppendOnly implements exec.AppendOnlySink: a table keeps appended rows
// and takes no updates.
func (Sink) AppendOnly() bool { return true }
