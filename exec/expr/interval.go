package expr

import (
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/sluicesql/sluice/internal/interval"
)

// Arithmetic between times, DuckDB's: TIMESTAMP − TIMESTAMP is an
// INTERVAL of whole days and the remaining time (no months: a month has
// no fixed length), both truncated toward zero so that both parts carry
// the difference's sign; DATE ± BIGINT moves by days.

func registerInterval() {
	registry["ts_diff"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 2, 2)
		if err != nil {
			return bound{}, err
		}
		if ts[0].ID() != arrow.TIMESTAMP || ts[1].ID() != arrow.TIMESTAMP || ret.ID() != arrow.INTERVAL_MONTH_DAY_NANO {
			return bound{}, unsupported("-", ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			x, y := temporalMicros(a[0]), temporalMicros(a[1])
			return rowFixed(ec, a, func(i int) (arrow.MonthDayNanoInterval, bool, error) {
				return diffInterval(x(i) - y(i)), true, nil
			})
		}}, nil
	}
	for _, name := range []string{"date_add_days", "date_sub_days"} {
		sign := int64(1)
		if name == "date_sub_days" {
			sign = -1
		}
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			ts, err := argTypes(args, 2, 2)
			if err != nil {
				return bound{}, err
			}
			if ts[0].ID() != arrow.DATE32 || ts[1].ID() != arrow.INT64 || ret.ID() != arrow.DATE32 {
				return bound{}, unsupported(name, ts...)
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				d, n := values[arrow.Date32](a[0]), values[int64](a[1])
				return rowFixed(ec, a, func(i int) (arrow.Date32, bool, error) {
					v := int64(d[i]) + sign*n[i]
					if v < -1<<31 || v >= 1<<31 {
						return 0, false, outOfRange(ec, "DATE")
					}
					return arrow.Date32(v), true, nil
				})
			}}, nil
		}
	}
}

// CompareIntervals orders intervals as DuckDB does: normalised with a
// day of 24 hours and a month of 30 days (so INTERVAL '30' DAY equals
// INTERVAL '1' MONTH), by months, then days, then the time.
func CompareIntervals(a, b arrow.MonthDayNanoInterval) int {
	am, ad, an := NormInterval(a)
	bm, bd, bn := NormInterval(b)
	for _, c := range [][2]int64{{am, bm}, {ad, bd}, {an, bn}} {
		if c[0] != c[1] {
			if c[0] < c[1] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// NormInterval is iv with its time past a day carried into days and its
// days past 30 into months (time in [0, 24h), days in [0, 30)): the parts
// CompareIntervals orders by, so intervals that compare equal share them.
func NormInterval(iv arrow.MonthDayNanoInterval) (months, days, nanos int64) {
	const nanosPerDay = microsPerDay * 1000
	days = int64(iv.Days) + floorDiv(iv.Nanoseconds, nanosPerDay)
	nanos = iv.Nanoseconds - floorDiv(iv.Nanoseconds, nanosPerDay)*nanosPerDay
	months = int64(iv.Months) + floorDiv(days, 30)
	days -= floorDiv(days, 30) * 30
	return months, days, nanos
}

// diffInterval is a difference of us microseconds as an interval.
func diffInterval(us int64) arrow.MonthDayNanoInterval {
	days := us / microsPerDay // truncated: both parts share the sign
	return arrow.MonthDayNanoInterval{Days: int32(days), Nanoseconds: (us - days*microsPerDay) * 1000}
}

// intervalFormatter formats an interval array's rows.
func intervalFormatter(x *array.MonthDayNanoInterval) func(i int) string {
	return func(i int) string { return string(interval.Append(nil, x.Value(i))) }
}

// bindIntervalArith binds arithmetic on INTERVAL values, DuckDB's:
// interval ± interval part by part (months, days and time apart, as a
// month and a day have no fixed length), −interval, interval × number
// and number × interval, interval ÷ number. The planner casts the number
// to BIGINT or DOUBLE. A result part past its range is an error naming
// the expression; division by zero is NULL, as for numbers.
func bindIntervalArith(op string, ts []arrow.DataType) (bound, error) {
	isIv := func(t arrow.DataType) bool { return t.ID() == arrow.INTERVAL_MONTH_DAY_NANO }
	isNum := func(t arrow.DataType) bool { return t.ID() == arrow.INT64 || t.ID() == arrow.FLOAT64 }
	var f func(ec *evalCtx, a []arrow.Array) func(i int) (arrow.MonthDayNanoInterval, bool, error)
	switch {
	case op == "neg" && len(ts) == 1 && isIv(ts[0]):
		f = func(ec *evalCtx, a []arrow.Array) func(int) (arrow.MonthDayNanoInterval, bool, error) {
			x := values[arrow.MonthDayNanoInterval](a[0])
			return func(i int) (arrow.MonthDayNanoInterval, bool, error) {
				if x[i].Nanoseconds == math.MinInt64 {
					return arrow.MonthDayNanoInterval{}, false, outOfRange(ec, "INTERVAL")
				}
				return checkedInterval(ec, -int64(x[i].Months), -int64(x[i].Days), -x[i].Nanoseconds)
			}
		}
	case (op == "add" || op == "sub") && len(ts) == 2 && isIv(ts[0]) && isIv(ts[1]):
		sign := int64(1)
		if op == "sub" {
			sign = -1
		}
		f = func(ec *evalCtx, a []arrow.Array) func(int) (arrow.MonthDayNanoInterval, bool, error) {
			x, y := values[arrow.MonthDayNanoInterval](a[0]), values[arrow.MonthDayNanoInterval](a[1])
			return func(i int) (arrow.MonthDayNanoInterval, bool, error) {
				n, ok := addInt64(x[i].Nanoseconds, y[i].Nanoseconds, sign)
				if !ok {
					return arrow.MonthDayNanoInterval{}, false, outOfRange(ec, "INTERVAL")
				}
				return checkedInterval(ec, int64(x[i].Months)+sign*int64(y[i].Months), int64(x[i].Days)+sign*int64(y[i].Days), n)
			}
		}
	case (op == "mul" || op == "div") && len(ts) == 2 && ((isIv(ts[0]) && isNum(ts[1])) || (op == "mul" && isNum(ts[0]) && isIv(ts[1]))):
		ivAt, numAt := 0, 1
		if !isIv(ts[0]) {
			ivAt, numAt = 1, 0
		}
		f = func(ec *evalCtx, a []arrow.Array) func(int) (arrow.MonthDayNanoInterval, bool, error) {
			x := values[arrow.MonthDayNanoInterval](a[ivAt])
			num := a[numAt]
			if num.DataType().ID() == arrow.INT64 && op == "mul" {
				n := values[int64](num)
				return func(i int) (arrow.MonthDayNanoInterval, bool, error) {
					ns, ok1 := mulInt64(x[i].Nanoseconds, n[i])
					m, ok2 := mulInt64(int64(x[i].Months), n[i])
					d, ok3 := mulInt64(int64(x[i].Days), n[i])
					if !ok1 || !ok2 || !ok3 {
						return arrow.MonthDayNanoInterval{}, false, outOfRange(ec, "INTERVAL")
					}
					return checkedInterval(ec, m, d, ns)
				}
			}
			g := func(i int) float64 { return float64(values[int64](num)[i]) }
			if num.DataType().ID() == arrow.FLOAT64 {
				fl := values[float64](num)
				g = func(i int) float64 { return fl[i] }
			}
			return func(i int) (arrow.MonthDayNanoInterval, bool, error) {
				k := g(i)
				if op == "div" {
					if k == 0 {
						return arrow.MonthDayNanoInterval{}, false, nil
					}
					k = 1 / k
				}
				return scaleInterval(ec, x[i], k)
			}
		}
	default:
		return bound{}, unsupported(op, ts...)
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		a, release, err := materializeAll(ec, o)
		if err != nil {
			return nil, err
		}
		defer release()
		return rowFixed(ec, a, f(ec, a))
	}}, nil
}

// scaleInterval is iv × k with the fraction of each part carried into the
// next smaller one (a month as 30 days, a day as 24 hours), the time
// truncated to the nanosecond: INTERVAL '1' MONTH × 1.5 is 1 month 15
// days, as in DuckDB.
func scaleInterval(ec *evalCtx, iv arrow.MonthDayNanoInterval, k float64) (arrow.MonthDayNanoInterval, bool, error) {
	const nanosPerDay = microsPerDay * 1000
	m := float64(iv.Months) * k
	wm := math.Trunc(m)
	d := float64(iv.Days)*k + (m-wm)*30
	wd := math.Trunc(d)
	ns := math.Trunc(float64(iv.Nanoseconds)*k + (d-wd)*float64(nanosPerDay))
	if math.IsNaN(ns) || math.Abs(wm) > math.MaxInt32 || math.Abs(wd) > math.MaxInt32 || math.Abs(ns) >= math.MaxInt64 {
		return arrow.MonthDayNanoInterval{}, false, outOfRange(ec, "INTERVAL")
	}
	return arrow.MonthDayNanoInterval{Months: int32(wm), Days: int32(wd), Nanoseconds: int64(ns)}, true, nil
}

// checkedInterval builds an interval of the parts, failing when a part
// leaves its range (months and days are 32-bit).
func checkedInterval(ec *evalCtx, months, days, nanos int64) (arrow.MonthDayNanoInterval, bool, error) {
	if months < math.MinInt32 || months > math.MaxInt32 || days < math.MinInt32 || days > math.MaxInt32 {
		return arrow.MonthDayNanoInterval{}, false, outOfRange(ec, "INTERVAL")
	}
	return arrow.MonthDayNanoInterval{Months: int32(months), Days: int32(days), Nanoseconds: nanos}, true, nil
}

// addInt64 is x + sign·y (sign ±1), false when it overflows.
func addInt64(x, y, sign int64) (int64, bool) {
	if sign < 0 {
		if y == math.MinInt64 {
			return 0, false
		}
		y = -y
	}
	r := x + y
	return r, (r > x) == (y > 0) || y == 0
}

// mulInt64 is x·y, false when it overflows.
func mulInt64(x, y int64) (int64, bool) {
	if x == 0 || y == 0 {
		return 0, true
	}
	r := x * y
	return r, r/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64)
}
