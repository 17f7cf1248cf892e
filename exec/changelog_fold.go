package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// FoldChangelog is the batch reading of a changelog source: it reads its
// input (op column first) to the end and returns the rows the changes
// leave, without the op column, in the order of their last insertion.
// A retraction (-U, -D) removes one copy of the identical full row, as a
// Debezium 'before' image names it; a retraction of a row never inserted
// is ignored, since a change stream may start after the row was made.
type FoldChangelog struct {
	mem    memory.Allocator
	in     Operator
	schema *arrow.Schema
	done   bool
}

// NewFoldChangelog folds in, whose records are op plus the columns of
// schema.
func NewFoldChangelog(mem memory.Allocator, in Operator, schema *arrow.Schema) *FoldChangelog {
	return &FoldChangelog{mem: mem, in: in, schema: schema}
}

// Schema is the folded table's schema (no op column).
func (f *FoldChangelog) Schema() *arrow.Schema { return f.schema }

// Open opens the input.
func (f *FoldChangelog) Open(ctx context.Context) error { return f.in.Open(ctx) }

// Close closes the input.
func (f *FoldChangelog) Close() error { return f.in.Close() }

// Next returns the whole folded table once, then io.EOF.
func (f *FoldChangelog) Next(ctx context.Context) (arrow.Record, error) {
	if f.done {
		return nil, io.EOF
	}
	f.done = true
	var recs []arrow.Record
	defer func() { releaseAll(recs) }()
	for {
		rec, err := f.in.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil, io.EOF
	}
	// live[row] holds the positions (record, row) of the row's live
	// copies, newest last; rows are numbered by rowIDs.
	type pos struct{ r, i int }
	var live [][]pos
	ids, err := newRowIDs(f.schema)
	if err != nil {
		return nil, err
	}
	var gids []uint32
	for r, rec := range recs {
		if rec.NumCols() != int64(f.schema.NumFields())+1 {
			return nil, fmt.Errorf("changelog fold: record has %d columns, want op and %d", rec.NumCols(), f.schema.NumFields())
		}
		ops, ok := rec.Column(0).(*array.Int8)
		if !ok {
			return nil, fmt.Errorf("changelog fold: first column is %s, not the op column", rec.Column(0).DataType())
		}
		gids = growSlice(gids[:0], int(rec.NumRows()))[:rec.NumRows()]
		n, err := ids.assign(ctx, f.mem, rec.Columns()[1:], gids)
		if err != nil {
			return nil, fmt.Errorf("changelog fold: %w", err)
		}
		for len(live) < n {
			live = append(live, nil)
		}
		for i, g := range gids {
			switch Op(ops.Value(i)) {
			case OpInsert, OpUpdateAfter:
				live[g] = append(live[g], pos{r, i})
			case OpUpdateBefore, OpDelete:
				if ps := live[g]; len(ps) > 0 {
					live[g] = ps[:len(ps)-1]
				}
			}
		}
	}
	var keep []pos
	for _, ps := range live {
		keep = append(keep, ps...)
	}
	slices.SortFunc(keep, func(a, b pos) int {
		if a.r != b.r {
			return a.r - b.r
		}
		return a.i - b.i
	})
	if len(keep) == 0 {
		return nil, io.EOF
	}
	// Take the kept rows record by record, then concatenate.
	var parts []arrow.Record
	defer func() { releaseAll(parts) }()
	for start := 0; start < len(keep); {
		end := start
		var idx []int32
		for end < len(keep) && keep[end].r == keep[start].r {
			idx = append(idx, int32(keep[end].i))
			end++
		}
		src := recs[keep[start].r]
		cols := src.Columns()[1:]
		sub := array.NewRecord(f.schema, cols, src.NumRows())
		t, err := takeRecord(ctx, f.mem, f.schema, sub, idx)
		sub.Release()
		if err != nil {
			return nil, err
		}
		parts = append(parts, t)
		start = end
	}
	if len(parts) == 1 {
		parts[0].Retain()
		return parts[0], nil
	}
	cols := make([]arrow.Array, f.schema.NumFields())
	n := int64(0)
	for c := range cols {
		arrs := make([]arrow.Array, len(parts))
		for i, p := range parts {
			arrs[i] = p.Column(c)
		}
		a, err := array.Concatenate(arrs, f.mem)
		if err != nil {
			releaseArrays(cols[:c])
			return nil, fmt.Errorf("changelog fold: %w", err)
		}
		cols[c] = a
		n = int64(a.Len())
	}
	out := array.NewRecord(f.schema, cols, n)
	releaseArrays(cols)
	return out, nil
}

// rowIDs numbers distinct whole rows (every column, NULL equal to NULL)
// for FoldChangelog: through a GroupTable over all columns, whose typed
// keys keep NULL apart from every value and compare floats as SQL does;
// columns it cannot key (nested types) fall back to an injective text
// encoding of each row.
type rowIDs struct {
	table *GroupTable
	text  map[string]uint32
	buf   []byte
}

func newRowIDs(schema *arrow.Schema) (*rowIDs, error) {
	types := make([]arrow.DataType, schema.NumFields())
	for i, f := range schema.Fields() {
		types[i] = f.Type
	}
	if t, err := NewGroupTable(types); err == nil {
		return &rowIDs{table: t}, nil
	}
	return &rowIDs{text: map[string]uint32{}}, nil
}

// assign sets ids[i] to the number of row i of cols and returns how many
// distinct rows have been seen.
func (r *rowIDs) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, ids []uint32) (int, error) {
	if r.table != nil {
		keys, err := r.table.Assign(ctx, mem, cols, ids, true)
		releaseArrays(keys)
		return r.table.NumGroups(), err
	}
	for i := range ids {
		r.buf = r.buf[:0]
		for _, c := range cols {
			if c.IsNull(i) {
				r.buf = append(r.buf, 0)
				continue
			}
			v := c.ValueStr(i)
			r.buf = binary.LittleEndian.AppendUint32(append(r.buf, 1), uint32(len(v)))
			r.buf = append(r.buf, v...)
		}
		id, ok := r.text[string(r.buf)]
		if !ok {
			id = uint32(len(r.text))
			r.text[string(r.buf)] = id
		}
		ids[i] = id
	}
	return len(r.text), nil
}
