package expr

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Date and time functions beyond the field accessors of time.go. Units
// are lower-case words (the planner normalises them); MySQL's meaning
// wins where dialects differ: TIMESTAMPDIFF counts whole units elapsed,
// truncated toward zero; DATEDIFF is end - start in days; DATE_FORMAT takes
// MySQL's specifiers (%i minutes, %M month name), strftime C's (%M
// minutes); EXTRACT(WEEK) is MySQL's default week (mode 0: weeks start on
// Sunday, days before the year's first Sunday are week 0).

var monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
var dayNames = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// weekday is 0 for Sunday … 6 for Saturday (1970-01-01 was a Thursday).
func weekday(days int64) int64 { return floorMod(days+4, 7) }

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

func dayOfYear(days int64) int64 {
	y, _, _ := civilFromDays(days)
	return days - daysFromCivil(y, 1, 1) + 1
}

// weekMode0 is MySQL's WEEK(d, 0): Sunday-based, 0 … 53.
func weekMode0(days int64) int64 {
	y, _, _ := civilFromDays(days)
	jan1 := daysFromCivil(y, 1, 1)
	firstSunday := jan1 + floorMod(7-weekday(jan1), 7)
	if days < firstSunday {
		return 0
	}
	return (days-firstSunday)/7 + 1
}

// isoWeek is the ISO 8601 week number (Monday-based, week 1 holds the
// year's first Thursday), and its year.
func isoWeek(days int64) (year, week int64) {
	thursday := days - floorMod(days+3, 7) + 3 // the Thursday of this ISO week
	y, _, _ := civilFromDays(thursday)
	return y, (thursday-daysFromCivil(y, 1, 1))/7 + 1
}

// ExtractUnits lists the units EXTRACT takes; the planner checks with it.
var ExtractUnits = map[string]bool{
	"year": true, "quarter": true, "month": true, "week": true, "day": true, "hour": true,
	"minute": true, "second": true, "microsecond": true, "epoch": true, "dow": true,
	"isodow": true, "doy": true, "dayofweek": true, "dayofyear": true, "isoyear": true, "isoweek": true,
}

// extractPart is EXTRACT(unit FROM ts) on µs since the epoch (epoch aside).
func extractPart(unit string) func(us int64) int64 {
	day := func(us int64) int64 { return floorDiv(us, microsPerDay) }
	switch unit {
	case "year":
		return func(us int64) int64 { y, _, _ := civilFromDays(day(us)); return y }
	case "isoweek":
		return func(us int64) int64 { _, w := isoWeek(day(us)); return w }
	case "isoyear":
		return func(us int64) int64 { y, _ := isoWeek(day(us)); return y }
	case "quarter":
		return func(us int64) int64 { _, m, _ := civilFromDays(day(us)); return int64(m-1)/3 + 1 }
	case "month":
		return func(us int64) int64 { _, m, _ := civilFromDays(day(us)); return int64(m) }
	case "week":
		return func(us int64) int64 { return weekMode0(day(us)) }
	case "day":
		return func(us int64) int64 { _, _, d := civilFromDays(day(us)); return int64(d) }
	case "hour":
		return func(us int64) int64 { return floorMod(us, microsPerDay) / microsPerHour }
	case "minute":
		return func(us int64) int64 { return floorMod(us, microsPerHour) / microsPerMinute }
	case "second":
		return func(us int64) int64 { return floorMod(us, microsPerMinute) / microsPerSecond }
	case "microsecond": // MySQL: the fraction of the second only
		return func(us int64) int64 { return floorMod(us, microsPerSecond) }
	case "dow":
		return func(us int64) int64 { return weekday(day(us)) }
	case "isodow":
		return func(us int64) int64 { return floorMod(weekday(day(us))+6, 7) + 1 }
	case "dayofweek": // MySQL's DAYOFWEEK: 1 = Sunday … 7 = Saturday
		return func(us int64) int64 { return weekday(day(us)) + 1 }
	case "doy", "dayofyear":
		return func(us int64) int64 { return dayOfYear(day(us)) }
	}
	return nil
}

// unitLiteral reads the unit the planner put first.
func unitLiteral(args []Expr, name string) (string, error) {
	v, ok := literalValue(args[0])
	u, isStr := v.(string)
	if !ok || !isStr {
		return "", fmt.Errorf("%s: the unit must be a literal", name)
	}
	return u, nil
}

// monthsBetween is the number of whole months from a to b (µs), MySQL's
// TIMESTAMPDIFF(MONTH): a month is complete when b's day and time of day
// reach a's.
func monthsBetween(a, b int64) int64 {
	da, db := floorDiv(a, microsPerDay), floorDiv(b, microsPerDay)
	ya, ma, dayA := civilFromDays(da)
	yb, mb, dayB := civilFromDays(db)
	n := (yb*12 + int64(mb)) - (ya*12 + int64(ma))
	ra := int64(dayA)*microsPerDay + (a - da*microsPerDay)
	rb := int64(dayB)*microsPerDay + (b - db*microsPerDay)
	if n > 0 && rb < ra {
		n--
	} else if n < 0 && rb > ra {
		n++
	}
	return n
}

// unitMicros is the fixed length of the sub-month units.
var unitMicros = map[string]int64{
	"microsecond": 1, "millisecond": 1000, "second": microsPerSecond, "minute": microsPerMinute,
	"hour": microsPerHour, "day": microsPerDay, "week": 7 * microsPerDay,
}

// unitMonths is the length of the calendar units in months.
var unitMonths = map[string]int64{"month": 1, "quarter": 3, "year": 12}

func registerTimeFuncs() {
	registry["extract"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("extract", args, 2, 2, isStr, isTemporal); err != nil {
			return bound{}, err
		}
		unit, err := unitLiteral(args, "extract")
		if err != nil {
			return bound{}, err
		}
		if unit == "epoch" {
			if ret.ID() != arrow.FLOAT64 {
				return bound{}, fmt.Errorf("extract(epoch) returns DOUBLE")
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				us := temporalMicros(a[1])
				return mapFixed(ec, a[1], func(i int) float64 { return float64(us(i)) / float64(microsPerSecond) }), nil
			}}, nil
		}
		f := extractPart(unit)
		if f == nil || ret.ID() != arrow.INT64 {
			return bound{}, fmt.Errorf("extract: unknown unit %q", unit)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			us := temporalMicros(a[1])
			return mapFixed(ec, a[1], func(i int) int64 { return f(us(i)) }), nil
		}}, nil
	}
	registry["timestampdiff"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("timestampdiff", args, 3, 3, isStr, isTemporal); err != nil {
			return bound{}, err
		}
		unit, err := unitLiteral(args, "timestampdiff")
		if err != nil {
			return bound{}, err
		}
		var f func(a, b int64) int64
		if m, ok := unitMonths[unit]; ok {
			f = func(a, b int64) int64 { return monthsBetween(a, b) / m }
		} else if u, ok := unitMicros[unit]; ok {
			f = func(a, b int64) int64 { return (b - a) / u } // Go truncates toward zero
		} else {
			return bound{}, fmt.Errorf("timestampdiff: unknown unit %q", unit)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			x, y := temporalMicros(a[1]), temporalMicros(a[2])
			return rowFixed(ec, a[1:], func(i int) (int64, bool, error) { return f(x(i), y(i)), true, nil })
		}}, nil
	}
	registry["timestampadd"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("timestampadd", args, 3, 3, isStr, isInt, isTemporal); err != nil {
			return bound{}, err
		}
		unit, err := unitLiteral(args, "timestampadd")
		if err != nil {
			return bound{}, err
		}
		months, isMonths := unitMonths[unit]
		micros, isMicros := unitMicros[unit]
		if !isMonths && !isMicros {
			return bound{}, fmt.Errorf("timestampadd: unknown unit %q", unit)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			n, us := intAt(a[1]), temporalMicros(a[2])
			add := func(i int) (int64, bool, error) {
				k := n(i)
				if isMonths {
					if k > math.MaxInt32/months || k < math.MinInt32/months {
						return 0, false, outOfRange(ec, "TIMESTAMP")
					}
					return addInterval(us(i), arrow.MonthDayNanoInterval{Months: int32(k * months)}, 1), true, nil
				}
				if k > math.MaxInt64/micros || k < math.MinInt64/micros {
					return 0, false, outOfRange(ec, "TIMESTAMP")
				}
				return us(i) + k*micros, true, nil
			}
			if ec.ret.ID() == arrow.DATE32 {
				return rowFixed(ec, a[1:], func(i int) (arrow.Date32, bool, error) {
					v, ok, err := add(i)
					return arrow.Date32(floorDiv(v, microsPerDay)), ok, err
				})
			}
			return rowFixed(ec, a[1:], func(i int) (arrow.Timestamp, bool, error) {
				v, ok, err := add(i)
				return arrow.Timestamp(v), ok, err
			})
		}}, nil
	}
	registry["datediff"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("datediff", args, 2, 2, isTemporal); err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a, release, err := materializeAll(ec, o)
			if err != nil {
				return nil, err
			}
			defer release()
			x, y := temporalMicros(a[0]), temporalMicros(a[1])
			return rowFixed(ec, a, func(i int) (int64, bool, error) {
				return floorDiv(x(i), microsPerDay) - floorDiv(y(i), microsPerDay), true, nil
			})
		}}, nil
	}
	for _, name := range []string{"date_format", "strftime"} {
		mysql := name == "date_format"
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if _, err := checkArgs(name, args, 2, 2, isTemporal, isStr); err != nil {
				return bound{}, err
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				us, f := temporalMicros(a[0]), strAt(a[1])
				var sb strings.Builder
				return rowStrings(ec, a, func(i int) (string, bool, error) {
					sb.Reset()
					formatTime(&sb, us(i), f(i), mysql)
					return sb.String(), true, nil
				})
			}}, nil
		}
	}
	registry["now"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := argTypes(args, 0, 0); err != nil {
			return bound{}, err
		}
		if ret.ID() != arrow.TIMESTAMP {
			return bound{}, unsupported("now")
		}
		return bound{k: func(ec *evalCtx, _ []operand) (arrow.Array, error) {
			return fillFixed(ec.mem, ec.ret, arrow.Timestamp(time.Now().UnixMicro()), ec.n), nil
		}}, nil
	}
	registry["from_unixtime_frac"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("from_unixtime", args, 1, 1, isF64); err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			f := floatAt(o[0].arr)
			return rowFixed(ec, []arrow.Array{o[0].arr}, func(i int) (arrow.Timestamp, bool, error) {
				v := math.Round(f(i) * float64(microsPerSecond))
				if math.IsNaN(v) || v >= math.MaxInt64 || v <= math.MinInt64 {
					return 0, false, outOfRange(ec, "TIMESTAMP")
				}
				return arrow.Timestamp(int64(v)), true, nil
			})
		}}, nil
	}
	registry["unix_timestamp_frac"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		if _, err := checkArgs("unix_timestamp", args, 1, 1, isTemporal); err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			us := temporalMicros(o[0].arr)
			return mapFixed(ec, o[0].arr, func(i int) float64 { return float64(us(i)) / float64(microsPerSecond) }), nil
		}}, nil
	}
}

// formatTime writes us formatted by f: MySQL's DATE_FORMAT specifiers, or
// C strftime's (DuckDB's) when mysql is false. An unknown specifier
// stands for its letter, as in MySQL.
func formatTime(sb *strings.Builder, us int64, f string, mysql bool) {
	days := floorDiv(us, microsPerDay)
	y, m, d := civilFromDays(days)
	tod := us - days*microsPerDay
	hh, mi, ss, frac := tod/microsPerHour, tod%microsPerHour/microsPerMinute, tod%microsPerMinute/microsPerSecond, tod%microsPerSecond
	h12 := (hh+11)%12 + 1
	ampm := "AM"
	if hh >= 12 {
		ampm = "PM"
	}
	wd := weekday(days)
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' || i+1 >= len(f) {
			sb.WriteByte(c)
			continue
		}
		i++
		c = f[i]
		noPad := false
		if !mysql && c == '-' && i+1 < len(f) {
			noPad = true
			i++
			c = f[i]
		}
		num := func(v int64, w int) {
			if noPad {
				w = 1
			}
			pad(sb, v, w)
		}
		switch c {
		case 'Y':
			num(y, 4)
		case 'y':
			num(floorMod(y, 100), 2)
		case 'm':
			num(int64(m), 2)
		case 'd':
			num(int64(d), 2)
		case 'e':
			pad(sb, int64(d), 1)
		case 'H':
			num(hh, 2)
		case 'j':
			num(dayOfYear(days), 3)
		case 'p':
			sb.WriteString(ampm)
		case 'w':
			pad(sb, wd, 1)
		case 'a':
			sb.WriteString(dayNames[wd][:3])
		case 'b':
			sb.WriteString(monthNames[m-1][:3])
		case 'f':
			pad(sb, frac, 6)
		case '%':
			sb.WriteByte('%')
		default:
			if mysql {
				formatMySQL(sb, c, m, d, hh, mi, ss, h12, ampm, wd, days)
			} else {
				formatC(sb, c, m, hh, mi, ss, h12, wd, frac, noPad)
			}
		}
	}
}

// formatMySQL writes the specifiers whose letters mean something else in C.
func formatMySQL(sb *strings.Builder, c byte, m, d int, hh, mi, ss, h12 int64, ampm string, wd, days int64) {
	switch c {
	case 'c':
		pad(sb, int64(m), 1)
	case 'D':
		pad(sb, int64(d), 1)
		switch {
		case d%100 >= 11 && d%100 <= 13:
			sb.WriteString("th")
		case d%10 == 1:
			sb.WriteString("st")
		case d%10 == 2:
			sb.WriteString("nd")
		case d%10 == 3:
			sb.WriteString("rd")
		default:
			sb.WriteString("th")
		}
	case 'h', 'I':
		pad(sb, h12, 2)
	case 'i':
		pad(sb, mi, 2)
	case 'k':
		pad(sb, hh, 1)
	case 'l':
		pad(sb, h12, 1)
	case 'M':
		sb.WriteString(monthNames[m-1])
	case 'r':
		pad(sb, h12, 2)
		sb.WriteByte(':')
		pad(sb, mi, 2)
		sb.WriteByte(':')
		pad(sb, ss, 2)
		sb.WriteString(" " + ampm)
	case 'S', 's':
		pad(sb, ss, 2)
	case 'T':
		pad(sb, hh, 2)
		sb.WriteByte(':')
		pad(sb, mi, 2)
		sb.WriteByte(':')
		pad(sb, ss, 2)
	case 'U':
		pad(sb, weekMode0(days), 2)
	case 'u':
		_, w := isoWeek(days)
		pad(sb, w, 2)
	case 'v':
		_, w := isoWeek(days)
		pad(sb, w, 2)
	case 'x':
		y, _ := isoWeek(days)
		pad(sb, y, 4)
	case 'W':
		sb.WriteString(dayNames[wd])
	default:
		sb.WriteByte(c)
	}
}

// formatC writes C strftime's remaining specifiers.
func formatC(sb *strings.Builder, c byte, m int, hh, mi, ss, h12, wd, frac int64, noPad bool) {
	w := 2
	if noPad {
		w = 1
	}
	switch c {
	case 'M':
		pad(sb, mi, w)
	case 'S':
		pad(sb, ss, w)
	case 'I':
		pad(sb, h12, w)
	case 'A':
		sb.WriteString(dayNames[wd])
	case 'B':
		sb.WriteString(monthNames[m-1])
	case 'T':
		pad(sb, hh, 2)
		sb.WriteByte(':')
		pad(sb, mi, 2)
		sb.WriteByte(':')
		pad(sb, ss, 2)
	case 'u':
		pad(sb, floorMod(wd+6, 7)+1, 1)
	case 'z':
		sb.WriteString("+00")
	case 'Z':
	default:
		sb.WriteByte('%')
		sb.WriteByte(c)
	}
	_ = frac
}
