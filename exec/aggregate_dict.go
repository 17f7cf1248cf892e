package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// dictKey is HashAggregate's fast path for GROUP BY one string column
// read straight from a Scan: the scan may then return the column
// dictionary-encoded (Parquet dictionary pages), and DictGroups looks each
// distinct dictionary entry up in the group table once per dictionary.
type dictKey struct {
	col    int // the key's column in the input records
	groups DictGroups
}

// setupDictKey enables the dictionary fast path when it is safe: a single
// string key that is a plain column of a Scan input, and aggregate
// arguments that are plain columns other than it (so nothing but this
// operator ever sees the dictionary array).
func (h *HashAggregate) setupDictKey() {
	scan, ok := h.input.(*Scan)
	if !ok || len(h.keys) != 1 || h.keys[0].DataType().ID() != arrow.STRING {
		return
	}
	schema := scan.Schema()
	col, ok := columnRef(h.keys[0], schema)
	if !ok {
		return
	}
	for _, a := range h.aggs {
		if a.Arg == nil {
			continue
		}
		c, ok := columnRef(a.Arg, schema)
		if !ok || c == col {
			return
		}
	}
	scan.KeepDictionaries([]int{col})
	h.dict = &dictKey{col: col}
}

// columnRef reports whether e just reads column i of records of schema.
func columnRef(e expr.Expr, schema *arrow.Schema) (int, bool) {
	col, ok := expr.ColumnIndex(e)
	if !ok || col < 0 || col >= schema.NumFields() {
		return 0, false
	}
	return col, true
}

// dictKeyGroups sets gids for a batch in dictionary mode and returns the
// key values of new groups (caller releases).
func (h *HashAggregate) dictKeyGroups(ctx context.Context, rec arrow.Record, gids []uint32) ([]arrow.Array, error) {
	col := rec.Column(h.dict.col)
	da, ok := col.(*array.Dictionary)
	if !ok {
		if col.DataType().ID() != arrow.STRING {
			return nil, fmt.Errorf("group key: record has type %s, plan expects string", col.DataType())
		}
		return h.table.Assign(ctx, h.mem, []arrow.Array{col}, gids, true)
	}
	return h.dict.groups.Assign(ctx, h.mem, h.table, da, gids)
}

// releaseDict drops the cached dictionary.
func (h *HashAggregate) releaseDict() {
	if h.dict != nil {
		h.dict.groups.Release()
	}
}

// pendingGroup marks a dictionary entry seen in the current batch whose
// group is not assigned yet; real group ids never get this large.
const pendingGroup = noGroup - 1

// DictGroups maps the rows of a dictionary-encoded key column to the
// groups of one GroupTable (created for the dictionary's value type),
// looking each dictionary entry up once per dictionary rather than once
// per row: the batches of a Parquet column chunk share its dictionary, so
// per row it is one array load. The batch GROUP BY and the streaming
// aggregate use it. It caches group ids, so it belongs to one table:
// Release it whenever that table is replaced.
type DictGroups struct {
	data arrow.ArrayData // the dictionary gids belongs to (retained)
	gids []uint32        // dictionary entry → group id (noGroup: unseen)
	miss []int32
}

// Assign sets gids[i] to the group of row i of da in t, inserting new
// keys, and returns the key values of the new groups (decoded, one array;
// nil when none; caller releases), as GroupTable.Assign does.
func (d *DictGroups) Assign(ctx context.Context, mem memory.Allocator, t *GroupTable, da *array.Dictionary, gids []uint32) ([]arrow.Array, error) {
	idx, ok := da.Indices().(*array.Int32)
	if !ok || da.NullN() > 0 {
		dec, err := decodeDictionary(ctx, mem, da)
		if err != nil {
			return nil, err
		}
		defer dec.Release()
		return t.Assign(ctx, mem, []arrow.Array{dec}, gids, true)
	}
	if dd := da.Data().Dictionary(); dd != d.data {
		d.Release()
		dd.Retain()
		d.data = dd
		n := dd.Len()
		d.gids = growSlice(d.gids[:0], n)[:n]
		for i := range d.gids {
			d.gids[i] = noGroup
		}
	}
	m := d.gids
	miss := d.miss[:0]
	for _, k := range idx.Int32Values() {
		if uint32(k) >= uint32(len(m)) {
			return nil, fmt.Errorf("group key: dictionary index %d out of range (%d values)", k, len(m))
		}
		if m[k] == noGroup {
			m[k] = pendingGroup
			miss = append(miss, k)
		}
	}
	d.miss = miss
	var newKeys []arrow.Array
	if len(miss) > 0 {
		vals, err := takeArray(ctx, mem, da.Dictionary(), miss)
		if err != nil {
			return nil, err
		}
		small := make([]uint32, len(miss))
		newKeys, err = t.Assign(ctx, mem, []arrow.Array{vals}, small, true)
		vals.Release()
		if err != nil {
			for _, k := range miss {
				m[k] = noGroup
			}
			return nil, err
		}
		for j, k := range miss {
			m[k] = small[j]
		}
	}
	for i, k := range idx.Int32Values() {
		gids[i] = m[k]
	}
	return newKeys, nil
}

// Release drops the cached dictionary; the next Assign starts afresh.
func (d *DictGroups) Release() {
	if d.data != nil {
		d.data.Release()
		d.data = nil
	}
}
