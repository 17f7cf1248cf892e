package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Replicate repeats each input row as many times as its last column (a
// BIGINT count; NULL or ≤ 0 drops the row) says, and drops that column:
// the last step of INTERSECT ALL and EXCEPT ALL, whose multiplicities the
// aggregate below computes. Over a changelog (op column at OpCol ≥ 0) it
// is stateless as well: a -U/+U pair whose counts differ no longer pairs
// up row for row, so updates become -D and +I (a retract stream), and
// folding the output gives the multiset.
type Replicate struct {
	mem    memory.Allocator
	input  Operator
	opCol  int
	schema *arrow.Schema
	once   lifecycle

	rec  arrow.Record // the record being replicated, nil when none
	row  int          // its next row
	left int64        // copies of row still to emit
}

var _ Operator = (*Replicate)(nil)

// NewReplicate returns the replication of input by its last column, an
// Int64 count; opCol is the op column's index, or -1 for an append-only
// input.
func NewReplicate(mem memory.Allocator, input Operator, opCol int) (*Replicate, error) {
	in := input.Schema()
	n := in.NumFields()
	if n < 2 || in.Field(n-1).Type.ID() != arrow.INT64 {
		return nil, fmt.Errorf("replicate: the last input column must be a BIGINT count")
	}
	if opCol >= n-1 || (opCol >= 0 && in.Field(opCol).Type.ID() != arrow.INT8) {
		return nil, fmt.Errorf("replicate: column %d is not an op column", opCol)
	}
	md := in.Metadata()
	s := arrow.NewSchema(in.Fields()[:n-1], &md)
	return &Replicate{mem: mem, input: input, opCol: opCol, schema: s}, nil
}

// Schema is the input's schema without the count.
func (r *Replicate) Schema() *arrow.Schema { return r.schema }

// Open opens the input once.
func (r *Replicate) Open(ctx context.Context) error {
	return r.once.open(func() error { return r.input.Open(ctx) })
}

// Next returns up to DefaultBatchSize replicated rows.
func (r *Replicate) Next(ctx context.Context) (arrow.Record, error) {
	for {
		if r.rec == nil {
			rec, err := r.input.Next(ctx)
			if err != nil {
				return nil, err
			}
			r.rec, r.row, r.left = rec, 0, -1
		}
		idx := r.indices()
		if len(idx) == 0 {
			r.rec.Release()
			r.rec = nil
			continue
		}
		out, err := r.take(ctx, idx)
		if r.row >= int(r.rec.NumRows()) {
			r.rec.Release()
			r.rec = nil
		}
		return out, err
	}
}

// indices lists the next batch of row indices of r.rec, advancing the
// position; empty when the record is used up.
func (r *Replicate) indices() []int32 {
	counts := r.rec.Column(int(r.rec.NumCols()) - 1).(*array.Int64)
	var idx []int32
	for r.row < counts.Len() && len(idx) < DefaultBatchSize {
		if r.left < 0 {
			r.left = 0
			if counts.IsValid(r.row) && counts.Value(r.row) > 0 {
				r.left = counts.Value(r.row)
			}
		}
		for r.left > 0 && len(idx) < DefaultBatchSize {
			idx = append(idx, int32(r.row))
			r.left--
		}
		if r.left == 0 {
			r.row, r.left = r.row+1, -1
		}
	}
	return idx
}

// take gathers rows idx of r.rec without the count, turning update ops
// into -D/+I.
func (r *Replicate) take(ctx context.Context, idx []int32) (arrow.Record, error) {
	cols, err := takeColumns(ctx, r.mem, r.rec.Columns()[:r.rec.NumCols()-1], idx)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(cols)
	if r.opCol >= 0 {
		ops := retractOps(r.mem, cols[r.opCol].(*array.Int8))
		cols[r.opCol].Release()
		cols[r.opCol] = ops
	}
	return array.NewRecord(r.schema, cols, int64(len(idx))), nil
}

// retractOps is the op column ops of a retract stream: -U and -D become
// -D, +U and +I become +I (copies of a row have no key to update by).
func retractOps(mem memory.Allocator, ops *array.Int8) arrow.Array {
	b := array.NewInt8Builder(mem)
	defer b.Release()
	b.Reserve(ops.Len())
	for i := 0; i < ops.Len(); i++ {
		switch Op(ops.Value(i)) {
		case OpUpdateBefore, OpDelete:
			b.Append(int8(OpDelete))
		default:
			b.Append(int8(OpInsert))
		}
	}
	return b.NewArray()
}

// Close releases a record in progress and closes the input; idempotent.
func (r *Replicate) Close() error {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	return r.once.close(r.input.Close)
}
