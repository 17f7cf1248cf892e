package format

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

const protoAll = `syntax = "proto3";
package shop;
message Item { string sku = 1; int32 n = 2; }
message Order {
  uint64 big = 1;
  map<string, int64> counts = 2;
  Item item = 3;
  repeated Item items = 4;
  sint32 small = 5;
  bytes raw = 6;
  optional bool flag = 7;
}`

// TestProtoDecode: uint64 reads as DECIMAL(20,0) without overflow, maps,
// nested and repeated messages as JSON, sint32 and bytes as their values,
// an unset optional field as NULL; a field that cannot be its column's
// type is a plan error naming both; a message that does not parse is a
// row error; messages are found by name.
func TestProtoDecode(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fd, err := CompileProto(context.Background(), "a.proto", map[string]string{"a.proto": protoAll})
	if err != nil {
		t.Fatal(err)
	}
	md, err := ProtoMessageNamed(fd, "Order")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ProtoMessageNamed(fd, "Nope"); err == nil || !strings.Contains(err.Error(), "shop.Item, shop.Order") {
		t.Errorf("unknown message: %v", err)
	}
	if _, err := CompileProto(context.Background(), "b.proto", map[string]string{"b.proto": "syntax = \"proto3\"; message X { int64 a = 1 }"}); err == nil || !strings.Contains(err.Error(), "b.proto:1") {
		t.Errorf("a syntax error: %v, want its position", err)
	}
	cols, err := ProtoColumns(md)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range cols.Fields() {
		names = append(names, f.Name+" "+SQLTypeName(f.Type))
	}
	if got := strings.Join(names, ", "); got != "big DECIMAL(20,0), counts VARCHAR, item VARCHAR, items VARCHAR, small INT, raw VARCHAR, flag BOOLEAN" {
		t.Errorf("columns %s", got)
	}
	m := dynamicpb.NewMessage(md)
	f := md.Fields()
	m.Set(f.ByName("big"), protoreflect.ValueOfUint64(18446744073709551615))
	m.Mutable(f.ByName("counts")).Map().Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfInt64(2))
	item := m.NewField(f.ByName("item")).Message()
	item.Set(item.Descriptor().Fields().ByName("sku"), protoreflect.ValueOfString("k"))
	m.Set(f.ByName("item"), protoreflect.ValueOfMessage(item))
	m.Mutable(f.ByName("items")).List().Append(protoreflect.ValueOfMessage(item))
	m.Set(f.ByName("small"), protoreflect.ValueOfInt32(-3))
	m.Set(f.ByName("raw"), protoreflect.ValueOfBytes([]byte("hi")))
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, cols.NumFields())
	for i := range all {
		all[i] = i
	}
	p, err := NewProtoPlan(md, cols, all)
	if err != nil {
		t.Fatal(err)
	}
	bs := make([]array.Builder, len(all))
	for i, fl := range cols.Fields() {
		bs[i] = array.NewBuilder(mem, fl.Type)
		defer bs[i].Release()
	}
	if err := p.Decode(data, bs); err != nil {
		t.Fatal(err)
	}
	if err := p.Decode([]byte{0xff, 0xff}, bs); err == nil || !strings.Contains(err.Error(), "not a shop.Order message") {
		t.Errorf("garbage: %v", err)
	}
	var row []string
	for _, b := range bs {
		a := b.NewArray()
		defer a.Release()
		if a.Len() != 1 {
			t.Fatalf("%d values, want 1 (a bad message appends nothing)", a.Len())
		}
		row = append(row, FormatValue(a, 0))
	}
	if got, want := strings.Join(row, "|"), `18446744073709551615|{"a":2}|{"sku":"k"}|[{"sku":"k"}]|-3|hi|NULL`; got != want {
		t.Errorf("row %s, want %s", got, want)
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "COUNTS", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	if _, err := NewProtoPlan(md, bad, []int{0}); err == nil || !strings.Contains(err.Error(), `protobuf field "counts" of type map cannot be read as column "COUNTS" BIGINT`) {
		t.Errorf("incompatible: %v", err)
	}
}

// TestProtoEncoderRoundTrip: the encoder's schema compiles, and its
// messages decode to the same values, NULLs and negative
// timestamps included.
func TestProtoEncoderRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "at", Type: ts, Nullable: true},
		{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "2nd col", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "big", Type: &arrow.Decimal128Type{Precision: 38, Scale: 9}, Nullable: true},
	}, nil)
	enc, err := NewProtoEncoder("out-topic", sch)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := array.RecordFromJSON(mem, sch, strings.NewReader(`[
		{"id": -7, "at": "1969-12-31T23:59:59.5", "price": "-12.34", "2nd col": "x", "day": "1969-12-31", "big": "-12345678901234567890.123456789"},
		{"id": null, "at": "2200-01-01T00:00:00", "price": "0.00", "2nd col": "", "day": "2262-04-12", "big": null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	fd, err := CompileProto(context.Background(), "out.proto", map[string]string{"out.proto": enc.Schema()})
	if err != nil {
		t.Fatalf("%v\n%s", err, enc.Schema())
	}
	md, _ := ProtoMessage(fd, nil)
	cols, err := ProtoColumns(md)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProtoPlan(md, cols, []int{0, 1, 2, 3, 4, 5})
	if err != nil {
		t.Fatal(err)
	}
	bs := make([]array.Builder, 6)
	// DATE and DECIMAL come back typed: the logical types, not strings
	// (a declared column keeps its own precision and scale).
	for i, want := range []string{"INT", "TIMESTAMP", "DECIMAL(38,9)", "VARCHAR", "DATE", "DECIMAL(38,9)"} {
		if got := SQLTypeName(cols.Field(i).Type); got != want {
			t.Errorf("column %s read as %s, want %s", cols.Field(i).Name, got, want)
		}
	}
	for i, fl := range sch.Fields() {
		bs[i] = array.NewBuilder(mem, fl.Type)
		defer bs[i].Release()
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		if err := p.Decode(enc.Append(nil, rec.Columns(), i), bs); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, b := range bs {
		a := b.NewArray()
		defer a.Release()
		got = append(got, FormatValue(a, 0)+"/"+FormatValue(a, 1))
	}
	if g, want := strings.Join(got, " "), "-7/NULL 1969-12-31 23:59:59.5/2200-01-01 00:00:00 -12.34/0.00 x/ 1969-12-31/2262-04-12 -12345678901234567890.123456789/NULL"; g != want {
		t.Errorf("round trip %s, want %s\nschema:\n%s", g, want, enc.Schema())
	}
	for _, want := range []string{"optional string _2nd_col = 4;", "google.type.Date day = 5;", "confluent.type.Decimal big = 6;", `import "google/type/date.proto";`} {
		if !strings.Contains(enc.Schema(), want) {
			t.Errorf("schema has no %q:\n%s", want, enc.Schema())
		}
	}
	// A decimal with more digits after the point than its column keeps
	// is a bad row naming the field, not a rounded value.
	narrow, err := NewProtoPlan(md, arrow.NewSchema([]arrow.Field{{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 1}, Nullable: true}}, nil), []int{0})
	if err != nil {
		t.Fatal(err)
	}
	nb := array.NewBuilder(mem, &arrow.Decimal128Type{Precision: 10, Scale: 1})
	defer nb.Release()
	if err := narrow.Decode(enc.Append(nil, rec.Columns(), 0), []array.Builder{nb}); err == nil || !strings.Contains(err.Error(), `field "price"`) || nb.Len() != 0 {
		t.Errorf("-12.34 into DECIMAL(10, 1): %v (%d values appended), want a bad row naming the field", err, nb.Len())
	}
}
