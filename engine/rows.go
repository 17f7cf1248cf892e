package engine

import (
	"context"
	"errors"
	"io"
	"iter"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
)

// Rows is the result of a statement: a stream of Arrow records. For a
// changelog (EMIT CHANGES) the first column is the int8 `op` column holding
// exec.Op values. Rows must be closed; Close stops a streaming query.
type Rows struct {
	ctx       context.Context
	schema    *arrow.Schema
	changelog bool
	// streaming is true for an EMIT query: it has no end of its own, so
	// its context ending (cancel or deadline alike) is how it ends, not an
	// error. A batch result cut short by its context is incomplete, and
	// Err says so.
	streaming bool
	keys      []int
	next      func(ctx context.Context) (arrow.Record, error)
	close     func() error
	stats     func() Stats
	// finalStats, for a streaming query, is valid after the query ended
	// and includes the state size captured as the operators closed.
	finalStats func() Stats
	cur        arrow.Record
	err        error
	closed     bool
	// Message, when set, is a one-line status for statements without a
	// result table (e.g. "source orders created").
	Message string
}

// Schema is the schema of every record.
func (r *Rows) Schema() *arrow.Schema { return r.schema }

// Changelog reports whether records carry an op column (EMIT CHANGES).
func (r *Rows) Changelog() bool { return r.changelog }

// Keys are the columns that identify a row of an updating result (the
// group key), counting the op column; nil for append-only results.
func (r *Rows) Keys() []int { return r.keys }

// Next advances to the next record, blocking for a streaming query. It
// returns false at the end, on error (see Err) or when the context given to
// Query ends. cancel() and a deadline are reported the same way: for a
// streaming query (EMIT) either is a clean stop and Err stays nil, as a
// stream ends only when stopped; for a batch query either is an error
// (Err is context.Canceled or context.DeadlineExceeded), since the result
// is then incomplete.
func (r *Rows) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.closed || r.err != nil || r.next == nil {
		return false
	}
	rec, err := r.next(r.ctx)
	if err != nil {
		stopped := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
		if !errors.Is(err, io.EOF) && !(stopped && r.streaming) {
			r.err = err
		}
		return false
	}
	r.cur = rec
	return true
}

// Record is the current record; valid until the next call to Next or
// Close. Retain it to keep it longer.
func (r *Rows) Record() arrow.Record { return r.cur }

// Op is the change operation of row i of the current record: the op
// column of a changelog (EMIT CHANGES), exec.OpInsert for every row of
// an append-only result. sluice.Change names the values, so callers need
// not read the int8 column or import exec.
func (r *Rows) Op(i int) exec.Op {
	if !r.changelog || r.cur == nil || r.cur.NumCols() == 0 {
		return exec.OpInsert
	}
	if ops, ok := r.cur.Column(0).(*array.Int8); ok && i >= 0 && i < ops.Len() {
		return exec.Op(ops.Value(i))
	}
	return exec.OpInsert
}

// Err is the error that ended iteration, if any: nil at the end of the
// result and when a streaming query's context ends; the context's error
// when a batch query's ends before its result does (see Next).
func (r *Rows) Err() error { return r.err }

// Records iterates over all records (Go 1.23 iterator); the record passed
// to the loop body is valid for that iteration only. Check Err afterwards.
func (r *Rows) Records() iter.Seq[arrow.Record] {
	return func(yield func(arrow.Record) bool) {
		for r.Next() {
			if !yield(r.cur) {
				return
			}
		}
	}
}

// Close releases the result and stops the query; idempotent.
func (r *Rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.close != nil {
		return r.close()
	}
	return nil
}

// Stats snapshots a streaming query's progress (rows in and out,
// watermark, late rows, state size); the zero Stats for batch results.
func (r *Rows) Stats() Stats {
	if r.stats == nil {
		return Stats{}
	}
	return r.stats()
}
