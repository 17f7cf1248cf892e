package expr

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/compute"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Filter keeps the rows of rec where mask (BOOLEAN, same length) is TRUE;
// FALSE and NULL drop the row, as in WHERE. It returns rec itself
// (retained) when every row passes. The caller releases the result.
func Filter(ctx context.Context, mem memory.Allocator, rec arrow.Record, mask arrow.Array) (arrow.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := int(rec.NumRows())
	if mask.Len() != n {
		return nil, fmt.Errorf("filter: mask has %d rows, record has %d", mask.Len(), n)
	}
	if mask.DataType().ID() != arrow.BOOL {
		return nil, fmt.Errorf("filter: mask is %s, want BOOLEAN: %w", mask.DataType(), ErrUnsupportedType)
	}
	sel, release := selectionBits(mem, mask, n)
	defer release()
	cnt := bitutil.CountSetBits(sel, 0, n)
	if cnt == n {
		rec.Retain()
		return rec, nil
	}
	if cnt == 0 {
		return rec.NewSlice(0, 0), nil
	}
	idx := make([]int32, 0, cnt)
	idx = selectionIndices(sel, n, idx)
	return Take(mem, rec, idx)
}

// selectionBits returns a bitmap at offset 0 whose bit i is set when mask
// row i is TRUE (valid and set).
func selectionBits(mem memory.Allocator, mask arrow.Array, n int) ([]byte, func()) {
	vals, valid, release := aligned(mem, mask, n)
	if valid == nil {
		return vals, release
	}
	buf := newBitmap(mem, n)
	out := buf.Bytes()
	for i := range out {
		out[i] = vals[i] & valid[i]
	}
	return out, func() { buf.Release(); release() }
}

// selectionIndices appends the positions of the set bits among the first n
// bits of sel, a word at a time.
func selectionIndices(sel []byte, n int, idx []int32) []int32 {
	nbytes := (n + 7) / 8
	i := 0
	for ; i+8 <= nbytes; i += 8 {
		w := binary.LittleEndian.Uint64(sel[i:])
		base := int32(i * 8)
		for w != 0 {
			idx = append(idx, base+int32(bits.TrailingZeros64(w)))
			w &= w - 1
		}
	}
	for ; i < nbytes; i++ {
		w := sel[i]
		base := int32(i * 8)
		for w != 0 {
			p := base + int32(bits.TrailingZeros8(w))
			if int(p) < n {
				idx = append(idx, p)
			}
			w &= w - 1
		}
	}
	return idx
}

// Take gathers rows of rec by position: row i of the result is row
// indices[i] of rec. A negative index yields a NULL row (handy for the
// unmatched side of outer joins). Indices must be < rec.NumRows().
func Take(mem memory.Allocator, rec arrow.Record, indices []int32) (arrow.Record, error) {
	n := int(rec.NumRows())
	for _, ix := range indices {
		if int(ix) >= n {
			return nil, fmt.Errorf("take: index %d out of range for %d rows", ix, n)
		}
	}
	cols := make([]arrow.Array, rec.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range rec.Columns() {
		out, err := TakeArray(mem, c, indices)
		if err != nil {
			return nil, fmt.Errorf("take column %s: %w", rec.ColumnName(i), err)
		}
		cols[i] = out
	}
	return array.NewRecord(rec.Schema(), cols, int64(len(indices))), nil
}

// TakeArray gathers one array by position with Take's rules (negative
// index = NULL); the caller releases the result.
func TakeArray(mem memory.Allocator, a arrow.Array, indices []int32) (arrow.Array, error) {
	m := len(indices)
	validity := takeValidity(mem, a, indices)
	nulls := countNulls(validity, m)
	switch a.DataType().ID() {
	case arrow.BOOL:
		buf := newBitmap(mem, m)
		out := buf.Bytes()
		var src []byte // nil for an empty array's missing buffer: every index is then -1
		if b := a.Data().Buffers()[1]; b != nil {
			src = b.Bytes()
		}
		off := a.Data().Offset()
		for i, ix := range indices {
			if ix >= 0 && bitutil.BitIsSet(src, off+int(ix)) {
				out[i>>3] |= 1 << (i & 7)
			}
		}
		return makeArray(a.DataType(), m, validity, buf, nulls), nil
	case arrow.STRING, arrow.BINARY:
		return takeBinary(mem, a, indices, validity, nulls), nil
	case arrow.DICTIONARY:
		return takeDictionary(mem, a, indices, validity, nulls)
	case arrow.LIST:
		return takeListRows(mem, a.(*array.List), indices, validity, nulls)
	case arrow.NULL: // every row NULL, whatever the index
		if validity != nil {
			validity.Release()
		}
		return array.NewNull(m), nil
	}
	if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok {
		switch fw.BitWidth() {
		case 32:
			return takeFixed[int32](mem, a, indices, validity, nulls), nil
		case 64:
			return takeFixed[int64](mem, a, indices, validity, nulls), nil
		case 128:
			return takeFixed[decimal128.Num](mem, a, indices, validity, nulls), nil
		}
	}
	if validity != nil {
		validity.Release()
	}
	// Rare types: Arrow's generic kernel (no negative-index support).
	idxArr := array.NewInt32Builder(mem)
	defer idxArr.Release()
	for _, ix := range indices {
		if ix < 0 {
			return nil, fmt.Errorf("take: NULL rows for type %s: %w", a.DataType(), ErrUnsupportedType)
		}
	}
	idxArr.AppendValues(indices, nil)
	ia := idxArr.NewArray()
	defer ia.Release()
	ctx := compute.WithAllocator(context.Background(), mem)
	return compute.TakeArray(ctx, a, ia)
}

// takeValidity gathers the validity bitmap; nil when the result has no
// NULLs.
func takeValidity(mem memory.Allocator, a arrow.Array, indices []int32) *memory.Buffer {
	bm, off := validityBits(a)
	neg := false
	for _, ix := range indices {
		if ix < 0 {
			neg = true
			break
		}
	}
	if bm == nil && !neg {
		return nil
	}
	m := len(indices)
	buf := newBitmap(mem, m)
	out := buf.Bytes()
	for i, ix := range indices {
		if ix >= 0 && (bm == nil || bitutil.BitIsSet(bm, off+int(ix))) {
			out[i>>3] |= 1 << (i & 7)
		}
	}
	return buf
}

func takeFixed[T fixed](mem memory.Allocator, a arrow.Array, indices []int32, validity *memory.Buffer, nulls int) arrow.Array {
	src := values[T](a)
	buf, out := newFixed[T](mem, len(indices))
	for i, ix := range indices {
		if ix >= 0 {
			out[i] = src[ix]
		}
	}
	return makeArray(a.DataType(), len(indices), validity, buf, nulls)
}

// takeDictionary gathers the indices of a dictionary array; the result
// shares its dictionary, so a dictionary-encoded column costs one index
// copy per row, not a copy of its values.
func takeDictionary(mem memory.Allocator, a arrow.Array, indices []int32, validity *memory.Buffer, nulls int) (arrow.Array, error) {
	d, ok := a.(*array.Dictionary)
	if !ok {
		if validity != nil {
			validity.Release()
		}
		return nil, fmt.Errorf("take: dictionary type without a dictionary array: %w", ErrUnsupportedType)
	}
	var idx arrow.Array
	switch d.Indices().DataType().ID() {
	case arrow.INT32, arrow.UINT32:
		idx = takeFixed[int32](mem, d.Indices(), indices, validity, nulls)
	case arrow.INT64, arrow.UINT64:
		idx = takeFixed[int64](mem, d.Indices(), indices, validity, nulls)
	default:
		if validity != nil {
			validity.Release()
		}
		return nil, fmt.Errorf("take: dictionary indices of type %s: %w", d.Indices().DataType(), ErrUnsupportedType)
	}
	defer idx.Release()
	return array.NewDictionaryArray(a.DataType(), idx, d.Dictionary()), nil
}

// binaryView gives offset/data access to STRING and BINARY arrays. The
// offsets are those of the (possibly sliced) array and index the whole data
// buffer, so data is the raw buffer, not ValueBytes (which is relative to
// the slice start).
func binaryView(a arrow.Array) (offs []int32, data []byte) {
	switch s := a.(type) {
	case *array.String:
		offs = s.ValueOffsets()
	case *array.Binary:
		offs = s.ValueOffsets()
	default:
		return nil, nil
	}
	if b := a.Data().Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	return offs, data
}

func takeBinary(mem memory.Allocator, a arrow.Array, indices []int32, validity *memory.Buffer, nulls int) arrow.Array {
	offs, data := binaryView(a)
	m := len(indices)
	total := 0
	for _, ix := range indices {
		if ix >= 0 {
			total += int(offs[ix+1] - offs[ix])
		}
	}
	offBuf, outOffs := newFixed[int32](mem, m+1)
	dataBuf := memory.NewResizableBuffer(mem)
	dataBuf.Resize(total)
	dst := dataBuf.Bytes()
	pos := int32(0)
	for i, ix := range indices {
		outOffs[i] = pos
		if ix >= 0 {
			pos += int32(copy(dst[pos:], data[offs[ix]:offs[ix+1]]))
		}
	}
	outOffs[m] = pos
	d := array.NewData(a.DataType(), m, []*memory.Buffer{validity, offBuf, dataBuf}, nil, nulls, 0)
	out := array.MakeFromData(d)
	d.Release()
	offBuf.Release()
	dataBuf.Release()
	if validity != nil {
		validity.Release()
	}
	return out
}

// takeListRows gathers rows of a list column (a negative index, or a NULL
// row, gives NULL): the rows' elements are taken from the values in
// order and the offsets rebuilt.
func takeListRows(mem memory.Allocator, a *array.List, indices []int32, validity *memory.Buffer, nulls int) (arrow.Array, error) {
	offs := make([]int32, len(indices)+1)
	var elems []int32
	for i, ix := range indices {
		if ix >= 0 && a.IsValid(int(ix)) {
			s, e := a.ValueOffsets(int(ix))
			for k := s; k < e; k++ {
				elems = append(elems, int32(k))
			}
		}
		offs[i+1] = int32(len(elems))
	}
	vals, err := TakeArray(mem, a.ListValues(), elems)
	if err != nil {
		if validity != nil {
			validity.Release()
		}
		return nil, err
	}
	defer vals.Release()
	ob := memory.NewResizableBuffer(mem)
	ob.Resize(len(offs) * 4)
	copy(arrow.Int32Traits.CastFromBytes(ob.Bytes()), offs)
	d := array.NewData(a.DataType(), len(indices), []*memory.Buffer{validity, ob}, []arrow.ArrayData{vals.Data()}, nulls, 0)
	ob.Release()
	if validity != nil {
		validity.Release()
	}
	defer d.Release()
	return array.MakeFromData(d), nil
}
