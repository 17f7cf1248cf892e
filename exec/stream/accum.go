package stream

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Expr is the scalar expression the streaming operators evaluate for group
// keys and aggregate arguments. Its method set is the one of expr.Expr
// (exec/expr), so any expr.Expr (expr.Column, expr.Call, …) plugs in.
type Expr interface {
	// Eval computes the expression for every row of rec; the caller
	// releases the result.
	Eval(ctx context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error)
	// DataType is the type of the arrays Eval returns.
	DataType() arrow.DataType
	// String is the canonical form shown in EXPLAIN.
	String() string
}

// AggFunc names an aggregate function that can be maintained incrementally.
type AggFunc int

// Aggregate functions. All of them retract (subtract a row) exactly, which
// is what makes EMIT CHANGES over a changelog input correct: sums are exact
// (integers, DECIMAL) or float sums of signed terms, MIN and MAX over a
// retracting input and every DISTINCT keep a per-group multiset.
const (
	AggCount         AggFunc = iota // COUNT(x): non-null inputs
	AggCountStar                    // COUNT(*): rows
	AggSum                          // SUM(x): int64 for integers, float64 for floats, DECIMAL(38, s) for DECIMAL(p, s)
	AggAvg                          // AVG(x): float64
	AggMin                          // MIN(x)
	AggMax                          // MAX(x)
	AggCountDistinct                // COUNT(DISTINCT x)
	// AggNamed is a function of the accumulator layer named by
	// AggSpec.FuncName (one without a constant here).
	AggNamed
)

// String renders the function name as SQL.
func (f AggFunc) String() string {
	return [...]string{"COUNT", "COUNT(*)", "SUM", "AVG", "MIN", "MAX", "COUNT DISTINCT", "aggregate"}[f]
}

// AggSpec is one aggregate of a streaming aggregation.
type AggSpec struct {
	Func AggFunc
	// Distinct folds each distinct non-NULL value once (SUM(DISTINCT x),
	// AVG(DISTINCT x)); AggCountDistinct implies it, and MIN and MAX ignore
	// it (their result is the same).
	Distinct bool
	// Arg is the argument; nil for AggCountStar.
	Arg Expr
	// Name is the output column name.
	Name string
	// Type, when set, is the result type the plan expects (see
	// resolveAgg).
	Type arrow.DataType
	// FuncName, when set, names the function in the accumulator layer
	// (exec.NewAggState) directly, for functions without an AggFunc
	// constant; Func then only names it in messages.
	FuncName string
}

// GroupKey is one GROUP BY expression and its output column name.
type GroupKey struct {
	Expr Expr
	Name string
}

// acc is the state of one aggregate for one group. One struct serves every
// function (fields unused by a function stay zero) so state is gob-encodable
// for checkpoints without type registration.
type acc struct {
	N      int64 // non-null inputs seen (net of retractions); distinct values under DISTINCT
	I      int64 // integer sum; a DECIMAL sum's low 64 bits
	H      int64 // a DECIMAL sum's high 64 bits
	F      float64
	Cur    Value           // MIN/MAX current extreme (valid when N > 0)
	Counts map[Value]int64 // MIN/MAX multiset under retraction; DISTINCT values
}

// aggFn is an AggSpec resolved against its argument type.
type aggFn struct {
	fn         AggFunc
	arg        Expr
	name       string
	out        arrow.DataType
	floatSum   bool
	decimal    bool  // SUM/AVG over DECIMAL: an exact 128-bit sum
	scale      int32 // the DECIMAL argument's scale (AVG's conversion)
	distinct   bool  // SUM/AVG(DISTINCT): fold each value once
	retracting bool  // input may retract: MIN/MAX keep a multiset
	// err is the first overflow of a SUM/AVG. The folding loops have no
	// error path (they run per row, inside per-batch loops), so they
	// record it here and the operator checks it once per batch
	// (checkErr) before emitting anything: the result is an error, as in
	// batch, never a wrapped sum.
	err error
}

// resolveAgg resolves s against its argument type for an operator whose
// input retracts rows (retracting) or not. Every function takes every
// argument type a Value holds (the planner's capability table lists the
// same); s.Type, when set, is the result type the planner expects, and a
// mismatch is an error here rather than a wrong column later.
func resolveAgg(s AggSpec, retracting bool) (aggFn, error) {
	f := aggFn{fn: s.Func, arg: s.Arg, name: s.Name, retracting: retracting}
	if s.Func != AggCountStar && s.Arg == nil {
		return f, fmt.Errorf("stream: %s needs an argument", s.Func)
	}
	switch s.Func {
	case AggCount, AggCountStar:
		f.out = arrow.PrimitiveTypes.Int64
	case AggCountDistinct:
		f.out, f.distinct = arrow.PrimitiveTypes.Int64, true
	case AggSum, AggAvg:
		f.distinct = s.Distinct
		f.out = arrow.PrimitiveTypes.Float64
		switch t := s.Arg.DataType(); t.ID() {
		case arrow.FLOAT32, arrow.FLOAT64:
			f.floatSum = true
		case arrow.DECIMAL128:
			f.decimal, f.scale = true, t.(*arrow.Decimal128Type).Scale
			if s.Func == AggSum {
				f.out = &arrow.Decimal128Type{Precision: 38, Scale: f.scale}
			}
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
			if s.Func == AggSum {
				f.out = arrow.PrimitiveTypes.Int64
			}
		default:
			return f, fmt.Errorf("stream: %s of %s is not supported", s.Func, t)
		}
	case AggMin, AggMax:
		f.out = s.Arg.DataType()
	default:
		return f, fmt.Errorf("stream: unknown aggregate %d", s.Func)
	}
	if s.Type != nil && !arrow.TypeEqual(s.Type, f.out) {
		return f, fmt.Errorf("stream: %s(%s) gives %s but the plan expects %s", s.Func, s.Arg, f.out, s.Type)
	}
	return f, nil
}

// decimalLimit is 10^38, the first value DECIMAL(38) cannot hold.
var decimalLimit = decimal128.GetScaleMultiplier(38)

// addSum adds sign × v into a's sum, recording an overflow in f.err.
func (f *aggFn) addSum(a *acc, v Value, sign int64) {
	switch {
	case v.K == KFloat:
		a.F += float64(sign) * v.F
	case v.K == KDecimal:
		d := v.Num()
		if sign < 0 {
			d = d.Negate()
		}
		r := decimal128.New(a.H, uint64(a.I)).Add(d)
		if !r.Abs().Less(decimalLimit) && f.err == nil {
			f.err = fmt.Errorf("aggregate: %s(%s): sum: DECIMAL %w", f.fn, f.arg, exec.ErrOverflow)
		}
		a.I, a.H = int64(r.LowBits()), r.HighBits()
	default:
		f.addInt(&a.I, v.I, sign)
	}
}

// addInt folds sign*v into the integer sum *sum, recording an overflow.
// It is the one overflow rule of the streaming SUM/AVG kernels.
func (f *aggFn) addInt(sum *int64, v, sign int64) {
	a := *sum
	var r int64
	var over bool
	if sign > 0 {
		r = a + v
		over = (a^r)&(v^r) < 0
	} else {
		r = a - v
		over = (a^v)&(a^r) < 0
	}
	if over && f.err == nil {
		f.err = fmt.Errorf("aggregate: %s(%s): sum: BIGINT %w", f.fn, f.arg, exec.ErrOverflow)
	}
	*sum = r
}

// add folds v into a with sign +1 (insert) or -1 (retract).
func (f *aggFn) add(a *acc, v Value, sign int64) {
	if f.fn == AggCountStar {
		a.N += sign
		return
	}
	if v.K == KNull {
		return
	}
	if f.distinct {
		// A value counts when its multiplicity goes 0 → 1 and stops
		// counting when it goes back to 0.
		before := a.Counts[v]
		f.count(a, v, sign)
		after := a.Counts[v]
		switch {
		case before == 0 && after > 0:
			a.N++
			if f.fn != AggCountDistinct {
				f.addSum(a, v, 1)
			}
		case before > 0 && after == 0:
			a.N--
			if f.fn != AggCountDistinct {
				f.addSum(a, v, -1)
			}
		}
		return
	}
	a.N += sign
	switch f.fn {
	case AggSum, AggAvg:
		f.addSum(a, v, sign)
	case AggMin, AggMax:
		if !f.retracting {
			if a.N == 1 || f.better(v, a.Cur) {
				a.Cur = v
			}
			return
		}
		f.count(a, v, sign)
		switch {
		case sign > 0 && (a.N == 1 || f.better(v, a.Cur)):
			a.Cur = v
		case sign < 0 && a.Counts[v] == 0 && v == a.Cur:
			f.rescan(a)
		}
	}
}

func (f *aggFn) count(a *acc, v Value, sign int64) {
	if a.Counts == nil {
		a.Counts = make(map[Value]int64)
	}
	n := a.Counts[v] + sign
	if n <= 0 {
		delete(a.Counts, v)
	} else {
		a.Counts[v] = n
	}
}

// better reports whether v beats cur for MIN or MAX.
func (f *aggFn) better(v, cur Value) bool {
	c := Compare(v, cur)
	if f.fn == AggMin {
		return c < 0
	}
	return c > 0
}

// rescan recomputes the extreme after the current one was retracted.
func (f *aggFn) rescan(a *acc) {
	first := true
	a.Cur = Value{}
	for v := range a.Counts {
		if first || f.better(v, a.Cur) {
			a.Cur, first = v, false
		}
	}
}

// merge folds src into dst (session windows merging).
func (f *aggFn) merge(dst, src *acc) {
	switch {
	case f.distinct:
		for v, n := range src.Counts {
			f.add(dst, v, n)
		}
	case f.fn == AggCount || f.fn == AggCountStar:
		dst.N += src.N
	case f.fn == AggSum || f.fn == AggAvg:
		dst.N += src.N
		dst.F += src.F
		if f.decimal {
			f.addSum(dst, Value{K: KDecimal, I: src.I, H: src.H}, 1)
		} else {
			f.addSum(dst, Int(src.I), 1)
		}
	case f.fn == AggMin || f.fn == AggMax:
		if src.N == 0 {
			return
		}
		for v, n := range src.Counts {
			f.count(dst, v, n)
		}
		if dst.N == 0 || f.better(src.Cur, dst.Cur) {
			dst.Cur = src.Cur
		}
		dst.N += src.N
	}
}

// result is the SQL value of the aggregate.
func (f *aggFn) result(a *acc) Value {
	switch f.fn {
	case AggCount, AggCountStar:
		return Int(a.N)
	case AggCountDistinct:
		return Int(int64(len(a.Counts)))
	case AggSum:
		switch {
		case a.N == 0:
			return Value{}
		case f.decimal:
			return Value{K: KDecimal, I: a.I, H: a.H}
		case f.floatSum:
			return Float(a.F + float64(a.I))
		}
		return Int(a.I)
	case AggAvg:
		switch {
		case a.N == 0:
			return Value{}
		case f.decimal:
			return Float(decimal128.New(a.H, uint64(a.I)).ToFloat64(f.scale) / float64(a.N))
		}
		return Float((a.F + float64(a.I)) / float64(a.N))
	case AggMin, AggMax:
		if a.N == 0 {
			return Value{}
		}
		return a.Cur
	}
	return Value{}
}

// checkErr returns the first overflow any of aggs recorded.
func checkErr(aggs []aggFn) error {
	for j := range aggs {
		if aggs[j].err != nil {
			return aggs[j].err
		}
	}
	return nil
}

// accBytes estimates the heap bytes of one accumulator.
func accBytes(a *acc) int64 {
	n := int64(80) + valueBytes(a.Cur)
	for v := range a.Counts {
		n += 16 + valueBytes(v)
	}
	return n
}

// StateStats is the size of an operator's state, reported by every
// stateful streaming operator so EXPLAIN ANALYZE and tests can see that
// state stays bounded.
type StateStats struct {
	// Groups is the number of live keyed entries (groups, or
	// window×group pairs, or rows held by top-N).
	Groups int
	// Bytes estimates the heap bytes the state holds.
	Bytes int64
}

// aggCall is the exec.AggCall of s: the name of its function in the
// accumulator layer (exec.NewAggState).
func aggCall(s AggSpec) (exec.AggCall, error) {
	c := exec.AggCall{Arg: s.Arg, Name: s.Name, Distinct: s.Distinct, Type: s.Type}
	switch s.Func {
	case AggCount:
		c.Func = "count"
	case AggCountStar:
		c.Func, c.Arg = "count_star", nil
	case AggSum:
		c.Func = "sum"
	case AggAvg:
		c.Func = "avg"
	case AggMin:
		c.Func = "min"
	case AggMax:
		c.Func = "max"
	case AggCountDistinct:
		c.Func, c.Distinct = "count", true
	case AggNamed:
		c.Func = s.FuncName
	default:
		return c, fmt.Errorf("stream: unknown aggregate %d", s.Func)
	}
	if c.Func != "count_star" && s.Arg == nil {
		return c, fmt.Errorf("stream: %s needs an argument", s.Func)
	}
	return c, nil
}

// aggCore is the aggregates of a streaming operator in the one accumulator
// layer: the calls, and a factory of their accumulators (a window's or
// the operator's groups).
type aggCore struct {
	mem   memory.Allocator
	calls []exec.AggCall
	opts  exec.AggOptions
	types []arrow.DataType // result types
}

// newAggCore resolves specs for an operator that asks opts of its states;
// the result type the planner expects (AggSpec.Type) is checked here.
func newAggCore(mem memory.Allocator, specs []AggSpec, opts exec.AggOptions) (*aggCore, error) {
	c := &aggCore{mem: mem, opts: opts}
	for _, s := range specs {
		call, err := aggCall(s)
		if err != nil {
			return nil, err
		}
		a, err := exec.NewAccumulator(mem, call, opts)
		if err != nil {
			return nil, fmt.Errorf("stream: %s: %w", s.Name, err)
		}
		c.calls = append(c.calls, call)
		c.types = append(c.types, a.DataType())
	}
	return c, nil
}

// accumulators returns a fresh, empty accumulator per call.
func (c *aggCore) accumulators() []*exec.Accumulator {
	accs := make([]*exec.Accumulator, len(c.calls))
	for j, call := range c.calls {
		a, err := exec.NewAccumulator(c.mem, call, c.opts)
		if err != nil {
			panic(fmt.Sprintf("stream: accumulator %s failed after it was built once: %v", call.Name, err))
		}
		accs[j] = a
	}
	return accs
}

// update folds one batch's evaluated arguments (nil for COUNT(*)) into
// accs: row r into group gids[r] with weight signs[r] (nil: all +1).
func (c *aggCore) update(ctx context.Context, accs []*exec.Accumulator, gids []uint32, args []arrow.Array, signs []int8) error {
	for j, a := range accs {
		if err := a.Update(ctx, gids, args[j], signs); err != nil {
			return fmt.Errorf("aggregate: %s(%s): %w", c.calls[j].Func, argString(c.calls[j]), err)
		}
	}
	return nil
}

func argString(c exec.AggCall) string {
	if c.Arg == nil {
		return "*"
	}
	return c.Arg.String()
}

// results reads the values of groups from accs, appending them to dst
// group by group (len(accs) values per group).
func (c *aggCore) results(accs []*exec.Accumulator, groups []uint32, dst []Value) ([]Value, error) {
	if len(groups) == 0 {
		return dst, nil
	}
	base := len(dst)
	na := len(accs)
	dst = append(dst, make([]Value, len(groups)*na)...)
	for j, a := range accs {
		arr, err := a.Result(c.mem, groups)
		if err != nil {
			return dst, fmt.Errorf("aggregate %s: %w", c.calls[j].Name, err)
		}
		rd, err := reader(arr)
		if err != nil {
			arr.Release()
			return dst, err
		}
		for i := range groups {
			dst[base+i*na+j] = rd(i)
		}
		arr.Release()
	}
	return dst, nil
}

// saveGroup is group g's state in every accumulator, concatenated.
func saveGroup(accs []*exec.Accumulator, g uint32) ([]byte, error) {
	var b []byte
	for _, a := range accs {
		var err error
		if b, err = a.Save(b, g); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// loadGroup sets group g of accs from saveGroup's bytes.
func loadGroup(accs []*exec.Accumulator, g uint32, b []byte) error {
	for _, a := range accs {
		var err error
		if b, err = a.Load(g, b); err != nil {
			return fmt.Errorf("stream: restoring aggregate state: %w", err)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("stream: restoring aggregate state: %d bytes left over", len(b))
	}
	return nil
}

// accsBytes is the estimated heap of accs.
func accsBytes(accs []*exec.Accumulator) int64 {
	var n int64
	for _, a := range accs {
		n += a.Bytes()
	}
	return n
}
