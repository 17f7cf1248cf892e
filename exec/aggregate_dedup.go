package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// probeRows is how many input rows a pre-dedup aggregate, or a partial
// phase, groups before it judges whether grouping pays.
const probeRows = 1 << 16

// SetDedup marks a keys-only aggregate (no aggregate calls) as a
// pre-dedup: its output feeds a DISTINCT aggregate that removes
// duplicates again, so it may emit a key more than once. After
// probeRows input rows it looks at how much grouping reduced them;
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

// judge decides, once probeRows rows have been grouped, whether the
// remaining input passes through (see SetDedup and the adaptive partial
// phase): when more than half of the rows probed started a group.
func (h *HashAggregate) judge() {
	if !(h.dedup || h.adaptive) || h.judged || h.seen < probeRows {
		return
	}
	h.judged = true
	groups := int64(h.table.NumGroups())
	h.passing = groups*2 > h.seen
	h.raw = h.passing && h.adaptive && groups*rawDen > h.seen*rawNum && h.rawPassable()
}

// probeCut is where a batch of n rows is cut so that the judgement falls
// exactly after probeRows input rows, whatever the batch sizes (0: no
// cut): a partial phase's float sums then add up in the same order at
// any batch size.
func (h *HashAggregate) probeCut(n int64) int64 {
	if !(h.dedup || h.adaptive) || h.judged || h.seen >= probeRows || h.seen+n <= probeRows {
		return 0
	}
	return probeRows - h.seen
}

// nextInput is the held rest of the probe's batch, then the input's
// batches.
func (h *HashAggregate) nextInput(ctx context.Context) (arrow.Record, error) {
	if rec := h.held; rec != nil {
		h.held = nil
		return rec, nil
	}
	return h.input.Next(ctx)
}

// nextPassed returns the keys of the next input batch (see SetDedup).
func (h *HashAggregate) nextPassed(ctx context.Context) (arrow.Record, error) {
	for {
		rec, err := h.nextInput(ctx)
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
