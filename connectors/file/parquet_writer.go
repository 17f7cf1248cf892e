package file

import (
	"fmt"
	"io"
	"reflect"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluicesql/sluice/connectors/format"
)

// orderedGroup is a Parquet group whose fields keep the Arrow column
// order; parquet.Group is a map and would sort them by name.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g *orderedGroup) Fields() []parquet.Field { return g.fields }

type namedField struct {
	parquet.Node
	name string
}

func (f namedField) Name() string { return f.name }

// Value is only used by parquet-go's reflection-based writers, which the
// sink does not use.
func (f namedField) Value(base reflect.Value) reflect.Value { return reflect.Value{} }

// parquetSchema maps an Arrow schema to Parquet: every column optional
// (NULLs), timestamps as microseconds, decimals as 16-byte fixed arrays,
// intervals as Parquet's INTERVAL, lists in the standard three-level LIST
// layout with optional elements (parquetLeaf).
func parquetSchema(schema *arrow.Schema) (*parquet.Schema, error) {
	g := &orderedGroup{Group: parquet.Group{}}
	for _, f := range schema.Fields() {
		n, ok := parquetLeaf(f.Type)
		if lt, isList := f.Type.(*arrow.ListType); isList {
			var elem parquet.Node
			if elem, ok = parquetLeaf(lt.Elem()); ok {
				n = parquet.List(parquet.Optional(elem))
			}
		}
		if !ok {
			return nil, fmt.Errorf("parquet sink: column %q: type %s is not supported (%s)", f.Name, format.SQLTypeName(f.Type), parquetHint(f.Type))
		}
		n = parquet.Optional(n)
		g.Group[f.Name] = n
		g.fields = append(g.fields, namedField{Node: n, name: f.Name})
	}
	return parquet.NewSchema("sluice", g), nil
}

// parquetLeaf is the Parquet leaf node of a column or list element of
// type t; false for a type Parquet is not written with.
func parquetLeaf(t arrow.DataType) (parquet.Node, bool) {
	switch t := t.(type) {
	case *arrow.StringType:
		return parquet.String(), true
	case *arrow.Int64Type:
		return parquet.Int(64), true
	case *arrow.Int32Type, *arrow.Int16Type, *arrow.Int8Type:
		return parquet.Int(32), true
	case *arrow.Float64Type, *arrow.Float32Type:
		return parquet.Leaf(parquet.DoubleType), true
	case *arrow.BooleanType:
		return parquet.Leaf(parquet.BooleanType), true
	case *arrow.TimestampType:
		return parquet.Timestamp(parquet.Microsecond), true
	case *arrow.Date32Type:
		return parquet.Date(), true
	case *arrow.Decimal128Type:
		return parquet.Decimal(int(t.Scale), int(t.Precision), parquet.FixedLenByteArrayType(16)), true
	case *arrow.MonthDayNanoIntervalType:
		return parquet.IntervalNode(), true
	}
	return nil, false
}

// parquetHint is what to do instead of writing a column of type t, a
// type the Parquet sink does not write.
func parquetHint(t arrow.DataType) string {
	switch t.ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST:
		return "a list is written to Parquet only as a list of a type Parquet takes; write nested lists to CSV or JSON"
	}
	return "CAST it to a type Parquet takes, or write CSV or JSON"
}

// parquetEncoder writes records as Parquet rows.
type parquetEncoder struct {
	w      *parquet.Writer
	schema *arrow.Schema
	nested bool // a list column: rows vary in length (writeNested)
	rows   []parquet.Row
	vals   []parquet.Value
	ends   []int
}

// parquetCodecs are the page compressions the 'compression' option names
// (DuckDB's COPY … (COMPRESSION …) spellings; lz4 is LZ4_RAW, the codec
// current readers take).
var parquetCodecs = map[string]compress.Codec{
	"uncompressed": &parquet.Uncompressed, "snappy": &parquet.Snappy, "gzip": &parquet.Gzip,
	"zstd": &parquet.Zstd, "lz4": &parquet.Lz4Raw, "lz4_raw": &parquet.Lz4Raw, "brotli": &parquet.Brotli,
}

// parquetCodecNames are parquetCodecs' keys, for the option's docs.
var parquetCodecNames = []string{"uncompressed", "snappy", "gzip", "zstd", "lz4", "lz4_raw", "brotli"}

func newParquetEncoder(out io.Writer, schema *arrow.Schema, rowGroupRows int64, codec compress.Codec) (*parquetEncoder, error) {
	ps, err := parquetSchema(schema)
	if err != nil {
		return nil, err
	}
	opts := []parquet.WriterOption{ps}
	if codec != nil {
		opts = append(opts, parquet.Compression(codec))
	}
	if rowGroupRows > 0 {
		opts = append(opts, parquet.MaxRowsPerRowGroup(rowGroupRows))
	}
	e := &parquetEncoder{w: parquet.NewWriter(out, opts...), schema: schema}
	for _, f := range schema.Fields() {
		if f.Type.ID() == arrow.LIST {
			e.nested = true
		}
	}
	return e, nil
}

func (e *parquetEncoder) write(rec arrow.Record) error {
	if err := checkParquetIntervals(rec); err != nil {
		return err
	}
	if e.nested {
		return e.writeNested(rec)
	}
	nr, nc := int(rec.NumRows()), int(rec.NumCols())
	if cap(e.vals) < nr*nc {
		e.vals = make([]parquet.Value, nr*nc)
	}
	vals := e.vals[:nr*nc]
	for c, col := range rec.Columns() {
		for r := 0; r < nr; r++ {
			vals[r*nc+c] = parquetValue(col, r, c)
		}
	}
	e.rows = e.rows[:0]
	for r := 0; r < nr; r++ {
		e.rows = append(e.rows, parquet.Row(vals[r*nc:(r+1)*nc:(r+1)*nc]))
	}
	return e.writeRows()
}

func (e *parquetEncoder) writeRows() error {
	if _, err := e.w.WriteRows(e.rows); err != nil {
		return fmt.Errorf("parquet sink: %w", err)
	}
	return nil
}

func parquetValue(col arrow.Array, r, c int) parquet.Value {
	if col.IsNull(r) {
		return parquet.NullValue().Level(0, 0, c)
	}
	var v parquet.Value
	switch a := col.(type) {
	case *array.String:
		v = parquet.ByteArrayValue([]byte(a.Value(r)))
	case *array.Int64:
		v = parquet.Int64Value(a.Value(r))
	case *array.Int32:
		v = parquet.Int32Value(a.Value(r))
	case *array.Int16:
		v = parquet.Int32Value(int32(a.Value(r)))
	case *array.Int8:
		v = parquet.Int32Value(int32(a.Value(r)))
	case *array.Float64:
		v = parquet.DoubleValue(a.Value(r))
	case *array.Float32:
		v = parquet.DoubleValue(float64(a.Value(r)))
	case *array.Boolean:
		v = parquet.BooleanValue(a.Value(r))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		var us int64
		switch unit {
		case arrow.Second:
			us = int64(a.Value(r)) * 1e6
		case arrow.Millisecond:
			us = int64(a.Value(r)) * 1e3
		case arrow.Nanosecond:
			us = tsMicros(int64(a.Value(r)), -1000)
		default:
			us = int64(a.Value(r))
		}
		v = parquet.Int64Value(us)
	case *array.Date32:
		v = parquet.Int32Value(int32(a.Value(r)))
	case *array.MonthDayNanoInterval:
		v = parquetInterval(a.Value(r))
	case *array.Decimal128:
		n := a.Value(r)
		var b [16]byte
		hi, lo := uint64(n.HighBits()), n.LowBits()
		for i := 0; i < 8; i++ {
			b[7-i] = byte(hi >> (8 * i))
			b[15-i] = byte(lo >> (8 * i))
		}
		v = parquet.FixedLenByteArrayValue(b[:])
	default:
		return parquet.NullValue().Level(0, 0, c)
	}
	return v.Level(0, 1, c)
}

func (e *parquetEncoder) finish() error {
	if err := e.w.Close(); err != nil {
		return fmt.Errorf("parquet sink: %w", err)
	}
	return nil
}
