package stream

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// The row-at-a-time accumulators over Values that the streaming operators
// used before they folded through the one accumulator layer
// (exec.AggState); the differential tests (aggregate_ref_test.go) keep them
// as the reference the vectorised operators must match exactly.

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

// batchEval holds one batch's evaluated keys, aggregate arguments and ops.
type batchEval struct {
	keys   []func(int) Value
	args   []func(int) Value // nil entry for COUNT(*)
	ops    *array.Int8       // nil for append-only input
	arrays []arrow.Array
}

func (b *batchEval) release() {
	for _, a := range b.arrays {
		a.Release()
	}
}

// sign is +1 for rows that add (+I, +U) and −1 for rows that retract.
func (b *batchEval) sign(i int) int64 {
	if b.ops == nil {
		return 1
	}
	switch exec.Op(b.ops.Value(i)) {
	case exec.OpUpdateBefore, exec.OpDelete:
		return -1
	}
	return 1
}

func evalBatch(ctx context.Context, mem memory.Allocator, rec arrow.Record, keys []GroupKey, aggs []aggFn, changelog bool) (*batchEval, error) {
	b := &batchEval{}
	eval := func(e Expr) (func(int) Value, error) {
		arr, err := e.Eval(ctx, mem, rec)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", e, err)
		}
		b.arrays = append(b.arrays, arr)
		return reader(arr)
	}
	for _, k := range keys {
		r, err := eval(k.Expr)
		if err != nil {
			b.release()
			return nil, err
		}
		b.keys = append(b.keys, r)
	}
	for _, a := range aggs {
		if a.arg == nil {
			b.args = append(b.args, nil)
			continue
		}
		r, err := eval(a.arg)
		if err != nil {
			b.release()
			return nil, err
		}
		b.args = append(b.args, r)
	}
	if changelog {
		ops, ok := rec.Column(0).(*array.Int8)
		if !ok {
			b.release()
			return nil, fmt.Errorf("stream: changelog op column is %s, not int8", rec.Column(0).DataType())
		}
		b.ops = ops
	}
	return b, nil
}

// group is one GROUP BY group's accumulators.
type group struct {
	key   []Value
	accs  []acc
	rows  int64 // net rows (insertions − retractions)
	epoch uint64
}

func (g *group) fold(aggs []aggFn, b *batchEval, i int, sign int64) {
	g.rows += sign
	for j := range aggs {
		var v Value
		if b.args[j] != nil {
			v = b.args[j](i)
		}
		aggs[j].add(&g.accs[j], v, sign)
	}
}

func (g *group) results(aggs []aggFn, dst []Value) []Value {
	for j := range aggs {
		dst = append(dst, aggs[j].result(&g.accs[j]))
	}
	return dst
}
