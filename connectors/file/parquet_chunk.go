package file

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// chunkDecoder turns the pages of one column chunk into one Arrow array.
// It works on whole pages of typed values (page.Data()), never on
// parquet.Value rows, so the cost per value is a copy or a conversion.
type chunkDecoder struct {
	pc      *pqCol
	valid   []bool
	dict    parquet.Dictionary
	dictV   encoding.Values
	scratch []int64
	i32     []int32
	f64     []float64
}

func readChunk(mem memory.Allocator, cc parquet.ColumnChunk, pc *pqCol, nrows int64) (arrow.Array, error) {
	b := array.NewBuilder(mem, pc.typ)
	defer b.Release()
	b.Reserve(int(nrows))
	pages := cc.Pages()
	defer pages.Close()
	d := chunkDecoder{pc: pc}
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
		if err := d.page(b, p); err != nil {
			return nil, err
		}
	}
	if int64(b.Len()) != nrows {
		return nil, fmt.Errorf("read %d values for %d rows", b.Len(), nrows)
	}
	return b.NewArray(), nil
}

// page appends one page's values to b.
func (d *chunkDecoder) page(b array.Builder, p parquet.Page) error {
	n := int(p.NumValues())
	var valid []bool
	if defs := p.DefinitionLevels(); defs != nil && p.NumNulls() > 0 {
		if cap(d.valid) < n {
			d.valid = make([]bool, n)
		}
		valid = d.valid[:n]
		maxDef := byte(d.pc.maxDef)
		for i := range valid {
			valid[i] = defs[i] == maxDef
		}
	}
	data := p.Data()
	var idx []int32
	if dict := p.Dictionary(); dict != nil {
		if dict != d.dict {
			d.dict, d.dictV = dict, dict.Page().Data()
		}
		idx = data.Int32()
		data = d.dictV
	}
	pc := d.pc
	switch pc.kind {
	case pqInt64:
		vals := gather(data.Int64(), idx)
		b.(*array.Int64Builder).AppendValues(expandNulls(vals, valid), valid)
	case pqInt32:
		vals := gather(data.Int32(), idx)
		b.(*array.Int32Builder).AppendValues(expandNulls(vals, valid), valid)
	case pqDate:
		vals := expandNulls(gather(data.Int32(), idx), valid)
		dates := unsafe.Slice((*arrow.Date32)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals))
		b.(*array.Date32Builder).AppendValues(dates, valid)
	case pqDouble:
		vals := gather(data.Double(), idx)
		b.(*array.Float64Builder).AppendValues(expandNulls(vals, valid), valid)
	case pqFloat:
		vals := gather(data.Float(), idx)
		f := make([]float64, len(vals))
		for i, v := range vals {
			f[i] = float64(v)
		}
		b.(*array.Float64Builder).AppendValues(expandNulls(f, valid), valid)
	case pqTimestamp:
		vals := gather(data.Int64(), idx)
		ts := make([]arrow.Timestamp, len(vals))
		for i, v := range vals {
			ts[i] = arrow.Timestamp(tsMicros(v, pc.tsMul))
		}
		b.(*array.TimestampBuilder).AppendValues(expandNulls(ts, valid), valid)
	case pqBool:
		bits := data.Boolean()
		bb := b.(*array.BooleanBuilder)
		j := 0
		for i := 0; i < n; i++ {
			if valid != nil && !valid[i] {
				bb.AppendNull()
				continue
			}
			k := j
			if idx != nil {
				k = int(idx[j])
			}
			bb.Append(bits[k>>3]>>(k&7)&1 == 1)
			j++
		}
	case pqString:
		buf, offs := data.ByteArray()
		sb := b.(*array.StringBuilder)
		if need := sb.DataLen() + len(buf); idx == nil && need > sb.DataCap() {
			// Grow geometrically: reserving exactly per page would copy
			// the data buffer once per page.
			sb.ReserveData(max(len(buf), sb.DataLen()))
		}
		j := 0
		for i := 0; i < n; i++ {
			if valid != nil && !valid[i] {
				sb.AppendNull()
				continue
			}
			k := j
			if idx != nil {
				k = int(idx[j])
			}
			sb.BinaryBuilder.Append(buf[offs[k]:offs[k+1]])
			j++
		}
	case pqDecimal:
		db := b.(*array.Decimal128Builder)
		j := 0
		for i := 0; i < n; i++ {
			if valid != nil && !valid[i] {
				db.AppendNull()
				continue
			}
			k := j
			if idx != nil {
				k = int(idx[j])
			}
			j++
			switch pc.phys {
			case parquet.Int32:
				db.Append(decimal128.FromI64(int64(data.Int32()[k])))
			case parquet.Int64:
				db.Append(decimal128.FromI64(data.Int64()[k]))
			case parquet.FixedLenByteArray:
				buf, size := data.FixedLenByteArray()
				db.Append(decimalFromBE(buf[k*size : (k+1)*size]))
			default:
				buf, offs := data.ByteArray()
				db.Append(decimalFromBE(buf[offs[k]:offs[k+1]]))
			}
		}
	default:
		return fmt.Errorf("unsupported parquet column kind %d", pc.kind)
	}
	return nil
}

// gather resolves dictionary indexes; with idx nil it returns vals.
func gather[T any](vals []T, idx []int32) []T {
	if idx == nil {
		return vals
	}
	out := make([]T, len(idx))
	for i, k := range idx {
		out[i] = vals[k]
	}
	return out
}

// expandNulls spreads dense non-null values over the page's rows, leaving
// zero values where valid is false; with valid nil it returns dense.
func expandNulls[T any](dense []T, valid []bool) []T {
	if valid == nil {
		return dense
	}
	out := make([]T, len(valid))
	j := 0
	for i, ok := range valid {
		if ok {
			out[i] = dense[j]
			j++
		}
	}
	return out
}
