package expr

import (
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
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
	am, ad, an := normInterval(a)
	bm, bd, bn := normInterval(b)
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

func normInterval(iv arrow.MonthDayNanoInterval) (months, days, nanos int64) {
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

// AppendInterval appends iv as DuckDB prints an interval: `1 year 2
// months 3 days 04:05:06.5`, each part only when not zero (the time when
// nothing else is), a part's sign on it (`-1 day -03:04:05`), the
// fraction of a second without trailing zeros, hours past 24 as they are
// (`30:00:00`).
func AppendInterval(dst []byte, iv arrow.MonthDayNanoInterval) []byte {
	start := len(dst)
	part := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if len(dst) > start {
			dst = append(dst, ' ')
		}
		dst = strconv.AppendInt(dst, n, 10)
		dst = append(dst, ' ')
		dst = append(dst, unit...)
		if n != 1 && n != -1 {
			dst = append(dst, 's')
		}
	}
	part(int64(iv.Months/12), "year")
	part(int64(iv.Months%12), "month")
	part(int64(iv.Days), "day")
	us := iv.Nanoseconds / 1000
	if us == 0 && len(dst) > start {
		return dst
	}
	if len(dst) > start {
		dst = append(dst, ' ')
	}
	if us < 0 {
		dst = append(dst, '-')
		us = -us
	}
	h, m, s, f := us/3600e6, us/60e6%60, us/1e6%60, us%1e6
	two := func(v int64) {
		if v < 10 {
			dst = append(dst, '0')
		}
		dst = strconv.AppendInt(dst, v, 10)
	}
	two(h)
	dst = append(dst, ':')
	two(m)
	dst = append(dst, ':')
	two(s)
	if f != 0 {
		frac := []byte(strconv.FormatInt(f+1e6, 10))[1:]
		for frac[len(frac)-1] == '0' {
			frac = frac[:len(frac)-1]
		}
		dst = append(dst, '.')
		dst = append(dst, frac...)
	}
	return dst
}

// intervalFormatter formats an interval array's rows.
func intervalFormatter(x *array.MonthDayNanoInterval) func(i int) string {
	return func(i int) string { return string(AppendInterval(nil, x.Value(i))) }
}
