// Package interval prints INTERVAL values as DuckDB does, for the
// planner (constant casts) and the executor (columns, CAST) alike, which
// must agree and may not import each other.
package interval

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Append appends iv as DuckDB prints an interval: `1 year 2
// months 3 days 04:05:06.5`, each part only when not zero (the time when
// nothing else is), a part's sign on it (`-1 day -03:04:05`), the
// fraction of a second without trailing zeros, hours past 24 as they are
// (`30:00:00`).
func Append(dst []byte, iv arrow.MonthDayNanoInterval) []byte {
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

// SQL is iv as SQL literal text that reads back as the same value:
// `INTERVAL '1' MONTH + INTERVAL '2' DAY + INTERVAL '90.5' SECOND`
// (EXPLAIN, expressions in error messages).
func SQL(iv arrow.MonthDayNanoInterval) string {
	var parts []string
	if iv.Months != 0 {
		parts = append(parts, fmt.Sprintf("INTERVAL '%d' MONTH", iv.Months))
	}
	if iv.Days != 0 {
		parts = append(parts, fmt.Sprintf("INTERVAL '%d' DAY", iv.Days))
	}
	if iv.Nanoseconds != 0 || len(parts) == 0 {
		d := time.Duration(iv.Nanoseconds)
		if d%time.Second == 0 {
			parts = append(parts, fmt.Sprintf("INTERVAL '%d' SECOND", int64(d/time.Second)))
		} else {
			parts = append(parts, fmt.Sprintf("INTERVAL '%s' SECOND", strconv.FormatFloat(d.Seconds(), 'f', -1, 64)))
		}
	}
	return strings.Join(parts, " + ")
}
