package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Timestamps are wall-clock UTC microseconds; DATE is days since the epoch.

func registerTime() {
	parts := map[string]func(us int64) int64{
		"year":           func(us int64) int64 { y, _, _ := civilFromDays(floorDiv(us, microsPerDay)); return y },
		"month":          func(us int64) int64 { _, m, _ := civilFromDays(floorDiv(us, microsPerDay)); return int64(m) },
		"day":            func(us int64) int64 { _, _, d := civilFromDays(floorDiv(us, microsPerDay)); return int64(d) },
		"hour":           func(us int64) int64 { return (us - floorDiv(us, microsPerDay)*microsPerDay) / microsPerHour },
		"minute":         func(us int64) int64 { return (us - floorDiv(us, microsPerHour)*microsPerHour) / microsPerMinute },
		"second":         func(us int64) int64 { return (us - floorDiv(us, microsPerMinute)*microsPerMinute) / microsPerSecond },
		"unix_timestamp": func(us int64) int64 { return floorDiv(us, microsPerSecond) },
	}
	for name, f := range parts {
		name, f := name, f
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			ts, err := argTypes(args, 1, 1)
			if err != nil {
				return bound{}, err
			}
			if !isTemporal(ts[0].ID()) || ret.ID() != arrow.INT64 {
				return bound{}, unsupported(name, ts...)
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				us := temporalMicros(o[0].arr)
				return mapFixed(ec, o[0].arr, func(i int) int64 { return f(us(i)) }), nil
			}}, nil
		}
	}
	registry["date"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 1, 1)
		if err != nil {
			return bound{}, err
		}
		if !isTemporal(ts[0].ID()) || ret.ID() != arrow.DATE32 {
			return bound{}, unsupported("date", ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			us := temporalMicros(o[0].arr)
			return mapFixed(ec, o[0].arr, func(i int) arrow.Date32 { return arrow.Date32(floorDiv(us(i), microsPerDay)) }), nil
		}}, nil
	}
	registry["from_unixtime"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 1, 1)
		if err != nil {
			return bound{}, err
		}
		if ts[0].ID() != arrow.INT64 || ret.ID() != arrow.TIMESTAMP {
			return bound{}, unsupported("from_unixtime", ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			in := values[int64](o[0].arr)
			return mapFixed(ec, o[0].arr, func(i int) arrow.Timestamp { return arrow.Timestamp(in[i] * microsPerSecond) }), nil
		}}, nil
	}
	registry["date_trunc"] = bindDateTrunc
	registry["date_add"] = bindDateAdd(1)
	registry["date_sub"] = bindDateAdd(-1)
}

// temporalMicros returns an accessor giving row i of a TIMESTAMP(µs) or
// DATE array as microseconds.
func temporalMicros(a arrow.Array) func(i int) int64 {
	if a.DataType().ID() == arrow.DATE32 {
		d := values[arrow.Date32](a)
		return func(i int) int64 { return int64(d[i]) * microsPerDay }
	}
	t := values[arrow.Timestamp](a)
	return func(i int) int64 { return int64(t[i]) }
}

// mapFixed builds a fixed-width array of the call's result type from f,
// with the NULLs of in. f is called for NULL rows too (their values are
// ignored), which keeps the loop branch-free.
func mapFixed[T fixed](ec *evalCtx, in arrow.Array, f func(i int) T) arrow.Array {
	buf, out := newFixed[T](ec.mem, ec.n)
	for i := range out {
		out[i] = f(i)
	}
	v, nulls := combineValidity(ec.mem, ec.n, in)
	return makeArray(ec.ret, ec.n, v, buf, nulls)
}

func bindDateTrunc(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, 2)
	if err != nil {
		return bound{}, err
	}
	u, ok := literalValue(args[0])
	unit, isStr := u.(string)
	if !ok || !isStr {
		return bound{}, fmt.Errorf("date_trunc: the unit must be a string literal")
	}
	if !isTemporal(ts[1].ID()) || ret.ID() != arrow.TIMESTAMP {
		return bound{}, unsupported("date_trunc", ts...)
	}
	var f func(us int64) int64
	switch strings.ToLower(unit) {
	case "second":
		f = func(us int64) int64 { return floorDiv(us, microsPerSecond) * microsPerSecond }
	case "minute":
		f = func(us int64) int64 { return floorDiv(us, microsPerMinute) * microsPerMinute }
	case "hour":
		f = func(us int64) int64 { return floorDiv(us, microsPerHour) * microsPerHour }
	case "day":
		f = func(us int64) int64 { return floorDiv(us, microsPerDay) * microsPerDay }
	case "week": // ISO weeks start on Monday; 1970-01-05 was one
		f = func(us int64) int64 {
			d := floorDiv(us, microsPerDay)
			return (d - (d + 3 - floorDiv(d+3, 7)*7)) * microsPerDay
		}
	case "quarter":
		f = func(us int64) int64 {
			y, m, _ := civilFromDays(floorDiv(us, microsPerDay))
			return daysFromCivil(y, (m-1)/3*3+1, 1) * microsPerDay
		}
	case "month":
		f = func(us int64) int64 {
			y, m, _ := civilFromDays(floorDiv(us, microsPerDay))
			return daysFromCivil(y, m, 1) * microsPerDay
		}
	case "year":
		f = func(us int64) int64 {
			y, _, _ := civilFromDays(floorDiv(us, microsPerDay))
			return daysFromCivil(y, 1, 1) * microsPerDay
		}
	default:
		return bound{}, fmt.Errorf("date_trunc: unknown unit %q (want second, minute, hour, day, week, month, quarter or year)", unit)
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		us := temporalMicros(o[1].arr)
		return mapFixed(ec, o[1].arr, func(i int) arrow.Timestamp { return arrow.Timestamp(f(us(i))) }), nil
	}}, nil
}

func bindDateAdd(sign int64) binder {
	return func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 2, 2)
		if err != nil {
			return bound{}, err
		}
		if !isTemporal(ts[0].ID()) || ts[1].ID() != arrow.INTERVAL_MONTH_DAY_NANO || !isTemporal(ret.ID()) {
			return bound{}, unsupported("date_add", ts...)
		}
		return bound{k: dateAddKernel(sign, 0, 1), scalarAware: true}, nil
	}
}

// addInterval adds sign·iv to us. Months move the calendar date and clamp
// the day to the month's end (2026-01-31 + 1 month = 2026-02-28) as MySQL.
func addInterval(us int64, iv arrow.MonthDayNanoInterval, sign int64) int64 {
	if iv.Months != 0 {
		days := floorDiv(us, microsPerDay)
		tod := us - days*microsPerDay
		y, m, d := civilFromDays(days)
		mi := y*12 + int64(m-1) + sign*int64(iv.Months)
		y, m = floorDiv(mi, 12), int(mi-floorDiv(mi, 12)*12)+1
		if dim := daysInMonth(y, m); d > dim {
			d = dim
		}
		us = daysFromCivil(y, m, d)*microsPerDay + tod
	}
	return us + sign*(int64(iv.Days)*microsPerDay+iv.Nanoseconds/1000)
}

// dateAddKernel computes ts ± interval where operand tsIdx is the TIMESTAMP
// or DATE side and ivIdx the interval (often a literal).
func dateAddKernel(sign int64, tsIdx, ivIdx int) kernel {
	return func(ec *evalCtx, o []operand) (arrow.Array, error) {
		t, iv := o[tsIdx], o[ivIdx]
		if nullScalar(t, iv) {
			return array.MakeArrayOfNull(ec.mem, ec.ret, ec.n), nil
		}
		tArr, err := materialize(ec, t)
		if err != nil {
			return nil, err
		}
		defer tArr.Release()
		us := temporalMicros(tArr)
		ivs := sideOf[arrow.MonthDayNanoInterval](iv)
		buf := func(i int) int64 { return addInterval(us(i), ivs.at(i), sign) }
		var out arrow.Array
		if ec.ret.ID() == arrow.DATE32 {
			out = mapFixed(ec, tArr, func(i int) arrow.Date32 { return arrow.Date32(floorDiv(buf(i), microsPerDay)) })
		} else {
			out = mapFixed(ec, tArr, func(i int) arrow.Timestamp { return arrow.Timestamp(buf(i)) })
		}
		if iv.arr != nil && iv.arr.NullN() > 0 {
			// Merge the interval's NULLs too.
			v, nulls := combineValidity(ec.mem, ec.n, out, iv.arr)
			d := out.Data()
			nd := array.NewData(d.DataType(), d.Len(), []*memory.Buffer{v, d.Buffers()[1]}, nil, nulls, 0)
			out.Release()
			v.Release()
			out = array.MakeFromData(nd)
			nd.Release()
		}
		return out, nil
	}
}
