package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TopN is ORDER BY … LIMIT n OFFSET m in bounded memory: it keeps only the
// best limit+offset rows seen so far, compacting its buffer whenever it
// doubles, so it holds O(limit+offset+batch) rows. Ties keep input order,
// so the result equals Sort followed by Limit.
type TopN struct {
	mem           memory.Allocator
	input         Operator
	keys          []SortKey
	limit, offset int64
	buf           []arrow.Record
	buffered      int64
	out           arrow.Record
	pos           int64
	done          bool
	once          lifecycle
}

var _ Operator = (*TopN)(nil)

// NewTopN returns the first limit rows after offset of input ordered by
// keys; limit must be >= 0.
func NewTopN(mem memory.Allocator, input Operator, keys []SortKey, limit, offset int64) (*TopN, error) {
	if limit < 0 || offset < 0 {
		return nil, fmt.Errorf("top-n: bad limit %d offset %d", limit, offset)
	}
	return &TopN{mem: mem, input: input, keys: keys, limit: limit, offset: offset}, nil
}

// Schema is the input's schema.
func (t *TopN) Schema() *arrow.Schema { return t.input.Schema() }

// Open opens the input once.
func (t *TopN) Open(ctx context.Context) error {
	return t.once.open(func() error { return t.input.Open(ctx) })
}

// Next consumes the input on the first call, then returns the top rows.
func (t *TopN) Next(ctx context.Context) (arrow.Record, error) {
	if !t.done {
		t.done = true
		if err := t.consume(ctx); err != nil {
			return nil, fmt.Errorf("top-n: %w", err)
		}
		t.pos = t.offset
	}
	if t.out == nil || t.pos >= t.out.NumRows() {
		return nil, io.EOF
	}
	end := min(t.pos+DefaultBatchSize, t.out.NumRows())
	rec := t.out.NewSlice(t.pos, end)
	t.pos = end
	return rec, nil
}

func (t *TopN) consume(ctx context.Context) error {
	k := t.limit + t.offset
	if k == 0 {
		return nil
	}
	threshold := 2 * max(k, DefaultBatchSize)
	for {
		rec, err := t.input.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		t.buf = append(t.buf, rec)
		t.buffered += rec.NumRows()
		if t.buffered >= threshold {
			if err := t.compact(ctx, k); err != nil {
				return err
			}
		}
	}
	if err := t.compact(ctx, k); err != nil {
		return err
	}
	if len(t.buf) == 1 {
		t.out = t.buf[0]
		t.buf = nil
	}
	return nil
}

// compact sorts the buffered rows and keeps the first k as one record.
func (t *TopN) compact(ctx context.Context, k int64) error {
	all, err := concatRecords(t.mem, t.input.Schema(), t.buf)
	releaseAll(t.buf)
	t.buf, t.buffered = nil, 0
	if err != nil || all == nil {
		return err
	}
	defer all.Release()
	perm, err := sortPerm(ctx, t.mem, all, t.keys)
	if err != nil {
		return err
	}
	if int64(len(perm)) > k {
		perm = perm[:k]
	}
	kept, err := takeRecord(ctx, t.mem, all.Schema(), all, perm)
	if err != nil {
		return err
	}
	t.buf = []arrow.Record{kept}
	t.buffered = kept.NumRows()
	return nil
}

// Close releases the kept rows and closes the input; idempotent.
func (t *TopN) Close() error {
	return t.once.close(func() error {
		releaseAll(t.buf)
		t.buf = nil
		if t.out != nil {
			t.out.Release()
			t.out = nil
		}
		return t.input.Close()
	})
}
