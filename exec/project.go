package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Project computes one output column per expression, batch by batch.
type Project struct {
	mem    memory.Allocator
	input  Operator
	exprs  []expr.Expr
	schema *arrow.Schema
	once   lifecycle
	dict   bool // the input may return dictionary-encoded columns
}

var _ Operator = (*Project)(nil)

// NewProject returns a projection of input to exprs named names (names
// must have one entry per expression).
func NewProject(mem memory.Allocator, input Operator, exprs []expr.Expr, names []string) (*Project, error) {
	if len(names) != len(exprs) {
		return nil, fmt.Errorf("project: %d names for %d expressions", len(names), len(exprs))
	}
	fields := make([]arrow.Field, len(exprs))
	for i, e := range exprs {
		fields[i] = arrow.Field{Name: names[i], Type: e.DataType(), Nullable: true}
	}
	p := &Project{mem: mem, input: input, exprs: exprs, schema: arrow.NewSchema(fields, nil)}
	// Columns only forwarded may come dictionary-encoded from below (a
	// Parquet scan, through filters): the strings are then built only for
	// the rows that reach this projection.
	p.dict = keepDictionaries(input, forwardedColumns(exprs, input.Schema().NumFields()))
	return p, nil
}

// Schema has one nullable field per expression.
func (p *Project) Schema() *arrow.Schema { return p.schema }

// Open opens the input once.
func (p *Project) Open(ctx context.Context) error {
	return p.once.open(func() error { return p.input.Open(ctx) })
}

// Next evaluates the expressions over the next input batch.
func (p *Project) Next(ctx context.Context) (arrow.Record, error) {
	rec, err := p.input.Next(ctx)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	cols, err := evalAll(ctx, p.mem, rec, exprList(p.exprs))
	if err != nil {
		return nil, fmt.Errorf("project: %w", err)
	}
	defer releaseArrays(cols)
	if p.dict {
		if err := decodeDictionaries(ctx, p.mem, cols); err != nil {
			return nil, fmt.Errorf("project: %w", err)
		}
	}
	for i, c := range cols {
		if !arrow.TypeEqual(c.DataType(), p.schema.Field(i).Type) {
			return nil, fmt.Errorf("project: %s evaluated to %s, declared %s", p.exprs[i], c.DataType(), p.schema.Field(i).Type)
		}
	}
	return array.NewRecord(p.schema, cols, rec.NumRows()), nil
}

// Close closes the input; idempotent.
func (p *Project) Close() error { return p.once.close(p.input.Close) }

func exprList(es []expr.Expr) []exprEvaluator {
	out := make([]exprEvaluator, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
