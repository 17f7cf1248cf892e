package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// UnionAll concatenates its inputs' rows, input after input, keeping
// duplicates (SQL UNION ALL).
type UnionAll struct {
	inputs []Operator
	schema *arrow.Schema
	cur    int
	once   lifecycle
}

var _ Operator = (*UnionAll)(nil)

// NewUnionAll returns the union of inputs, which must have the same
// number of columns with identical types. The output takes the first
// input's names; a column is nullable when it is in any input.
func NewUnionAll(mem memory.Allocator, inputs ...Operator) (*UnionAll, error) {
	_ = mem
	if len(inputs) == 0 {
		return nil, errors.New("union all: no inputs")
	}
	first := inputs[0].Schema()
	fields := append([]arrow.Field(nil), first.Fields()...)
	for k, in := range inputs[1:] {
		s := in.Schema()
		if s.NumFields() != len(fields) {
			return nil, fmt.Errorf("union all: input %d has %d columns, input 0 has %d", k+1, s.NumFields(), len(fields))
		}
		for i, f := range s.Fields() {
			if !arrow.TypeEqual(f.Type, fields[i].Type) {
				return nil, fmt.Errorf("union all: column %d is %s in input %d but %s in input 0", i, f.Type, k+1, fields[i].Type)
			}
			fields[i].Nullable = fields[i].Nullable || f.Nullable
		}
	}
	return &UnionAll{inputs: inputs, schema: arrow.NewSchema(fields, nil)}, nil
}

// Schema is the unified schema.
func (u *UnionAll) Schema() *arrow.Schema { return u.schema }

// Open opens every input once.
func (u *UnionAll) Open(ctx context.Context) error {
	return u.once.open(func() error {
		for i, in := range u.inputs {
			if err := in.Open(ctx); err != nil {
				return fmt.Errorf("union all: open input %d: %w", i, err)
			}
		}
		return nil
	})
}

// Next returns the next record of the current input, moving on at EOF.
func (u *UnionAll) Next(ctx context.Context) (arrow.Record, error) {
	for u.cur < len(u.inputs) {
		rec, err := u.inputs[u.cur].Next(ctx)
		if errors.Is(err, io.EOF) {
			u.cur++
			continue
		}
		if err != nil {
			return nil, err
		}
		if rec.Schema().Equal(u.schema) {
			return rec, nil
		}
		out := array.NewRecord(u.schema, rec.Columns(), rec.NumRows())
		rec.Release()
		return out, nil
	}
	return nil, io.EOF
}

// Close closes every input; idempotent. It returns the first error.
func (u *UnionAll) Close() error {
	return u.once.close(func() error {
		var first error
		for _, in := range u.inputs {
			if err := in.Close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}
