package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

const (
	protoV1 = `syntax = "proto3";
import "google/protobuf/timestamp.proto";
message Order {
  enum Kind { A = 0; B = 1; }
  string category = 1;
  int64 value = 2;
  google.protobuf.Timestamp ts = 3;
  optional double price = 4;
  Kind kind = 5;
  repeated string tags = 6;
}`
	// v2 puts another message first (records name Order by the index
	// path [1]) and adds an optional field.
	protoV2 = `syntax = "proto3";
import "google/protobuf/timestamp.proto";
message Header { string source = 1; }
message Order {
  enum Kind { A = 0; B = 1; }
  string category = 1;
  int64 value = 2;
  google.protobuf.Timestamp ts = 3;
  optional double price = 4;
  Kind kind = 5;
  repeated string tags = 6;
  optional string note = 7;
}`
	// v3 makes value a string: no query reading value as BIGINT can.
	protoV3 = `syntax = "proto3";
message Order { string category = 1; string value = 2; }`
)

// compiledProtos caches the schemas pbValue compiled, by text (tests
// that use it do not run in parallel).
var compiledProtos = map[string]protoreflect.FileDescriptor{}

// pbValue frames a message of the schema text s (compiled), the message
// at index, under id, with the fields of v set (lists as []string,
// timestamps as time.Time, enums by value name).
func pbValue(t testing.TB, id int, s string, index []int, v map[string]any) []byte {
	t.Helper()
	fd := compiledProtos[s]
	if fd == nil {
		var err error
		if fd, err = format.CompileProto(context.Background(), "t.proto", map[string]string{"t.proto": s}); err != nil {
			t.Fatal(err)
		}
		compiledProtos[s] = fd
	}
	md, err := format.ProtoMessage(fd, index)
	if err != nil {
		t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	for name, x := range v {
		f := md.Fields().ByName(protoreflect.Name(name))
		if f == nil {
			t.Fatalf("no field %s", name)
		}
		switch x := x.(type) {
		case string:
			if f.Kind() == protoreflect.EnumKind {
				m.Set(f, protoreflect.ValueOfEnum(f.Enum().Values().ByName(protoreflect.Name(x)).Number()))
			} else {
				m.Set(f, protoreflect.ValueOfString(x))
			}
		case int64:
			m.Set(f, protoreflect.ValueOfInt64(x))
		case float64:
			m.Set(f, protoreflect.ValueOfFloat64(x))
		case []string:
			l := m.Mutable(f).List()
			for _, e := range x {
				l.Append(protoreflect.ValueOfString(e))
			}
		case time.Time:
			ts := m.NewField(f).Message()
			ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(x.Unix()))
			ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(x.Nanosecond())))
			m.Set(f, protoreflect.ValueOfMessage(ts))
		}
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if index == nil {
		index = []int{0}
	}
	out, err := confluentHeader.AppendEncode(nil, id, index)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, b...)
}

// TestProtobufSourceEvolves: a source without columns takes them from the
// first message of the subject's latest schema (enums as their names,
// Timestamp as TIMESTAMP, repeated fields as JSON text, unset optional
// fields NULL); records of a later schema that adds a field and moves the
// message to index 1 keep being read; a source made after the change has
// the new column, NULL in older records; a change that cannot be read
// fails naming topic, partition, offset and both schema ids.
func TestProtobufSourceEvolves(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	reg.SeedSchema("orders-value", 1, 1, sr.Schema{Schema: protoV1, Type: sr.TypeProtobuf})
	_, addr := newCluster(t, map[string]int32{"orders": 1})
	mem := checkedMem(t)
	cl := manualClient(t, addr)
	produceTo(t, cl,
		&kgo.Record{Topic: "orders", Value: pbValue(t, 1, protoV1, nil, map[string]any{"category": "a", "value": int64(1), "ts": time.UnixMilli(1000), "kind": "B", "tags": []string{"x", "y"}})},
		&kgo.Record{Topic: "orders", Value: pbValue(t, 1, protoV1, nil, map[string]any{"category": "b", "value": int64(2), "ts": time.UnixMilli(2500), "price": 12.5})},
	)
	o := opts("topic", "orders", "brokers", addr, "format", "protobuf", "schema.registry.url", reg.URL())
	src, err := NewSource(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range src.Schema().Fields() {
		names = append(names, f.Name+" "+format.SQLTypeName(f.Type))
	}
	if got := strings.Join(names, ", "); got != "category VARCHAR, value BIGINT, ts TIMESTAMP, price DOUBLE, kind VARCHAR, tags VARCHAR" {
		t.Fatalf("inferred columns %s", got)
	}
	reg.SeedSchema("orders-value", 2, 2, sr.Schema{Schema: protoV2, Type: sr.TypeProtobuf})
	produceTo(t, cl, &kgo.Record{Topic: "orders", Value: pbValue(t, 2, protoV2, []int{1}, map[string]any{"category": "c", "value": int64(3), "note": "new"})})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	r.Close()
	want := sorted(`a|1|1970-01-01 00:00:01|NULL|B|["x","y"]`, "b|2|1970-01-01 00:00:02.5|12.5|A|NULL", "c|3|NULL|NULL|A|NULL")
	if !equal(got, want) {
		t.Errorf("v1 source read %q, want %q", got, want)
	}
	// The first message of v2 is Header: 'protobuf.message' names Order.
	o2 := opts("topic", "orders", "brokers", addr, "format", "protobuf", "schema.registry.url", reg.URL(), "protobuf.message", "Order")
	r2 := openSource(t, mem, o2, nil, exec.ScanSpec{Bounded: true})
	got = readAll(t, r2)
	want = sorted(`a|1|1970-01-01 00:00:01|NULL|B|["x","y"]|NULL`, "b|2|1970-01-01 00:00:02.5|12.5|A|NULL|NULL", "c|3|NULL|NULL|A|NULL|new")
	if !equal(got, want) {
		t.Errorf("v2 source read %q, want %q", got, want)
	}
	reg.SeedSchema("orders-value", 3, 3, sr.Schema{Schema: protoV3, Type: sr.TypeProtobuf})
	produceTo(t, cl, &kgo.Record{Topic: "orders", Value: pbValue(t, 3, protoV3, nil, map[string]any{"category": "d", "value": "four"})})
	r3, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	var rerr error
	for rerr == nil {
		var b exec.Batch
		if b, rerr = r3.Next(ctx); b.Record != nil {
			b.Record.Release()
		}
	}
	for _, w := range []string{"orders/0/3", "schema id 3", "schema id 1", `"value"`} {
		if !strings.Contains(rerr.Error(), w) {
			t.Errorf("error %q lacks %q", rerr, w)
		}
	}
}

// TestProtobufSinkRoundTrip: a sink with format protobuf registers a
// schema of its result's columns under '<topic>-value' and writes
// Confluent-framed messages that a protobuf source, inferring its columns
// from that subject, reads back, NULLs included.
func TestProtobufSinkRoundTrip(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	_, addr := newCluster(t, map[string]int32{"totals": 1})
	mem := checkedMem(t)
	sink, err := NewSink(opts("topic", "totals", "brokers", addr, "format", "protobuf", "schema.registry.url", reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	ts := &arrow.TimestampType{Unit: arrow.Microsecond}
	sch := schema(col("category", arrow.BinaryTypes.String), col("total", arrow.PrimitiveTypes.Int64), col("avg", arrow.PrimitiveTypes.Float64),
		col("ok", arrow.FixedWidthTypes.Boolean), col("at", ts), col("day", arrow.FixedWidthTypes.Date32),
		col("price", &arrow.Decimal128Type{Precision: 12, Scale: 3}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := sink.Open(ctx, mem, sch, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, sch)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"x", ""}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{10, 0}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 0}, []bool{true, false})
	b.Field(3).(*array.BooleanBuilder).AppendValues([]bool{true, false}, []bool{true, false})
	b.Field(4).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{-1_500_000, 0}, []bool{true, false})
	b.Field(5).(*array.Date32Builder).AppendValues([]arrow.Date32{20454, -1}, nil)
	b.Field(6).(*array.Decimal128Builder).AppendValues([]decimal128.Num{decimal128.FromI64(-1234567), decimal128.FromI64(0)}, []bool{true, false})
	recd := b.NewRecord()
	b.Release()
	if err := w.Write(ctx, recd); err != nil {
		t.Fatal(err)
	}
	recd.Release()
	if err := w.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	src, err := NewSource(opts("topic", "totals", "brokers", addr, "format", "protobuf", "schema.registry.url", reg.URL()), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range src.Schema().Fields() {
		names = append(names, f.Name+" "+format.SQLTypeName(f.Type))
	}
	if got := strings.Join(names, ", "); got != "category VARCHAR, total BIGINT, avg DOUBLE, ok BOOLEAN, at TIMESTAMP, day DATE, price DECIMAL(38,9)" {
		t.Errorf("columns of the registered schema: %s", got)
	}
	r, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The empty string and zero are values, not NULL: optional fields.
	// DATE and DECIMAL come back typed (google.type.Date,
	// confluent.type.Decimal; an inferred decimal is DECIMAL(38, 9)).
	if got, want := readAll(t, r), sorted("x|10|1.5|true|1969-12-31 23:59:58.5|2026-01-01|-1234.567000000", "|0|NULL|NULL|NULL|1969-12-31|NULL"); !equal(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
}
