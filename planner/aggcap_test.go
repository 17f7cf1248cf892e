package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestAggregateTypesMatchCapabilityTable holds the binder's aggregate
// result types to the capability table the operators build their
// accumulators from, and checks that every aggregate the binder accepts
// streams, under EMIT CHANGES (GroupAggregate) and EMIT FINAL over a
// window (WindowAggregate): a query that plans never fails at run time
// for want of an accumulator.
func TestAggregateTypesMatchCapabilityTable(t *testing.T) {
	cat := testCatalog(t)
	cols := []string{"n", "price", "score", "flag", "d", "label"}
	planned := 0
	for _, fn := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX", "BIT_AND", "BIT_XOR", "FIRST", "LAST", "MEDIAN", "STRING_AGG"} {
		for _, distinct := range []string{"", "DISTINCT "} {
			for _, c := range cols {
				call := fmt.Sprintf("%s(%s%s)", fn, distinct, c)
				q := fmt.Sprintf("SELECT label, %s FROM items GROUP BY label", call)
				qp, err := PlanQuery(parseQuery(t, q), cat)
				if err != nil {
					continue // the binder refuses it (SUM of a string, …)
				}
				planned++
				agg := findAgg(qp.Physical)
				if agg == nil || len(agg.Aggs) != 1 {
					t.Fatalf("%s: no aggregate in %s", q, Explain(qp))
				}
				a := agg.Aggs[0]
				var arg arrow.DataType
				if a.Arg != nil {
					arg = a.Arg.Type()
				}
				want, err := AggResultType(a.Func, arg)
				if err != nil {
					t.Errorf("%s: the binder accepts it but the capability table does not: %v", call, err)
					continue
				}
				if !arrow.TypeEqual(a.Typ, want) {
					t.Errorf("%s: binder type %s, capability table %s", call, a.Typ, want)
				}
				if _, err := PlanQuery(parseQuery(t, q+" EMIT CHANGES"), cat); err != nil {
					t.Errorf("%s EMIT CHANGES: %v", call, err)
				}
			}
		}
	}
	if planned < 40 {
		t.Fatalf("only %d aggregate calls planned: the test checks too little", planned)
	}
	for _, c := range []string{"id", "category", "value", "ts"} {
		for _, fn := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX", "BIT_OR", "FIRST", "MEDIAN", "STRING_AGG"} {
			q := fmt.Sprintf("SELECT window_start, %s(%s) FROM TUMBLE(orders, ts, INTERVAL '1' MINUTE) GROUP BY window_start", fn, c)
			if _, err := PlanQuery(parseQuery(t, q), cat); err != nil {
				continue
			}
			if _, err := PlanQuery(parseQuery(t, q+" EMIT FINAL"), cat); err != nil {
				t.Errorf("%s EMIT FINAL: %v", q, err)
			}
		}
	}
}

func findAgg(p PhysicalPlan) *PhysHashAggregate {
	if a, ok := p.(*PhysHashAggregate); ok {
		return a
	}
	for _, c := range p.Children() {
		if a := findAgg(c); a != nil {
			return a
		}
	}
	return nil
}

func TestCheckAndResultType(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	tests := []struct {
		op       AggOperator
		fn       string
		distinct bool
		arg      arrow.DataType
		retract  bool
		err      string // "" = supported
		result   arrow.DataType
	}{
		{AggGroup, "sum", false, dec, true, "", &arrow.Decimal128Type{Precision: 38, Scale: 2}},
		{AggWindow, "avg", true, dec, false, "", arrow.PrimitiveTypes.Float64},
		{AggBatch, "sum", false, arrow.PrimitiveTypes.Int32, false, "", arrow.PrimitiveTypes.Int64},
		{AggGroup, "sum", false, arrow.PrimitiveTypes.Float32, false, "", arrow.PrimitiveTypes.Float64},
		{AggGroup, "min", false, arrow.BinaryTypes.String, true, "", arrow.BinaryTypes.String},
		{AggWindow, "max", true, &arrow.TimestampType{Unit: arrow.Microsecond}, false, "", &arrow.TimestampType{Unit: arrow.Microsecond}},
		{AggBatch, "count", true, arrow.Null, false, "", arrow.PrimitiveTypes.Int64},
		{AggGroup, "count_star", false, nil, true, "", arrow.PrimitiveTypes.Int64},
		{AggGroup, "sum", false, arrow.BinaryTypes.String, false, "SUM(VARCHAR) is not supported by GroupAggregate", nil},
		{AggWindow, "min", false, arrow.FixedWidthTypes.MonthDayNanoInterval, false, "", arrow.FixedWidthTypes.MonthDayNanoInterval},
		{AggGroup, "sum", false, arrow.FixedWidthTypes.MonthDayNanoInterval, true, "", arrow.FixedWidthTypes.MonthDayNanoInterval},
		{AggGroup, "avg", false, arrow.FixedWidthTypes.MonthDayNanoInterval, true, "", arrow.FixedWidthTypes.MonthDayNanoInterval},
		{AggBatch, "median", false, arrow.FixedWidthTypes.MonthDayNanoInterval, false, "", arrow.FixedWidthTypes.MonthDayNanoInterval},
		{AggBatch, "percentile_cont", false, arrow.FixedWidthTypes.MonthDayNanoInterval, false, "PERCENTILE_CONT(INTERVAL) is not supported by HashAggregate", nil},
		{AggGroup, "arg_min", false, arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String}, arrow.Field{Name: "f1", Type: arrow.FixedWidthTypes.MonthDayNanoInterval}), true, "", arrow.BinaryTypes.String},
		{AggBatch, "avg", true, arrow.FixedWidthTypes.Boolean, false, "AVG(DISTINCT BOOLEAN) is not supported by HashAggregate", nil},
		{AggBatch, "count_star", true, nil, false, "COUNT(DISTINCT *) is not supported", nil},
		{AggGroup, "nope", false, arrow.PrimitiveTypes.Int64, false, "aggregate function NOPE is not supported", nil},
		{AggGroup, "median", false, arrow.PrimitiveTypes.Int64, true, "", arrow.PrimitiveTypes.Float64},
		{AggWindow, "median", true, dec, false, "", dec},
		{AggBatch, "median", false, arrow.BinaryTypes.String, false, "", arrow.BinaryTypes.String},
		{AggBatch, "percentile_cont", false, arrow.FixedWidthTypes.Date32, false, "", &arrow.TimestampType{Unit: arrow.Microsecond}},
		{AggBatch, "percentile_cont", false, arrow.BinaryTypes.String, false, "PERCENTILE_CONT(VARCHAR) is not supported", nil},
		{AggGroup, "bit_xor", true, arrow.PrimitiveTypes.Int16, true, "", arrow.PrimitiveTypes.Int16},
		{AggGroup, "bit_and", false, arrow.PrimitiveTypes.Float64, false, "BIT_AND(DOUBLE) is not supported", nil},
		{AggGroup, "first", false, arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String}), true, "FIRST over an updating input is not supported", nil},
		{AggWindow, "last", false, arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String}), false, "", arrow.BinaryTypes.String},
		{AggGroup, "arg_max", false, arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String}, arrow.Field{Name: "f1", Type: dec}), true, "", arrow.BinaryTypes.String},
		{AggGroup, "string_agg", false, arrow.StructOf(arrow.Field{Name: "f0", Type: arrow.BinaryTypes.String}, arrow.Field{Name: "f1", Type: arrow.FixedWidthTypes.MonthDayNanoInterval}), false, "STRING_AGG cannot order by INTERVAL", nil},
		{AggGroup, "sum", false, nil, false, "SUM needs an argument", nil},
	}
	for _, tt := range tests {
		err := CheckAgg(tt.op, tt.fn, tt.distinct, tt.arg, tt.retract)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s %s(%v): %v", tt.op, tt.fn, tt.arg, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s %s(%v): error %v, want %q", tt.op, tt.fn, tt.arg, err, tt.err)
		}
		if tt.result == nil {
			continue
		}
		got, err := AggResultType(tt.fn, tt.arg)
		if err != nil || !arrow.TypeEqual(got, tt.result) {
			t.Errorf("ResultType(%s, %v) = %v, %v; want %s", tt.fn, tt.arg, got, err, tt.result)
		}
	}
}
