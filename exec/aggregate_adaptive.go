package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
)

// The adaptive partial phase. A partial aggregate (AggPartial, one per
// morsel) exists to shrink what the final aggregate merges; when its keys
// barely repeat it shrinks nothing and costs a hash table as large as the
// morsel, grown from empty in every morsel (GROUP BY over a million keys:
// ten morsels, ten tables of 600K groups each, with the final's table of
// a million on top). So, as the pre-dedup does (SetDedup), it groups the
// first probeRows rows of its morsel and then judges: when more than half
// of them started a group, it emits the groups found so far and from then
// on groups each chunk of input on its own, in the one table reset between
// chunks (a table of one chunk's keys stays in cache and, once grown,
// never grows again), emitting every chunk's partial rows as they come.
// Those chunks are passChunkRows input rows each, counted from the probe
// row, not the batches the input happens to deliver.
// The final aggregate merges partial rows whatever their number, so the
// result is that of full grouping: a key's first partial row still comes
// in the order of its first appearance in the input (the groups so far
// precede every later chunk's, and each chunk's rows come in the order
// of their first appearance there), so the final's group order is
// unchanged. The judgement falls after exactly probeRows rows however the
// input is batched (probeCut), and the chunks start at fixed rows, so
// FLOAT sums do not depend on the batch size either.
// Aggregates with a dictionary key (cheap groups) never pass.

// passChunkRows is how many input rows a passing partial phase groups
// together: one batch's worth, so the table stays small.
const passChunkRows = DefaultBatchSize

// nextPartialPassed groups the next passChunkRows input rows alone and
// returns their partial rows.
func (h *HashAggregate) nextPartialPassed(ctx context.Context) (arrow.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := h.nextInput(ctx)
		if errors.Is(err, io.EOF) && h.chunkRows > 0 {
			h.chunkRows = 0
			return h.build()
		}
		if err != nil {
			return nil, err // io.EOF included
		}
		n := rec.NumRows()
		if room := passChunkRows - h.chunkRows; n > room {
			// Chunks start at fixed input rows, whatever the batches.
			h.held = rec.NewSlice(room, n)
			head := rec.NewSlice(0, room)
			rec.Release()
			rec, n = head, room
		}
		if n == 0 {
			rec.Release()
			continue
		}
		if h.chunkRows == 0 {
			if err := h.resetGroups(); err != nil {
				rec.Release()
				return nil, err
			}
		}
		if err := h.fold(ctx, rec); err != nil {
			return nil, err
		}
		if h.chunkRows += n; h.chunkRows < passChunkRows {
			continue
		}
		h.chunkRows = 0
		out, err := h.build()
		if err != nil || out != nil {
			return out, err
		}
	}
}

// resetGroups empties the groups: the table keeps its slots, the
// accumulators start afresh.
func (h *HashAggregate) resetGroups() error {
	h.releaseChunks()
	h.keyMem = 0
	h.table.reset()
	for i, a := range h.aggs {
		acc, err := NewAccumulator(h.mem, a, AggOptions{})
		if err != nil {
			return fmt.Errorf("aggregate %s: %w", a.Name, err)
		}
		h.accs[i] = acc
	}
	return nil
}
