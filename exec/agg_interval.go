package exec

import (
	"fmt"
	"math"
	"math/big"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Aggregates over INTERVAL values. MIN and MAX order intervals as
// comparisons do (a month of 30 days, a day of 24 hours:
// expr.CompareIntervals); SUM adds months, days and time apart, as
// interval + interval does, so it retracts exactly; AVG divides that sum
// by the count, carrying each part's remainder into the next smaller one
// (months into 30-day days, days into 24-hour time), the time truncated
// to the nanosecond.

const nanosPerDay = 24 * 60 * 60 * 1e9

var errIntervalOverflow = fmt.Errorf("sum: INTERVAL %w", ErrOverflow)

func isIntervalType(t arrow.DataType) bool { return t.ID() == arrow.INTERVAL_MONTH_DAY_NANO }

// intervalOps are the interval parts of a retracting MIN/MAX.
var intervalOps = multiOps[arrow.MonthDayNanoInterval]{
	get: func(arr arrow.Array) (func(int) arrow.MonthDayNanoInterval, error) {
		v := arrow.GetValues[arrow.MonthDayNanoInterval](arr.Data(), 1)
		return func(i int) arrow.MonthDayNanoInterval { return v[i] }, nil
	},
	own: func(v arrow.MonthDayNanoInterval) arrow.MonthDayNanoInterval { return v },
	cmp: expr.CompareIntervals,
	build: func(mem memory.Allocator, typ arrow.DataType, vals []arrow.MonthDayNanoInterval, valid []bool) (arrow.Array, error) {
		return newFixedArray(mem, typ, vals, valid), nil
	},
	save: appendRaw[arrow.MonthDayNanoInterval],
	load: readRaw[arrow.MonthDayNanoInterval],
	size: func(arrow.MonthDayNanoInterval) int64 { return 16 },
}

// minMaxInterval is MIN/MAX over INTERVAL for an insert-only input; of
// intervals that compare equal (INTERVAL '30' DAY and INTERVAL '1'
// MONTH) the first seen stays, as in DuckDB.
type minMaxInterval struct {
	max  bool
	typ  arrow.DataType
	vals []arrow.MonthDayNanoInterval
	has  []bool
}

func (s *minMaxInterval) Grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxInterval) fold(g uint32, v arrow.MonthDayNanoInterval) {
	if !s.has[g] {
		s.vals[g], s.has[g] = v, true
		return
	}
	if c := expr.CompareIntervals(v, s.vals[g]); (s.max && c > 0) || (!s.max && c < 0) {
		s.vals[g] = v
	}
}

func (s *minMaxInterval) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[arrow.MonthDayNanoInterval](arr.Data(), 1)
	nulls := arr.NullN() > 0
	for i, g := range gids {
		switch w := weight(signs, i); {
		case w < 0:
			return errRetract("MIN/MAX")
		case w == 0, nulls && arr.IsNull(i):
			continue
		}
		s.fold(g, vals[i])
	}
	return nil
}

func (s *minMaxInterval) Merge(dst, src uint32) error {
	if s.has[src] {
		s.fold(dst, s.vals[src])
	}
	s.Reset(src)
	return nil
}

func (s *minMaxInterval) Reset(g uint32) {
	s.vals[g], s.has[g] = arrow.MonthDayNanoInterval{}, false
}

func (s *minMaxInterval) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, s.typ, pick(s.vals, groups), pick(s.has, groups)), nil
}

func (s *minMaxInterval) Save(dst []byte, g uint32) ([]byte, error) {
	return appendRaw(appendBool(dst, s.has[g]), s.vals[g]), nil
}

func (s *minMaxInterval) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.has[g] = r.boolean()
	s.vals[g] = readRaw[arrow.MonthDayNanoInterval](&r)
	return r.done()
}

func (s *minMaxInterval) Bytes() int64 { return sliceBytes(s.vals, 16) + sliceBytes(s.has, 1) }

// sumIntervalState is SUM over INTERVAL: per group the sums of months,
// days and nanoseconds (64-bit, so only the result's 32-bit months and
// days can leave their range) and the net count of non-NULL rows.
type sumIntervalState struct {
	months, days, nanos []int64
	cnt                 []int64
}

func (s *sumIntervalState) Grow(n int) {
	s.months = growSlice(s.months, n)
	s.days = growSlice(s.days, n)
	s.nanos = growSlice(s.nanos, n)
	s.cnt = growSlice(s.cnt, n)
}

// add folds w·(m, d, ns) into group g.
func (s *sumIntervalState) add(g uint32, m, d, ns, w int64) error {
	nm, err1 := addChecked(s.months[g], m, w)
	nd, err2 := addChecked(s.days[g], d, w)
	nn, err3 := addChecked(s.nanos[g], ns, w)
	if err1 != nil || err2 != nil || err3 != nil {
		return errIntervalOverflow
	}
	s.months[g], s.days[g], s.nanos[g] = nm, nd, nn
	return nil
}

func (s *sumIntervalState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[arrow.MonthDayNanoInterval](arr.Data(), 1)
	nulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (nulls && arr.IsNull(i)) {
			continue
		}
		v := vals[i]
		if err := s.add(g, int64(v.Months), int64(v.Days), v.Nanoseconds, w); err != nil {
			return err
		}
		s.cnt[g] += w
	}
	return nil
}

func (s *sumIntervalState) Merge(dst, src uint32) error {
	if err := s.add(dst, s.months[src], s.days[src], s.nanos[src], 1); err != nil {
		return err
	}
	s.cnt[dst] += s.cnt[src]
	s.Reset(src)
	return nil
}

func (s *sumIntervalState) Reset(g uint32) {
	s.months[g], s.days[g], s.nanos[g], s.cnt[g] = 0, 0, 0, 0
}

func (s *sumIntervalState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.cnt))
	}
	vals := make([]arrow.MonthDayNanoInterval, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		if s.cnt[g] == 0 {
			continue
		}
		m, d := s.months[g], s.days[g]
		if m < math.MinInt32 || m > math.MaxInt32 || d < math.MinInt32 || d > math.MaxInt32 {
			return nil, errIntervalOverflow
		}
		vals[i], valid[i] = arrow.MonthDayNanoInterval{Months: int32(m), Days: int32(d), Nanoseconds: s.nanos[g]}, true
	}
	return newFixedArray(mem, arrow.FixedWidthTypes.MonthDayNanoInterval, vals, valid), nil
}

// mean is AVG's value (see intervalMean); summer's float mean does not
// apply to intervals.
func (s *sumIntervalState) mean(uint32) (float64, bool) { return 0, false }

func (s *sumIntervalState) Save(dst []byte, g uint32) ([]byte, error) {
	return appendI64(appendI64(appendI64(appendI64(dst, s.months[g]), s.days[g]), s.nanos[g]), s.cnt[g]), nil
}

func (s *sumIntervalState) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.months[g], s.days[g], s.nanos[g], s.cnt[g] = r.i64(), r.i64(), r.i64(), r.i64()
	return r.done()
}

func (s *sumIntervalState) Bytes() int64 { return 4 * sliceBytes(s.cnt, 8) }

// avgIntervalState is AVG over INTERVAL: SUM's parts divided by the
// count at the end.
type avgIntervalState struct{ sumIntervalState }

func (s *avgIntervalState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.cnt))
	}
	vals := make([]arrow.MonthDayNanoInterval, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		if s.cnt[g] != 0 {
			vals[i], valid[i] = intervalMean(s.months[g], s.days[g], s.nanos[g], s.cnt[g]), true
		}
	}
	return newFixedArray(mem, arrow.FixedWidthTypes.MonthDayNanoInterval, vals, valid), nil
}

// intervalMean is (months, days, nanos) ÷ n, each part's remainder
// carried into the next smaller part (a month as 30 days, a day as 24
// hours) and the time truncated toward zero: the mean of 1 month and 2
// months is 1 month 15 days, as in DuckDB. A mean's parts never exceed
// the largest input's, so they fit.
func intervalMean(months, days, nanos, n int64) arrow.MonthDayNanoInterval {
	bn := big.NewInt(n)
	m, mr := new(big.Int).QuoRem(big.NewInt(months), bn, new(big.Int))
	d := new(big.Int).Add(big.NewInt(days), new(big.Int).Mul(mr, big.NewInt(30)))
	d, dr := d.QuoRem(d, bn, new(big.Int))
	t := new(big.Int).Add(big.NewInt(nanos), new(big.Int).Mul(dr, big.NewInt(nanosPerDay)))
	t.Quo(t, bn)
	return arrow.MonthDayNanoInterval{Months: int32(m.Int64()), Days: int32(d.Int64()), Nanoseconds: t.Int64()}
}
