package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// benchQuery is the measured statement, the same text for every engine
// (only the table name differs).
const benchQuery = "SELECT category, SUM(value) FROM %s GROUP BY category"

// sluiceSQL opens a DB with a file source over path and returns a function
// that runs the benchmark query once through the whole engine (parse,
// plan, scan, aggregate) with parallelism workers and returns the sums.
// CREATE SOURCE (schema inference) is not part of the measured run.
func sluiceSQL(ctx context.Context, mem memory.Allocator, path, format string, parallelism int) (func() (map[string]int64, error), error) {
	db, err := sluice.Open(sluice.Config{Allocator: mem, Parallelism: parallelism})
	if err != nil {
		return nil, err
	}
	ddl := fmt.Sprintf("CREATE SOURCE s WITH (connector = 'file', path = '%s', format = '%s')",
		strings.ReplaceAll(path, "'", "''"), format)
	if err := db.Exec(ctx, ddl); err != nil {
		return nil, fmt.Errorf("create source: %w", err)
	}
	q := fmt.Sprintf(benchQuery, "s")
	return func() (map[string]int64, error) {
		rows, err := db.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		out := map[string]int64{}
		for rows.Next() {
			if err := collect(out, rows.Record()); err != nil {
				rows.Close()
				return nil, err
			}
		}
		err = rows.Err()
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		return out, err
	}, nil
}

// collect adds a (category, sum) record to out.
func collect(out map[string]int64, rec arrow.Record) error {
	if rec.NumCols() != 2 {
		return fmt.Errorf("result has %d columns, want 2", rec.NumCols())
	}
	keys, ok1 := rec.Column(0).(*array.String)
	sums, ok2 := rec.Column(1).(*array.Int64)
	if !ok1 || !ok2 {
		return fmt.Errorf("result types %s, %s; want string, int64", rec.Column(0).DataType(), rec.Column(1).DataType())
	}
	for i := 0; i < keys.Len(); i++ {
		out[keys.Value(i)] = sums.Value(i)
	}
	return nil
}

// memSource is an exec.Source over Arrow records already in memory: the
// embedded API cannot register Go memory as a table yet, so the in-memory
// benchmark drives exec operators directly (Scan → HashAggregate).
type memSource struct {
	schema *arrow.Schema
	recs   []arrow.Record
}

var _ exec.Source = (*memSource)(nil)

func (s *memSource) Schema() *arrow.Schema { return s.schema }
func (s *memSource) Bounded() bool         { return true }

func (s *memSource) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	return &memReader{src: s, cols: spec.Columns}, nil
}

type memReader struct {
	src  *memSource
	cols []int
	i    int
}

func (r *memReader) Next(ctx context.Context) (exec.Batch, error) {
	if r.i >= len(r.src.recs) {
		return exec.Batch{}, io.EOF
	}
	rec := r.src.recs[r.i]
	r.i++
	if r.cols == nil {
		rec.Retain()
		return exec.Batch{Record: rec}, nil
	}
	arrs := make([]arrow.Array, len(r.cols))
	fields := make([]arrow.Field, len(r.cols))
	for i, c := range r.cols {
		arrs[i], fields[i] = rec.Column(c), rec.Schema().Field(c)
	}
	return exec.Batch{Record: array.NewRecord(arrow.NewSchema(fields, nil), arrs, rec.NumRows())}, nil
}

func (r *memReader) Offsets() exec.Offsets { return exec.Offsets{"rows": int64(r.i)} }
func (r *memReader) Partitions() []int32   { return []int32{0} }
func (r *memReader) Close() error          { return nil }

// sluiceArrow runs Scan(memSource) → HashAggregate(category; sum(value))
// once: the plan the SQL path builds, minus parsing and planning.
func sluiceArrow(ctx context.Context, mem memory.Allocator, src *memSource) (map[string]int64, error) {
	scan, err := exec.NewScan(mem, src, exec.ScanSpec{Columns: []int{0, 1}})
	if err != nil {
		return nil, err
	}
	agg, err := exec.NewHashAggregate(mem, scan,
		[]expr.Expr{expr.Column(0, arrow.BinaryTypes.String, "category")}, []string{"category"},
		[]exec.AggCall{{Func: "sum", Arg: expr.Column(1, arrow.PrimitiveTypes.Int64, "value"), Name: "sum"}})
	if err != nil {
		return nil, err
	}
	defer agg.Close()
	if err := agg.Open(ctx); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for {
		rec, err := agg.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		err = collect(out, rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
}
