package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Filter keeps the rows for which a boolean predicate is true; NULL counts
// as false, as in SQL WHERE. Batches that survive whole pass through
// without copying.
type Filter struct {
	mem   memory.Allocator
	input Operator
	pred  expr.Expr
	once  lifecycle
}

var _ Operator = (*Filter)(nil)

// NewFilter returns a filter of input by pred, which must be boolean.
func NewFilter(mem memory.Allocator, input Operator, pred expr.Expr) *Filter {
	return &Filter{mem: mem, input: input, pred: pred}
}

// KeepDictionaries passes a consumer's request for dictionary-encoded
// string columns (see dictionaryKeeper) to the input, for the columns the
// predicate does not read: a dictionary column is filtered by copying its
// indices. Call it before Open.
func (f *Filter) KeepDictionaries(cols []int) {
	n := f.input.Schema().NumFields()
	read, ok := readColumns(n, f.pred)
	if !ok {
		return
	}
	var keep []int
	for _, c := range cols {
		if c >= 0 && c < n && !read[c] {
			keep = append(keep, c)
		}
	}
	keepDictionaries(f.input, keep)
}

// Schema is the input's schema: a filter never changes columns.
func (f *Filter) Schema() *arrow.Schema { return f.input.Schema() }

// Open opens the input once.
func (f *Filter) Open(ctx context.Context) error {
	return f.once.open(func() error { return f.input.Open(ctx) })
}

// Next returns the next batch with at least one surviving row.
func (f *Filter) Next(ctx context.Context) (arrow.Record, error) {
	for {
		rec, err := f.input.Next(ctx)
		if err != nil {
			return nil, err
		}
		out, err := f.apply(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
		if out != nil {
			return out, nil
		}
	}
}

// apply returns the surviving rows of rec, or nil when none survive.
func (f *Filter) apply(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
	m, err := f.pred.Eval(ctx, f.mem, rec)
	if err != nil {
		return nil, fmt.Errorf("filter %s: %w", f.pred, err)
	}
	defer m.Release()
	mask, ok := m.(*array.Boolean)
	if !ok {
		return nil, fmt.Errorf("filter %s: predicate is %s, not boolean", f.pred, m.DataType())
	}
	n := 0
	for i := 0; i < mask.Len(); i++ {
		if mask.IsValid(i) && mask.Value(i) {
			n++
		}
	}
	switch n {
	case 0:
		return nil, nil
	case int(rec.NumRows()):
		rec.Retain()
		return rec, nil
	}
	return filterRecord(ctx, f.mem, rec, mask)
}

// Close closes the input; idempotent.
func (f *Filter) Close() error {
	return f.once.close(f.input.Close)
}

// lifecycle implements the Open-once / Close-once contract shared by the
// operators.
type lifecycle struct {
	opened, closed bool
}

func (l *lifecycle) open(fn func() error) error {
	if l.opened {
		return nil
	}
	l.opened = true
	return fn()
}

func (l *lifecycle) close(fn func() error) error {
	if l.closed {
		return nil
	}
	l.closed = true
	return fn()
}
