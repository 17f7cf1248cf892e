package format

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/hamba/avro/v2"
)

const wideSchema = `{"type":"record","name":"W","fields":[
	{"name":"i","type":"int"},
	{"name":"f","type":"float"},
	{"name":"e","type":{"type":"enum","name":"E","symbols":["red","green"]}},
	{"name":"d","type":{"type":"int","logicalType":"date"}},
	{"name":"m","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}},
	{"name":"nested","type":{"type":"record","name":"N","fields":[{"name":"a","type":{"type":"array","items":"long"}},{"name":"m","type":{"type":"map","values":"string"}}]}},
	{"name":"u","type":["null","long"]},
	{"name":"tus","type":{"type":"long","logicalType":"timestamp-micros"}}]}`

// TestAvroPlanReads: every supported type into its column, nested fields
// skipped, a column the writer lacks NULL, and a truncated datum an error
// that leaves the builders to be discarded.
func TestAvroPlanReads(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ws := avro.MustParse(wideSchema)
	target := arrow.NewSchema([]arrow.Field{
		{Name: "I", Type: arrow.PrimitiveTypes.Int64}, {Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "e", Type: arrow.BinaryTypes.String}, {Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "m", Type: &arrow.Decimal128Type{Precision: 9, Scale: 3}}, {Name: "u", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "tus", Type: TimestampType}, {Name: "missing", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	cols := []int{0, 1, 2, 3, 4, 5, 6, 7}
	p, err := NewAvroPlan(ws, target, cols)
	if err != nil {
		t.Fatal(err)
	}
	neg, _ := new(big.Rat).SetString("-12.345")
	datum, err := avro.Marshal(ws, map[string]any{"i": 7, "f": float32(0.5), "e": "green", "d": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
		"m": neg, "nested": map[string]any{"a": []int64{1, 2, 3}, "m": map[string]any{"k": "v"}}, "u": nil,
		"tus": time.UnixMicro(1767225600000001).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	bs := make([]array.Builder, len(cols))
	for i, c := range cols {
		bs[i] = array.NewBuilder(mem, target.Field(c).Type)
		defer bs[i].Release()
	}
	r := avro.NewReader(nil, 0)
	if err := p.Decode(r.Reset(datum), bs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		a := b.NewArray()
		got = append(got, FormatValue(a, 0))
		a.Release()
	}
	want := "7|0.5|green|2026-01-02|-12.345|NULL|2026-01-01 00:00:00.000001|NULL"
	if strings.Join(got, "|") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if err := p.Decode(r.Reset(datum[:len(datum)-3]), bs); err == nil {
		t.Error("a truncated datum decoded without error")
	}
}

func TestAvroPlanRefuses(t *testing.T) {
	ws := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"v","type":"string"},{"name":"m","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}}]}`)
	for _, tt := range []struct {
		col  arrow.Field
		want string
	}{
		{arrow.Field{Name: "v", Type: arrow.PrimitiveTypes.Int64}, `avro field "v" of type string cannot be read as column "v" BIGINT`},
		{arrow.Field{Name: "m", Type: &arrow.Decimal128Type{Precision: 9, Scale: 2}}, `avro field "m" of type bytes/decimal cannot be read as column "m" DECIMAL(9,2)`},
	} {
		_, err := NewAvroPlan(ws, arrow.NewSchema([]arrow.Field{tt.col}, nil), []int{0})
		if err == nil || err.Error() != tt.want {
			t.Errorf("got %v, want %s", err, tt.want)
		}
	}
	if _, err := AvroColumns(avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"int"}}]}`)); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("array field: %v", err)
	}
}

// TestAvroWriteRead: what a sink writes with AvroSchemaFor and AppendAvro
// reads back through a plan, NULLs and negative decimals included.
func TestAvroWriteRead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "m", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true}, {Name: "t", Type: TimestampType, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sch)
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"x", ""}, []bool{true, false})
	b.Field(1).(*array.Int32Builder).AppendValues([]int32{-5, 9}, nil)
	b.Field(2).(*array.Decimal128Builder).Append(mustDec("-0.01"))
	b.Field(2).(*array.Decimal128Builder).Append(mustDec("123456.78"))
	b.Field(3).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{5, 0}, []bool{true, false})
	b.Field(4).(*array.BooleanBuilder).AppendValues([]bool{true, false}, nil)
	rec := b.NewRecord()
	b.Release()
	defer rec.Release()
	as, err := AvroSchemaFor("out-topic", sch)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewAvroPlan(avro.MustParse(as.String()), sch, []int{0, 1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	bs := make([]array.Builder, 5)
	for i := range bs {
		bs[i] = array.NewBuilder(mem, sch.Field(i).Type)
		defer bs[i].Release()
	}
	w := avro.NewWriter(nil, 64)
	r := avro.NewReader(nil, 0)
	for i := range 2 {
		w.Reset(nil)
		AppendAvro(w, rec.Columns(), i)
		if err := p.Decode(r.Reset(w.Buffer()), bs); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, bb := range bs {
		a := bb.NewArray()
		got = append(got, FormatValue(a, 0)+","+FormatValue(a, 1))
		a.Release()
	}
	if g := strings.Join(got, " "); g != "x,NULL -5,9 -0.01,123456.78 1970-01-01 00:00:00.000005,NULL true,false" {
		t.Errorf("round trip: %s", g)
	}
}

func mustDec(s string) decimal128.Num {
	v, err := decimal128.FromString(s, 10, 2)
	if err != nil {
		panic(err)
	}
	return v
}
