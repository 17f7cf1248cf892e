// Package expr evaluates scalar expressions over whole Arrow record batches.
//
// The planner has already resolved names and types: arguments of arithmetic
// and comparison calls arrive with identical types (the planner inserts
// casts), and every call is told its result type. Kernels therefore switch
// on type once per batch, never per row. NULL follows SQL three-valued logic.
package expr

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Expr is a compiled scalar expression.
type Expr interface {
	// Eval computes the expression for every row of rec. The result has
	// rec.NumRows() elements and the caller must Release it. Eval is safe
	// for concurrent use and keeps no reference to rec.
	Eval(ctx context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error)
	// DataType is the type of the arrays Eval returns.
	DataType() arrow.DataType
	// String is the canonical form shown in EXPLAIN.
	String() string
}
