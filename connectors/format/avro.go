package format

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/hamba/avro/v2"
)

// Avro records, read straight into Arrow builders: a plan per writer
// schema maps each of its fields to a column (by name, case-insensitive)
// or to a skip, so a record written with an older or newer schema than the
// columns' reads with no intermediate values. Columns the writer lacks are
// NULL (a field added later, read by an older query, or the other way
// round); a field whose type cannot be read as its column's is an error
// when the plan is built, before any row of that schema is decoded.

// AvroColumns infers columns from an Avro record schema (the registered
// subject's, for CREATE SOURCE without columns): one column per field,
// nullable when the field is a union with null.
func AvroColumns(s avro.Schema) (*arrow.Schema, error) {
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("avro schema is a %s, not a record", s.Type())
	}
	fields := make([]arrow.Field, 0, len(rec.Fields()))
	for _, f := range rec.Fields() {
		t, nullable, err := avroArrowType(f.Type())
		if err != nil {
			return nil, fmt.Errorf("avro field %q: %w", f.Name(), err)
		}
		fields = append(fields, arrow.Field{Name: f.Name(), Type: t, Nullable: nullable})
	}
	return arrow.NewSchema(fields, nil), nil
}

// avroArrowType is the column type an Avro type reads as.
func avroArrowType(s avro.Schema) (arrow.DataType, bool, error) {
	nullable := false
	if u, ok := s.(*avro.UnionSchema); ok {
		var rest []avro.Schema
		for _, t := range u.Types() {
			if t.Type() == avro.Null {
				nullable = true
			} else {
				rest = append(rest, t)
			}
		}
		if len(rest) != 1 {
			return nil, false, fmt.Errorf("a union of %d non-null types is not supported (only [\"null\", T])", len(rest))
		}
		s = rest[0]
	}
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		switch l := p.Logical(); l.Type() {
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros:
			return TimestampType, nullable, nil
		case avro.Date:
			return arrow.FixedWidthTypes.Date32, nullable, nil
		case avro.Decimal:
			d := l.(*avro.DecimalLogicalSchema)
			return &arrow.Decimal128Type{Precision: int32(d.Precision()), Scale: int32(d.Scale())}, nullable, nil
		}
	}
	switch s.Type() {
	case avro.Boolean:
		return arrow.FixedWidthTypes.Boolean, nullable, nil
	case avro.Int:
		return arrow.PrimitiveTypes.Int32, nullable, nil
	case avro.Long:
		return arrow.PrimitiveTypes.Int64, nullable, nil
	case avro.Float, avro.Double:
		return arrow.PrimitiveTypes.Float64, nullable, nil
	case avro.String, avro.Enum, avro.Bytes:
		return arrow.BinaryTypes.String, nullable, nil
	}
	return nil, false, fmt.Errorf("avro type %s is not supported (nested records, arrays and maps are not read yet)", s.Type())
}

// AvroPlan reads records of one writer schema into the columns of a
// target schema (a projection of it: cols).
type AvroPlan struct {
	steps  []avroStep
	filled []bool // per output column: some writer field fills it
}

// avroStep reads one writer field: into output column col, or skipped
// when col < 0.
type avroStep struct {
	name     string
	col      int
	nullable bool // a ["null", T] union: read the branch index first
	nullIdx  int  // which branch is null
	kind     avroKind
	skip     avro.Schema // the field's schema, to skip it
	scale    int32       // decimal: the column's scale
	tsMul    int64       // timestamps: multiplier to microseconds (1000 for millis)
}

type avroKind uint8

const (
	avroSkip avroKind = iota
	avroBool
	avroInt
	avroLong
	avroFloat
	avroDouble
	avroString
	avroEnum
	avroTS
	avroDate
	avroDecimal
)

// NewAvroPlan plans reading records written with writer into the columns
// cols of target (output column i is target.Field(cols[i])). An
// incompatible field names itself, its Avro type and the column.
func NewAvroPlan(writer avro.Schema, target *arrow.Schema, cols []int) (*AvroPlan, error) {
	rec, ok := writer.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("avro schema is a %s, not a record", writer.Type())
	}
	p := &AvroPlan{filled: make([]bool, len(cols))}
	for _, f := range rec.Fields() {
		st := avroStep{name: f.Name(), col: -1, skip: f.Type()}
		for i, c := range cols {
			if strings.EqualFold(target.Field(c).Name, f.Name()) {
				st.col = i
			}
		}
		if st.col >= 0 {
			if err := st.plan(f.Type(), target.Field(cols[st.col])); err != nil {
				return nil, err
			}
			p.filled[st.col] = true
		}
		p.steps = append(p.steps, st)
	}
	return p, nil
}

func (st *avroStep) plan(s avro.Schema, col arrow.Field) error {
	bad := func() error {
		return fmt.Errorf("avro field %q of type %s cannot be read as column %q %s", st.name, avroTypeName(s), col.Name, SQLTypeName(col.Type))
	}
	t := s
	if u, ok := s.(*avro.UnionSchema); ok {
		types := u.Types()
		if len(types) != 2 || (types[0].Type() != avro.Null && types[1].Type() != avro.Null) {
			return bad()
		}
		st.nullable = true
		st.nullIdx, t = 0, types[1]
		if types[1].Type() == avro.Null {
			st.nullIdx, t = 1, types[0]
		}
	}
	var logical avro.LogicalType
	if p, ok := t.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		logical = p.Logical().Type()
	}
	switch col.Type.ID() {
	case arrow.BOOL:
		if t.Type() == avro.Boolean {
			st.kind = avroBool
			return nil
		}
	case arrow.INT32:
		if t.Type() == avro.Int && logical == "" {
			st.kind = avroInt
			return nil
		}
	case arrow.INT64:
		if (t.Type() == avro.Int || t.Type() == avro.Long) && logical == "" {
			st.kind = avroInt
			if t.Type() == avro.Long {
				st.kind = avroLong
			}
			return nil
		}
	case arrow.FLOAT64:
		switch {
		case t.Type() == avro.Float:
			st.kind = avroFloat
			return nil
		case t.Type() == avro.Double:
			st.kind = avroDouble
			return nil
		case (t.Type() == avro.Int || t.Type() == avro.Long) && logical == "":
			st.kind = avroLong
			if t.Type() == avro.Int {
				st.kind = avroInt
			}
			return nil
		}
	case arrow.STRING:
		switch t.Type() {
		case avro.String, avro.Bytes:
			if logical == "" {
				st.kind = avroString
				return nil
			}
		case avro.Enum:
			st.kind, st.skip = avroEnum, t
			return nil
		}
	case arrow.TIMESTAMP:
		switch logical {
		case avro.TimestampMicros, avro.LocalTimestampMicros:
			st.kind, st.tsMul = avroTS, 1
			return nil
		case avro.TimestampMillis, avro.LocalTimestampMillis:
			st.kind, st.tsMul = avroTS, 1000
			return nil
		}
	case arrow.DATE32:
		if logical == avro.Date {
			st.kind = avroDate
			return nil
		}
	case arrow.DECIMAL128:
		if logical == avro.Decimal && t.Type() == avro.Bytes {
			d := t.(*avro.PrimitiveSchema).Logical().(*avro.DecimalLogicalSchema)
			if int32(d.Scale()) == col.Type.(*arrow.Decimal128Type).Scale {
				st.kind, st.scale = avroDecimal, int32(d.Scale())
				return nil
			}
		}
	}
	return bad()
}

func avroTypeName(s avro.Schema) string {
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return string(s.Type()) + "/" + string(p.Logical().Type())
	}
	if u, ok := s.(*avro.UnionSchema); ok {
		var names []string
		for _, t := range u.Types() {
			names = append(names, avroTypeName(t))
		}
		return "[" + strings.Join(names, ", ") + "]"
	}
	return string(s.Type())
}

// Decode reads one record from r into bs (one builder per output
// column). A truncated or malformed record is an error, and then the
// builders may hold part of the row: the caller decodes into scratch
// builders or discards them.
func (p *AvroPlan) Decode(r *avro.Reader, bs []array.Builder) error {
	for i := range p.steps {
		st := &p.steps[i]
		if st.col < 0 {
			skipAvro(r, st.skip)
			continue
		}
		b := bs[st.col]
		if st.nullable {
			if idx := int(r.ReadLong()); idx == st.nullIdx {
				b.AppendNull()
				continue
			}
		}
		switch st.kind {
		case avroBool:
			b.(*array.BooleanBuilder).Append(r.ReadBool())
		case avroInt:
			v := r.ReadInt()
			switch bb := b.(type) {
			case *array.Int32Builder:
				bb.Append(v)
			case *array.Int64Builder:
				bb.Append(int64(v))
			case *array.Float64Builder:
				bb.Append(float64(v))
			}
		case avroLong:
			v := r.ReadLong()
			if fb, ok := b.(*array.Float64Builder); ok {
				fb.Append(float64(v))
			} else {
				b.(*array.Int64Builder).Append(v)
			}
		case avroFloat:
			b.(*array.Float64Builder).Append(float64(r.ReadFloat()))
		case avroDouble:
			b.(*array.Float64Builder).Append(r.ReadDouble())
		case avroString:
			b.(*array.StringBuilder).BinaryBuilder.Append(r.ReadBytes())
		case avroEnum:
			idx := int(r.ReadInt())
			syms := st.skip.(*avro.EnumSchema).Symbols()
			if idx < 0 || idx >= len(syms) {
				return &RowError{Msg: fmt.Sprintf("avro field %q: enum index %d out of range", st.name, idx)}
			}
			b.(*array.StringBuilder).Append(syms[idx])
		case avroTS:
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(r.ReadLong() * st.tsMul))
		case avroDate:
			b.(*array.Date32Builder).Append(arrow.Date32(r.ReadInt()))
		case avroDecimal:
			raw := r.ReadBytes()
			if len(raw) > 16 {
				return &RowError{Msg: fmt.Sprintf("avro field %q: decimal of %d bytes does not fit DECIMAL(38)", st.name, len(raw))}
			}
			v := new(big.Int).SetBytes(raw)
			if len(raw) > 0 && raw[0]&0x80 != 0 {
				v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
			}
			b.(*array.Decimal128Builder).Append(decimal128.FromBigInt(v))
		}
		if r.Error != nil {
			break
		}
	}
	if r.Error != nil {
		return &RowError{Msg: "avro record: " + r.Error.Error()}
	}
	for i, ok := range p.filled {
		if !ok {
			bs[i].AppendNull()
		}
	}
	return nil
}

// skipAvro passes over one value of schema s.
func skipAvro(r *avro.Reader, s avro.Schema) {
	switch t := s.(type) {
	case *avro.UnionSchema:
		idx := int(r.ReadLong())
		if types := t.Types(); idx >= 0 && idx < len(types) {
			skipAvro(r, types[idx])
		} else if r.Error == nil {
			r.ReportError("skip union", fmt.Sprintf("branch %d out of range", idx))
		}
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			skipAvro(r, f.Type())
		}
	case *avro.ArraySchema:
		r.ReadArrayCB(func(r *avro.Reader) bool { skipAvro(r, t.Items()); return r.Error == nil })
	case *avro.MapSchema:
		r.ReadMapCB(func(r *avro.Reader, _ string) bool { skipAvro(r, t.Values()); return r.Error == nil })
	case *avro.FixedSchema:
		r.SkipNBytes(t.Size())
	case *avro.RefSchema:
		skipAvro(r, t.Schema())
	default:
		switch s.Type() {
		case avro.Boolean:
			r.SkipBool()
		case avro.Int, avro.Enum:
			r.SkipInt()
		case avro.Long:
			r.SkipLong()
		case avro.Float:
			r.SkipFloat()
		case avro.Double:
			r.SkipDouble()
		case avro.String, avro.Bytes:
			r.SkipBytes()
		}
	}
}

// AvroSchemaFor is the Avro record schema a sink registers for columns:
// every column a ["null", T] union (results may hold NULLs), timestamps
// as timestamp-micros, dates as date, decimals as bytes/decimal.
func AvroSchemaFor(name string, s *arrow.Schema) (avro.Schema, error) {
	var fields []*avro.Field
	for _, f := range s.Fields() {
		var t avro.Schema
		switch ft := f.Type.(type) {
		case *arrow.BooleanType:
			t = avro.NewPrimitiveSchema(avro.Boolean, nil)
		case *arrow.Int32Type, *arrow.Int16Type, *arrow.Int8Type:
			t = avro.NewPrimitiveSchema(avro.Int, nil)
		case *arrow.Int64Type:
			t = avro.NewPrimitiveSchema(avro.Long, nil)
		case *arrow.Float64Type, *arrow.Float32Type:
			t = avro.NewPrimitiveSchema(avro.Double, nil)
		case *arrow.StringType:
			t = avro.NewPrimitiveSchema(avro.String, nil)
		case *arrow.TimestampType:
			t = avro.NewPrimitiveSchema(avro.Long, avro.NewPrimitiveLogicalSchema(avro.TimestampMicros))
		case *arrow.Date32Type:
			t = avro.NewPrimitiveSchema(avro.Int, avro.NewPrimitiveLogicalSchema(avro.Date))
		case *arrow.Decimal128Type:
			t = avro.NewPrimitiveSchema(avro.Bytes, avro.NewDecimalLogicalSchema(int(ft.Precision), int(ft.Scale)))
		default:
			return nil, fmt.Errorf("column %q: %s cannot be written as Avro", f.Name, SQLTypeName(f.Type))
		}
		u, err := avro.NewUnionSchema([]avro.Schema{avro.NewNullSchema(), t})
		if err != nil {
			return nil, err
		}
		af, err := avro.NewField(avroName(f.Name), u, avro.WithDefault(nil))
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name, err)
		}
		fields = append(fields, af)
	}
	return avro.NewRecordSchema(avroName(name), "", fields)
}

// avroName makes a column name a valid Avro name ([A-Za-z_][A-Za-z0-9_]*).
func avroName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// AppendAvro encodes row i of cols with the schema AvroSchemaFor made for
// their fields.
func AppendAvro(w *avro.Writer, cols []arrow.Array, i int) {
	for _, col := range cols {
		if col.IsNull(i) {
			w.WriteLong(0)
			continue
		}
		w.WriteLong(1)
		switch a := col.(type) {
		case *array.Boolean:
			w.WriteBool(a.Value(i))
		case *array.Int8:
			w.WriteInt(int32(a.Value(i)))
		case *array.Int16:
			w.WriteInt(int32(a.Value(i)))
		case *array.Int32:
			w.WriteInt(a.Value(i))
		case *array.Int64:
			w.WriteLong(a.Value(i))
		case *array.Float32:
			w.WriteDouble(float64(a.Value(i)))
		case *array.Float64:
			w.WriteDouble(a.Value(i))
		case *array.String:
			w.WriteString(a.Value(i))
		case *array.Timestamp:
			w.WriteLong(int64(a.Value(i)))
		case *array.Date32:
			w.WriteInt(int32(a.Value(i)))
		case *array.Decimal128:
			w.WriteBytes(decimalTwosComplement(a.Value(i).BigInt()))
		}
	}
}

// decimalTwosComplement is v as big-endian two's complement, the
// shortest form, as Avro's decimal wants.
func decimalTwosComplement(v *big.Int) []byte {
	if v.Sign() >= 0 {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	n := (v.BitLen() + 8) / 8
	m := new(big.Int).Add(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	b := m.Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	return b
}
