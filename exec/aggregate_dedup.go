package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// dedupProbeRows is how many input rows a pre-dedup aggregate groups
// before it judges whether grouping pays.
const dedupProbeRows = 1 << 16

// SetDedup marks a keys-only aggregate (no aggregate calls) as a
// pre-dedup: its output feeds a DISTINCT aggregate that removes
// duplicates again, so it may emit a key more than once. After
// dedupProbeRows input rows it looks at how much grouping reduced them;
// when more than half of the rows started a new group (the keys barely
// repeat, as with COUNT(DISTINCT id) over a column of mostly distinct
// ids), it stops grouping: it emits the groups found so far and then
// every further input row's keys as they are. Grouping such input costs
// a hash table the size of the input for almost no reduction, and the
// DISTINCT aggregate above pays for the same table again.
//
// The output then holds each key's first occurrence in input order
// exactly as full grouping would place it (the groups found so far came
// first in the input, in order of first appearance, and precede every
// passed-through row), so the DISTINCT aggregate above sees the same
// first occurrences in the same order. It is ignored for aggregates with
// calls, in a partial or final phase, and on the dictionary-key path
// (whose groups are cheap).
func (h *HashAggregate) SetDedup() {
	h.dedup = len(h.aggs) == 0 && h.mode == AggComplete && h.table != nil && h.dict == nil
}

// judgeDedup decides, once dedupProbeRows rows have been grouped,
// whether the remaining input passes through (see SetDedup).
func (h *HashAggregate) judgeDedup() {
	if !h.dedup || h.judged || h.seen < dedupProbeRows {
		return
	}
	h.judged = true
	h.passing = int64(h.table.NumGroups())*2 > h.seen
}

// nextPassed returns the keys of the next input batch (see SetDedup).
func (h *HashAggregate) nextPassed(ctx context.Context) (arrow.Record, error) {
	for {
		rec, err := h.input.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		n := rec.NumRows()
		if n == 0 {
			rec.Release()
			continue
		}
		cols, err := evalAll(ctx, h.mem, rec, exprList(h.keys))
		rec.Release()
		if err == nil {
			err = decodeDictionaries(ctx, h.mem, cols)
		}
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		out := array.NewRecord(h.schema, cols, n)
		releaseArrays(cols)
		return out, nil
	}
}
