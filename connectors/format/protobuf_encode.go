package format

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"google.golang.org/protobuf/encoding/protowire"
)

// ProtoEncoder writes rows as protobuf messages of the schema it made for
// its columns: field i+1 is column i, every field proto3 optional (so
// NULL is an unset field), integers as int32 or int64, floats as double,
// timestamps as google.protobuf.Timestamp, dates as google.type.Date,
// decimals as confluent.type.Decimal (see protobuf_types.go), and
// everything else as string in the shared text form.
type ProtoEncoder struct {
	text    string
	kinds   []protoOut
	scratch []byte // a value's text
}

type protoOut uint8

const (
	outInt protoOut = iota
	outUint
	outDouble
	outBool
	outString
	outTS
	outDate
	outDecimal
)

// NewProtoEncoder makes the encoder of columns s and the .proto text of
// its message, named name (made a valid identifier).
func NewProtoEncoder(name string, s *arrow.Schema) (*ProtoEncoder, error) {
	e := &ProtoEncoder{}
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n\n")
	body := &strings.Builder{}
	usesTS, usesDate, usesDecimal := false, false, false
	seen := map[string]bool{}
	for i, f := range s.Fields() {
		typ, k := "string", outString
		switch f.Type.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32:
			typ, k = "int32", outInt
		case arrow.INT64:
			typ, k = "int64", outInt
		case arrow.UINT8, arrow.UINT16, arrow.UINT32:
			typ, k = "uint32", outUint
		case arrow.UINT64:
			typ, k = "uint64", outUint
		case arrow.FLOAT32, arrow.FLOAT64:
			typ, k = "double", outDouble
		case arrow.BOOL:
			typ, k = "bool", outBool
		case arrow.TIMESTAMP:
			typ, k, usesTS = "google.protobuf.Timestamp", outTS, true
		case arrow.DATE32:
			typ, k, usesDate = protoDateName, outDate, true
		case arrow.DECIMAL128:
			typ, k, usesDecimal = protoDecimalName, outDecimal, true
		}
		fname := protoIdent(f.Name)
		if seen[strings.ToLower(fname)] {
			return nil, fmt.Errorf("columns %q and another one have the same protobuf field name %q", f.Name, fname)
		}
		seen[strings.ToLower(fname)] = true
		opt := "optional "
		if k == outTS || k == outDate || k == outDecimal {
			opt = "" // a message field has presence anyway
		}
		fmt.Fprintf(body, "  %s%s %s = %d;\n", opt, typ, fname, i+1)
		e.kinds = append(e.kinds, k)
	}
	for _, imp := range []struct {
		used bool
		file string
	}{{usesTS, "google/protobuf/timestamp.proto"}, {usesDate, protoDateFile}, {usesDecimal, protoDecimalFile}} {
		if imp.used {
			fmt.Fprintf(&b, "import %q;\n", imp.file)
		}
	}
	if usesTS || usesDate || usesDecimal {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "message %s {\n%s}\n", protoIdent(name), body.String())
	e.text = b.String()
	return e, nil
}

// protoIdent makes s a protobuf identifier: letters, digits and '_', not
// starting with a digit.
func protoIdent(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9'):
			b.WriteRune(r)
		case i == 0 && r >= '0' && r <= '9':
			b.WriteString("_")
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// Schema is the .proto text of the encoder's message.
func (e *ProtoEncoder) Schema() string { return e.text }

// Append appends row i of cols (the encoder's columns, in order) to dst
// as one message. It is not safe for concurrent use.
func (e *ProtoEncoder) Append(dst []byte, cols []arrow.Array, i int) []byte {
	for j, arr := range cols {
		if arr.IsNull(i) {
			continue
		}
		num := protowire.Number(j + 1)
		switch e.kinds[j] {
		case outInt:
			dst = protowire.AppendTag(dst, num, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(intValue(arr, i)))
		case outUint:
			dst = protowire.AppendTag(dst, num, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uintValue(arr, i))
		case outDouble:
			f := 0.0
			switch a := arr.(type) {
			case *array.Float64:
				f = a.Value(i)
			case *array.Float32:
				f = float64(a.Value(i))
			}
			dst = protowire.AppendTag(dst, num, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, math.Float64bits(f))
		case outBool:
			dst = protowire.AppendTag(dst, num, protowire.VarintType)
			dst = protowire.AppendVarint(dst, protowire.EncodeBool(arr.(*array.Boolean).Value(i)))
		case outTS:
			a := arr.(*array.Timestamp)
			secs, nanos := timestampSeconds(a.Value(i), a.DataType().(*arrow.TimestampType).Unit)
			var m []byte
			if secs != 0 {
				m = protowire.AppendTag(m, 1, protowire.VarintType)
				m = protowire.AppendVarint(m, uint64(secs))
			}
			if nanos != 0 {
				m = protowire.AppendTag(m, 2, protowire.VarintType)
				m = protowire.AppendVarint(m, uint64(nanos))
			}
			dst = protowire.AppendTag(dst, num, protowire.BytesType)
			dst = protowire.AppendBytes(dst, m)
		case outDate:
			dst = appendProtoDate(dst, num, arr.(*array.Date32).Value(i))
		case outDecimal:
			a := arr.(*array.Decimal128)
			dst = appendProtoDecimal(dst, num, a.Value(i), a.DataType().(*arrow.Decimal128Type))
		default:
			dst = protowire.AppendTag(dst, num, protowire.BytesType)
			e.scratch = AppendValue(e.scratch[:0], arr, i)
			dst = protowire.AppendBytes(dst, e.scratch)
		}
	}
	return dst
}

func intValue(arr arrow.Array, i int) int64 {
	switch a := arr.(type) {
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	}
	return 0
}

func uintValue(arr arrow.Array, i int) uint64 {
	switch a := arr.(type) {
	case *array.Uint8:
		return uint64(a.Value(i))
	case *array.Uint16:
		return uint64(a.Value(i))
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Uint64:
		return a.Value(i)
	}
	return 0
}

// timestampSeconds splits a timestamp into seconds since the epoch and
// the nanoseconds (0 to 999999999) past them.
func timestampSeconds(v arrow.Timestamp, unit arrow.TimeUnit) (secs, nanos int64) {
	per := int64(1)
	switch unit {
	case arrow.Millisecond:
		per = 1e3
	case arrow.Microsecond:
		per = 1e6
	case arrow.Nanosecond:
		per = 1e9
	}
	secs, rest := int64(v)/per, int64(v)%per
	if rest < 0 {
		secs, rest = secs-1, rest+per
	}
	return secs, rest * (1e9 / per)
}
