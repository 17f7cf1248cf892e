package exec

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/zeebo/xxh3"
)

// ErrOverflow is returned when an aggregate's result does not fit its type
// (SUM of BIGINT beyond 64 bits, a DECIMAL sum beyond 38 digits).
var ErrOverflow = errors.New("numeric overflow")

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

// grow extends s to n zero values.
func growSlice[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		s = s[:n]
		return s
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

// countsValid turns non-NULL counts into a validity slice: a group whose
// net count of non-NULL inputs is 0 yields NULL.
func countsValid(cnt []int64, groups []uint32) []bool {
	c := pick(cnt, groups)
	out := make([]bool, len(c))
	for i, n := range c {
		out[i] = n != 0
	}
	return out
}

// countState is COUNT(x) (non-NULL rows) and COUNT(*) (all rows).
type countState struct {
	star   bool
	counts []int64
}

func (s *countState) Grow(n int) { s.counts = growSlice(s.counts, n) }

func (s *countState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	c := s.counts
	all := s.star || arr.NullN() == 0
	switch {
	case all && signs == nil:
		for _, g := range gids {
			c[g]++
		}
	case all:
		for i, g := range gids {
			c[g] += int64(signs[i])
		}
	default:
		for i, g := range gids {
			if arr.IsValid(i) {
				c[g] += weight(signs, i)
			}
		}
	}
	return nil
}

func (s *countState) Merge(dst, src uint32) error {
	s.counts[dst] += s.counts[src]
	s.counts[src] = 0
	return nil
}

func (s *countState) Reset(g uint32) { s.counts[g] = 0 }

func (s *countState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, arrow.PrimitiveTypes.Int64, pick(s.counts, groups), nil), nil
}

func (s *countState) Save(dst []byte, g uint32) ([]byte, error) {
	return appendI64(dst, s.counts[g]), nil
}

func (s *countState) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.counts[g] = r.i64()
	return r.done()
}

func (s *countState) Bytes() int64 { return sliceBytes(s.counts, 8) }

// summer is a SUM accumulator; AVG divides its per-group mean out.
type summer interface {
	AggState
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
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return &sumIntervalState{}
	}
	return nil
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

var errBigintOverflow = fmt.Errorf("sum: BIGINT %w", ErrOverflow)

// addChecked returns a + w·v for w in {+1, −1}, or an overflow error.
func addChecked(a, v, w int64) (int64, error) {
	if w > 0 {
		r := a + v
		if (a^r)&(v^r) < 0 {
			return a, errBigintOverflow
		}
		return r, nil
	}
	r := a - v
	if (a^v)&(a^r) < 0 {
		return a, errBigintOverflow
	}
	return r, nil
}

// sumIntState sums integers into int64 with overflow detection.
type sumIntState[T integer] struct {
	sums []int64
	cnt  []int64 // net non-NULL rows per group
}

func (s *sumIntState[T]) Grow(n int) {
	s.sums = growSlice(s.sums, n)
	s.cnt = growSlice(s.cnt, n)
}

func (s *sumIntState[T]) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	sums, cnt := s.sums, s.cnt
	if arr.NullN() == 0 && signs == nil {
		for i, g := range gids {
			v := int64(vals[i])
			if vals[i] > 0 && v < 0 {
				return fmt.Errorf("sum: %w (value %d)", ErrOverflow, vals[i])
			}
			a := sums[g]
			r := a + v
			if (a^r)&(v^r) < 0 {
				return errBigintOverflow
			}
			sums[g] = r
			cnt[g]++
		}
		return nil
	}
	nulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (nulls && arr.IsNull(i)) {
			continue
		}
		v := int64(vals[i])
		if vals[i] > 0 && v < 0 {
			return fmt.Errorf("sum: %w (value %d)", ErrOverflow, vals[i])
		}
		r, err := addChecked(sums[g], v, w)
		if err != nil {
			return err
		}
		sums[g] = r
		cnt[g] += w
	}
	return nil
}

func (s *sumIntState[T]) Merge(dst, src uint32) error {
	r, err := addChecked(s.sums[dst], s.sums[src], 1)
	if err != nil {
		return err
	}
	s.sums[dst], s.cnt[dst] = r, s.cnt[dst]+s.cnt[src]
	s.Reset(src)
	return nil
}

func (s *sumIntState[T]) Reset(g uint32) { s.sums[g], s.cnt[g] = 0, 0 }

func (s *sumIntState[T]) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, arrow.PrimitiveTypes.Int64, pick(s.sums, groups), countsValid(s.cnt, groups)), nil
}

func (s *sumIntState[T]) mean(g uint32) (float64, bool) {
	if s.cnt[g] == 0 {
		return 0, false
	}
	return float64(s.sums[g]) / float64(s.cnt[g]), true
}

func (s *sumIntState[T]) Save(dst []byte, g uint32) ([]byte, error) {
	return appendI64(appendI64(dst, s.sums[g]), s.cnt[g]), nil
}

func (s *sumIntState[T]) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.sums[g], s.cnt[g] = r.i64(), r.i64()
	return r.done()
}

func (s *sumIntState[T]) Bytes() int64 { return sliceBytes(s.sums, 8) + sliceBytes(s.cnt, 8) }

// sumFloatState sums floating point values in float64 (a retraction adds
// the negated value).
type sumFloatState[T float32 | float64] struct {
	sums []float64
	cnt  []int64
}

func (s *sumFloatState[T]) Grow(n int) {
	s.sums = growSlice(s.sums, n)
	s.cnt = growSlice(s.cnt, n)
}

func (s *sumFloatState[T]) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	sums, cnt := s.sums, s.cnt
	hasNulls := arr.NullN() > 0
	if signs == nil {
		for i, g := range gids {
			if hasNulls && arr.IsNull(i) {
				continue
			}
			sums[g] += float64(vals[i])
			cnt[g]++
		}
		return nil
	}
	for i, g := range gids {
		w := signs[i]
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		sums[g] += float64(w) * float64(vals[i])
		cnt[g] += int64(w)
	}
	return nil
}

func (s *sumFloatState[T]) Merge(dst, src uint32) error {
	s.sums[dst] += s.sums[src]
	s.cnt[dst] += s.cnt[src]
	s.Reset(src)
	return nil
}

func (s *sumFloatState[T]) Reset(g uint32) { s.sums[g], s.cnt[g] = 0, 0 }

func (s *sumFloatState[T]) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, arrow.PrimitiveTypes.Float64, pick(s.sums, groups), countsValid(s.cnt, groups)), nil
}

func (s *sumFloatState[T]) mean(g uint32) (float64, bool) {
	if s.cnt[g] == 0 {
		return 0, false
	}
	return s.sums[g] / float64(s.cnt[g]), true
}

func (s *sumFloatState[T]) Save(dst []byte, g uint32) ([]byte, error) {
	return appendI64(appendF64(dst, s.sums[g]), s.cnt[g]), nil
}

func (s *sumFloatState[T]) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.sums[g], s.cnt[g] = r.f64(), r.i64()
	return r.done()
}

func (s *sumFloatState[T]) Bytes() int64 { return sliceBytes(s.sums, 8) + sliceBytes(s.cnt, 8) }

// sumDecimalState sums DECIMAL(p, s) exactly into DECIMAL(38, s).
type sumDecimalState struct {
	scale int32
	sums  []decimal128.Num
	cnt   []int64
}

func (s *sumDecimalState) Grow(n int) {
	s.sums = growSlice(s.sums, n)
	s.cnt = growSlice(s.cnt, n)
}

// decimalLimit is 10^38, the first value DECIMAL(38) cannot hold.
var decimalLimit = decimal128.GetScaleMultiplier(38)

var errDecimalOverflow = fmt.Errorf("sum: DECIMAL %w", ErrOverflow)

func (s *sumDecimalState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[decimal128.Num](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		v := vals[i]
		if w < 0 {
			v = v.Negate()
		}
		r := s.sums[g].Add(v)
		if !r.Abs().Less(decimalLimit) {
			return errDecimalOverflow
		}
		s.sums[g] = r
		s.cnt[g] += w
	}
	return nil
}

func (s *sumDecimalState) Merge(dst, src uint32) error {
	r := s.sums[dst].Add(s.sums[src])
	if !r.Abs().Less(decimalLimit) {
		return errDecimalOverflow
	}
	s.sums[dst], s.cnt[dst] = r, s.cnt[dst]+s.cnt[src]
	s.Reset(src)
	return nil
}

func (s *sumDecimalState) Reset(g uint32) { s.sums[g], s.cnt[g] = decimal128.Num{}, 0 }

func (s *sumDecimalState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, &arrow.Decimal128Type{Precision: 38, Scale: s.scale}, pick(s.sums, groups), countsValid(s.cnt, groups)), nil
}

func (s *sumDecimalState) mean(g uint32) (float64, bool) {
	if s.cnt[g] == 0 {
		return 0, false
	}
	return s.sums[g].ToFloat64(s.scale) / float64(s.cnt[g]), true
}

func (s *sumDecimalState) Save(dst []byte, g uint32) ([]byte, error) {
	n := s.sums[g]
	return appendI64(appendI64(appendU64(dst, n.LowBits()), n.HighBits()), s.cnt[g]), nil
}

func (s *sumDecimalState) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	lo := r.u64()
	hi := r.i64()
	s.sums[g], s.cnt[g] = decimal128.New(hi, lo), r.i64()
	return r.done()
}

func (s *sumDecimalState) Bytes() int64 { return sliceBytes(s.sums, 16) + sliceBytes(s.cnt, 8) }

// avgState is AVG: a SUM and a count, divided at the end (Float64).
type avgState struct {
	sum summer
	n   int
}

func (s *avgState) Grow(n int) {
	s.sum.Grow(n)
	s.n = max(s.n, n)
}

func (s *avgState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	return s.sum.Update(gids, arr, signs)
}

func (s *avgState) Merge(dst, src uint32) error { return s.sum.Merge(dst, src) }

func (s *avgState) Reset(g uint32) { s.sum.Reset(g) }

func (s *avgState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
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

func (s *avgState) Save(dst []byte, g uint32) ([]byte, error) { return s.sum.Save(dst, g) }

func (s *avgState) Load(g uint32, src []byte) ([]byte, error) { return s.sum.Load(g, src) }

func (s *avgState) Bytes() int64 { return s.sum.Bytes() }

func allGroups(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// distinctState is DISTINCT for the batch aggregate: it feeds its inner
// accumulator each (group, value) pair only the first time it appears,
// keeping every pair in one shared hash table: a table of (group, 64-bit
// value) pairs for integer, temporal and float arguments, a table of
// encoded pairs for the others. The inner state sees the whole batch with
// weight 1 on the first occurrences and 0 elsewhere, so no row is copied.
// It takes no retractions and cannot enumerate a group's values
// (streaming operators get distinctMulti instead); Reset starts a new
// generation of the group's pairs, so a reused id starts empty.
type distinctState struct {
	inner AggState
	table *bytesTable // made by bytesTable()
	pairs pairTable
	one   oneGroup // the values while there is one group (agg_distinct_set.go)
	gen   []uint32 // per group: the generation in its pairs' keys
	buf   []byte
	vals  []uint64
	w     []int8
	// Scratch of insertOneStrings.
	rows    []int32
	scratch []uint32
}

// bytesTable is s.table, made on first use.
func (s *distinctState) bytesTable() *bytesTable {
	if s.table == nil {
		s.table = newBytesTable()
	}
	return s.table
}

func (s *distinctState) Grow(n int) {
	s.inner.Grow(n)
	s.gen = growSlice(s.gen, n)
}

func (s *distinctState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	s.w = growSlice(s.w[:0], len(gids))
	w := s.w[:len(gids)]
	clear(w)
	any := false
	hasNulls := arr.NullN() > 0
	for i := range signs {
		if signs[i] < 0 {
			return errRetract("DISTINCT")
		}
	}
	skip := func(i int) bool { return (signs != nil && signs[i] == 0) || (hasNulls && arr.IsNull(i)) }
	if vals, ok := s.fixedValues(arr); ok {
		if a, ok := s.insertOne(gids, vals, skip, w); ok {
			any = a
		} else {
			for i, g := range gids {
				if skip(i) {
					continue
				}
				if s.pairs.insert(uint64(g)<<32|uint64(s.gen[g]), vals[i]) {
					w[i], any = 1, true
				}
			}
		}
	} else if a, ok := s.insertOneStrings(gids, arr, skip, w); ok {
		any = a
	} else {
		enc, err := newCellEncoder(arr)
		if err != nil {
			return err
		}
		s.bytesTable()
		for i, g := range gids {
			if skip(i) {
				continue
			}
			b := binary.LittleEndian.AppendUint32(s.buf[:0], g)
			b = binary.LittleEndian.AppendUint32(b, s.gen[g])
			b = enc(b, i)
			s.buf = b
			if _, isNew := s.table.find(xxh3.Hash(b), bytesAsString(b), true); isNew {
				w[i], any = 1, true
			}
		}
	}
	if !any {
		return nil
	}
	return s.inner.Update(gids, arr, w)
}

// fixedValues returns arr's values as 64-bit words equal exactly when the
// values are (floats canonical: -0 = 0, one NaN), when arr's type has
// them.
func (s *distinctState) fixedValues(arr arrow.Array) ([]uint64, bool) {
	switch a := arr.(type) {
	case *array.Float64:
		s.vals = s.vals[:0]
		for _, v := range a.Float64Values() {
			s.vals = append(s.vals, canonFloat(v))
		}
		return s.vals, true
	case *array.Float32:
		s.vals = s.vals[:0]
		for _, v := range a.Float32Values() {
			s.vals = append(s.vals, canonFloat(float64(v)))
		}
		return s.vals, true
	}
	if !intLike(arr.DataType()) {
		return nil, false
	}
	s.vals = intValues(arr, s.vals)
	return s.vals, true
}

func (s *distinctState) Merge(dst, src uint32) error {
	return errors.New("DISTINCT: merging groups needs a streaming aggregate state")
}

func (s *distinctState) Reset(g uint32) {
	// The pairs of older generations stay in the table (it never
	// deletes) but no longer match the group's keys.
	s.gen[g]++
	s.inner.Reset(g)
}

func (s *distinctState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return s.inner.Result(mem, groups)
}

func (s *distinctState) Save([]byte, uint32) ([]byte, error) {
	return nil, errors.New("DISTINCT: checkpointing needs a streaming aggregate state")
}

func (s *distinctState) Load(uint32, []byte) ([]byte, error) {
	return nil, errors.New("DISTINCT: checkpointing needs a streaming aggregate state")
}

func (s *distinctState) Bytes() int64 {
	n := s.inner.Bytes() + sliceBytes(s.gen, 4) + sliceBytes(s.pairs.slots, 16) + sliceBytes(s.one.set.slots, 8)
	if s.one.strs != nil {
		n += s.one.strs.bytes()
	}
	if s.table != nil {
		n += s.table.bytes()
	}
	return n
}

// pairTable is a set of (tag, value) pairs of 64-bit words: open
// addressing with linear probing, grown at half load. A tag of 0 marks an
// empty slot, so stored tags are the caller's plus one.
type pairTable struct {
	slots []pairSlot
	shift uint
	n     int
}

type pairSlot struct{ tag, v uint64 }

func pairHash(tag, v uint64) uint64 {
	return (v ^ tag*0x9E3779B97F4A7C15) * 0xC2B2AE3D27D4EB4F
}

// insert adds (tag, v) and reports whether it was new.
func (t *pairTable) insert(tag, v uint64) bool {
	if t.slots == nil {
		t.slots, t.shift = make([]pairSlot, 1024), 64-10
	}
	tag++
	mask := uint64(len(t.slots) - 1)
	j := pairHash(tag, v) >> t.shift
	for {
		s := &t.slots[j]
		if s.tag == 0 {
			*s = pairSlot{tag: tag, v: v}
			t.n++
			if t.n*2 > len(t.slots) {
				t.grow()
			}
			return true
		}
		if s.tag == tag && s.v == v {
			return false
		}
		j = (j + 1) & mask
	}
}

func (t *pairTable) grow() {
	old := t.slots
	t.slots = make([]pairSlot, 2*len(old))
	t.shift--
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.tag == 0 {
			continue
		}
		j := pairHash(s.tag, s.v) >> t.shift
		for t.slots[j].tag != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = s
	}
}
