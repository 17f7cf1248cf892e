package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TopN is ORDER BY … LIMIT n OFFSET m in bounded memory: it keeps the best
// k = limit+offset rows seen so far, in order, and the worst of them is a
// running cut-off: each arriving row is compared with it first (typed
// comparators over the evaluated keys, built once per batch) and skipped
// unless it is strictly better, so past the first rows almost every row
// costs one comparison and is never copied. The rows that pass wait in a
// small buffer and are merged into the kept rows (a stable sort of the
// kept rows followed by the candidates) once there are max(k, 1024) of
// them or the input ends. Ties keep input order — a row equal to the
// cut-off came later than it and cannot enter — so the result equals Sort
// followed by Limit.
type TopN struct {
	mem           memory.Allocator
	input         Operator
	keys          []SortKey
	limit, offset int64
	kept          arrow.Record  // the best rows so far, in order; nil before the first merge
	keptKeys      []arrow.Array // keys over kept
	cand          []arrow.Record
	ncand         int64
	sel           []int32
	out           arrow.Record
	pos           int64
	done          bool
	once          lifecycle
	bound         *TopNBound // published cut-off (SetBound); nil: none
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

// SetBound makes the TopN publish its cut-off to b (see TopNBound),
// which the scan under it reads; b's key must be the first sort key.
func (t *TopN) SetBound(b *TopNBound) { t.bound = b }

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
		t.out, t.kept = t.kept, nil
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
	threshold := max(k, 1024)
	for {
		rec, err := t.input.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		err = t.offer(ctx, rec, k)
		rec.Release()
		if err != nil {
			return err
		}
		if t.ncand >= threshold {
			if err := t.merge(ctx, k); err != nil {
				return err
			}
		}
	}
	return t.merge(ctx, k)
}

// offer adds the rows of rec that beat the cut-off to the candidates.
func (t *TopN) offer(ctx context.Context, rec arrow.Record, k int64) error {
	n := rec.NumRows()
	if n == 0 {
		return nil
	}
	if t.kept == nil || t.kept.NumRows() < k {
		rec.Retain()
		t.cand = append(t.cand, rec)
		t.ncand += n
		return nil
	}
	cols, err := evalSortKeys(ctx, t.mem, rec, t.keys)
	if err != nil {
		return err
	}
	defer releaseArrays(cols)
	beats, err := crossComparator(cols, t.keptKeys, t.keys)
	if err != nil {
		return err
	}
	worst := int(k - 1)
	t.sel = t.sel[:0]
	for i := 0; i < int(n); i++ {
		if beats(i, worst) < 0 {
			t.sel = append(t.sel, int32(i))
		}
	}
	switch len(t.sel) {
	case 0:
		return nil
	case int(n):
		rec.Retain()
		t.cand = append(t.cand, rec)
	default:
		sub, err := takeRecord(ctx, t.mem, rec.Schema(), rec, t.sel)
		if err != nil {
			return err
		}
		t.cand = append(t.cand, sub)
	}
	t.ncand += int64(len(t.sel))
	return nil
}

// merge folds the candidates into the kept rows: a stable sort of the
// kept rows (which came first) followed by the candidates, cut to k.
func (t *TopN) merge(ctx context.Context, k int64) error {
	if len(t.cand) == 0 {
		return nil
	}
	recs := t.cand
	if t.kept != nil {
		recs = append([]arrow.Record{t.kept}, t.cand...)
	}
	all, err := concatRecords(t.mem, t.input.Schema(), recs)
	releaseAll(recs)
	t.cand, t.ncand, t.kept = nil, 0, nil
	releaseArrays(t.keptKeys)
	t.keptKeys = nil
	if err != nil || all == nil {
		return err
	}
	defer all.Release()
	perm, err := sortPerm(ctx, t.mem, all, t.keys, 1)
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
	t.kept = kept
	if t.keptKeys, err = evalSortKeys(ctx, t.mem, kept, t.keys); err != nil {
		return err
	}
	if t.bound != nil && kept.NumRows() == k {
		t.bound.Tighten(t.keptKeys[0], int(k-1))
	}
	return nil
}

// Close releases the kept rows and closes the input; idempotent.
func (t *TopN) Close() error {
	return t.once.close(func() error {
		releaseAll(t.cand)
		t.cand = nil
		releaseArrays(t.keptKeys)
		t.keptKeys = nil
		for _, r := range []*arrow.Record{&t.kept, &t.out} {
			if *r != nil {
				(*r).Release()
				*r = nil
			}
		}
		return t.input.Close()
	})
}
