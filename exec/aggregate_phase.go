package exec

import (
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// AggMode is the phase a HashAggregate runs in. A parallel GROUP BY runs
// AggPartial over each morsel of its input and one AggFinal over the
// partial rows, which gives the AggComplete result.
type AggMode int8

const (
	// AggComplete turns input rows into final values.
	AggComplete AggMode = iota
	// AggPartial turns input rows into one partial state row per group:
	// the keys, then each call's state columns (PartialStateFields).
	AggPartial
	// AggFinal merges partial state rows into final values; its output
	// is the AggComplete output.
	AggFinal
)

// String names the mode the way EXPLAIN shows it.
func (m AggMode) String() string {
	switch m {
	case AggPartial:
		return "partial"
	case AggFinal:
		return "final"
	}
	return "complete"
}

// errDistinctPartial is the construction error for a partial DISTINCT
// aggregate: its state is a set of values, which a partial row cannot
// carry (the planner sends such aggregates through an exchange or runs
// them whole instead).
var errDistinctPartial = errors.New("DISTINCT aggregates have no partial state")

// Partial states, per function (all nullable columns):
//
//	sum(x)           sum        (the SUM type of x; NULL: no non-NULL x)
//	count(x), count(*) count    (BIGINT)
//	min(x), max(x)   min / max  (the type of x)
//	avg(x)           sum, count (the SUM type of x, BIGINT)
//	approx_count_distinct(x)  the HyperLogLog sketch's bytes (BINARY)
//	bit_and/bit_or/bit_xor(x), first(x), last(x)  the function's own value
//
// Merging sums the sums and the counts and takes the min of the mins and
// the max of the maxes; AVG divides the merged sum by the merged count
// exactly as AggComplete divides its own, so integer and DECIMAL results
// are identical to a one-phase run. FLOAT sums are added in a different
// order (per morsel, then across morsels in morsel order) and may differ
// from a one-phase run in the last bits; they do not depend on the number
// of workers, because morsel boundaries do not.

// outKind says how an output aggregate column is made from accumulator
// results.
type outKind int8

const (
	outDirect    outKind = iota // the accumulator's result
	outCountZero                // merged count: NULL (no partial row) is 0
	outAvg                      // merged sum / merged count
)

// aggOut is one aggregate output column.
type aggOut struct {
	name string
	kind outKind
	acc  int // first accumulator it reads (outAvg: sum, then count)
	// nullable is the field's flag for outDirect.
	nullable bool
}

// phaseCalls returns the accumulators a mode runs over its input and how
// the output columns come from them.
func phaseCalls(mode AggMode, aggs []AggCall, nkeys int) ([]AggCall, []aggOut, error) {
	var calls []AggCall
	var outs []aggOut
	var cur AggCall // the call the phase calls are made for
	add := func(cs ...AggCall) {
		for _, c := range cs {
			// A phase call's overflow names the call the user wrote.
			c.SQL, c.Pos = cur.SQL, cur.Pos
			if c.SQL == "" {
				c.SQL = cur.Func + "(" + argText(cur) + ")"
			}
			calls = append(calls, c)
		}
	}
	direct := func(c AggCall, nullable bool) {
		outs = append(outs, aggOut{name: c.Name, kind: outDirect, acc: len(calls), nullable: nullable})
		add(c)
	}
	switch mode {
	case AggComplete:
		for _, a := range aggs {
			cur = a
			direct(a, a.Func != "count" && a.Func != "count_star")
		}
	case AggPartial:
		for _, a := range aggs {
			cur = a
			if a.Distinct {
				return nil, nil, fmt.Errorf("%s: %w", a.Name, errDistinctPartial)
			}
			if a.Func == "avg" {
				direct(AggCall{Func: "sum", Arg: a.Arg, Name: a.Name + ".sum"}, true)
				direct(AggCall{Func: "count", Arg: a.Arg, Name: a.Name + ".count"}, true)
				continue
			}
			if a.Func == "approx_count_distinct" {
				direct(AggCall{Func: "approx_count_distinct_state", Arg: a.Arg, Name: a.Name}, true)
				continue
			}
			direct(a, true)
		}
	case AggFinal:
		col := nkeys
		state := func(t arrow.DataType, name string) expr.Expr {
			e := expr.Column(col, t, name)
			col++
			return e
		}
		for _, a := range aggs {
			cur = a
			if a.Distinct {
				return nil, nil, fmt.Errorf("%s: %w", a.Name, errDistinctPartial)
			}
			var arg arrow.DataType
			if a.Arg != nil {
				arg = valueType(a.Arg.DataType())
			}
			switch a.Func {
			case "count", "count_star":
				outs = append(outs, aggOut{name: a.Name, kind: outCountZero, acc: len(calls)})
				add(AggCall{Func: "sum", Arg: state(arrow.PrimitiveTypes.Int64, a.Name), Name: a.Name})
			case "sum", "min", "max", "bit_and", "bit_or", "bit_xor", "first", "last":
				t, err := AggResultType(a.Func, arg)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", a.Name, err)
				}
				direct(AggCall{Func: a.Func, Arg: state(t, a.Name), Type: a.Type, Name: a.Name}, true)
			case "approx_count_distinct":
				direct(AggCall{Func: "approx_count_distinct_merge", Arg: state(arrow.BinaryTypes.Binary, a.Name), Type: a.Type, Name: a.Name}, true)
			case "avg":
				t, err := AggResultType("sum", arg)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", a.Name, err)
				}
				outs = append(outs, aggOut{name: a.Name, kind: outAvg, acc: len(calls)})
				add(AggCall{Func: "sum", Arg: state(t, a.Name+".sum"), Name: a.Name + ".sum"},
					AggCall{Func: "sum", Arg: state(arrow.PrimitiveTypes.Int64, a.Name+".count"), Name: a.Name + ".count"})
			default:
				return nil, nil, fmt.Errorf("unknown aggregate function %q", a.Func)
			}
		}
	default:
		return nil, nil, fmt.Errorf("unknown aggregate mode %d", mode)
	}
	return calls, outs, nil
}

// field is the output field of o.
func (o aggOut) field(accs []*Accumulator) (arrow.Field, error) {
	switch o.kind {
	case outCountZero:
		return arrow.Field{Name: o.name, Type: arrow.PrimitiveTypes.Int64}, nil
	case outAvg:
		if t := accs[o.acc].DataType(); isIntervalType(t) { // AVG of intervals is an interval
			return arrow.Field{Name: o.name, Type: t, Nullable: true}, nil
		}
		return arrow.Field{Name: o.name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}, nil
	}
	return arrow.Field{Name: o.name, Type: accs[o.acc].DataType(), Nullable: o.nullable}, nil
}

// build makes o's column from the accumulator results res; the caller
// releases it.
func (o aggOut) build(mem memory.Allocator, res []arrow.Array) (arrow.Array, error) {
	switch o.kind {
	case outCountZero:
		c, ok := res[o.acc].(*array.Int64)
		if !ok {
			return nil, fmt.Errorf("merged count is %s", res[o.acc].DataType())
		}
		if c.NullN() == 0 {
			c.Retain()
			return c, nil
		}
		vals := make([]int64, c.Len())
		for i := range vals {
			if c.IsValid(i) {
				vals[i] = c.Value(i)
			}
		}
		return newFixedArray(mem, arrow.PrimitiveTypes.Int64, vals, nil), nil
	case outAvg:
		return mergedMean(mem, res[o.acc], res[o.acc+1])
	}
	res[o.acc].Retain()
	return res[o.acc], nil
}

// mergedMean divides merged sums by merged counts the way the one-phase
// AVG does (sumIntState.mean and friends).
func mergedMean(mem memory.Allocator, sums, counts arrow.Array) (arrow.Array, error) {
	cnt, ok := counts.(*array.Int64)
	if !ok {
		return nil, fmt.Errorf("merged count is %s", counts.DataType())
	}
	var total func(i int) float64
	switch s := sums.(type) {
	case *array.MonthDayNanoInterval:
		vals := make([]arrow.MonthDayNanoInterval, cnt.Len())
		valid := make([]bool, cnt.Len())
		for i := range vals {
			if cnt.IsValid(i) && cnt.Value(i) != 0 && s.IsValid(i) {
				v := s.Value(i)
				vals[i], valid[i] = intervalMean(int64(v.Months), int64(v.Days), v.Nanoseconds, cnt.Value(i)), true
			}
		}
		return newFixedArray(mem, s.DataType(), vals, valid), nil
	case *array.Int64:
		total = func(i int) float64 { return float64(s.Value(i)) }
	case *array.Float64:
		total = s.Value
	case *array.Decimal128:
		scale := s.DataType().(*arrow.Decimal128Type).Scale
		total = func(i int) float64 { return decimal128.Num(s.Value(i)).ToFloat64(scale) }
	default:
		return nil, fmt.Errorf("merged sum is %s", sums.DataType())
	}
	vals := make([]float64, cnt.Len())
	valid := make([]bool, cnt.Len())
	for i := range vals {
		if cnt.IsNull(i) || cnt.Value(i) == 0 || sums.IsNull(i) {
			continue
		}
		vals[i], valid[i] = total(i)/float64(cnt.Value(i)), true
	}
	return newFixedArray(mem, arrow.PrimitiveTypes.Float64, vals, valid), nil
}

// AggPhase is one phase of a two-phase aggregation for an operator that
// runs its own accumulators (the streaming aggregates): the calls to
// accumulate and how the phase's output columns come from their results.
// HashAggregate applies the same rules (phaseCalls), so a streaming
// aggregate merging partial rows computes exactly the batch final values.
type AggPhase struct {
	// Calls are the accumulator calls of the phase over its input: for
	// AggPartial over the original arguments, for AggFinal over the
	// partial state columns (the keys come first, see AggPartial).
	Calls []AggCall
	// Of is, per call, the index of the aggregate it computes part of
	// (AVG has two calls), to name it in messages.
	Of   []int
	outs []aggOut
}

// NewAggPhase returns phase mode of aggs grouped by nkeys keys.
func NewAggPhase(mode AggMode, aggs []AggCall, nkeys int) (*AggPhase, error) {
	calls, outs, err := phaseCalls(mode, aggs, nkeys)
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	p := &AggPhase{Calls: calls, outs: outs}
	for i := range aggs {
		one, _, err := phaseCalls(mode, aggs[i:i+1], nkeys)
		if err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		for range one {
			p.Of = append(p.Of, i)
		}
	}
	return p, nil
}

// Fields are the phase's output columns after the keys, given one
// accumulator per call.
func (p *AggPhase) Fields(accs []*Accumulator) ([]arrow.Field, error) {
	fields := make([]arrow.Field, len(p.outs))
	for i, o := range p.outs {
		f, err := o.field(accs)
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", o.name, err)
		}
		fields[i] = f
	}
	return fields, nil
}

// Columns builds the output columns from res, one result array per call
// over the same groups; the caller releases them (res stays the
// caller's).
func (p *AggPhase) Columns(mem memory.Allocator, res []arrow.Array) ([]arrow.Array, error) {
	cols := make([]arrow.Array, 0, len(p.outs))
	for _, o := range p.outs {
		a, err := o.build(mem, res)
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("aggregate %s: %w", o.name, err)
		}
		cols = append(cols, a)
	}
	return cols, nil
}
