package aggcap

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestCheckAndResultType(t *testing.T) {
	dec := &arrow.Decimal128Type{Precision: 10, Scale: 2}
	tests := []struct {
		op       Operator
		fn       string
		distinct bool
		arg      arrow.DataType
		retract  bool
		err      string // "" = supported
		result   arrow.DataType
	}{
		{Group, "sum", false, dec, true, "", &arrow.Decimal128Type{Precision: 38, Scale: 2}},
		{Window, "avg", true, dec, false, "", arrow.PrimitiveTypes.Float64},
		{Batch, "sum", false, arrow.PrimitiveTypes.Int32, false, "", arrow.PrimitiveTypes.Int64},
		{Group, "sum", false, arrow.PrimitiveTypes.Float32, false, "", arrow.PrimitiveTypes.Float64},
		{Group, "min", false, arrow.BinaryTypes.String, true, "", arrow.BinaryTypes.String},
		{Window, "max", true, &arrow.TimestampType{Unit: arrow.Microsecond}, false, "", &arrow.TimestampType{Unit: arrow.Microsecond}},
		{Batch, "count", true, arrow.Null, false, "", arrow.PrimitiveTypes.Int64},
		{Group, "count_star", false, nil, true, "", arrow.PrimitiveTypes.Int64},
		{Group, "sum", false, arrow.BinaryTypes.String, false, "SUM(VARCHAR) is not supported by GroupAggregate", nil},
		{Window, "min", false, arrow.FixedWidthTypes.MonthDayNanoInterval, false, "MIN(INTERVAL) is not supported by WindowAggregate", nil},
		{Batch, "avg", true, arrow.FixedWidthTypes.Boolean, false, "AVG(DISTINCT BOOLEAN) is not supported by HashAggregate", nil},
		{Batch, "count_star", true, nil, false, "COUNT(DISTINCT *) is not supported", nil},
		{Group, "median", false, arrow.PrimitiveTypes.Int64, false, "aggregate function MEDIAN is not supported", nil},
		{Group, "sum", false, nil, false, "SUM needs an argument", nil},
	}
	for _, tt := range tests {
		err := Check(tt.op, tt.fn, tt.distinct, tt.arg, tt.retract)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s %s(%v): %v", tt.op, tt.fn, tt.arg, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s %s(%v): error %v, want %q", tt.op, tt.fn, tt.arg, err, tt.err)
		}
		if tt.result == nil {
			continue
		}
		got, err := ResultType(tt.fn, tt.arg)
		if err != nil || !arrow.TypeEqual(got, tt.result) {
			t.Errorf("ResultType(%s, %v) = %v, %v; want %s", tt.fn, tt.arg, got, err, tt.result)
		}
	}
}
