package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// dec102 is DECIMAL(10, 2); values in the JSON inputs are unscaled-exact
// strings ("9.50").
var dec102 = &arrow.Decimal128Type{Precision: 10, Scale: 2}

var decSchema = arrow.NewSchema([]arrow.Field{
	opField,
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "d", Type: dec102, Nullable: true},
}, nil)

// TestDecimalAggregatesRetract folds DECIMAL values in and out of every
// aggregate: sums stay exact (unscaled 128-bit integers, rendered here
// unscaled: 950 is 9.50), MIN/MAX and DISTINCT follow retractions through
// their multisets, AVG divides like the batch aggregate. A NULL in and out changes no
// result, so it emits nothing.
func TestDecimalAggregatesRetract(t *testing.T) {
	mem := checkedMem(t)
	d := func() Expr { return col(decSchema, 2) }
	aggs := []AggSpec{
		{Func: AggSum, Arg: d(), Name: "sum"},
		{Func: AggAvg, Arg: d(), Name: "avg"},
		{Func: AggMin, Arg: d(), Name: "min"},
		{Func: AggMax, Arg: d(), Name: "max"},
		{Func: AggCountDistinct, Arg: d(), Name: "nd"},
		{Func: AggSum, Distinct: true, Arg: d(), Name: "sumd"},
	}
	g, err := NewGroupAggregate(mem, decSchema, []GroupKey{{Expr: col(decSchema, 1), Name: "k"}}, aggs)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got := g.Schema().Field(2).Type; !arrow.TypeEqual(got, &arrow.Decimal128Type{Precision: 38, Scale: 2}) {
		t.Fatalf("SUM type %s, want decimal(38, 2)", got)
	}
	rec := fromJSON(t, mem, decSchema, `[
		{"op":0,"k":"a","d":"9.50"},{"op":0,"k":"a","d":"0.25"},{"op":0,"k":"a","d":"9.50"},
		{"op":0,"k":"a","d":null},{"op":3,"k":"a","d":null},{"op":3,"k":"a","d":"9.50"},{"op":3,"k":"a","d":"0.25"}]`)
	defer rec.Release()
	batches := cut(rec, 1)
	defer releaseAll(batches)
	got := pushAll(t, g, batches, true)
	want := []string{
		"+I|a|950|9.5|950|950|1|950",
		"-U|a|950|9.5|950|950|1|950", "+U|a|975|4.875|25|950|2|975",
		"-U|a|975|4.875|25|950|2|975", "+U|a|1925|6.41667|25|950|2|975",
		"-U|a|1925|6.41667|25|950|2|975", "+U|a|975|4.875|25|950|2|975",
		"-U|a|975|4.875|25|950|2|975", "+U|a|950|9.5|950|950|1|950",
	}
	if !equalStrings(got, want) {
		t.Fatalf("changelog\n got %q\nwant %q", got, want)
	}
}

// TestSumOverflowIsAnError: a sum that leaves its type fails the batch
// with exec.ErrOverflow instead of wrapping around, in the dense BIGINT
// loop and the DECIMAL accumulator of GroupAggregate, and in
// WindowAggregate.
func TestSumOverflowIsAnError(t *testing.T) {
	dec38 := &arrow.Decimal128Type{Precision: 38, Scale: 0}
	tests := []struct {
		name  string
		typ   arrow.DataType
		input string
	}{
		{"bigint", arrow.PrimitiveTypes.Int64, `[{"ts":1,"k":"a","v":5000000000000000000},{"ts":2,"k":"a","v":5000000000000000000}]`},
		{"bigint below", arrow.PrimitiveTypes.Int64, `[{"ts":1,"k":"a","v":-5000000000000000000},{"ts":2,"k":"a","v":-5000000000000000000}]`},
		{"decimal(38)", dec38, `[{"ts":1,"k":"a","v":"99999999999999999999999999999999999999"},{"ts":2,"k":"a","v":"1"}]`},
	}
	for _, tt := range tests {
		schema := arrow.NewSchema([]arrow.Field{
			{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
			{Name: "k", Type: arrow.BinaryTypes.String},
			{Name: "v", Type: tt.typ, Nullable: true},
		}, nil)
		keys := []GroupKey{{Expr: col(schema, 1), Name: "k"}}
		aggs := []AggSpec{{Func: AggSum, Arg: col(schema, 2), Name: "s"}}
		ops := map[string]func(mem memory.Allocator) (Operator, error){
			"group": func(mem memory.Allocator) (Operator, error) { return NewGroupAggregate(mem, schema, keys, aggs) },
			"window": func(mem memory.Allocator) (Operator, error) {
				return NewWindowAggregate(mem, schema, WindowSpec{Kind: Tumble, TimeCol: 0, Size: time.Hour}, keys, aggs, WindowOptions{})
			},
		}
		for name, mk := range ops {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				mem := checkedMem(t)
				rec := fromJSON(t, mem, schema, tt.input)
				defer rec.Release()
				op, err := mk(mem)
				if err != nil {
					t.Fatal(err)
				}
				defer op.Close()
				out, err := op.Push(context.Background(), rec, 0)
				if out != nil {
					out.Release()
				}
				if !errors.Is(err, exec.ErrOverflow) {
					t.Fatalf("Push error = %v, want ErrOverflow", err)
				}
			})
		}
	}
}
