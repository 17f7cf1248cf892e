package exec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// AggState is the one accumulator layer of sluice: one aggregate call's
// state for many groups, addressed by dense group ids (from a GroupTable or
// an operator's own slot allocator). The batch HashAggregate, the streaming
// GroupAggregate and the streaming WindowAggregate all fold through it, so
// a function computes the same value in every mode.
//
// Updates are signed: a row comes with weight +1 (insert), −1 (retract one
// earlier inserted row: the -U/-D rows of a changelog) or 0 (ignore the
// row: a retraction of an absent group, or a row a FILTER clause drops).
// Sums subtract, counts decrement, and MIN, MAX and DISTINCT keep per-group
// multisets of values when the state is built with AggOptions.Retract or
// AggOptions.Streaming (see there).
//
// Implementations keep per-group values in typed slices and do the type
// switch once, when built; every method is called from one goroutine.
type AggState interface {
	// Grow makes group ids < n valid; new groups are empty (COUNT 0,
	// SUM/MIN/MAX NULL). Ids below the current size keep their state.
	Grow(n int)
	// Update folds row i of arg into group gids[i] with weight signs[i]
	// (signs nil: every row +1), for every row; NULL values are skipped.
	// arg is nil for COUNT(*), which counts rows. Update keeps no
	// reference to arg or its buffers. A retraction (weight −1) into a
	// state built without AggOptions.Retract is an error; so is a result
	// leaving its type (ErrOverflow), reported for the whole batch.
	Update(gids []uint32, arg arrow.Array, signs []int8) error
	// Merge folds group src into group dst and empties src, as if dst had
	// seen src's rows too (session windows merging). States built without
	// AggOptions.Streaming may refuse it for DISTINCT.
	Merge(dst, src uint32) error
	// Reset empties group g so its id can be reused.
	Reset(g uint32)
	// Result builds one value per group in groups, in that order (nil:
	// every group 0..n-1 of the last Grow). The caller releases the array.
	Result(mem memory.Allocator, groups []uint32) (arrow.Array, error)
	// Save appends group g's state to dst in a self-delimiting binary
	// form (checkpoints); Load sets group g (already grown) from what Save
	// wrote at the start of src and returns the bytes after it. States
	// built without AggOptions.Streaming may refuse Save for DISTINCT.
	Save(dst []byte, g uint32) ([]byte, error)
	Load(g uint32, src []byte) ([]byte, error)
	// Bytes estimates the heap bytes the state holds (memory budgets).
	Bytes() int64
}

// AggOptions says what an operator will ask of an AggState beyond
// inserting rows.
type AggOptions struct {
	// Retract: Update receives −1 weights (a changelog input). MIN and
	// MAX then keep a multiset of values per group, so that retracting
	// the current extreme finds the next one.
	Retract bool
	// Streaming: the operator merges, resets and checkpoints groups.
	// DISTINCT then keeps a multiset of values per group (which Merge,
	// Reset and Save can enumerate) instead of the one shared hash table
	// of (group, value) pairs the batch aggregate uses.
	Streaming bool
}

// AggParams are the constant parts of an aggregate call besides its
// argument: the separator of STRING_AGG, the fraction of a percentile and
// the order of an ordered aggregate. The zero value suits every function
// that has none.
type AggParams struct {
	// Sep is STRING_AGG's separator.
	Sep string
	// Fraction is the quantile of PERCENTILE_CONT and PERCENTILE_DISC, in
	// [0, 1] (MEDIAN is 0.5).
	Fraction float64
	// Order orders the values of an ordered aggregate (STRING_AGG(x, sep
	// ORDER BY k…)): one entry per key. The keys are the fields of the
	// argument struct after the value, or, for an argument that is not a
	// struct, the value itself (one entry).
	Order []AggOrder
}

// AggOrder is one ORDER BY key of an ordered aggregate.
type AggOrder struct {
	Desc       bool
	NullsFirst bool
}

// aggDef is one aggregate function of the layer: the type it computes over
// an argument type, and the state that computes it. Adding a function is a
// row here (and its row in the planner's capability table,
// planner/aggcap.go, which the planner checks queries against).
type aggDef struct {
	// result is the type over arg (nil for count_star); arg is a value
	// type (dictionaries decoded).
	result func(arg arrow.DataType) (arrow.DataType, error)
	// state builds the accumulator; res is result(arg). DISTINCT is
	// applied by NewAggState around it unless distinctAware.
	state func(mem memory.Allocator, arg, res arrow.DataType, p AggParams, opts AggOptions) (AggState, error)
	// noArg: the function takes no argument (COUNT(*)).
	noArg bool
	// distinctSame: DISTINCT does not change the result (MIN, MAX), so
	// it is ignored rather than paid for.
	distinctSame bool
	// distinct, when set, builds the state of the DISTINCT call itself
	// (ARRAY_AGG keeps NULL among its distinct values, which the generic
	// DISTINCT layer skips).
	distinct func(mem memory.Allocator, arg, res arrow.DataType, p AggParams, opts AggOptions) (AggState, error)
}

// aggDefs is the function table of the layer, by lowercase name.
var aggDefs = map[string]aggDef{
	"count_star": {
		result: func(arrow.DataType) (arrow.DataType, error) { return arrow.PrimitiveTypes.Int64, nil },
		state: func(_ memory.Allocator, _, _ arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
			return &countState{star: true}, nil
		},
		noArg: true,
	},
	"count": {
		result: func(arrow.DataType) (arrow.DataType, error) { return arrow.PrimitiveTypes.Int64, nil },
		state: func(_ memory.Allocator, _, _ arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
			return &countState{}, nil
		},
	},
	"sum": {
		result: sumResultType,
		state: func(_ memory.Allocator, arg, _ arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
			return newSumState(arg), nil
		},
	},
	"avg": {
		result: func(arg arrow.DataType) (arrow.DataType, error) {
			if numeric(arg) {
				return arrow.PrimitiveTypes.Float64, nil
			}
			if isIntervalType(arg) {
				return arg, nil
			}
			return nil, errUnsupportedArg
		},
		state: func(_ memory.Allocator, arg, _ arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
			if isIntervalType(arg) {
				return &avgIntervalState{}, nil
			}
			return &avgState{sum: newSumState(arg)}, nil
		},
	},
	"min": {result: minMaxResultType, state: minMaxDef(false), distinctSame: true},
	"max": {result: minMaxResultType, state: minMaxDef(true), distinctSame: true},

	"bit_and":         bitDef(bitAnd),
	"bit_or":          bitDef(bitOr),
	"bit_xor":         bitDef(bitXor),
	"first":           firstDef(false),
	"last":            firstDef(true),
	"arg_min":         argMinMaxDef(false),
	"arg_max":         argMinMaxDef(true),
	"string_agg":      stringAggDef,
	"array_agg":       arrayAggDef,
	"median":          quantileDef(quantileMedian),
	"percentile_cont": quantileDef(quantileCont),
	"percentile_disc": quantileDef(quantileDisc),

	"approx_count_distinct":       hllDef(false),
	"approx_count_distinct_state": hllDef(true),
	"approx_count_distinct_merge": hllMergeDef,
}

// errUnsupportedArg marks an argument type a function does not take; the
// caller names the function and the type.
var errUnsupportedArg = errors.New("unsupported argument type")

func sumResultType(arg arrow.DataType) (arrow.DataType, error) {
	switch {
	case isInteger(arg):
		return arrow.PrimitiveTypes.Int64, nil
	case arg.ID() == arrow.FLOAT32 || arg.ID() == arrow.FLOAT64:
		return arrow.PrimitiveTypes.Float64, nil
	case arg.ID() == arrow.DECIMAL128:
		return &arrow.Decimal128Type{Precision: 38, Scale: arg.(*arrow.Decimal128Type).Scale}, nil
	case isIntervalType(arg):
		return arg, nil
	}
	return nil, errUnsupportedArg
}

func minMaxResultType(arg arrow.DataType) (arrow.DataType, error) {
	switch arg.ID() {
	case arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.INTERVAL_MONTH_DAY_NANO:
		return arg, nil
	}
	if intLike(arg) {
		return arg, nil
	}
	return nil, errUnsupportedArg
}

func minMaxDef(isMax bool) func(memory.Allocator, arrow.DataType, arrow.DataType, AggParams, AggOptions) (AggState, error) {
	return func(_ memory.Allocator, arg, res arrow.DataType, _ AggParams, opts AggOptions) (AggState, error) {
		var st AggState
		if opts.Retract {
			st = newMinMaxMulti(arg, res, isMax)
		} else {
			st = newMinMaxState(arg, res, isMax)
		}
		if st == nil {
			return nil, errUnsupportedArg
		}
		return st, nil
	}
}

// aggResultType is the type of fn over an argument of type arg (a value
// type; nil for count_star).
func aggResultType(fn string, arg arrow.DataType) (arrow.DataType, error) {
	d, ok := aggDefs[fn]
	if !ok {
		return nil, fmt.Errorf("unknown aggregate function %q", fn)
	}
	if !d.noArg && arg == nil {
		return nil, fmt.Errorf("%s needs an argument", fn)
	}
	t, err := d.result(arg)
	if errors.Is(err, errUnsupportedArg) {
		return nil, fmt.Errorf("%s(%s) is not supported", strings.ToUpper(fn), arg)
	}
	return t, err
}

// NewAggState returns the state of fn (lowercase, a name in aggDefs:
// count, count_star, sum, avg, min, max, bit_and, string_agg, median, …) over arguments of the value type arg (nil for
// count_star), each distinct non-NULL value folded once when distinct.
func NewAggState(mem memory.Allocator, fn string, arg arrow.DataType, distinct bool, opts AggOptions) (AggState, error) {
	return NewAggStateParams(mem, fn, arg, distinct, AggParams{}, opts)
}

// NewAggStateParams is NewAggState for a call with constant parameters
// (see AggParams).
func NewAggStateParams(mem memory.Allocator, fn string, arg arrow.DataType, distinct bool, p AggParams, opts AggOptions) (AggState, error) {
	d, ok := aggDefs[fn]
	if !ok {
		return nil, fmt.Errorf("unknown aggregate function %q", fn)
	}
	if d.noArg && distinct {
		return nil, fmt.Errorf("%s(DISTINCT *) is not supported", strings.ToUpper(strings.TrimSuffix(fn, "_star")))
	}
	res, err := aggResultType(fn, arg)
	if err != nil {
		return nil, err
	}
	build := d.state
	if distinct && d.distinct != nil {
		build = d.distinct
	}
	st, err := build(mem, arg, res, p, opts)
	if distinct && d.distinct != nil {
		return st, err
	}
	if errors.Is(err, errUnsupportedArg) {
		return nil, fmt.Errorf("%s(%s) is not supported", strings.ToUpper(fn), arg)
	}
	if err != nil {
		return nil, err
	}
	if !distinct || d.distinctSame {
		return st, nil
	}
	if !distinctKeyable(arg) {
		return nil, fmt.Errorf("%s(DISTINCT %s) is not supported", strings.ToUpper(fn), arg)
	}
	if opts.Streaming || opts.Retract {
		return &distinctMulti{mem: mem, inner: st, typ: arg}, nil
	}
	return &distinctState{inner: st}, nil
}

// weight is row r's update weight (+1 when signs is nil).
func weight(signs []int8, r int) int64 {
	if signs == nil {
		return 1
	}
	return int64(signs[r])
}

// errRetract is the error of a retraction into a state that cannot take
// one (a planner bug: the capability table says which operator retracts).
func errRetract(what string) error {
	return fmt.Errorf("%s: retraction into an insert-only aggregate state", what)
}

// Checkpoint codec of the states: little-endian fixed-width numbers and
// length-prefixed strings.

func appendU64(dst []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(dst, v) }
func appendI64(dst []byte, v int64) []byte  { return appendU64(dst, uint64(v)) }
func appendF64(dst []byte, v float64) []byte {
	return appendU64(dst, math.Float64bits(v))
}
func appendStr(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}
func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// errShortState is the error of a truncated or corrupt saved state.
var errShortState = errors.New("aggregate state: truncated")

// stateReader reads what the append functions wrote; the first error
// sticks and later reads return zero values.
type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) u64() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.err = errShortState
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}
func (r *stateReader) i64() int64   { return int64(r.u64()) }
func (r *stateReader) f64() float64 { return math.Float64frombits(r.u64()) }
func (r *stateReader) boolean() bool {
	if r.err != nil || len(r.b) < 1 {
		r.err = errShortState
		return false
	}
	v := r.b[0] != 0
	r.b = r.b[1:]
	return v
}
func (r *stateReader) str() string {
	if r.err != nil {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || uint64(len(r.b)-k) < n {
		r.err = errShortState
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}
func (r *stateReader) count() int {
	n := r.u64()
	if r.err == nil && n > uint64(len(r.b)) { // every entry takes a byte at least
		r.err = errShortState
		return 0
	}
	return int(n)
}

// done returns the rest of the input, or the first error.
func (r *stateReader) done() ([]byte, error) { return r.b, r.err }
