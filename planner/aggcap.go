package planner

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
)

// The capability table of the aggregation operators: which aggregate
// functions each computes, over which argument types, with or without
// DISTINCT, over an append-only or a retracting (changelog) input, and the
// type of each result. The planner checks every aggregate of a plan
// against it, so a query that plans never fails at run time for want of
// an accumulator; the operators (exec's HashAggregate, exec/stream's
// GroupAggregate and WindowAggregate) implement what it lists, and
// receive the result type it gives with each aggregate call, refusing a
// mismatch when they are built. TestStreamingRunsWhatExplainAccepts and
// TestAggregateTypesMatchCapabilityTable hold both sides to it.

// AggOperator names an aggregation operator, for CheckAgg.
type AggOperator int

// The aggregation operators.
const (
	// AggBatch is the batch HashAggregate.
	AggBatch AggOperator = iota
	// AggGroup is the streaming GroupAggregate, the updating GROUP BY of
	// EMIT CHANGES and EMIT EVERY.
	AggGroup
	// AggWindow is the streaming WindowAggregate, which frees each window
	// when the watermark passes its end.
	AggWindow
)

// String names the operator as EXPLAIN shows it.
func (o AggOperator) String() string {
	switch o {
	case AggBatch:
		return "HashAggregate"
	case AggGroup:
		return "GroupAggregate"
	case AggWindow:
		return "WindowAggregate"
	}
	return fmt.Sprintf("AggOperator(%d)", int(o))
}

// aggClass is a family of argument types that an accumulator handles alike.
type aggClass uint16

// Argument type classes.
const (
	classInteger  aggClass = 1 << iota // signed and unsigned integers
	classFloat                         // FLOAT and DOUBLE
	classDecimal                       // DECIMAL(p, s) (128-bit)
	classString                        // VARCHAR (string, large string)
	classBinary                        // binary, large binary
	classBool                          // BOOLEAN
	classTemporal                      // TIMESTAMP, DATE, TIME, durations
	classNull                          // the NULL type (an untyped NULL literal)
	classInterval                      // INTERVAL (months, days, nanoseconds)

	classNumeric   = classInteger | classFloat | classDecimal
	classOrderable = classNumeric | classString | classBinary | classBool | classTemporal
	classAny       = classOrderable | classNull | classInterval
)

// aggClassOf returns the class of t, or 0 for a type no accumulator takes
// (nested types).
func aggClassOf(t arrow.DataType) aggClass {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return classInteger
	case arrow.FLOAT32, arrow.FLOAT64:
		return classFloat
	case arrow.DECIMAL128:
		return classDecimal
	case arrow.STRING, arrow.LARGE_STRING:
		return classString
	case arrow.BINARY, arrow.LARGE_BINARY:
		return classBinary
	case arrow.BOOL:
		return classBool
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return classTemporal
	case arrow.NULL:
		return classNull
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return classInterval
	}
	return 0
}

// entry is one row of the table: the argument classes a function takes,
// and those it takes under DISTINCT.
type aggEntry struct {
	args, distinct aggClass
	// packed: the argument is an agg_args struct (several arguments, or
	// one whose NULLs count); args is the class of its first field, and
	// every other field must be of classOrderable, or of keys when set.
	packed bool
	// keys are the classes the packed fields after the first may be
	// (ARG_MIN's val: any value the sort keys order), when not just
	// classOrderable (ORDER BY keys of STRING_AGG and ARRAY_AGG).
	keys aggClass
	// noRetract, when set, is why the function cannot take a retraction:
	// the planner refuses it over an updating input with this reason.
	noRetract string
	// partial: a parallel batch aggregate may run it per morsel and then
	// once more over the per-morsel results in morsel order (the function
	// of its own partial results, like MIN), besides the core functions
	// exec.AggPartial knows.
	partial bool
	// running: the function over a frame follows from its value over
	// the frame's older rows and over the rest (SUM of sums, MIN of
	// mins), so a streaming OVER aggregate whose frame starts UNBOUNDED
	// PRECEDING keeps one running value per key for the rows it drops
	// (exec/stream.OverCarry implements these); the others run there
	// only over bounded frames, whose rows it keeps.
	running bool
}

// aggTable is the capability table, the same for every operator: every
// operator computes every function over every type it names, over
// append-only and retracting input alike (MIN and MAX keep a per-group
// multiset of values when the input retracts; DISTINCT keeps a per-group
// multiset always). An operator that lags behind gets its own row here,
// never a check of its own.
var aggTable = map[string]aggEntry{
	"count_star": {args: classAny, running: true},
	"count":      {args: classAny, distinct: classAny, running: true},
	"sum":        {args: classNumeric | classInterval, distinct: classNumeric | classInterval, running: true},
	// AVG runs over UNBOUNDED PRECEDING in streaming as a running SUM
	// and COUNT (planner/analytic.go avgAsSumCount).
	"avg": {args: classNumeric | classInterval, distinct: classNumeric | classInterval},
	"min": {args: classOrderable | classInterval, distinct: classOrderable | classInterval, running: true},
	"max": {args: classOrderable | classInterval, distinct: classOrderable | classInterval, running: true},

	"bit_and": {args: classInteger, distinct: classInteger, partial: true},
	"bit_or":  {args: classInteger, distinct: classInteger, partial: true},
	"bit_xor": {args: classInteger, distinct: classInteger, partial: true},
	"first":   {args: classAny, distinct: classAny, packed: true, partial: true, noRetract: firstNoRetract},
	"last":    {args: classAny, distinct: classAny, packed: true, partial: true, noRetract: firstNoRetract},
	"arg_min": {args: classOrderable | classInterval, distinct: classOrderable | classInterval, packed: true, keys: classInterval},
	"arg_max": {args: classOrderable | classInterval, distinct: classOrderable | classInterval, packed: true, keys: classInterval},
	// STRING_AGG takes a VARCHAR (the binder casts), packed with its
	// ORDER BY keys when it has some.
	"string_agg": {args: classString, distinct: classString, packed: true},
	// ARRAY_AGG's argument is always packed (its NULLs are values of the
	// list), with its ORDER BY keys.
	"array_agg":       {args: classAny, distinct: classAny, packed: true},
	"median":          {args: classOrderable | classInterval, distinct: classOrderable | classInterval},
	"percentile_cont": {args: classNumeric | classTemporal, distinct: classNumeric | classTemporal},
	"percentile_disc": {args: classOrderable | classInterval, distinct: classOrderable | classInterval},
	// APPROX_COUNT_DISTINCT is a HyperLogLog sketch (exec/agg_hll.go);
	// parallel batch aggregates merge per-morsel sketches (partialSchema).
	"approx_count_distinct": {args: classAny, distinct: classAny,
		noRetract: "a HyperLogLog sketch cannot take a row out (COUNT(DISTINCT x) is exact and retracts)"},
}

// firstNoRetract is why FIRST and LAST refuse an updating input.
const firstNoRetract = "which row of an updated group came first is not defined: FIRST, LAST, FIRST_VALUE, LAST_VALUE and ANY_VALUE keep arrival order (ARG_MIN(x, time), ARG_MAX(x, time) and MIN(x) retract)"

// AggRunning reports whether a streaming OVER aggregate can carry fn
// over a frame starting UNBOUNDED PRECEDING as one running value per key
// (see aggEntry.running).
func AggRunning(fn string) bool { return aggTable[fn].running }

// AggPartialSelf reports whether a parallel batch aggregate may compute fn
// per morsel and again over the per-morsel results (see aggEntry.partial).
func AggPartialSelf(fn string) bool { return aggTable[fn].partial }

// CheckAgg reports whether op computes fn (lowercase: count, count_star, sum,
// avg, min, max) over arguments of type arg (nil for count_star), with
// DISTINCT when distinct, over an input that retracts rows when retract.
// The error's message is written for the user; the planner shows it at the
// query's position.
func CheckAgg(op AggOperator, fn string, distinct bool, arg arrow.DataType, retract bool) error {
	e, ok := aggTable[fn]
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
	if retract && e.noRetract != "" {
		return fmt.Errorf("%s over an updating input is not supported: %s", strings.ToUpper(fn), e.noRetract)
	}
	if st, ok := arg.(*arrow.StructType); ok && e.packed {
		for _, f := range st.Fields()[1:] {
			if aggClassOf(f.Type)&(classOrderable|e.keys) == 0 {
				return fmt.Errorf("%s cannot order by %s", strings.ToUpper(fn), TypeName(f.Type))
			}
		}
		arg = st.Field(0).Type
	}
	c := aggClassOf(arg)
	want := e.args
	if distinct {
		want = e.distinct
	}
	if c == 0 || c&want == 0 {
		d := ""
		if distinct {
			d = "DISTINCT "
		}
		return fmt.Errorf("%s(%s%s) is not supported by %s", strings.ToUpper(fn), d, TypeName(arg), op)
	}
	return nil
}

// AggResultType is the type of fn over arguments of type arg (nil for
// count_star): COUNT is BIGINT; SUM widens integers to BIGINT, floats to
// DOUBLE and DECIMAL(p, s) to DECIMAL(38, s); AVG is DOUBLE; MIN and MAX
// keep the argument's type. The binder gives the same types (a test
// holds it to them).
func AggResultType(fn string, arg arrow.DataType) (arrow.DataType, error) {
	if err := CheckAgg(AggBatch, fn, false, arg, false); err != nil {
		return nil, err
	}
	switch fn {
	case "count", "count_star", "approx_count_distinct":
		return arrow.PrimitiveTypes.Int64, nil
	case "avg":
		if aggClassOf(arg) == classInterval {
			return arg, nil
		}
		return arrow.PrimitiveTypes.Float64, nil
	case "sum":
		switch aggClassOf(arg) {
		case classInterval:
			return arg, nil
		case classInteger:
			return arrow.PrimitiveTypes.Int64, nil
		case classFloat:
			return arrow.PrimitiveTypes.Float64, nil
		case classDecimal:
			return &arrow.Decimal128Type{Precision: 38, Scale: arg.(*arrow.Decimal128Type).Scale}, nil
		}
	case "min", "max", "bit_and", "bit_or", "bit_xor", "percentile_disc":
		return arg, nil
	case "first", "last", "arg_min", "arg_max":
		return packedField(arg, 0), nil
	case "string_agg":
		return TypeVarchar, nil
	case "array_agg":
		return arrow.ListOf(packedField(arg, 0)), nil
	case "median", "percentile_cont":
		if t := contType(arg); t != nil {
			return t, nil
		}
		if fn == "median" {
			return arg, nil
		}
	}
	return nil, fmt.Errorf("%s(%s) has no result type", strings.ToUpper(fn), TypeName(arg))
}

// packedField is field k of an agg_args struct type (the type itself for
// k = 0 of an unpacked argument).
func packedField(t arrow.DataType, k int) arrow.DataType {
	if st, ok := t.(*arrow.StructType); ok {
		return st.Field(k).Type
	}
	return t
}

// contType is the type PERCENTILE_CONT and MEDIAN compute over t, as
// DuckDB does: DOUBLE over numbers, the argument's type over DECIMAL and
// TIMESTAMP, TIMESTAMP over DATE; nil for values that do not interpolate
// (MEDIAN of those is PERCENTILE_DISC's value).
func contType(t arrow.DataType) arrow.DataType {
	switch {
	case isInteger(t), t.ID() == arrow.FLOAT32, t.ID() == arrow.FLOAT64:
		return TypeDouble
	case isDecimal(t), t.ID() == arrow.TIMESTAMP:
		return t
	case t.ID() == arrow.DATE32:
		return TypeTimestamp
	}
	return nil
}
