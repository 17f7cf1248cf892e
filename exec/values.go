package exec

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Values produces literal rows (SQL VALUES, SELECT without FROM). Each
// expression is evaluated over a one-row record with no columns, so it
// must be constant.
type Values struct {
	mem    memory.Allocator
	schema *arrow.Schema
	rows   [][]expr.Expr
	done   bool
	once   lifecycle
}

var _ Operator = (*Values)(nil)

// NewValues returns an operator producing rows, each with one expression
// per schema field of the field's type.
func NewValues(mem memory.Allocator, schema *arrow.Schema, rows [][]expr.Expr) (*Values, error) {
	for r, row := range rows {
		if len(row) != schema.NumFields() {
			return nil, fmt.Errorf("values: row %d has %d values, want %d", r, len(row), schema.NumFields())
		}
		for c, e := range row {
			if !arrow.TypeEqual(e.DataType(), schema.Field(c).Type) {
				return nil, fmt.Errorf("values: row %d column %d is %s, want %s", r, c, e.DataType(), schema.Field(c).Type)
			}
		}
	}
	return &Values{mem: mem, schema: schema, rows: rows}, nil
}

// Schema is the schema given at construction.
func (v *Values) Schema() *arrow.Schema { return v.schema }

// Open is a no-op: values have no input.
func (v *Values) Open(ctx context.Context) error { return v.once.open(func() error { return nil }) }

// Next returns all rows as one record, then io.EOF.
func (v *Values) Next(ctx context.Context) (arrow.Record, error) {
	if v.done || len(v.rows) == 0 {
		return nil, io.EOF
	}
	v.done = true
	one := array.NewRecord(arrow.NewSchema(nil, nil), nil, 1)
	defer one.Release()
	cols := make([]arrow.Array, v.schema.NumFields())
	defer releaseArrays(cols)
	for c := range cols {
		parts := make([]arrow.Array, len(v.rows))
		for r, row := range v.rows {
			a, err := row[c].Eval(ctx, v.mem, one)
			if err != nil {
				releaseArrays(parts)
				return nil, fmt.Errorf("values: row %d column %d: %w", r, c, err)
			}
			parts[r] = a
		}
		col, err := array.Concatenate(parts, v.mem)
		releaseArrays(parts)
		if err != nil {
			return nil, fmt.Errorf("values: column %d: %w", c, err)
		}
		cols[c] = col
	}
	return array.NewRecord(v.schema, cols, int64(len(v.rows))), nil
}

// Close is idempotent; values hold nothing between calls.
func (v *Values) Close() error { return v.once.close(func() error { return nil }) }
