package kafka

import (
	"context"
	"encoding/binary"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

const (
	orderV1 = `{"type":"record","name":"Order","fields":[
		{"name":"category","type":"string"},
		{"name":"value","type":"long"},
		{"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}],"default":null},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	// v2 adds an optional field, as a producer evolving its schema does.
	orderV2 = `{"type":"record","name":"Order","fields":[
		{"name":"category","type":"string"},
		{"name":"value","type":"long"},
		{"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}],"default":null},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"note","type":["null","string"],"default":null}]}`
	// v3 changes value to a string: no query reading value as BIGINT can
	// read it.
	orderV3 = `{"type":"record","name":"Order","fields":[
		{"name":"category","type":"string"},
		{"name":"value","type":"string"},
		{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
)

// confluent frames an Avro datum of v (a map) written with schema text s
// under id.
func confluent(t testing.TB, id int, s string, v map[string]any) []byte {
	t.Helper()
	sch := avro.MustParse(s)
	b, err := avro.Marshal(sch, v)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(id))
	return append(out, b...)
}

func order(cat string, v int64, ms int64) map[string]any {
	return map[string]any{"category": cat, "value": v, "price": nil, "ts": time.UnixMilli(ms).UTC()}
}

// TestAvroSourceEvolves: a source without columns takes them from the
// subject's latest schema; records written with a later schema that adds
// an optional field keep being read; a source made after the change sees
// the new column, NULL in the older records; a change that cannot be read
// fails naming topic, partition, offset and both schema ids.
func TestAvroSourceEvolves(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	reg.SeedSchema("orders-value", 1, 1, sr.Schema{Schema: orderV1, Type: sr.TypeAvro})
	_, addr := newCluster(t, map[string]int32{"orders": 1})
	mem := checkedMem(t)
	cl := manualClient(t, addr)
	produceTo(t, cl,
		&kgo.Record{Topic: "orders", Value: confluent(t, 1, orderV1, order("a", 1, 1000))},
		&kgo.Record{Topic: "orders", Value: confluent(t, 1, orderV1, map[string]any{"category": "b", "value": int64(2), "price": map[string]any{"bytes.decimal": mustRat("12.34")}, "ts": time.UnixMilli(2000).UTC()})},
	)
	o := opts("topic", "orders", "brokers", addr, "format", "avro", "schema.registry.url", reg.URL(), "scan.startup.mode", "earliest")
	src, err := NewSource(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range src.Schema().Fields() {
		names = append(names, f.Name+" "+format.SQLTypeName(f.Type))
	}
	if got := strings.Join(names, ", "); got != "category VARCHAR, value BIGINT, price DECIMAL(10,2), ts TIMESTAMP" {
		t.Fatalf("inferred columns %s", got)
	}
	// The producer moves to v2 mid-stream.
	reg.SeedSchema("orders-value", 2, 2, sr.Schema{Schema: orderV2, Type: sr.TypeAvro})
	v2 := order("c", 3, 3000)
	v2["note"] = "new"
	produceTo(t, cl, &kgo.Record{Topic: "orders", Value: confluent(t, 2, orderV2, v2)})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	r.Close()
	want := sorted("a|1|NULL|1970-01-01 00:00:01", "b|2|12.34|1970-01-01 00:00:02", "c|3|NULL|1970-01-01 00:00:03")
	if !equal(got, want) {
		t.Errorf("v1 source read %q, want %q", got, want)
	}
	// A source created now has the note column, NULL for v1 records.
	r2 := openSource(t, mem, o, nil, exec.ScanSpec{Bounded: true})
	got = readAll(t, r2)
	want = sorted("a|1|NULL|1970-01-01 00:00:01|NULL", "b|2|12.34|1970-01-01 00:00:02|NULL", "c|3|NULL|1970-01-01 00:00:03|new")
	if !equal(got, want) {
		t.Errorf("v2 source read %q, want %q", got, want)
	}
	// An incompatible change fails at its record.
	reg.SeedSchema("orders-value", 3, 3, sr.Schema{Schema: orderV3, Type: sr.TypeAvro})
	produceTo(t, cl, &kgo.Record{Topic: "orders", Value: confluent(t, 3, orderV3, map[string]any{"category": "d", "value": "four", "ts": time.UnixMilli(4000).UTC()})})
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

// TestAvroSinkRoundTrip: a sink with format avro registers its result's
// schema under '<topic>-value' and writes Confluent-framed records that an
// avro source, inferring its columns from that subject, reads back.
func TestAvroSinkRoundTrip(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	_, addr := newCluster(t, map[string]int32{"totals": 1})
	mem := checkedMem(t)
	sink, err := NewSink(opts("topic", "totals", "brokers", addr, "format", "avro", "schema.registry.url", reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	sch := schema(col("category", arrow.BinaryTypes.String), col("total", arrow.PrimitiveTypes.Int64), col("avg", arrow.PrimitiveTypes.Float64))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w, err := sink.Open(ctx, mem, sch, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, sch)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"x", "y"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{10, -20}, nil)
	b.Field(2).(*array.Float64Builder).AppendValues([]float64{1.5, 0}, []bool{true, false})
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
	r := openSource(t, mem, opts("topic", "totals", "brokers", addr, "format", "avro", "schema.registry.url", reg.URL(), "scan.startup.mode", "earliest"), nil, exec.ScanSpec{Bounded: true})
	got := readAll(t, r)
	if want := sorted("x|10|1.5", "y|-20|NULL"); !equal(got, want) {
		t.Errorf("read back %q, want %q", got, want)
	}
}

func TestAvroOptions(t *testing.T) {
	for _, tt := range []struct {
		o    []string
		want string
	}{
		{[]string{"topic", "t", "brokers", "x:1", "format", "avro"}, "'schema.registry.url'"},
		{[]string{"topics", "a,b", "brokers", "x:1", "format", "avro", "schema.registry.url", "http://x"}, "'schema.registry.subject'"},
	} {
		_, err := NewSource(opts(tt.o...), nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %s", tt.o, err, tt.want)
		}
	}
}

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}
