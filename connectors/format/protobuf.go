package format

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Protobuf messages (the schemas are .proto text, as a Schema Registry
// holds them): a plan per writer message maps each column to the field
// of its name (case-insensitive), or to NULL when the writer has no such
// field, so messages of an older or newer schema read alike; a field
// whose type cannot be read as its column's is an error when the plan is
// built. Scalars read as their SQL types (uint64 and fixed64 as
// DECIMAL(20,0), so no value overflows), enums as their value's name,
// google.protobuf.Timestamp as TIMESTAMP, google.type.Date as DATE,
// confluent.type.Decimal as DECIMAL (protobuf_types.go), other messages, repeated
// fields and maps as their JSON text. A field with presence (proto3
// optional, a message) that is not set is NULL; a proto3 scalar without
// presence reads its default.

// protoTimestamp is the full name of the well-known Timestamp message.
const protoTimestamp = "google.protobuf.Timestamp"

// CompileProto compiles the .proto file main from files (path → text;
// the well-known google/protobuf imports and the logical types'
// google/type/date.proto and confluent/type/decimal.proto need not be
// given).
func CompileProto(ctx context.Context, main string, files map[string]string) (protoreflect.FileDescriptor, error) {
	var msgs []string
	all := make(map[string]string, len(files)+len(protoTypeFiles))
	for k, v := range protoTypeFiles {
		all[k] = v
	}
	for k, v := range files {
		all[k] = v
	}
	c := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(all)}),
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			msgs = append(msgs, err.Error())
			return nil
		}, nil),
	}
	fds, err := c.Compile(ctx, main)
	if err != nil {
		if len(msgs) > 0 {
			return nil, errors.New(strings.Join(msgs, "; "))
		}
		return nil, err
	}
	return fds[0], nil
}

// ProtoMessage is the message a Confluent message-index path names in fd:
// [i] the file's i-th message, [i, j] its j-th nested message, ….
func ProtoMessage(fd protoreflect.FileDescriptor, index []int) (protoreflect.MessageDescriptor, error) {
	if len(index) == 0 {
		index = []int{0}
	}
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for _, i := range index {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("message index %v is not a message of the schema (it has %d at that level)", index, msgs.Len())
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md, nil
}

// ProtoMessageNamed is the message of fd with the full name name, or the
// simple name when that is unambiguous.
func ProtoMessageNamed(fd protoreflect.FileDescriptor, name string) (protoreflect.MessageDescriptor, error) {
	var found []protoreflect.MessageDescriptor
	var names []string
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			names = append(names, string(m.FullName()))
			if string(m.FullName()) == name || string(m.Name()) == name {
				found = append(found, m)
			}
			walk(m.Messages())
		}
	}
	walk(fd.Messages())
	for _, m := range found {
		if string(m.FullName()) == name {
			return m, nil
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("the schema has no message %q (it has %s)", name, strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("message name %q is ambiguous: give its full name", name)
}

// ProtoColumns infers columns from a message: one nullable column per
// field, in field order.
func ProtoColumns(md protoreflect.MessageDescriptor) (*arrow.Schema, error) {
	fs := md.Fields()
	fields := make([]arrow.Field, 0, fs.Len())
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		fields = append(fields, arrow.Field{Name: string(fd.Name()), Type: protoArrowType(fd), Nullable: true})
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("protobuf message %s has no fields", md.FullName())
	}
	return arrow.NewSchema(fields, nil), nil
}

// protoArrowType is the column type a field reads as.
func protoArrowType(fd protoreflect.FieldDescriptor) arrow.DataType {
	if fd.IsList() || fd.IsMap() {
		return arrow.BinaryTypes.String
	}
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return arrow.FixedWidthTypes.Boolean
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return arrow.PrimitiveTypes.Int32
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return arrow.PrimitiveTypes.Int64
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &arrow.Decimal128Type{Precision: 20, Scale: 0}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return arrow.PrimitiveTypes.Float64
	case protoreflect.MessageKind, protoreflect.GroupKind:
		switch string(fd.Message().FullName()) {
		case protoTimestamp:
			return TimestampType
		case protoDateName:
			return arrow.FixedWidthTypes.Date32
		case protoDecimalName:
			return InferredProtoDecimal
		}
	}
	return arrow.BinaryTypes.String
}

// ProtoPlan reads messages of one writer message type into columns.
type ProtoPlan struct {
	msg     *dynamicpb.Message
	steps   []protoStep      // one per output column
	checked []decimal128.Num // by column: a date's days or a decimal, see check
}

// protoStep fills one output column from a field; fd nil: NULL.
type protoStep struct {
	fd   protoreflect.FieldDescriptor
	kind protoKind
}

type protoKind uint8

const (
	protoNull protoKind = iota
	protoBool
	protoInt // any integer into an integer or DOUBLE column
	protoUint64
	protoFloat
	protoString
	protoBytes
	protoEnum
	protoJSON // messages, lists and maps as JSON text
	protoTS
	protoDate    // google.type.Date
	protoDecimal // confluent.type.Decimal
)

// NewProtoPlan plans reading messages of writer into the columns cols of
// target, in that order.
func NewProtoPlan(writer protoreflect.MessageDescriptor, target *arrow.Schema, cols []int) (*ProtoPlan, error) {
	byName := map[string]protoreflect.FieldDescriptor{}
	fs := writer.Fields()
	for i := 0; i < fs.Len(); i++ {
		byName[strings.ToLower(string(fs.Get(i).Name()))] = fs.Get(i)
	}
	p := &ProtoPlan{msg: dynamicpb.NewMessage(writer), steps: make([]protoStep, len(cols))}
	for i, c := range cols {
		col := target.Field(c)
		fd := byName[strings.ToLower(col.Name)]
		if fd == nil {
			continue // a field the writer does not have: NULL
		}
		k, ok := protoStepKind(fd, col.Type)
		if !ok {
			return nil, fmt.Errorf("protobuf field %q of type %s cannot be read as column %q %s", fd.Name(), protoTypeName(fd), col.Name, SQLTypeName(col.Type))
		}
		p.steps[i] = protoStep{fd: fd, kind: k}
	}
	return p, nil
}

func protoTypeName(fd protoreflect.FieldDescriptor) string {
	name := fd.Kind().String()
	if fd.Message() != nil {
		name = string(fd.Message().FullName())
	}
	if fd.IsMap() {
		return "map"
	}
	if fd.IsList() {
		return "repeated " + name
	}
	return name
}

// protoStepKind is how fd fills a column of type t, false when it cannot.
func protoStepKind(fd protoreflect.FieldDescriptor, t arrow.DataType) (protoKind, bool) {
	if fd.IsList() || fd.IsMap() {
		return protoJSON, t.ID() == arrow.STRING
	}
	k := fd.Kind()
	isInt := false
	bits := 64
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		isInt, bits = true, 32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		isInt = true
	}
	switch t.ID() {
	case arrow.BOOL:
		return protoBool, k == protoreflect.BoolKind
	case arrow.INT32:
		return protoInt, isInt && bits == 32
	case arrow.INT64:
		return protoInt, isInt
	case arrow.DATE32:
		return protoDate, isProtoMessage(fd, protoDateName)
	case arrow.DECIMAL128:
		if isProtoMessage(fd, protoDecimalName) {
			return protoDecimal, true
		}
		if t.(*arrow.Decimal128Type).Scale != 0 {
			return 0, false
		}
		if k == protoreflect.Uint64Kind || k == protoreflect.Fixed64Kind {
			return protoUint64, true
		}
		return protoInt, isInt
	case arrow.FLOAT64:
		if k == protoreflect.FloatKind || k == protoreflect.DoubleKind {
			return protoFloat, true
		}
		return protoInt, isInt
	case arrow.STRING:
		switch k {
		case protoreflect.StringKind:
			return protoString, true
		case protoreflect.BytesKind:
			return protoBytes, true
		case protoreflect.EnumKind:
			return protoEnum, true
		case protoreflect.MessageKind, protoreflect.GroupKind:
			return protoJSON, true
		}
	case arrow.TIMESTAMP:
		return protoTS, (k == protoreflect.MessageKind) && fd.Message().FullName() == protoTimestamp
	}
	return 0, false
}

// Decode reads one message from data and appends it as a row to bs (one
// builder per planned column). A message that does not parse is a
// *RowError and appends nothing.
func (p *ProtoPlan) Decode(data []byte, bs []array.Builder) error {
	proto.Reset(p.msg)
	// proto3 has no required fields to check.
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, p.msg); err != nil {
		return &RowError{Msg: fmt.Sprintf("not a %s message: %v", p.msg.Descriptor().FullName(), err)}
	}
	if err := p.check(bs); err != nil {
		return err
	}
	for i, st := range p.steps {
		b := bs[i]
		if st.fd == nil || (st.fd.HasPresence() && !p.msg.Has(st.fd)) || ((st.fd.IsList() || st.fd.IsMap()) && !p.msg.Has(st.fd)) {
			b.AppendNull()
			continue
		}
		v := p.msg.Get(st.fd)
		switch st.kind {
		case protoBool:
			b.(*array.BooleanBuilder).Append(v.Bool())
		case protoInt:
			var n int64
			switch st.fd.Kind() {
			case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
				n = int64(v.Uint())
			default:
				n = v.Int()
			}
			switch b := b.(type) {
			case *array.Int32Builder:
				b.Append(int32(n))
			case *array.Int64Builder:
				b.Append(n)
			case *array.Float64Builder:
				b.Append(float64(n))
			case *array.Decimal128Builder:
				b.Append(decimal128.FromI64(n))
			}
		case protoUint64:
			b.(*array.Decimal128Builder).Append(decimal128.FromU64(v.Uint()))
		case protoFloat:
			b.(*array.Float64Builder).Append(v.Float())
		case protoString:
			b.(*array.StringBuilder).Append(v.String())
		case protoBytes:
			b.(*array.StringBuilder).BinaryBuilder.Append(v.Bytes())
		case protoEnum:
			name := strconv.Itoa(int(v.Enum()))
			if ev := st.fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
				name = string(ev.Name())
			}
			b.(*array.StringBuilder).Append(name)
		case protoTS:
			m := v.Message()
			fs := m.Descriptor().Fields()
			secs, nanos := m.Get(fs.ByName("seconds")).Int(), m.Get(fs.ByName("nanos")).Int()
			tb := b.(*array.TimestampBuilder)
			tb.Append(secondsToTimestamp(secs, nanos, tb.Type().(*arrow.TimestampType).Unit))
		case protoJSON:
			b.(*array.StringBuilder).Append(string(appendProtoJSON(nil, st.fd, v)))
		case protoDate:
			b.(*array.Date32Builder).Append(arrow.Date32(p.checked[i].LowBits()))
		case protoDecimal:
			b.(*array.Decimal128Builder).Append(p.checked[i])
		}
	}
	return nil
}

// check reads the values that can be out of their column's range (a
// date, a decimal) into p.checked before anything is appended, so a bad
// message appends nothing.
func (p *ProtoPlan) check(bs []array.Builder) error {
	for i, st := range p.steps {
		if (st.kind != protoDate && st.kind != protoDecimal) || !p.msg.Has(st.fd) {
			continue
		}
		if p.checked == nil {
			p.checked = make([]decimal128.Num, len(p.steps))
		}
		m := p.msg.Get(st.fd).Message()
		var err error
		if st.kind == protoDate {
			var d arrow.Date32
			d, err = protoDateValue(m)
			p.checked[i] = decimal128.FromI64(int64(d))
		} else {
			p.checked[i], err = protoDecimalValue(m, bs[i].Type().(*arrow.Decimal128Type))
		}
		if err != nil {
			return &RowError{Msg: fmt.Sprintf("field %q: %v", st.fd.Name(), err)}
		}
	}
	return nil
}

// appendProtoJSON appends the JSON text of a field's value: protojson's
// for messages, JSON arrays and objects for lists and maps.
func appendProtoJSON(dst []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch {
	case fd.IsList():
		l := v.List()
		dst = append(dst, '[')
		for i := 0; i < l.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendProtoScalarJSON(dst, fd, l.Get(i))
		}
		return append(dst, ']')
	case fd.IsMap():
		dst = append(dst, '{')
		first := true
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = strconv.AppendQuote(dst, k.String())
			dst = append(dst, ':')
			dst = appendProtoScalarJSON(dst, fd.MapValue(), mv)
			return true
		})
		return append(dst, '}')
	}
	return appendProtoScalarJSON(dst, fd, v)
}

// appendProtoScalarJSON appends one element (not a list or map) as JSON.
func appendProtoScalarJSON(dst []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value) []byte {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(v.Message().Interface())
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	case protoreflect.StringKind:
		return appendJSONText(dst, v.String())
	case protoreflect.BytesKind:
		return appendJSONText(dst, string(v.Bytes()))
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendJSONText(dst, string(ev.Name()))
		}
		return strconv.AppendInt(dst, int64(v.Enum()), 10)
	case protoreflect.BoolKind:
		return strconv.AppendBool(dst, v.Bool())
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(dst, v.Uint(), 10)
	}
	return strconv.AppendInt(dst, v.Int(), 10)
}

// appendJSONText appends s as a JSON string.
func appendJSONText(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// secondsToTimestamp converts seconds and nanoseconds to unit without
// going through nanoseconds since the epoch, which overflow past 2262.
func secondsToTimestamp(secs, nanos int64, unit arrow.TimeUnit) arrow.Timestamp {
	switch unit {
	case arrow.Second:
		return arrow.Timestamp(secs)
	case arrow.Millisecond:
		return arrow.Timestamp(secs*1e3 + nanos/1e6)
	case arrow.Microsecond:
		return arrow.Timestamp(secs*1e6 + nanos/1e3)
	}
	return arrow.Timestamp(secs*1e9 + nanos)
}
