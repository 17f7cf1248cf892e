package pgwire

import (
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// column is how one result column goes over the wire: its type OID, and
// the conversion of an Arrow value to the Go value pgtype encodes (in
// the text or binary format the client asked for). pgtype does the
// encoding so both formats follow PostgreSQL's own rules.
type column struct {
	name string
	oid  uint32
	size int16
	// value converts arr[i] (not NULL) to the Go value pgtype encodes.
	value func(arr arrow.Array, i int) any
}

// columns maps an Arrow result schema to wire columns. The changelog op
// column travels as text (+I, -U, +U, -D), as the CLI prints it.
func columns(s *arrow.Schema) []column {
	cols := make([]column, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = columnFor(f)
	}
	return cols
}

func columnFor(f arrow.Field) column {
	c := column{name: f.Name, size: -1}
	if format.IsOpColumn(f) {
		c.oid = pgtype.TextOID
		c.value = func(arr arrow.Array, i int) any { return exec.Op(arr.(*array.Int8).Value(i)).String() }
		return c
	}
	switch t := f.Type.(type) {
	case *arrow.Int64Type:
		c.oid, c.size = pgtype.Int8OID, 8
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Int64).Value(i) }
	case *arrow.Int32Type:
		c.oid, c.size = pgtype.Int4OID, 4
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Int32).Value(i) }
	case *arrow.Int16Type:
		c.oid, c.size = pgtype.Int2OID, 2
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Int16).Value(i) }
	case *arrow.Int8Type:
		c.oid, c.size = pgtype.Int2OID, 2
		c.value = func(arr arrow.Array, i int) any { return int16(arr.(*array.Int8).Value(i)) }
	case *arrow.Uint64Type:
		c.oid = pgtype.NumericOID
		c.value = func(arr arrow.Array, i int) any {
			return pgtype.Numeric{Int: new(big.Int).SetUint64(arr.(*array.Uint64).Value(i)), Valid: true}
		}
	case *arrow.Uint32Type:
		c.oid, c.size = pgtype.Int8OID, 8
		c.value = func(arr arrow.Array, i int) any { return int64(arr.(*array.Uint32).Value(i)) }
	case *arrow.Float64Type:
		c.oid, c.size = pgtype.Float8OID, 8
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Float64).Value(i) }
	case *arrow.Float32Type:
		c.oid, c.size = pgtype.Float4OID, 4
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Float32).Value(i) }
	case *arrow.BooleanType:
		c.oid, c.size = pgtype.BoolOID, 1
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Boolean).Value(i) }
	case *arrow.StringType:
		c.oid = pgtype.TextOID
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.String).Value(i) }
	case *arrow.LargeStringType:
		c.oid = pgtype.TextOID
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.LargeString).Value(i) }
	case *arrow.BinaryType:
		c.oid = pgtype.ByteaOID
		c.value = func(arr arrow.Array, i int) any { return arr.(*array.Binary).Value(i) }
	case *arrow.TimestampType:
		// sluice timestamps have no zone: timestamp without time zone,
		// rendered in UTC like the CLI.
		c.oid, c.size = pgtype.TimestampOID, 8
		unit := t.Unit
		c.value = func(arr arrow.Array, i int) any {
			ns := format.TimestampToNanos(arr.(*array.Timestamp).Value(i), unit)
			return pgtype.Timestamp{Time: time.Unix(0, ns).UTC(), Valid: true}
		}
	case *arrow.Date32Type:
		c.oid, c.size = pgtype.DateOID, 4
		c.value = func(arr arrow.Array, i int) any {
			days := int64(arr.(*array.Date32).Value(i))
			return pgtype.Date{Time: time.Unix(days*86400, 0).UTC(), Valid: true}
		}
	case *arrow.Decimal128Type:
		c.oid = pgtype.NumericOID
		scale := t.Scale
		c.value = func(arr arrow.Array, i int) any {
			v := arr.(*array.Decimal128).Value(i)
			return pgtype.Numeric{Int: v.BigInt(), Exp: -scale, Valid: true}
		}
	default:
		// Anything else travels as its text form.
		c.oid = pgtype.TextOID
		c.value = func(arr arrow.Array, i int) any { return format.FormatValue(arr, i) }
	}
	return c
}

// describe is the RowDescription of cols, each in the format formats
// picks (the Bind message's result format codes).
func describe(cols []column, formats []int16) *pgproto3.RowDescription {
	rd := &pgproto3.RowDescription{Fields: make([]pgproto3.FieldDescription, len(cols))}
	for i, c := range cols {
		rd.Fields[i] = pgproto3.FieldDescription{
			Name:         []byte(c.name),
			DataTypeOID:  c.oid,
			DataTypeSize: c.size,
			TypeModifier: -1,
			Format:       formatOf(formats, i),
		}
	}
	return rd
}

// formatOf applies the protocol's rule for result format codes: none
// means all text, one applies to every column, else one per column.
func formatOf(formats []int16, i int) int16 {
	switch len(formats) {
	case 0:
		return pgtype.TextFormatCode
	case 1:
		return formats[0]
	}
	if i < len(formats) {
		return formats[i]
	}
	return pgtype.TextFormatCode
}

// encoder turns records into DataRow messages.
type encoder struct {
	m       *pgtype.Map
	cols    []column
	formats []int16
	buf     []byte
	values  [][]byte
}

func newEncoder(cols []column, formats []int16) *encoder {
	return &encoder{m: pgtype.NewMap(), cols: cols, formats: formats, values: make([][]byte, len(cols))}
}

// row encodes row i of rec. The returned message is valid until the next
// call (its values share one buffer).
func (e *encoder) row(rec arrow.Record, i int) (*pgproto3.DataRow, error) {
	e.buf = e.buf[:0]
	offs := make([]int, len(e.cols)+1)
	nulls := make([]bool, len(e.cols))
	for j, c := range e.cols {
		offs[j] = len(e.buf)
		arr := rec.Column(j)
		if arr.IsNull(i) {
			nulls[j] = true
			continue
		}
		v := c.value(arr, i)
		if f, ok := v.(float64); ok && math.IsNaN(f) {
			v = math.NaN() // any NaN payload encodes as PostgreSQL's NaN
		}
		var err error
		e.buf, err = e.m.Encode(c.oid, formatOf(e.formats, j), v, e.buf)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", c.name, err)
		}
	}
	offs[len(e.cols)] = len(e.buf)
	for j := range e.cols {
		if nulls[j] {
			e.values[j] = nil
			continue
		}
		// A non-NULL empty value must not be nil (nil means NULL).
		e.values[j] = e.buf[offs[j]:offs[j+1]:offs[j+1]]
		if e.values[j] == nil {
			e.values[j] = []byte{}
		}
	}
	return &pgproto3.DataRow{Values: e.values}, nil
}
