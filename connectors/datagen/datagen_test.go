package datagen

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

var ordersSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "qty", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "buyer", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
}, nil)

func opts(kv ...string) connectors.Options {
	o := connectors.Options{"connector": "datagen"}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i]] = kv[i+1]
	}
	return o
}

// scan reads every row of src from row from, as text per row.
func scan(t *testing.T, src *Source, from int64) [][]string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := src.Open(context.Background(), mem, exec.ScanSpec{BatchSize: 64, From: exec.Offsets{"rows": from}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rows [][]string
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < int(b.Record.NumRows()); i++ {
			var row []string
			for _, c := range b.Record.Columns() {
				row = append(row, c.ValueStr(i))
			}
			rows = append(rows, row)
		}
		b.Record.Release()
	}
}

// TestDatagenValues: each option shapes its column's values as Flink's
// datagen does, a sequence bounds the source, and the values are the same
// on every scan and from a resumed row.
func TestDatagenValues(t *testing.T) {
	src, err := NewSource(opts("rows-per-second", "0",
		"fields.id.kind", "sequence", "fields.id.start", "10", "fields.id.end", "509",
		"fields.price.min", "1", "fields.price.max", "100",
		"fields.qty.min", "1", "fields.qty.max", "5",
		"fields.buyer.length", "4",
		"fields.ok.null-rate", "0.5",
		"fields.ts.max-past", "5 s"), ordersSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Bounded() {
		t.Fatal("a sequence must bound the source")
	}
	rows := scan(t, src, 0)
	if len(rows) != 500 {
		t.Fatalf("%d rows, want 500 (the sequence 10…509)", len(rows))
	}
	nulls, qtys := 0, map[string]bool{}
	for i, r := range rows {
		if want := strconv.Itoa(10 + i); r[0] != want {
			t.Fatalf("row %d: id %s, want %s", i, r[0], want)
		}
		if p, err := strconv.ParseFloat(r[1], 64); err != nil || p < 1 || p > 100 {
			t.Errorf("row %d: price %s outside 1…100", i, r[1])
		}
		qtys[r[2]] = true
		if len(r[3]) != 4 {
			t.Errorf("row %d: buyer %q, want 4 characters", i, r[3])
		}
		if r[4] == array.NullValueStr {
			nulls++
		}
	}
	if len(qtys) != 5 || !qtys["1"] || !qtys["5"] {
		t.Errorf("qty took %v, want each of 1…5", qtys)
	}
	if nulls < 200 || nulls > 300 {
		t.Errorf("%d of 500 ok values are NULL, want about half", nulls)
	}
	// The same rows again, and from row 300 the tail of them (timestamps,
	// which are processing time, aside).
	again, tail := scan(t, src, 0), scan(t, src, 300)
	for i := range rows {
		if strings.Join(rows[i][:6], ",") != strings.Join(again[i][:6], ",") {
			t.Fatalf("row %d differs between two scans: %v, %v", i, rows[i], again[i])
		}
	}
	if len(tail) != 200 || strings.Join(tail[0][:6], ",") != strings.Join(rows[300][:6], ",") {
		t.Fatalf("resumed at 300: %d rows starting %v, want 200 starting %v", len(tail), tail[0], rows[300])
	}
}

// TestDatagenRanges: without min/max a column spans its type, with them
// it stays inside, whole 64-bit ranges included.
func TestDatagenRanges(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "small", Type: arrow.PrimitiveTypes.Int8},
		{Name: "big", Type: arrow.PrimitiveTypes.Int64},
		{Name: "neg", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	src, err := NewSource(opts("rows-per-second", "0", "number-of-rows", "2000",
		"fields.neg.min", "-3", "fields.neg.max", "-1"), schema)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := src.Open(context.Background(), mem, exec.ScanSpec{BatchSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := r.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Record.Release()
	small := b.Record.Column(0).(*array.Int8)
	big := b.Record.Column(1).(*array.Int64)
	neg := b.Record.Column(2).(*array.Int64)
	var sawLowSmall, sawHighSmall, sawNegBig, sawPosBig bool
	negs := map[int64]bool{}
	for i := 0; i < int(b.Record.NumRows()); i++ {
		sawLowSmall = sawLowSmall || small.Value(i) < -100
		sawHighSmall = sawHighSmall || small.Value(i) > 100
		sawNegBig = sawNegBig || big.Value(i) < -1<<60
		sawPosBig = sawPosBig || big.Value(i) > 1<<60
		negs[neg.Value(i)] = true
	}
	if !sawLowSmall || !sawHighSmall || !sawNegBig || !sawPosBig {
		t.Errorf("default ranges not spanned: tinyint low %v high %v, bigint low %v high %v", sawLowSmall, sawHighSmall, sawNegBig, sawPosBig)
	}
	if len(negs) != 3 || !negs[-3] || !negs[-1] {
		t.Errorf("min -3 max -1 gave %v", negs)
	}
	if b.Record.NumRows() != 2000 {
		t.Errorf("%d rows, want number-of-rows 2000", b.Record.NumRows())
	}
}

// TestDatagenOptionErrors: each mistake names its option.
func TestDatagenOptionErrors(t *testing.T) {
	one := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int32}}, nil)
	str := arrow.NewSchema([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	for _, tc := range []struct {
		name   string
		opts   connectors.Options
		schema *arrow.Schema
		want   string
	}{
		{"no columns", opts(), nil, "declare the columns"},
		{"unknown column", opts("fields.b.kind", "random"), one, `'fields.b.kind' names no declared column "b"`},
		{"sequence without end", opts("fields.a.kind", "sequence", "fields.a.start", "1"), one, "needs 'fields.a.start' and 'fields.a.end'"},
		{"end before start", opts("fields.a.kind", "sequence", "fields.a.start", "5", "fields.a.end", "1"), one, "'fields.a.end'"},
		{"min above max", opts("fields.a.min", "5", "fields.a.max", "1"), one, "'fields.a.min'"},
		{"min of a string", opts("fields.s.min", "1"), str, "applies to numeric columns"},
		{"bad null rate", opts("fields.a.null-rate", "2"), one, "between 0 and 1"},
		{"bad rate", opts("rows-per-second", "fast"), one, "'rows-per-second'"},
		{"bad kind", opts("fields.a.kind", "seq"), one, "'random' or 'sequence'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSource(tc.opts, tc.schema)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// The pattern declarations: a column's option is known, a misspelt
	// one is refused with the nearest name.
	if err := connectors.Check("datagen", connectors.KindSource, opts("fields.a.kind", "random")); err != nil {
		t.Errorf("fields.a.kind refused: %v", err)
	}
	if err := connectors.Check("datagen", connectors.KindSource, opts("fields.a.knd", "random")); err == nil || !strings.Contains(err.Error(), `"fields.#.kind"`) {
		t.Errorf("fields.a.knd: %v, want it refused suggesting fields.#.kind", err)
	}
}
