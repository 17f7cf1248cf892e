package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/internal/interval"
	"github.com/sluicesql/sluice/internal/valcmp"
)

// Kind is the physical class of a Value. Stateful operators keep group
// keys and accumulator inputs as Values because state is row-addressed
// (one entry per group), while batches stay columnar on the way in and out.
type Kind uint8

// Value kinds. Every integer-backed Arrow type (ints, timestamps, dates,
// durations) is KInt; the column's arrow.DataType says how to rebuild it.
const (
	KNull Kind = iota
	KInt
	KFloat
	KString
	KBool
	// KDecimal is a DECIMAL(p, s) as its 128-bit unscaled integer: I holds
	// the low 64 bits, H the high 64; the column's type carries the scale.
	KDecimal
	// KList is a list (ARRAY_AGG's result): S holds its elements, each
	// encoded by appendElem; the column's type gives the element type.
	KList
	// KInterval is an INTERVAL: S holds its 16 bytes (months, days,
	// nanoseconds, little-endian), so equal intervals key maps alike,
	// while Compare orders them as batch does (expr.CompareIntervals).
	KInterval
)

// Value is one scalar of a row held in operator state. It is comparable,
// so it can key maps (COUNT DISTINCT, MIN/MAX multisets), and gob-encodable
// for checkpoints.
type Value struct {
	K Kind
	I int64 // KInt, KBool as 0/1, and KDecimal's low 64 bits
	H int64 // KDecimal's high 64 bits
	F float64
	S string // KString, and binary columns' bytes
}

// Dec returns a DECIMAL Value of the unscaled integer n.
func Dec(n decimal128.Num) Value {
	return Value{K: KDecimal, I: int64(n.LowBits()), H: n.HighBits()}
}

// Num is the unscaled integer of a KDecimal Value.
func (v Value) Num() decimal128.Num { return decimal128.New(v.H, uint64(v.I)) }

// Interval returns an INTERVAL Value.
func Interval(iv arrow.MonthDayNanoInterval) Value {
	var buf [16]byte
	binary.LittleEndian.PutUint32(buf[0:], uint32(iv.Months))
	binary.LittleEndian.PutUint32(buf[4:], uint32(iv.Days))
	binary.LittleEndian.PutUint64(buf[8:], uint64(iv.Nanoseconds))
	return Value{K: KInterval, S: string(buf[:])}
}

// Interval is the interval a Value of 16 bytes holds (a KInterval, or a
// KString read back from a checkpoint written before KInterval existed).
func (v Value) Interval() (arrow.MonthDayNanoInterval, error) {
	if len(v.S) != 16 {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("stream: an INTERVAL value of %d bytes", len(v.S))
	}
	return arrow.MonthDayNanoInterval{
		Months:      int32(binary.LittleEndian.Uint32([]byte(v.S[0:4]))),
		Days:        int32(binary.LittleEndian.Uint32([]byte(v.S[4:8]))),
		Nanoseconds: int64(binary.LittleEndian.Uint64([]byte(v.S[8:16]))),
	}, nil
}

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.K == KNull }

// Int returns an integer Value.
func Int(i int64) Value { return Value{K: KInt, I: i} }

// Float returns a floating-point Value.
func Float(f float64) Value { return Value{K: KFloat, F: f} }

// Str returns a string Value.
func Str(s string) Value { return Value{K: KString, S: s} }

// String renders v for error messages and debugging.
func (v Value) String() string {
	switch v.K {
	case KInt:
		return fmt.Sprint(v.I)
	case KFloat:
		return fmt.Sprint(v.F)
	case KString:
		return v.S
	case KBool:
		return fmt.Sprint(v.I != 0)
	case KDecimal:
		return v.Num().BigInt().String()
	case KInterval:
		iv, err := v.Interval()
		if err != nil {
			return "?"
		}
		return string(interval.Append(nil, iv))
	case KList:
		elems, err := listElems(v.S)
		if err != nil {
			return "[?]"
		}
		parts := make([]string, len(elems))
		for k, e := range elems {
			parts[k] = e.String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return "NULL"
}

// appendElem appends v exactly (floats keep their bits) in a form
// listElems reads back.
func appendElem(buf []byte, v Value) []byte {
	buf = append(buf, byte(v.K))
	switch v.K {
	case KInt, KBool:
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v.I))
	case KFloat:
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v.F))
	case KString, KList, KInterval:
		buf = binary.AppendUvarint(buf, uint64(len(v.S)))
		buf = append(buf, v.S...)
	case KDecimal:
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v.I))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v.H))
	}
	return buf
}

// errBadList is the error of a list Value whose encoding is broken (a
// corrupt checkpoint).
var errBadList = errors.New("stream: malformed list value")

// listElems decodes the elements of a KList Value's S.
func listElems(s string) ([]Value, error) {
	var out []Value
	b := []byte(s)
	for len(b) > 0 {
		v := Value{K: Kind(b[0])}
		b = b[1:]
		switch v.K {
		case KNull:
		case KInt, KBool, KFloat:
			if len(b) < 8 {
				return nil, errBadList
			}
			u := binary.LittleEndian.Uint64(b)
			if v.K == KFloat {
				v.F = math.Float64frombits(u)
			} else {
				v.I = int64(u)
			}
			b = b[8:]
		case KString, KList, KInterval:
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return nil, errBadList
			}
			v.S = string(b[k : k+int(n)])
			b = b[k+int(n):]
		case KDecimal:
			if len(b) < 16 {
				return nil, errBadList
			}
			v.I, v.H = int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))
			b = b[16:]
		default:
			return nil, errBadList
		}
		out = append(out, v)
	}
	return out, nil
}

// Compare orders two Values: NULL first, then by value. Values of
// different non-null kinds order by kind (the planner never mixes them).
func Compare(a, b Value) int {
	if a.K != b.K {
		if a.K < b.K {
			return -1
		}
		return 1
	}
	switch a.K {
	case KInt, KBool:
		switch {
		case a.I < b.I:
			return -1
		case a.I > b.I:
			return 1
		}
	case KFloat:
		return valcmp.Floats(a.F, b.F) // NaN above every number, as batch ORDER BY
	case KString:
		return strings.Compare(a.S, b.S)
	case KDecimal:
		return a.Num().Cmp(b.Num())
	case KInterval:
		x, errX := a.Interval()
		y, errY := b.Interval()
		if errX != nil || errY != nil {
			return strings.Compare(a.S, b.S)
		}
		return expr.CompareIntervals(x, y) // months, then days, then time, as batch ORDER BY
	}
	return 0
}

// int64Values is the values of a TIMESTAMP or BIGINT array as reader
// reads them (Value.I), NULL rows included as whatever they hold; nil
// for other types. Per-row loops over an event-time column read it
// instead of a Value a row.
func int64Values(arr arrow.Array) []int64 {
	switch a := arr.(type) {
	case *array.Int64:
		return a.Int64Values()
	case *array.Timestamp:
		return arrow.GetValues[int64](a.Data(), 1)
	}
	return nil
}

// reader returns a per-row accessor for arr: the type switch happens once
// per batch, not per row.
func reader(arr arrow.Array) (func(i int) Value, error) {
	isNull := arr.IsNull
	wrap := func(f func(i int) Value) func(i int) Value {
		if arr.NullN() == 0 {
			return f
		}
		return func(i int) Value {
			if isNull(i) {
				return Value{}
			}
			return f(i)
		}
	}
	switch a := arr.(type) {
	case *array.Int8:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Int16:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Int32:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Int64:
		return wrap(func(i int) Value { return Int(a.Value(i)) }), nil
	case *array.Uint8:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Uint16:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Uint32:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Uint64:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Float32:
		return wrap(func(i int) Value { return Float(float64(a.Value(i))) }), nil
	case *array.Float64:
		return wrap(func(i int) Value { return Float(a.Value(i)) }), nil
	// Arrow's String.Value aliases the array's buffer; state outlives the
	// batch (and a pooling allocator reuses the buffer), so copy.
	case *array.String:
		return wrap(func(i int) Value { return Str(strings.Clone(a.Value(i))) }), nil
	case *array.LargeString:
		return wrap(func(i int) Value { return Str(strings.Clone(a.Value(i))) }), nil
	case *array.Binary:
		return wrap(func(i int) Value { return Str(string(a.Value(i))) }), nil
	case *array.LargeBinary:
		return wrap(func(i int) Value { return Str(string(a.Value(i))) }), nil
	case *array.Decimal128:
		vals := a.Values()
		return wrap(func(i int) Value { return Dec(vals[i]) }), nil
	case *array.Boolean:
		return wrap(func(i int) Value {
			if a.Value(i) {
				return Value{K: KBool, I: 1}
			}
			return Value{K: KBool}
		}), nil
	case *array.Timestamp:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Date32:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Date64:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Duration:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Time32:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.Time64:
		return wrap(func(i int) Value { return Int(int64(a.Value(i))) }), nil
	case *array.MonthDayNanoInterval:
		return wrap(func(i int) Value { return Interval(a.Value(i)) }), nil
	case *array.Null:
		return func(int) Value { return Value{} }, nil
	case *array.List:
		elem, err := reader(a.ListValues())
		if err != nil {
			return nil, err
		}
		return wrap(func(i int) Value {
			start, end := a.ValueOffsets(i)
			var buf []byte
			for k := start; k < end; k++ {
				buf = appendElem(buf, elem(int(k)))
			}
			return Value{K: KList, S: string(buf)}
		}), nil
	}
	return nil, fmt.Errorf("a column of type %s cannot be kept in streaming state", typeText(arr.DataType()))
}

// appendValue appends v to a builder of the column's type.
func appendValue(b array.Builder, v Value) error {
	if v.K == KNull {
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.MonthDayNanoIntervalBuilder:
		iv, err := v.Interval()
		if err != nil {
			return err
		}
		b.Append(iv)
	case *array.Int8Builder:
		b.Append(int8(v.I))
	case *array.Int16Builder:
		b.Append(int16(v.I))
	case *array.Int32Builder:
		b.Append(int32(v.I))
	case *array.Int64Builder:
		b.Append(v.I)
	case *array.Uint8Builder:
		b.Append(uint8(v.I))
	case *array.Uint16Builder:
		b.Append(uint16(v.I))
	case *array.Uint32Builder:
		b.Append(uint32(v.I))
	case *array.Uint64Builder:
		b.Append(uint64(v.I))
	case *array.Float32Builder:
		b.Append(float32(v.asFloat()))
	case *array.Float64Builder:
		b.Append(v.asFloat())
	case *array.StringBuilder:
		b.Append(v.S)
	case *array.LargeStringBuilder:
		b.Append(v.S)
	case *array.BinaryBuilder:
		b.Append([]byte(v.S))
	case *array.Decimal128Builder:
		b.Append(v.Num())
	case *array.BooleanBuilder:
		b.Append(v.I != 0)
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.I))
	case *array.Date32Builder:
		b.Append(arrow.Date32(v.I))
	case *array.Date64Builder:
		b.Append(arrow.Date64(v.I))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(v.I))
	case *array.Time32Builder:
		b.Append(arrow.Time32(v.I))
	case *array.Time64Builder:
		b.Append(arrow.Time64(v.I))
	case *array.ListBuilder:
		elems, err := listElems(v.S)
		if err != nil {
			return err
		}
		b.Append(true)
		for _, e := range elems {
			if err := appendValue(b.ValueBuilder(), e); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("stream: unsupported output type %s", b.Type())
	}
	return nil
}

func (v Value) asFloat() float64 {
	if v.K == KInt {
		return float64(v.I)
	}
	return v.F
}

// appendKey encodes v into buf so that equal Values give equal bytes; the
// encoding keys group maps without allocating per lookup.
func appendKey(buf []byte, v Value) []byte {
	buf = append(buf, byte(v.K))
	switch v.K {
	case KInt, KBool:
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v.I))
	case KFloat:
		f := v.F
		if f == 0 {
			f = 0 // fold -0 into 0
		}
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
	case KString, KList, KInterval:
		buf = binary.LittleEndian.AppendUint32(buf, uint32(len(v.S)))
		buf = append(buf, v.S...)
	case KDecimal:
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v.I))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(v.H))
	}
	return buf
}

// rowKey encodes a row of Values as a map key.
func rowKey(buf []byte, row []Value) []byte {
	for _, v := range row {
		buf = appendKey(buf, v)
	}
	return buf
}

// valueBytes estimates the heap bytes a Value holds, for StateStats.
func valueBytes(v Value) int64 { return 32 + int64(len(v.S)) }

// buildRecord turns rows of Values into a record of schema; the caller
// releases it.
func buildRecord(b *array.RecordBuilder, rows [][]Value) (arrow.Record, error) {
	for _, row := range rows {
		for c, v := range row {
			if err := appendValue(b.Field(c), v); err != nil {
				return nil, err
			}
		}
	}
	return b.NewRecord(), nil
}

// viewReader is reader for Values used only while rec is alive (to
// compare or encode them): strings are not copied.
func viewReader(arr arrow.Array) (func(int) Value, error) {
	switch a := arr.(type) {
	case *array.String:
		return func(i int) Value {
			if a.IsNull(i) {
				return Value{}
			}
			return Str(a.Value(i))
		}, nil
	case *array.LargeString:
		return func(i int) Value {
			if a.IsNull(i) {
				return Value{}
			}
			return Str(a.Value(i))
		}, nil
	}
	return reader(arr)
}

// rowReaders returns a Value reader of every column of rec.
func rowReaders(rec arrow.Record) ([]func(int) Value, error) {
	readers := make([]func(int) Value, rec.NumCols())
	for c := range readers {
		r, err := reader(rec.Column(c))
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", rec.ColumnName(c), err)
		}
		readers[c] = r
	}
	return readers, nil
}

// readRows reads every row of rec as Values.
func readRows(rec arrow.Record) ([][]Value, error) { return readRowsAt(rec, nil) }

// readRowsAt reads rows at (indexes, in order; nil: every row) of rec as
// Values.
func readRowsAt(rec arrow.Record, at []int) ([][]Value, error) {
	readers, err := rowReaders(rec)
	if err != nil {
		return nil, err
	}
	n := len(at)
	if at == nil {
		n = int(rec.NumRows())
	}
	rows := make([][]Value, n)
	for k := range rows {
		i := k
		if at != nil {
			i = at[k]
		}
		row := make([]Value, len(readers))
		for c, r := range readers {
			row[c] = r(i)
		}
		rows[k] = row
	}
	return rows, nil
}

// rowIndices is rows (a RowsPusher's batch rows) as readRowsAt's at:
// nil stays nil (every row), empty stays empty (none).
func rowIndices(rows []int32) []int {
	if rows == nil {
		return nil
	}
	at := make([]int, len(rows))
	for k, r := range rows {
		at[k] = int(r)
	}
	return at
}

// typeText names t for a message: its SQL name where it has one.
func typeText(t arrow.DataType) string {
	switch t.ID() {
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return "INTERVAL"
	case arrow.STRUCT:
		return "STRUCT"
	case arrow.MAP:
		return "MAP"
	}
	return strings.ToUpper(t.String())
}
