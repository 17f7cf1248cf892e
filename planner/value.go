package planner

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// convertValue casts a constant from type `from` to type `to`, with the same
// semantics the executor's cast kernel is expected to have. It is used for
// constant folding and for converting string literals compared with time
// columns.
func convertValue(v any, from, to arrow.DataType) (any, error) {
	if v == nil {
		return nil, nil
	}
	if arrow.TypeEqual(from, to) {
		return v, nil
	}
	switch to.ID() {
	case arrow.INT64, arrow.INT32:
		var i int64
		switch x := v.(type) {
		case int64:
			i = x
		case int32:
			i = int64(x)
		case float64:
			if math.IsNaN(x) || x > math.MaxInt64 || x < math.MinInt64 {
				return nil, fmt.Errorf("%v is out of range for %s", x, TypeName(to))
			}
			i = int64(math.Round(x))
		case decimal128.Num:
			_, s := decimalOf(from)
			i = int64(math.Round(x.ToFloat64(s)))
		case bool:
			if x {
				i = 1
			}
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("cannot convert %q to %s", x, TypeName(to))
			}
			i = n
		default:
			return nil, fmt.Errorf("cannot convert %s to %s", TypeName(from), TypeName(to))
		}
		if to.ID() == arrow.INT32 {
			if i > math.MaxInt32 || i < math.MinInt32 {
				return nil, fmt.Errorf("%d is out of range for INT", i)
			}
			return int32(i), nil
		}
		return i, nil
	case arrow.FLOAT64:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case int32:
			return float64(x), nil
		case decimal128.Num:
			_, s := decimalOf(from)
			return x.ToFloat64(s), nil
		case bool:
			if x {
				return 1.0, nil
			}
			return 0.0, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("cannot convert %q to DOUBLE", x)
			}
			return f, nil
		}
	case arrow.DECIMAL128:
		p, s := decimalOf(to)
		var n decimal128.Num
		var err error
		switch x := v.(type) {
		case int64:
			n, err = decimal128.FromString(strconv.FormatInt(x, 10), p, s)
		case int32:
			n, err = decimal128.FromString(strconv.FormatInt(int64(x), 10), p, s)
		case float64:
			if math.IsNaN(x) || math.Abs(x) >= 1e38 {
				return nil, fmt.Errorf("%v is out of range for %s", x, TypeName(to))
			}
			n, err = decimal128.FromFloat64(x, p, s)
		case decimal128.Num:
			_, fs := decimalOf(from)
			n, err = x.Rescale(fs, s)
		case string:
			n, err = parseDecimal(strings.TrimSpace(x), p, s)
		default:
			return nil, fmt.Errorf("cannot convert %s to %s", TypeName(from), TypeName(to))
		}
		if err != nil {
			return nil, fmt.Errorf("cannot convert %s to %s: %w", formatValue(from, v, true), TypeName(to), err)
		}
		if !n.FitsInPrecision(p) {
			return nil, fmt.Errorf("%s is out of range for %s", formatValue(from, v, true), TypeName(to))
		}
		return n, nil
	case arrow.STRING:
		return formatValue(from, v, false), nil
	case arrow.BOOL:
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case int32:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "1", "t", "yes":
				return true, nil
			case "false", "0", "f", "no":
				return false, nil
			}
			return nil, fmt.Errorf("cannot convert %q to BOOLEAN", x)
		}
	case arrow.TIMESTAMP:
		switch x := v.(type) {
		case string:
			return parseTimestamp(x)
		case arrow.Date32:
			return arrow.Timestamp(int64(x) * 86400 * 1e6), nil
		}
	case arrow.DATE32:
		switch x := v.(type) {
		case string:
			ts, err := parseTimestamp(x)
			if err != nil {
				return nil, fmt.Errorf("cannot convert %q to DATE", x)
			}
			return arrow.Date32FromTime(ts.ToTime(arrow.Microsecond)), nil
		case arrow.Timestamp:
			return arrow.Date32FromTime(x.ToTime(arrow.Microsecond)), nil
		}
	}
	return nil, fmt.Errorf("cannot convert %s to %s", TypeName(from), TypeName(to))
}

// parseTimestamp reads `2024-01-02[ 03:04:05[.ffffff]]` as UTC.
func parseTimestamp(s string) (arrow.Timestamp, error) {
	ts, err := arrow.TimestampFromString(strings.TrimSpace(s), arrow.Microsecond)
	if err != nil {
		return 0, fmt.Errorf("cannot convert %q to TIMESTAMP", s)
	}
	return ts, nil
}

// intervalValue builds an interval from `INTERVAL 'n' UNIT`.
func intervalValue(text string, unit string) (arrow.MonthDayNanoInterval, error) {
	text = strings.TrimSpace(text)
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return arrow.MonthDayNanoInterval{}, fmt.Errorf("invalid interval value %q", text)
	}
	whole := func() (int32, error) {
		if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return 0, fmt.Errorf("interval of %s must be a whole number, got %q", unit, text)
		}
		return int32(f), nil
	}
	nanos := func(d time.Duration) (arrow.MonthDayNanoInterval, error) {
		return arrow.MonthDayNanoInterval{Nanoseconds: int64(math.Round(f * float64(d)))}, nil
	}
	switch strings.ToUpper(unit) {
	case "MICROSECOND":
		return nanos(time.Microsecond)
	case "MILLISECOND":
		return nanos(time.Millisecond)
	case "SECOND":
		return nanos(time.Second)
	case "MINUTE":
		return nanos(time.Minute)
	case "HOUR":
		return nanos(time.Hour)
	case "DAY":
		n, err := whole()
		return arrow.MonthDayNanoInterval{Days: n}, err
	case "WEEK":
		n, err := whole()
		return arrow.MonthDayNanoInterval{Days: 7 * n}, err
	case "MONTH":
		n, err := whole()
		return arrow.MonthDayNanoInterval{Months: n}, err
	case "QUARTER":
		n, err := whole()
		return arrow.MonthDayNanoInterval{Months: 3 * n}, err
	case "YEAR":
		n, err := whole()
		return arrow.MonthDayNanoInterval{Months: 12 * n}, err
	}
	return arrow.MonthDayNanoInterval{}, fmt.Errorf("unsupported interval unit %s", unit)
}

// maxDecimalExp bounds the exponents parseDecimal hands to
// decimal128.FromString beyond the mantissa's length: no DECIMAL(38)
// value needs more.
const maxDecimalExp = 2 * 38

// parseDecimal is decimal128.FromString made safe for far-out exponents
// (big.Float stalls on them, then panics): the rule of the executor's
// expr.ParseDecimal, which the planner cannot import, so constant folding
// and the cast kernel agree. Such a value overflows unless its digits are
// all zero, or rounds to zero.
func parseDecimal(str string, prec, scale int32) (decimal128.Num, error) {
	if strings.Trim(str, "0123456789+-.eE") != "" {
		return decimal128.Num{}, fmt.Errorf("invalid decimal %q", str) // FromString panics on "inf"
	}
	if i := strings.IndexAny(str, "eE"); i >= 0 {
		mant := str[:i]
		exp, err := strconv.ParseInt(str[i+1:], 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return decimal128.Num{}, fmt.Errorf("invalid decimal %q", str)
		}
		if limit := int64(len(mant) + maxDecimalExp); exp > limit || exp < -limit {
			if _, err := decimal128.FromString(mant, prec, scale); err != nil {
				return decimal128.Num{}, err
			}
			if exp > 0 && strings.ContainsAny(mant, "123456789") {
				return decimal128.Num{}, errors.New("exponent out of range")
			}
			return decimal128.Num{}, nil
		}
	}
	return decimal128.FromString(str, prec, scale)
}
