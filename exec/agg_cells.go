package exec

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Cells of any type, for the aggregates that keep values of their rows
// (FIRST, ARG_MIN, PERCENTILE_DISC, STRING_AGG's order keys): a raw form
// that rebuilds the value exactly, and a sort key whose byte order is the
// values' SQL order.

// rawCell returns a reader of row i's value as bytes from which buildRaw
// rebuilds it exactly (floats keep their bits, unlike distinctKey), a view
// into arr's buffers; the caller skips NULL rows.
func rawCell(arr arrow.Array) (func(i int) string, error) {
	switch arr.(type) {
	case *array.Float64, *array.Float32:
		fw := arr.DataType().(arrow.FixedWidthDataType).BitWidth() / 8
		buf := arr.Data().Buffers()[1].Bytes()
		off := arr.Data().Offset()
		return func(i int) string {
			p := (off + i) * fw
			return bytesAsString(buf[p : p+fw])
		}, nil
	}
	return distinctKey(arr)
}

// buildRaw rebuilds an array of typ from rawCell values; valid[i] false
// makes row i NULL (its raw value is ignored).
func buildRaw(mem memory.Allocator, typ arrow.DataType, raws []string, valid []bool) (arrow.Array, error) {
	switch typ.ID() {
	case arrow.BOOL:
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		for i, r := range raws {
			if !valid[i] {
				b.AppendNull()
				continue
			}
			b.Append(r == "\x01")
		}
		return b.NewArray(), nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return buildStrings(mem, typ, raws, valid)
	case arrow.NULL:
		return array.MakeArrayOfNull(mem, typ, len(raws)), nil
	}
	fw, ok := typ.(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth()%8 != 0 {
		return nil, fmt.Errorf("cannot rebuild values of %s", typ)
	}
	w := fw.BitWidth() / 8
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	buf.Resize(w * len(raws))
	b := buf.Bytes()
	clear(b)
	nulls := 0
	for i, r := range raws {
		if !valid[i] {
			nulls++
			continue
		}
		if len(r) != w {
			return nil, fmt.Errorf("aggregate state: %d bytes for a %s value", len(r), typ)
		}
		copy(b[i*w:], r)
	}
	var bitmap *memory.Buffer
	if nulls > 0 {
		bitmap = memory.NewResizableBuffer(mem)
		defer bitmap.Release()
		bitmap.Resize(int(bitutil.BytesForBits(int64(len(raws)))))
		bm := bitmap.Bytes()
		clear(bm)
		for i, v := range valid {
			if v {
				bitutil.SetBit(bm, i)
			}
		}
	}
	data := array.NewData(typ, len(raws), []*memory.Buffer{bitmap, buf}, nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// sortKeyer appends the sort key of row i: bytes whose order is the SQL
// order of the values (NULL first or last as asked, DESC reversing the
// values). Keys are prefix-free, so keys of several columns concatenate
// into a key of the tuple.
type sortKeyer func(dst []byte, i int) []byte

// sortable reports the types newSortKeyer orders.
func sortable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.NULL, arrow.INTERVAL_MONTH_DAY_NANO:
		return true
	}
	return intLike(t)
}

// newSortKeyer returns the sort key writer of arr's rows.
func newSortKeyer(arr arrow.Array, o AggOrder) (sortKeyer, error) {
	val, err := valueKeyer(arr)
	if err != nil {
		return nil, err
	}
	null := byte(2)
	if o.NullsFirst {
		null = 0
	}
	return func(dst []byte, i int) []byte {
		if arr.IsNull(i) {
			return append(dst, null)
		}
		dst = append(dst, 1)
		n := len(dst)
		dst = val(dst, i)
		if o.Desc {
			for k := n; k < len(dst); k++ {
				dst[k] = ^dst[k]
			}
		}
		return dst
	}, nil
}

// valueKeyer writes the ascending, prefix-free key of a non-NULL value.
func valueKeyer(arr arrow.Array) (sortKeyer, error) {
	be := binary.BigEndian
	switch a := arr.(type) {
	case *array.Null:
		return func(dst []byte, _ int) []byte { return dst }, nil
	case *array.Boolean:
		return func(dst []byte, i int) []byte {
			if a.Value(i) {
				return append(dst, 1)
			}
			return append(dst, 0)
		}, nil
	case *array.Float64:
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, floatKey(a.Value(i))) }, nil
	case *array.Float32:
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, floatKey(float64(a.Value(i)))) }, nil
	case *array.Decimal128:
		return func(dst []byte, i int) []byte {
			n := a.Value(i)
			dst = be.AppendUint64(dst, uint64(n.HighBits())^(1<<63))
			return be.AppendUint64(dst, n.LowBits())
		}, nil
	case *array.MonthDayNanoInterval:
		// The normalised parts, so that equal intervals (INTERVAL '30'
		// DAY and INTERVAL '1' MONTH) share a key and keys order as
		// expr.CompareIntervals does.
		return func(dst []byte, i int) []byte {
			m, d, n := expr.NormInterval(a.Value(i))
			dst = be.AppendUint64(dst, uint64(m)^(1<<63))
			dst = be.AppendUint64(dst, uint64(d)^(1<<63))
			return be.AppendUint64(dst, uint64(n)^(1<<63))
		}, nil
	case *array.String, *array.LargeString, *array.Binary, *array.LargeBinary:
		at, err := stringAccessor(arr)
		if err != nil {
			return nil, err
		}
		return func(dst []byte, i int) []byte { return appendEscaped(dst, at(i)) }, nil
	}
	if !intLike(arr.DataType()) {
		return nil, fmt.Errorf("cannot order values of %s", arr.DataType())
	}
	d := arr.Data()
	switch physicalInt(arr.DataType()) {
	case arrow.INT8:
		v := arrow.GetValues[int8](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(int64(v[i]))^(1<<63)) }, nil
	case arrow.INT16:
		v := arrow.GetValues[int16](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(int64(v[i]))^(1<<63)) }, nil
	case arrow.INT32:
		v := arrow.GetValues[int32](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(int64(v[i]))^(1<<63)) }, nil
	case arrow.INT64:
		v := arrow.GetValues[int64](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(v[i])^(1<<63)) }, nil
	case arrow.UINT8:
		v := arrow.GetValues[uint8](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(v[i])) }, nil
	case arrow.UINT16:
		v := arrow.GetValues[uint16](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(v[i])) }, nil
	case arrow.UINT32:
		v := arrow.GetValues[uint32](d, 1)
		return func(dst []byte, i int) []byte { return be.AppendUint64(dst, uint64(v[i])) }, nil
	}
	v := arrow.GetValues[uint64](d, 1)
	return func(dst []byte, i int) []byte { return be.AppendUint64(dst, v[i]) }, nil
}

// floatKey maps a float to a word whose unsigned order is the float order
// (-0 = 0; NaN above every number, as DuckDB orders it).
func floatKey(f float64) uint64 {
	b := canonFloat(f)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// appendEscaped appends s with each 0x00 as 0x00 0xFF and a 0x00 0x00
// terminator: order-preserving and prefix-free.
func appendEscaped(dst []byte, s string) []byte {
	for k := 0; k < len(s); k++ {
		if s[k] == 0 {
			dst = append(dst, 0, 0xFF)
			continue
		}
		dst = append(dst, s[k])
	}
	return append(dst, 0, 0)
}
