package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/zeebo/xxh3"
)

// ErrOverflow is returned when an aggregate's result does not fit its type
// (SUM of BIGINT beyond 64 bits, a DECIMAL sum beyond 38 digits).
var ErrOverflow = errors.New("numeric overflow")

// aggState is the per-group accumulator of one aggregate call. Groups are
// dense ids from the grouper; the state keeps one slot per group in typed
// slices, and update runs a tight loop over (group id, value) pairs with
// the type switch done once at construction. HashAggregate drives it for
// batch queries; the streaming aggregate reuses the same states.
type aggState interface {
	// grow makes group ids < n valid; new groups start empty (COUNT 0,
	// SUM/MIN/MAX NULL).
	grow(n int)
	// update folds row i of arr into group gids[i], for every row; NULLs
	// are skipped. arr is nil for count_star, which counts gids.
	update(gids []uint32, arr arrow.Array) error
	// TODO(streaming): retract(gids []uint32, arr arrow.Array) error, the
	// inverse of update for changelog input: SUM/COUNT/AVG subtract (the
	// per-group non-NULL counts below exist so SUM can return to NULL);
	// MIN/MAX and DISTINCT need per-group multisets of values.

	// result builds one value per group in groups, in that order; nil
	// means every group 0..n-1.
	result(mem memory.Allocator, groups []uint32) (arrow.Array, error)
}

// aggResultType is the type of fn over an argument of type arg: SUM widens
// integers to Int64, floats to Float64 and decimals to Decimal128(38, s);
// AVG is Float64; COUNT is Int64; MIN/MAX keep the argument's type.
func aggResultType(fn string, arg arrow.DataType) (arrow.DataType, error) {
	switch fn {
	case "count", "count_star":
		return arrow.PrimitiveTypes.Int64, nil
	case "avg":
		if numeric(arg) {
			return arrow.PrimitiveTypes.Float64, nil
		}
	case "sum":
		switch {
		case intLike(arg) && isInteger(arg):
			return arrow.PrimitiveTypes.Int64, nil
		case arg.ID() == arrow.FLOAT32 || arg.ID() == arrow.FLOAT64:
			return arrow.PrimitiveTypes.Float64, nil
		case arg.ID() == arrow.DECIMAL128:
			return &arrow.Decimal128Type{Precision: 38, Scale: arg.(*arrow.Decimal128Type).Scale}, nil
		}
	case "min", "max":
		switch arg.ID() {
		case arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
			arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
			return arg, nil
		}
		if intLike(arg) {
			return arg, nil
		}
	default:
		return nil, fmt.Errorf("unknown aggregate function %q", fn)
	}
	return nil, fmt.Errorf("%s(%s) is not supported", strings.ToUpper(fn), arg)
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func numeric(t arrow.DataType) bool {
	return isInteger(t) || t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64 || t.ID() == arrow.DECIMAL128
}

// newAggState returns the accumulator for fn over arguments of type arg
// (nil for count_star), wrapped for DISTINCT when asked.
func newAggState(mem memory.Allocator, fn string, arg arrow.DataType, distinct bool) (aggState, error) {
	if fn == "count_star" {
		if distinct {
			return nil, errors.New("COUNT(DISTINCT *) is not supported")
		}
		return &countState{star: true}, nil
	}
	if arg == nil {
		return nil, fmt.Errorf("%s needs an argument", fn)
	}
	res, err := aggResultType(fn, arg)
	if err != nil {
		return nil, err
	}
	var st aggState
	switch fn {
	case "count":
		st = &countState{}
	case "sum":
		st = newSumState(arg)
	case "avg":
		st = &avgState{sum: newSumState(arg)}
	case "min", "max":
		st = newMinMaxState(arg, res, fn == "max")
	}
	if st == nil {
		return nil, fmt.Errorf("%s(%s) is not supported", strings.ToUpper(fn), arg)
	}
	if distinct {
		if !encodable(arg) {
			return nil, fmt.Errorf("%s(DISTINCT %s) is not supported", strings.ToUpper(fn), arg)
		}
		st = &distinctState{mem: mem, inner: st, table: newBytesTable()}
	}
	return st, nil
}

// grow extends s to n zero values.
func growSlice[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	out := make([]T, n, max(n, 2*cap(s)))
	copy(out, s)
	return out
}

// pick returns vals at groups (all of vals when groups is nil).
func pick[T any](vals []T, groups []uint32) []T {
	if groups == nil {
		return vals
	}
	out := make([]T, len(groups))
	for i, g := range groups {
		out[i] = vals[g]
	}
	return out
}

// countsValid turns non-NULL counts into a validity slice (a group with
// no non-NULL input yields NULL).
func countsValid(cnt []int64, groups []uint32) []bool {
	c := pick(cnt, groups)
	out := make([]bool, len(c))
	for i, n := range c {
		out[i] = n > 0
	}
	return out
}

// countState is COUNT(x) (non-NULL rows) and COUNT(*) (all rows).
type countState struct {
	star   bool
	counts []int64
}

func (s *countState) grow(n int) { s.counts = growSlice(s.counts, n) }

func (s *countState) update(gids []uint32, arr arrow.Array) error {
	c := s.counts
	if s.star || arr.NullN() == 0 {
		for _, g := range gids {
			c[g]++
		}
		return nil
	}
	for i, g := range gids {
		if arr.IsValid(i) {
			c[g]++
		}
	}
	return nil
}

func (s *countState) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, arrow.PrimitiveTypes.Int64, pick(s.counts, groups), nil), nil
}

// summer is a SUM accumulator; AVG divides its per-group mean out.
type summer interface {
	aggState
	mean(g uint32) (float64, bool)
}

func newSumState(arg arrow.DataType) summer {
	switch arg.ID() {
	case arrow.INT8:
		return &sumIntState[int8]{}
	case arrow.INT16:
		return &sumIntState[int16]{}
	case arrow.INT32:
		return &sumIntState[int32]{}
	case arrow.INT64:
		return &sumIntState[int64]{}
	case arrow.UINT8:
		return &sumIntState[uint8]{}
	case arrow.UINT16:
		return &sumIntState[uint16]{}
	case arrow.UINT32:
		return &sumIntState[uint32]{}
	case arrow.UINT64:
		return &sumIntState[uint64]{}
	case arrow.FLOAT32:
		return &sumFloatState[float32]{}
	case arrow.FLOAT64:
		return &sumFloatState[float64]{}
	case arrow.DECIMAL128:
		return &sumDecimalState{scale: arg.(*arrow.Decimal128Type).Scale}
	}
	return nil
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// sumIntState sums integers into int64 with overflow detection.
type sumIntState[T integer] struct {
	sums []int64
	cnt  []int64 // non-NULL rows per group
}

func (s *sumIntState[T]) grow(n int) {
	s.sums = growSlice(s.sums, n)
	s.cnt = growSlice(s.cnt, n)
}

func (s *sumIntState[T]) update(gids []uint32, arr arrow.Array) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	sums, cnt := s.sums, s.cnt
	if arr.NullN() == 0 {
		for i, g := range gids {
			v := int64(vals[i])
			if vals[i] > 0 && v < 0 {
				return fmt.Errorf("sum: %w (value %d)", ErrOverflow, vals[i])
			}
			a := sums[g]
			r := a + v
			if (a^r)&(v^r) < 0 {
				return fmt.Errorf("sum: BIGINT %w", ErrOverflow)
			}
			sums[g] = r
			cnt[g]++
		}
		return nil
	}
	for i, g := range gids {
		if arr.IsNull(i) {
			continue
		}
		v := int64(vals[i])
		if vals[i] > 0 && v < 0 {
			return fmt.Errorf("sum: %w (value %d)", ErrOverflow, vals[i])
		}
		a := sums[g]
		r := a + v
		if (a^r)&(v^r) < 0 {
			return fmt.Errorf("sum: BIGINT %w", ErrOverflow)
		}
		sums[g] = r
		cnt[g]++
	}
	return nil
}

func (s *sumIntState[T]) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, arrow.PrimitiveTypes.Int64, pick(s.sums, groups), countsValid(s.cnt, groups)), nil
}

func (s *sumIntState[T]) mean(g uint32) (float64, bool) {
	if s.cnt[g] == 0 {
		return 0, false
	}
	return float64(s.sums[g]) / float64(s.cnt[g]), true
}

// sumFloatState sums floating point values in float64.
type sumFloatState[T float32 | float64] struct {
	sums []float64
	cnt  []int64
}

func (s *sumFloatState[T]) grow(n int) {
	s.sums = growSlice(s.sums, n)
	s.cnt = growSlice(s.cnt, n)
}

func (s *sumFloatState[T]) update(gids []uint32, arr arrow.Array) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	sums, cnt := s.sums, s.cnt
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		sums[g] += float64(vals[i])
		cnt[g]++
	}
	return nil
}

func (s *sumFloatState[T]) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, arrow.PrimitiveTypes.Float64, pick(s.sums, groups), countsValid(s.cnt, groups)), nil
}

func (s *sumFloatState[T]) mean(g uint32) (float64, bool) {
	if s.cnt[g] == 0 {
		return 0, false
	}
	return s.sums[g] / float64(s.cnt[g]), true
}

// sumDecimalState sums DECIMAL(p, s) exactly into DECIMAL(38, s).
type sumDecimalState struct {
	scale int32
	sums  []decimal128.Num
	cnt   []int64
}

func (s *sumDecimalState) grow(n int) {
	s.sums = growSlice(s.sums, n)
	s.cnt = growSlice(s.cnt, n)
}

// decimalLimit is 10^38, the first value DECIMAL(38) cannot hold.
var decimalLimit = decimal128.GetScaleMultiplier(38)

func (s *sumDecimalState) update(gids []uint32, arr arrow.Array) error {
	vals := arrow.GetValues[decimal128.Num](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		r := s.sums[g].Add(vals[i])
		if !r.Abs().Less(decimalLimit) {
			return fmt.Errorf("sum: DECIMAL %w", ErrOverflow)
		}
		s.sums[g] = r
		s.cnt[g]++
	}
	return nil
}

func (s *sumDecimalState) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, &arrow.Decimal128Type{Precision: 38, Scale: s.scale}, pick(s.sums, groups), countsValid(s.cnt, groups)), nil
}

func (s *sumDecimalState) mean(g uint32) (float64, bool) {
	if s.cnt[g] == 0 {
		return 0, false
	}
	return s.sums[g].ToFloat64(s.scale) / float64(s.cnt[g]), true
}

// avgState is AVG: a SUM and a count, divided at the end (Float64).
type avgState struct {
	sum summer
	n   int
}

func (s *avgState) grow(n int) {
	s.sum.grow(n)
	s.n = max(s.n, n)
}

func (s *avgState) update(gids []uint32, arr arrow.Array) error { return s.sum.update(gids, arr) }

func (s *avgState) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(s.n)
	}
	vals := make([]float64, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		vals[i], valid[i] = s.sum.mean(g)
	}
	return newFixedArray(mem, arrow.PrimitiveTypes.Float64, vals, valid), nil
}

func allGroups(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// distinctState feeds its inner accumulator each (group, value) pair only
// the first time it appears: COUNT(DISTINCT x), SUM(DISTINCT x), …
type distinctState struct {
	mem   memory.Allocator
	inner aggState
	table *bytesTable
	buf   []byte
}

func (s *distinctState) grow(n int) { s.inner.grow(n) }

func (s *distinctState) update(gids []uint32, arr arrow.Array) error {
	enc, err := newCellEncoder(arr)
	if err != nil {
		return err
	}
	var rows []int32
	var rowGids []uint32
	for i, g := range gids {
		if arr.IsNull(i) {
			continue
		}
		b := binary.LittleEndian.AppendUint32(s.buf[:0], g)
		b = enc(b, i)
		s.buf = b
		if _, isNew := s.table.find(xxh3.Hash(b), bytesAsString(b), true); isNew {
			rows = append(rows, int32(i))
			rowGids = append(rowGids, g)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	sub, err := takeArray(context.Background(), s.mem, arr, rows)
	if err != nil {
		return err
	}
	defer sub.Release()
	return s.inner.update(rowGids, sub)
}

func (s *distinctState) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return s.inner.result(mem, groups)
}

// newMinMaxState returns MIN or MAX over values of type arg.
func newMinMaxState(arg, res arrow.DataType, isMax bool) aggState {
	switch arg.ID() {
	case arrow.BOOL:
		return &minMaxBool{max: isMax}
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return &minMaxString{max: isMax, typ: res}
	case arrow.DECIMAL128:
		return &minMaxDecimal{max: isMax, typ: res}
	case arrow.FLOAT32:
		return &minMaxState[float32]{max: isMax, typ: res}
	case arrow.FLOAT64:
		return &minMaxState[float64]{max: isMax, typ: res}
	}
	if !intLike(arg) {
		return nil
	}
	signed := arg.ID() != arrow.UINT8 && arg.ID() != arrow.UINT16 && arg.ID() != arrow.UINT32 && arg.ID() != arrow.UINT64
	switch w := arg.(arrow.FixedWidthDataType).BitWidth(); {
	case w == 8 && signed:
		return &minMaxState[int8]{max: isMax, typ: res}
	case w == 8:
		return &minMaxState[uint8]{max: isMax, typ: res}
	case w == 16 && signed:
		return &minMaxState[int16]{max: isMax, typ: res}
	case w == 16:
		return &minMaxState[uint16]{max: isMax, typ: res}
	case w == 32 && signed:
		return &minMaxState[int32]{max: isMax, typ: res}
	case w == 32:
		return &minMaxState[uint32]{max: isMax, typ: res}
	case signed:
		return &minMaxState[int64]{max: isMax, typ: res}
	default:
		return &minMaxState[uint64]{max: isMax, typ: res}
	}
}

type ordered interface {
	integer | ~float32 | ~float64
}

// minMaxState is MIN/MAX over a fixed-width type, compared on its
// physical values (timestamps and dates are integers underneath).
type minMaxState[T ordered] struct {
	max  bool
	typ  arrow.DataType
	vals []T
	has  []bool
}

func (s *minMaxState[T]) grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxState[T]) update(gids []uint32, arr arrow.Array) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	cur, has := s.vals, s.has
	if s.max {
		for i, g := range gids {
			if hasNulls && arr.IsNull(i) {
				continue
			}
			if v := vals[i]; !has[g] || v > cur[g] {
				cur[g], has[g] = v, true
			}
		}
		return nil
	}
	for i, g := range gids {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		if v := vals[i]; !has[g] || v < cur[g] {
			cur[g], has[g] = v, true
		}
	}
	return nil
}

func (s *minMaxState[T]) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	vals, has := pick(s.vals, groups), pick(s.has, groups)
	switch any(vals).(type) {
	case []int8:
		return newFixedArray(mem, s.typ, any(vals).([]int8), has), nil
	case []uint8:
		return newFixedArray(mem, s.typ, any(vals).([]uint8), has), nil
	case []int16:
		return newFixedArray(mem, s.typ, any(vals).([]int16), has), nil
	case []uint16:
		return newFixedArray(mem, s.typ, any(vals).([]uint16), has), nil
	case []int32:
		return newFixedArray(mem, s.typ, any(vals).([]int32), has), nil
	case []uint32:
		return newFixedArray(mem, s.typ, any(vals).([]uint32), has), nil
	case []int64:
		return newFixedArray(mem, s.typ, any(vals).([]int64), has), nil
	case []uint64:
		return newFixedArray(mem, s.typ, any(vals).([]uint64), has), nil
	case []float32:
		return newFixedArray(mem, s.typ, any(vals).([]float32), has), nil
	case []float64:
		return newFixedArray(mem, s.typ, any(vals).([]float64), has), nil
	}
	return nil, fmt.Errorf("min/max: unsupported type %s", s.typ)
}

// minMaxDecimal is MIN/MAX over DECIMAL.
type minMaxDecimal struct {
	max  bool
	typ  arrow.DataType
	vals []decimal128.Num
	has  []bool
}

func (s *minMaxDecimal) grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxDecimal) update(gids []uint32, arr arrow.Array) error {
	vals := arrow.GetValues[decimal128.Num](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		v := vals[i]
		if !s.has[g] || (s.max && v.Greater(s.vals[g])) || (!s.max && v.Less(s.vals[g])) {
			s.vals[g], s.has[g] = v, true
		}
	}
	return nil
}

func (s *minMaxDecimal) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, s.typ, pick(s.vals, groups), pick(s.has, groups)), nil
}

// minMaxBool is MIN (AND) / MAX (OR) over BOOLEAN.
type minMaxBool struct {
	max  bool
	vals []bool
	has  []bool
}

func (s *minMaxBool) grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxBool) update(gids []uint32, arr arrow.Array) error {
	a := arr.(*array.Boolean)
	for i, g := range gids {
		if a.IsNull(i) {
			continue
		}
		v := a.Value(i)
		if !s.has[g] || (s.max && v) || (!s.max && !v) {
			s.vals[g], s.has[g] = v, true
		}
	}
	return nil
}

func (s *minMaxBool) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues(pick(s.vals, groups), pick(s.has, groups))
	return b.NewArray(), nil
}

// minMaxString is MIN/MAX over strings and binaries (byte order). It
// copies a value only when it becomes the new extreme.
type minMaxString struct {
	max  bool
	typ  arrow.DataType
	vals []string
	has  []bool
	held int64 // bytes of the strings in vals, for Bytes
}

func (s *minMaxString) grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxString) update(gids []uint32, arr arrow.Array) error {
	at, err := stringAccessor(arr)
	if err != nil {
		return err
	}
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		v := at(i)
		if !s.has[g] || (s.max && v > s.vals[g]) || (!s.max && v < s.vals[g]) {
			s.held += int64(len(v) - len(s.vals[g]))
			s.vals[g], s.has[g] = strings.Clone(v), true
		}
	}
	return nil
}

func (s *minMaxString) result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	bld := array.NewBuilder(mem, s.typ)
	defer bld.Release()
	app, ok := bld.(interface{ AppendString(string) })
	if !ok {
		return nil, fmt.Errorf("min/max: no string builder for %s", s.typ)
	}
	vals, has := pick(s.vals, groups), pick(s.has, groups)
	for i, v := range vals {
		if has[i] {
			app.AppendString(v)
		} else {
			bld.AppendNull()
		}
	}
	return bld.NewArray(), nil
}

// stringAccessor returns a function viewing row i of a string or binary
// array as a string, without copying.
func stringAccessor(arr arrow.Array) (func(i int) string, error) {
	switch a := arr.(type) {
	case *array.String:
		return a.Value, nil
	case *array.LargeString:
		return a.Value, nil
	case *array.Binary:
		return func(i int) string { return bytesAsString(a.Value(i)) }, nil
	case *array.LargeBinary:
		return func(i int) string { return bytesAsString(a.Value(i)) }, nil
	}
	return nil, fmt.Errorf("not a string array: %s", arr.DataType())
}
