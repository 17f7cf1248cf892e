// Package memtable is an in-memory table (CREATE TABLE): a source that
// scans the rows committed so far and a sink that appends to them
// (INSERT INTO, CREATE TABLE … AS).
package memtable

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
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
	name   string
	cons   Constraints

	mu   sync.Mutex
	recs []arrow.Record // committed, never modified
	rows int64
	keys map[string]bool // encoded PRIMARY KEY values of the committed rows
}

// Constraints are a table's declared column rules, checked on every
// write: an INSERT that breaks one fails whole (nothing of it is
// committed), as in DuckDB.
type Constraints struct {
	// NotNull and Unsigned are indexed by column (nil: none).
	NotNull, Unsigned []bool
	// Key are the PRIMARY KEY columns: NOT NULL, and no two rows share
	// their values.
	Key []int
}

var (
	_ exec.Source = (*Table)(nil)
	_ exec.Sink   = Sink{}
)

// New returns an empty table of schema.
func New(schema *arrow.Schema) *Table {
	return &Table{schema: schema, mem: memory.NewGoAllocator()}
}

// NewConstrained returns an empty table of schema named name (for
// messages) whose writes are checked against c.
func NewConstrained(name string, schema *arrow.Schema, c Constraints) *Table {
	t := New(schema)
	t.name, t.cons = name, c
	if len(c.Key) > 0 {
		t.keys = map[string]bool{}
	}
	return t
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
	rows    int64           // rows written so far, for messages
	keys    map[string]bool // keys of the pending rows
}

func (w *writer) Write(_ context.Context, rec arrow.Record) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if err := w.check(rec); err != nil {
		return err
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
	for k := range w.keys {
		if w.t.keys[k] { // committed by a concurrent INSERT since check
			return constraintErrorf("table %s: duplicate PRIMARY KEY %s", w.t.name, k)
		}
	}
	for k := range w.keys {
		w.t.keys[k] = true
	}
	w.keys = nil
	for _, r := range w.pending {
		w.t.recs = append(w.t.recs, r)
		w.t.rows += r.NumRows()
	}
	w.pending = nil
	return nil
}

// check applies the table's constraints to rec, whose rows follow the
// w.rows written before; row numbers in messages count from 1 in the
// statement's result.
func (w *writer) check(rec arrow.Record) error {
	t := w.t
	defer func() { w.rows += rec.NumRows() }()
	col := func(i int) string { return t.schema.Field(i).Name }
	for i := 0; i < int(rec.NumCols()); i++ {
		a := rec.Column(i)
		notNull := (i < len(t.cons.NotNull) && t.cons.NotNull[i]) || slices.Contains(t.cons.Key, i)
		if notNull && a.NullN() > 0 {
			for r := 0; r < a.Len(); r++ {
				if a.IsNull(r) {
					return constraintErrorf("table %s: column %s is NOT NULL, but row %d written is NULL", t.name, col(i), w.rows+int64(r)+1)
				}
			}
		}
		if i < len(t.cons.Unsigned) && t.cons.Unsigned[i] {
			for r := 0; r < a.Len(); r++ {
				if a.IsValid(r) && exec.Negative(a, r) {
					return constraintErrorf("table %s: column %s is UNSIGNED, but row %d written has %s", t.name, col(i), w.rows+int64(r)+1, a.ValueStr(r))
				}
			}
		}
	}
	if len(t.cons.Key) == 0 {
		return nil
	}
	if w.keys == nil {
		w.keys = map[string]bool{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, len(t.cons.Key))
	for j, k := range t.cons.Key {
		names[j] = col(k)
	}
	vals := make([]string, len(t.cons.Key))
	for r := 0; r < int(rec.NumRows()); r++ {
		for j, k := range t.cons.Key {
			a := rec.Column(k)
			if _, ok := a.(*array.String); ok {
				vals[j] = strconv.Quote(a.ValueStr(r))
			} else {
				vals[j] = a.ValueStr(r)
			}
		}
		key := "(" + strings.Join(names, ", ") + ") = (" + strings.Join(vals, ", ") + ")"
		if t.keys[key] || w.keys[key] {
			return constraintErrorf("table %s: duplicate PRIMARY KEY %s at row %d written", t.name, key, w.rows+int64(r)+1)
		}
		w.keys[key] = true
	}
	return nil
}

// ConstraintError is a write that breaks a table's constraint: a data
// error (exec/expr's DataError), whose message is complete for the user.
type ConstraintError struct{ Msg string }

// Error implements error.
func (e *ConstraintError) Error() string { return e.Msg }

// DataError marks a data error.
func (e *ConstraintError) DataError() {}

func constraintErrorf(format string, args ...any) error {
	return &ConstraintError{Msg: fmt.Sprintf(format, args...)}
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
