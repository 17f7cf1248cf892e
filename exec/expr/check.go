package expr

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// ErrCardinality is the kind of error at_most_one raises: a scalar
// subquery returned more than one row.
var ErrCardinality = errors.New("more than one row")

// at_most_one(n, message) is TRUE where the count n is at most 1 (or
// NULL) and fails the query with message otherwise. The planner puts it
// over a scalar subquery's row count (per correlation key), so "more than
// one row" is reported as an error naming the subquery, as SQL requires,
// instead of silently picking a row.
func registerCheck() { registry["at_most_one"] = bindAtMostOne }

func bindAtMostOne(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, 2)
	if err != nil {
		return bound{}, err
	}
	msg, ok := literalValue(args[1])
	text, isText := msg.(string)
	if ts[0].ID() != arrow.INT64 || !ok || !isText {
		return bound{}, unsupported("at_most_one", ts...)
	}
	return bound{scalarAware: true, k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		if o[0].isScalar() {
			if v, ok := o[0].scalar.(int64); ok && v > 1 {
				return nil, &kindError{msg: text, kind: ErrCardinality}
			}
		} else {
			n, ok := o[0].arr.(*array.Int64)
			if !ok {
				return nil, fmt.Errorf("at_most_one: want BIGINT counts, got %s", sqlTypeName(o[0].arr.DataType()))
			}
			for i := 0; i < n.Len(); i++ {
				if n.IsValid(i) && n.Value(i) > 1 {
					return nil, &kindError{msg: text, kind: ErrCardinality}
				}
			}
		}
		b := array.NewBooleanBuilder(ec.mem)
		defer b.Release()
		b.Reserve(ec.n)
		for i := 0; i < ec.n; i++ {
			b.UnsafeAppend(true)
		}
		return b.NewArray(), nil
	}}, nil
}
