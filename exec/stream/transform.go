package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// ErrNeedInput is what a Feed returns when its batch was consumed: it tells
// an OperatorTransform that the stateless chain above has nothing more for
// this batch. It is not io.EOF, so operators do not latch end-of-stream.
var ErrNeedInput = errors.New("stream: feed needs input")

// Feed is an exec.Operator that yields the batch it was last given, once.
// It lets the batch engine's stateless operators (exec.Filter,
// exec.Project) run inside a streaming pipeline: build them over a Feed,
// wrap them with OperatorTransform.
type Feed struct {
	schema *arrow.Schema
	rec    arrow.Record
}

var _ exec.Operator = (*Feed)(nil)

// NewFeed returns a Feed of records of schema.
func NewFeed(schema *arrow.Schema) *Feed { return &Feed{schema: schema} }

// Schema is the schema of the fed records.
func (f *Feed) Schema() *arrow.Schema { return f.schema }

// Open does nothing.
func (f *Feed) Open(context.Context) error { return nil }

// Next returns the fed record (the caller releases it) or ErrNeedInput.
func (f *Feed) Next(context.Context) (arrow.Record, error) {
	if f.rec == nil {
		return nil, ErrNeedInput
	}
	r := f.rec
	f.rec = nil
	return r, nil
}

// Close drops a record not yet consumed.
func (f *Feed) Close() error {
	if f.rec != nil {
		f.rec.Release()
		f.rec = nil
	}
	return nil
}

// OperatorTransform turns a stateless operator chain built over feed into
// a Transform: each batch is fed in and everything the chain yields for it
// is returned as one record. The chain must be stateless per batch (Filter,
// Project); changelog records pass through with their op column as long as
// projections keep column 0 (see the changelog notes in changelog.go).
func OperatorTransform(mem memory.Allocator, feed *Feed, op exec.Operator) Transform {
	opened := false
	return func(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
		if !opened {
			if err := op.Open(ctx); err != nil {
				return nil, fmt.Errorf("opening %T: %w", op, err)
			}
			opened = true
		}
		rec.Retain()
		feed.Close()
		feed.rec = rec
		var outs []arrow.Record
		defer func() {
			for _, r := range outs {
				r.Release()
			}
		}()
		for {
			out, err := op.Next(ctx)
			if errors.Is(err, ErrNeedInput) {
				break
			}
			if err != nil {
				return nil, err
			}
			outs = append(outs, out)
		}
		switch len(outs) {
		case 0:
			return nil, nil
		case 1:
			out := outs[0]
			outs = nil
			return out, nil
		}
		return concatRecords(mem, outs)
	}
}

// concatRecords joins records of one schema into one record; the caller
// releases the result and still owns recs.
func concatRecords(mem memory.Allocator, recs []arrow.Record) (arrow.Record, error) {
	schema := recs[0].Schema()
	cols := make([]arrow.Array, schema.NumFields())
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	for c := range cols {
		parts := make([]arrow.Array, len(recs))
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		arr, err := array.Concatenate(parts, mem)
		if err != nil {
			for _, a := range cols[:c] {
				a.Release()
			}
			return nil, fmt.Errorf("concatenating batches: %w", err)
		}
		cols[c] = arr
	}
	out := array.NewRecord(schema, cols, n)
	for _, a := range cols {
		a.Release()
	}
	return out, nil
}
