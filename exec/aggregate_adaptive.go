package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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
//
// When the probe shows the keys all but unique (more than rawShare of
// its rows started a group), grouping a chunk would hardly shrink it
// either: a partial whose calls all have a one-row state that is the
// row's own value (COUNT, SUM of BIGINT or DOUBLE, MIN, MAX, AVG's sum
// and count) then turns each further row into its partial row directly
// (nextPartialRaw) — keys as they are, COUNT(*) 1, COUNT(x) 1 or 0, SUM,
// MIN and MAX x itself — with no table at all. The final merges them in
// input order, so its FLOAT sums add exactly as one phase would.

// rawShare is the share of new groups among the probed rows above which
// a passing partial emits one partial row per input row (8 in 9: a chunk
// would shrink by at most about a tenth).
const rawNum, rawDen = 8, 9

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

// rawPassable reports whether every call of the partial phase has a
// one-row state computed from the row alone, of the type the partial
// schema gives it (see nextPartialRaw).
func (h *HashAggregate) rawPassable() bool {
	for i, a := range h.aggs {
		if a.Func == "count_star" {
			continue
		}
		if a.Arg == nil {
			return false
		}
		t := valueType(a.Arg.DataType())
		if t.ID() == arrow.STRUCT || t.ID() == arrow.LIST || t.ID() == arrow.MAP {
			return false // packed arguments (FILTER, ORDER BY) keep other rows
		}
		want := h.schema.Field(len(h.keys) + i).Type
		switch a.Func {
		case "count":
		case "sum":
			if id := t.ID(); id != arrow.INT64 && id != arrow.FLOAT64 || !arrow.TypeEqual(t, want) {
				return false
			}
		case "min", "max":
			if !arrow.TypeEqual(t, want) {
				return false
			}
		default:
			return false
		}
	}
	return len(h.outs) == len(h.aggs)
}

// nextPartialRaw returns the partial rows of the next input batch, one
// per row (see rawShare): keys decoded, COUNT(*) 1, COUNT(x) whether x
// is set, SUM/MIN/MAX x.
func (h *HashAggregate) nextPartialRaw(ctx context.Context) (arrow.Record, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec, err := h.nextInput(ctx)
		if err != nil {
			return nil, err // io.EOF included
		}
		n := rec.NumRows()
		if n == 0 {
			rec.Release()
			continue
		}
		cols, err := h.rawColumns(ctx, rec)
		rec.Release()
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		out := array.NewRecord(h.schema, cols, n)
		releaseArrays(cols)
		return out, nil
	}
}

func (h *HashAggregate) rawColumns(ctx context.Context, rec arrow.Record) ([]arrow.Array, error) {
	n := int(rec.NumRows())
	cols, err := evalAll(ctx, h.mem, rec, exprList(h.keys))
	if err != nil {
		return cols, err
	}
	if err := decodeDictionaries(ctx, h.mem, cols); err != nil {
		return cols, err
	}
	for _, a := range h.aggs {
		if a.Func == "count_star" {
			cols = append(cols, h.ones(n))
			continue
		}
		arg, err := a.Arg.Eval(ctx, h.mem, rec)
		if err == nil && arg.DataType().ID() == arrow.DICTIONARY {
			var dec arrow.Array
			dec, err = decodeDictionary(ctx, h.mem, arg)
			arg.Release()
			arg = dec
		}
		if err != nil {
			return cols, fmt.Errorf("%s: %w", a.Name, err)
		}
		if a.Func == "count" {
			cols = append(cols, h.setFlags(arg))
			arg.Release()
			continue
		}
		cols = append(cols, arg)
	}
	return cols, nil
}

// ones is a BIGINT array of n ones (a slice of one kept array).
func (h *HashAggregate) ones(n int) arrow.Array {
	if h.onesArr == nil || h.onesArr.Len() < n {
		if h.onesArr != nil {
			h.onesArr.Release()
		}
		vals := make([]int64, max(n, DefaultBatchSize))
		for i := range vals {
			vals[i] = 1
		}
		h.onesArr = newFixedArray(h.mem, arrow.PrimitiveTypes.Int64, vals, nil)
	}
	return array.NewSlice(h.onesArr, 0, int64(n))
}

// setFlags is a BIGINT array of 1 where arg is set and 0 where NULL.
func (h *HashAggregate) setFlags(arg arrow.Array) arrow.Array {
	if arg.NullN() == 0 {
		return h.ones(arg.Len())
	}
	vals := make([]int64, arg.Len())
	for i := range vals {
		if arg.IsValid(i) {
			vals[i] = 1
		}
	}
	return newFixedArray(h.mem, arrow.PrimitiveTypes.Int64, vals, nil)
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
