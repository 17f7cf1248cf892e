package file

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// dictStringType is the Arrow type of a string column kept
// dictionary-encoded: int32 indices into the chunk's dictionary page.
var dictStringType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// dictBatch returns the next k rows of a string column chunk kept
// dictionary-encoded: while the chunk's pages index its dictionary, a
// dictionary array whose indices are copied in bulk from the pages and
// whose dictionary is the chunk's dictionary page, built once per chunk
// and shared by every batch (so a grouping consumer maps each distinct
// value once per chunk, not once per row). Writers fall back to plain
// pages when a dictionary grows too big; from the first such page on the
// chunk comes back as plain strings (b, the column's string builder),
// that batch included.
func (c *colCursor) dictBatch(mem memory.Allocator, b *array.StringBuilder, k int) (arrow.Array, error) {
	if c.plain {
		b.Reserve(k)
		if err := c.appendRows(b, k); err != nil {
			return nil, err
		}
		return b.NewArray(), nil
	}
	if c.ib == nil {
		c.ib = array.NewInt32Builder(mem)
	}
	ib := c.ib
	ib.Reserve(k)
	for rem := k; rem > 0; {
		if c.page == nil || c.row >= c.n {
			if err := c.load(); err != nil {
				return nil, err
			}
		}
		if !c.indexed || (c.kdict != nil && c.dict != c.kdict) {
			return c.leaveDictionary(b, rem)
		}
		if c.kdict == nil {
			c.kdict = c.dict
			c.kvals = dictionaryStrings(mem, c)
		}
		from, to, dFrom, dTo, err := c.take(rem)
		if err != nil {
			return nil, err
		}
		if dTo > len(c.idx) {
			return nil, fmt.Errorf("page has %d dictionary indexes for %d values", len(c.idx), dTo)
		}
		idx := c.idx[dFrom:dTo]
		// Indices come from the file: check them here so a corrupt file
		// is an error, not an out-of-range read later.
		nv := uint32(c.kvals.Len())
		for _, x := range idx {
			if uint32(x) >= nv {
				return nil, fmt.Errorf("dictionary index %d out of range (%d values)", x, nv)
			}
		}
		if c.valid == nil {
			ib.AppendValues(idx, nil)
		} else {
			j := 0
			for _, ok := range c.valid[from:to] {
				if ok {
					ib.UnsafeAppend(idx[j])
					j++
				} else {
					ib.UnsafeAppendBoolToBitmap(false)
				}
			}
		}
		rem -= to - from
	}
	indices := ib.NewArray()
	defer indices.Release()
	return array.NewDictionaryArray(dictStringType, indices, c.kvals), nil
}

// leaveDictionary switches the chunk to plain strings in the middle of a
// batch: the rows collected as indices so far are decoded into b, then the
// batch's other rem rows are appended plainly.
func (c *colCursor) leaveDictionary(b *array.StringBuilder, rem int) (arrow.Array, error) {
	c.plain = true
	done := c.ib.NewInt32Array()
	defer done.Release()
	b.Reserve(done.Len() + rem)
	for i := 0; i < done.Len(); i++ {
		if done.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(c.kvals.Value(int(done.Value(i))))
	}
	if err := c.appendRows(b, rem); err != nil {
		return nil, err
	}
	return b.NewArray(), nil
}

// dictionaryStrings copies the current page's dictionary into a string
// array.
func dictionaryStrings(mem memory.Allocator, c *colCursor) *array.String {
	buf, offs := c.dictV.ByteArray()
	sb := array.NewStringBuilder(mem)
	defer sb.Release()
	if len(offs) > 0 {
		sb.Reserve(len(offs) - 1)
		sb.ReserveData(len(buf))
		for k := 0; k+1 < len(offs); k++ {
			sb.BinaryBuilder.Append(buf[offs[k]:offs[k+1]])
		}
	}
	return sb.NewStringArray()
}
