package exec

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// frames returns each position's frame as [lo[k], hi[k]) in sorted
// positions (lo ≥ hi: empty). rng is the ORDER BY key of a RANGE frame
// with an offset (else nil). Within a partition both ends never move
// backwards, which frameAggregate's sliding window relies on.
func frames(p *partitioned, fr Frame, rng *rangeKeys) ([]int32, []int32) {
	n := len(p.perm)
	lo, hi := make([]int32, n), make([]int32, n)
	for _, pr := range p.parts {
		ps, pe := pr[0], pr[1]
		ns, ne := ps, pe // the partition's non-NULL keys (RANGE offsets)
		if rng != nil {
			for ns < pe && !rng.valid(p.perm[ns]) {
				ns++
			}
			for ne > ns && !rng.valid(p.perm[ne-1]) {
				ne--
			}
		}
		for k := ps; k < pe; k++ {
			lo[k] = boundPos(fr, fr.Start, false, p, rng, k, ps, pe, ns, ne)
			hi[k] = boundPos(fr, fr.End, true, p, rng, k, ps, pe, ns, ne)
		}
	}
	return lo, hi
}

func isOffset(k BoundKind) bool { return k == Preceding || k == Following }

// boundPos is the sorted position of one frame end for position k: the
// first row of the frame (end false) or one past its last row (end true).
func boundPos(fr Frame, b FrameBound, end bool, p *partitioned, rng *rangeKeys, k, ps, pe, ns, ne int32) int32 {
	switch b.Kind {
	case UnboundedPreceding:
		return ps
	case UnboundedFollowing:
		return pe
	case CurrentRow:
		switch {
		case fr.Rows && end:
			return k + 1
		case fr.Rows:
			return k
		case end:
			return p.peerEnd[k]
		}
		return p.peerStart[k]
	}
	if fr.Rows {
		d := b.Offset
		if b.Kind == Preceding {
			d = -d
		}
		j := int64(k) + d
		if end {
			j++
		}
		return int32(min(max(j, int64(ps)), int64(pe)))
	}
	// RANGE with an offset: a NULL key's frame is its peers (the NULLs);
	// a value's frame holds the values within the offset, never NULLs.
	if !rng.valid(p.perm[k]) {
		if end {
			return p.peerEnd[k]
		}
		return p.peerStart[k]
	}
	row := p.perm[k]
	forward := b.Kind == Following
	return ns + int32(sort.Search(int(ne-ns), func(i int) bool {
		return rng.reached(p.perm[ns+int32(i)], row, b, forward, end)
	}))
}

// rangeKeys holds a RANGE frame's ORDER BY key as int64 or float64.
type rangeKeys struct {
	desc     bool
	ints     []int64
	floats   []float64
	validity []bool
}

func newRangeKeys(ctx context.Context, mem memory.Allocator, all arrow.Record, key SortKey) (*rangeKeys, error) {
	v, err := key.Expr.Eval(ctx, mem, all)
	if err != nil {
		return nil, fmt.Errorf("eval %s: %w", key.Expr, err)
	}
	defer v.Release()
	r := &rangeKeys{desc: key.Desc}
	n := v.Len()
	switch x := v.(type) {
	case *array.Float32:
		r.floats = make([]float64, n)
		for i := range n {
			r.floats[i] = float64(x.Value(i))
		}
	case *array.Float64:
		r.floats = append([]float64(nil), x.Float64Values()...)
	default:
		if !intLike(v.DataType()) && !isInteger(v.DataType()) {
			return nil, fmt.Errorf("a RANGE frame offset cannot order by %s", v.DataType())
		}
		r.ints = make([]int64, n)
		for i := range n {
			r.ints[i] = intAt(v, i)
		}
	}
	r.validity = make([]bool, n)
	for i := range n {
		r.validity[i] = isValid(v, i)
	}
	return r, nil
}

// intAt reads row i of an integer-like array (ints, dates, timestamps)
// as int64; unsigned values past int64 saturate.
func intAt(a arrow.Array, i int) int64 {
	switch x := a.(type) {
	case *array.Int8:
		return int64(x.Value(i))
	case *array.Int16:
		return int64(x.Value(i))
	case *array.Int32:
		return int64(x.Value(i))
	case *array.Int64:
		return x.Value(i)
	case *array.Uint8:
		return int64(x.Value(i))
	case *array.Uint16:
		return int64(x.Value(i))
	case *array.Uint32:
		return int64(x.Value(i))
	case *array.Uint64:
		return int64(min(x.Value(i), math.MaxInt64))
	case *array.Date32:
		return int64(x.Value(i))
	case *array.Timestamp:
		return int64(x.Value(i))
	case *array.Date64:
		return int64(x.Value(i))
	}
	return 0
}

func (r *rangeKeys) valid(row int32) bool { return r.validity[row] }

// reached reports whether the sorted row j is at or past the bound
// (value of row ± offset) in the frame's direction: for a frame start,
// the first row inside; for an end, the first row beyond.
func (r *rangeKeys) reached(j, row int32, b FrameBound, forward, end bool) bool {
	// In sort order the bound lies `offset` after (forward) or before the
	// row's value; a descending key runs the other way numerically.
	up := forward != r.desc
	if r.floats != nil {
		t := r.floats[row] - b.FloatOffset
		if up {
			t = r.floats[row] + b.FloatOffset
		}
		v := r.floats[j]
		if r.desc {
			if end {
				return v < t
			}
			return v <= t
		}
		if end {
			return v > t
		}
		return v >= t
	}
	var t int64
	if up {
		t = satAdd(r.ints[row], b.Offset)
	} else {
		t = satAdd(r.ints[row], -b.Offset)
	}
	v := r.ints[j]
	if r.desc {
		if end {
			return v < t
		}
		return v <= t
	}
	if end {
		return v > t
	}
	return v >= t
}

// satAdd adds without wrapping around.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// slider is an aggregate over a window of rows that slides forward: rows
// enter at the end and leave at the start, in order.
type slider interface {
	reset()
	add(row int32) error
	remove(row int32) error
	emit(k int32)
}

// slide runs s over each position's frame, in order within each
// partition, calling emit for every position.
func slide(ctx context.Context, p *partitioned, lo, hi []int32, s slider) error {
	for _, pr := range p.parts {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.reset()
		curLo, curHi := pr[0], pr[0]
		for k := pr[0]; k < pr[1]; k++ {
			l, h := lo[k], max(hi[k], lo[k])
			if l >= curHi {
				s.reset()
				curLo, curHi = l, l
			}
			for ; curHi < h; curHi++ {
				if err := s.add(p.perm[curHi]); err != nil {
					return err
				}
			}
			for ; curLo < l; curLo++ {
				if err := s.remove(p.perm[curLo]); err != nil {
					return err
				}
			}
			s.emit(k)
		}
	}
	return nil
}

// frameAggregate computes count/sum/avg/min/max of arg over each frame.
func frameAggregate(ctx context.Context, mem memory.Allocator, p *partitioned, f AnalyticFunc, arg arrow.Array, lo, hi []int32) (arrow.Array, error) {
	n := len(p.perm)
	switch f.Func {
	case "count", "sum", "avg", "min", "max":
	default:
		return layerFrames(ctx, mem, p, f, arg, lo, hi)
	}
	switch f.Func {
	case "min", "max":
		cmpv, err := valueCompare(arg)
		if err != nil {
			return nil, err
		}
		s := &extremeSlider{arg: arg, cmp: cmpv, isMax: f.Func == "max", out: make([]int32, n)}
		if err := slide(ctx, p, lo, hi, s); err != nil {
			return nil, err
		}
		return takeArray(ctx, mem, arg, s.out)
	case "count":
		s := &countSlider{arg: arg, out: make([]int64, n)}
		if err := slide(ctx, p, lo, hi, s); err != nil {
			return nil, err
		}
		return newFixedArray(mem, arrow.PrimitiveTypes.Int64, s.out, nil), nil
	}
	avg := f.Func == "avg"
	valid := make([]bool, n)
	switch t := arg.DataType(); {
	case t.ID() == arrow.DECIMAL128:
		scale := t.(*arrow.Decimal128Type).Scale
		s := &decimalSlider{vals: arrow.GetValues[decimal128.Num](arg.Data(), 1), arg: arg, avg: avg, scale: scale, valid: valid}
		if avg {
			s.means = make([]float64, n)
		} else {
			s.out = make([]decimal128.Num, n)
		}
		if err := slide(ctx, p, lo, hi, s); err != nil {
			return nil, err
		}
		if avg {
			return newFixedArray(mem, arrow.PrimitiveTypes.Float64, s.means, valid), nil
		}
		return newFixedArray(mem, f.Type, s.out, valid), nil
	case t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64:
		s := &floatSlider{arg: arg, avg: avg, out: make([]float64, n), valid: valid}
		if err := slide(ctx, p, lo, hi, s); err != nil {
			return nil, err
		}
		return newFixedArray(mem, arrow.PrimitiveTypes.Float64, s.out, valid), nil
	case isInteger(t):
		s := &intSlider{arg: arg, avg: avg, out: make([]int64, n), valid: valid}
		if avg {
			s.means = make([]float64, n)
		}
		if err := slide(ctx, p, lo, hi, s); err != nil {
			return nil, err
		}
		if avg {
			return newFixedArray(mem, arrow.PrimitiveTypes.Float64, s.means, valid), nil
		}
		return newFixedArray(mem, arrow.PrimitiveTypes.Int64, s.out, valid), nil
	case isIntervalType(t):
		s := &intervalSlider{arg: arg, vals: arrow.GetValues[arrow.MonthDayNanoInterval](arg.Data(), 1), avg: avg, out: make([]arrow.MonthDayNanoInterval, n), valid: valid}
		s.sum.Grow(1)
		if err := slide(ctx, p, lo, hi, s); err != nil {
			return nil, err
		}
		return newFixedArray(mem, t, s.out, valid), nil
	}
	return nil, fmt.Errorf("%s over %s is not supported", f.Func, arg.DataType())
}

// intervalSlider sums (avg: averages) INTERVAL values over a frame, the
// parts apart as SUM over INTERVAL does (sumIntervalState, one group).
type intervalSlider struct {
	arg   arrow.Array
	vals  []arrow.MonthDayNanoInterval
	avg   bool
	sum   sumIntervalState
	out   []arrow.MonthDayNanoInterval
	valid []bool
}

func (s *intervalSlider) reset() { s.sum.Reset(0) }
func (s *intervalSlider) fold(r int32, w int64) error {
	if !isValid(s.arg, int(r)) {
		return nil
	}
	v := s.vals[r]
	if err := s.sum.add(0, int64(v.Months), int64(v.Days), v.Nanoseconds, w); err != nil {
		return err
	}
	if m, d := s.sum.months[0], s.sum.days[0]; m < math.MinInt32 || m > math.MaxInt32 || d < math.MinInt32 || d > math.MaxInt32 {
		return errIntervalOverflow
	}
	s.sum.cnt[0] += w
	return nil
}
func (s *intervalSlider) add(r int32) error    { return s.fold(r, 1) }
func (s *intervalSlider) remove(r int32) error { return s.fold(r, -1) }
func (s *intervalSlider) emit(k int32) {
	st := &s.sum
	if s.valid[k] = st.cnt[0] > 0; !s.valid[k] {
		return
	}
	if s.avg {
		s.out[k] = intervalMean(st.months[0], st.days[0], st.nanos[0], st.cnt[0])
		return
	}
	s.out[k] = arrow.MonthDayNanoInterval{Months: int32(st.months[0]), Days: int32(st.days[0]), Nanoseconds: st.nanos[0]}
}

// countSlider counts non-NULL values.
type countSlider struct {
	arg arrow.Array
	n   int64
	out []int64
}

func (s *countSlider) reset() { s.n = 0 }
func (s *countSlider) add(r int32) error {
	if isValid(s.arg, int(r)) {
		s.n++
	}
	return nil
}
func (s *countSlider) remove(r int32) error {
	if isValid(s.arg, int(r)) {
		s.n--
	}
	return nil
}
func (s *countSlider) emit(k int32) { s.out[k] = s.n }

// intSlider sums integers into int64 (overflow is an error, as in SUM).
type intSlider struct {
	arg   arrow.Array
	avg   bool
	sum   int64
	n     int64
	out   []int64
	means []float64
	valid []bool
}

func (s *intSlider) reset() { s.sum, s.n = 0, 0 }
func (s *intSlider) value(r int32) (int64, bool, error) {
	if !isValid(s.arg, int(r)) {
		return 0, false, nil
	}
	if u, ok := s.arg.(*array.Uint64); ok && u.Value(int(r)) > math.MaxInt64 {
		return 0, false, fmt.Errorf("sum: %w (value %d)", ErrOverflow, u.Value(int(r)))
	}
	return intAt(s.arg, int(r)), true, nil
}
func (s *intSlider) add(r int32) error {
	v, ok, err := s.value(r)
	if !ok {
		return err
	}
	x := s.sum + v
	if (s.sum^x)&(v^x) < 0 {
		return fmt.Errorf("sum: BIGINT %w", ErrOverflow)
	}
	s.sum, s.n = x, s.n+1
	return nil
}
func (s *intSlider) remove(r int32) error {
	v, ok, err := s.value(r)
	if !ok {
		return err
	}
	x := s.sum - v
	if (s.sum^v)&(s.sum^x) < 0 {
		return fmt.Errorf("sum: BIGINT %w", ErrOverflow)
	}
	s.sum, s.n = x, s.n-1
	return nil
}
func (s *intSlider) emit(k int32) {
	s.valid[k] = s.n > 0
	s.out[k] = s.sum
	if s.avg && s.n > 0 {
		s.means[k] = float64(s.sum) / float64(s.n)
	}
}

// floatSlider sums floats; a frame that empties restarts from zero so
// rounding left by removed values does not linger.
type floatSlider struct {
	arg   arrow.Array
	avg   bool
	sum   float64
	n     int64
	out   []float64
	valid []bool
}

func (s *floatSlider) reset() { s.sum, s.n = 0, 0 }
func (s *floatSlider) value(r int32) (float64, bool) {
	if !isValid(s.arg, int(r)) {
		return 0, false
	}
	if f, ok := s.arg.(*array.Float32); ok {
		return float64(f.Value(int(r))), true
	}
	return s.arg.(*array.Float64).Value(int(r)), true
}
func (s *floatSlider) add(r int32) error {
	if v, ok := s.value(r); ok {
		s.sum += v
		s.n++
	}
	return nil
}
func (s *floatSlider) remove(r int32) error {
	if v, ok := s.value(r); ok {
		s.sum -= v
		if s.n--; s.n == 0 {
			s.sum = 0
		}
	}
	return nil
}
func (s *floatSlider) emit(k int32) {
	s.valid[k] = s.n > 0
	s.out[k] = s.sum
	if s.avg && s.n > 0 {
		s.out[k] = s.sum / float64(s.n)
	}
}

// decimalSlider sums DECIMAL values (DECIMAL(38, s)).
type decimalSlider struct {
	vals  []decimal128.Num
	arg   arrow.Array
	avg   bool
	scale int32
	sum   decimal128.Num
	n     int64
	out   []decimal128.Num
	means []float64
	valid []bool
}

func (s *decimalSlider) reset() { s.sum, s.n = decimal128.Num{}, 0 }
func (s *decimalSlider) add(r int32) error {
	if isValid(s.arg, int(r)) {
		s.sum = s.sum.Add(s.vals[r])
		s.n++
	}
	return nil
}
func (s *decimalSlider) remove(r int32) error {
	if isValid(s.arg, int(r)) {
		s.sum = s.sum.Sub(s.vals[r])
		s.n--
	}
	return nil
}
func (s *decimalSlider) emit(k int32) {
	s.valid[k] = s.n > 0
	if s.avg {
		if s.n > 0 {
			s.means[k] = s.sum.ToFloat64(s.scale) / float64(s.n)
		}
		return
	}
	s.out[k] = s.sum
}

// extremeSlider is MIN/MAX over a sliding frame: a deque of rows whose
// values only worsen from front to back, so the front is the extreme and
// each row enters and leaves once.
type extremeSlider struct {
	arg   arrow.Array
	cmp   func(i, j int) int
	isMax bool
	dq    []int32
	out   []int32 // per position: the row holding the extreme, -1 none
}

func (s *extremeSlider) reset() { s.dq = s.dq[:0] }
func (s *extremeSlider) add(r int32) error {
	if !isValid(s.arg, int(r)) {
		return nil
	}
	for len(s.dq) > 0 {
		c := s.cmp(int(s.dq[len(s.dq)-1]), int(r))
		if s.isMax {
			c = -c
		}
		if c < 0 { // the back beats r: keep it
			break
		}
		s.dq = s.dq[:len(s.dq)-1]
	}
	s.dq = append(s.dq, r)
	return nil
}
func (s *extremeSlider) remove(r int32) error {
	if len(s.dq) > 0 && s.dq[0] == r {
		s.dq = s.dq[1:]
	}
	return nil
}
func (s *extremeSlider) emit(k int32) {
	s.out[k] = -1
	if len(s.dq) > 0 {
		s.out[k] = s.dq[0]
	}
}
