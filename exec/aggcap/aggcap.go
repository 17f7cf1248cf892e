// Package aggcap is the one table of what each aggregation operator
// computes: which aggregate functions, over which argument types, with or
// without DISTINCT, over an append-only or a retracting (changelog) input,
// and the type of each result. The planner reads it to refuse, at planning
// time and with a message for the user, a query no operator can run; the
// operators read it to build their accumulators. Because both read the same
// table, a query EXPLAIN accepts never fails at run time for a capability
// reason.
//
// It is a leaf: it imports nothing of sluice, so the planner may read it
// without depending on the executor (and the executor without depending on
// the planner).
package aggcap

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// Operator names an aggregation operator.
type Operator int

// The aggregation operators.
const (
	// Batch is exec.HashAggregate (batch queries).
	Batch Operator = iota
	// Group is stream.GroupAggregate, the updating GROUP BY of EMIT
	// CHANGES and EMIT EVERY.
	Group
	// Window is stream.WindowAggregate, the windowed aggregation that
	// frees each window when the watermark passes its end.
	Window
)

// String names the operator as EXPLAIN shows it.
func (o Operator) String() string {
	switch o {
	case Batch:
		return "HashAggregate"
	case Group:
		return "GroupAggregate"
	case Window:
		return "WindowAggregate"
	}
	return fmt.Sprintf("Operator(%d)", int(o))
}

// Class is a family of argument types that an accumulator handles alike.
type Class uint16

// Argument type classes.
const (
	Integer  Class = 1 << iota // signed and unsigned integers
	Float                      // FLOAT and DOUBLE
	Decimal                    // DECIMAL(p, s) (128-bit)
	String                     // VARCHAR (string, large string)
	Binary                     // binary, large binary
	Bool                       // BOOLEAN
	Temporal                   // TIMESTAMP, DATE, TIME, durations
	Null                       // the NULL type (an untyped NULL literal)

	numeric   = Integer | Float | Decimal
	orderable = numeric | String | Binary | Bool | Temporal
	anyType   = orderable | Null
)

// ClassOf returns the class of t, or 0 for a type no accumulator takes
// (intervals, nested types).
func ClassOf(t arrow.DataType) Class {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return Integer
	case arrow.FLOAT32, arrow.FLOAT64:
		return Float
	case arrow.DECIMAL128:
		return Decimal
	case arrow.STRING, arrow.LARGE_STRING:
		return String
	case arrow.BINARY, arrow.LARGE_BINARY:
		return Binary
	case arrow.BOOL:
		return Bool
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return Temporal
	case arrow.NULL:
		return Null
	}
	return 0
}

// entry is one row of the table: the argument classes a function takes,
// and those it takes under DISTINCT.
type entry struct {
	args, distinct Class
}

// table is the capability table, the same for every operator: every
// operator computes every function over every type it names, over
// append-only and retracting input alike (MIN and MAX keep a per-group
// multiset of values when the input retracts; DISTINCT keeps a per-group
// multiset always). An operator that lags behind gets its own row here,
// never a check of its own.
var table = map[string]entry{
	"count_star": {args: anyType},
	"count":      {args: anyType, distinct: anyType},
	"sum":        {args: numeric, distinct: numeric},
	"avg":        {args: numeric, distinct: numeric},
	"min":        {args: orderable, distinct: orderable},
	"max":        {args: orderable, distinct: orderable},
}

// Check reports whether op computes fn (lowercase: count, count_star, sum,
// avg, min, max) over arguments of type arg (nil for count_star), with
// DISTINCT when distinct, over an input that retracts rows when retract.
// The error's message is written for the user; the planner shows it at the
// query's position.
func Check(op Operator, fn string, distinct bool, arg arrow.DataType, retract bool) error {
	e, ok := table[fn]
	if !ok {
		return fmt.Errorf("aggregate function %s is not supported by %s", strings.ToUpper(fn), op)
	}
	if fn == "count_star" {
		if distinct {
			return fmt.Errorf("COUNT(DISTINCT *) is not supported")
		}
		return nil
	}
	if arg == nil {
		return fmt.Errorf("%s needs an argument", strings.ToUpper(fn))
	}
	c := ClassOf(arg)
	want := e.args
	if distinct {
		want = e.distinct
	}
	if c == 0 || c&want == 0 {
		d := ""
		if distinct {
			d = "DISTINCT "
		}
		return fmt.Errorf("%s(%s%s) is not supported by %s", strings.ToUpper(fn), d, typeName(arg), op)
	}
	return nil
}

// ResultType is the type of fn over arguments of type arg (nil for
// count_star): COUNT is BIGINT; SUM widens integers to BIGINT, floats to
// DOUBLE and DECIMAL(p, s) to DECIMAL(38, s); AVG is DOUBLE; MIN and MAX
// keep the argument's type. The planner's binder gives the same types.
func ResultType(fn string, arg arrow.DataType) (arrow.DataType, error) {
	if err := Check(Batch, fn, false, arg, false); err != nil {
		return nil, err
	}
	switch fn {
	case "count", "count_star":
		return arrow.PrimitiveTypes.Int64, nil
	case "avg":
		return arrow.PrimitiveTypes.Float64, nil
	case "sum":
		switch ClassOf(arg) {
		case Integer:
			return arrow.PrimitiveTypes.Int64, nil
		case Float:
			return arrow.PrimitiveTypes.Float64, nil
		case Decimal:
			return &arrow.Decimal128Type{Precision: 38, Scale: arg.(*arrow.Decimal128Type).Scale}, nil
		}
	case "min", "max":
		return arg, nil
	}
	return nil, fmt.Errorf("%s(%s) has no result type", strings.ToUpper(fn), typeName(arg))
}

// typeName renders an Arrow type the way SQL users write it.
func typeName(t arrow.DataType) string {
	switch t.ID() {
	case arrow.INT64:
		return "BIGINT"
	case arrow.INT32:
		return "INT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.STRING, arrow.LARGE_STRING:
		return "VARCHAR"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.TIMESTAMP:
		return "TIMESTAMP"
	case arrow.DATE32:
		return "DATE"
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return "INTERVAL"
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("DECIMAL(%d, %d)", d.Precision, d.Scale)
	}
	return strings.ToUpper(t.String())
}
