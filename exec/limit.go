package exec

import (
	"context"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Limit passes at most limit rows after skipping offset rows. It stops
// pulling its input as soon as the limit is reached, so LIMIT over an
// unbounded or expensive input ends early.
type Limit struct {
	input   Operator
	limit   int64 // -1 = no limit
	skip    int64 // rows still to skip
	emitted int64
	once    lifecycle
}

var _ Operator = (*Limit)(nil)

// NewLimit returns input limited to limit rows (-1 for no limit) after
// skipping offset rows. mem is unused (slicing shares buffers) but kept
// for the uniform constructor shape.
func NewLimit(mem memory.Allocator, input Operator, limit, offset int64) *Limit {
	_ = mem
	if offset < 0 {
		offset = 0
	}
	return &Limit{input: input, limit: limit, skip: offset}
}

// Schema is the input's schema.
func (l *Limit) Schema() *arrow.Schema { return l.input.Schema() }

// Open opens the input once.
func (l *Limit) Open(ctx context.Context) error {
	return l.once.open(func() error { return l.input.Open(ctx) })
}

// Next returns the next slice of rows within [offset, offset+limit).
func (l *Limit) Next(ctx context.Context) (arrow.Record, error) {
	for {
		if l.limit >= 0 && l.emitted >= l.limit {
			return nil, io.EOF
		}
		rec, err := l.input.Next(ctx)
		if err != nil {
			return nil, err
		}
		n := rec.NumRows()
		start := int64(0)
		if l.skip > 0 {
			if l.skip >= n {
				l.skip -= n
				rec.Release()
				continue
			}
			start = l.skip
			l.skip = 0
		}
		end := n
		if l.limit >= 0 && end-start > l.limit-l.emitted {
			end = start + l.limit - l.emitted
		}
		l.emitted += end - start
		if start == 0 && end == n {
			return rec, nil
		}
		out := rec.NewSlice(start, end)
		rec.Release()
		return out, nil
	}
}

// Close closes the input; idempotent, and safe before the input ended.
func (l *Limit) Close() error { return l.once.close(l.input.Close) }
