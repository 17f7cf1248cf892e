package expr

import (
	"strconv"
	"strings"
)

const (
	microsPerSecond = int64(1_000_000)
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
)

// floorDiv divides rounding toward negative infinity, so timestamps before
// 1970 land in the right day/second.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// civilFromDays converts days since 1970-01-01 to a proleptic Gregorian
// date (Howard Hinnant's algorithm): no time.Time, no allocation.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := z
	if era < 0 {
		era -= 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// daysFromCivil is the inverse of civilFromDays.
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mm := int64(m)
	if mm > 2 {
		mm -= 3
	} else {
		mm += 9
	}
	doy := (153*mm+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func daysInMonth(y int64, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func pad(sb *strings.Builder, v int64, width int) {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		sb.WriteByte('0')
	}
	sb.WriteString(s)
}

// formatDate renders days since the epoch as YYYY-MM-DD.
func formatDate(days int32) string {
	var sb strings.Builder
	writeDate(&sb, int64(days))
	return sb.String()
}

func writeDate(sb *strings.Builder, days int64) {
	y, m, d := civilFromDays(days)
	if y < 0 {
		sb.WriteByte('-')
		y = -y
	}
	pad(sb, y, 4)
	sb.WriteByte('-')
	pad(sb, int64(m), 2)
	sb.WriteByte('-')
	pad(sb, int64(d), 2)
}

// formatTimestamp renders UTC microseconds as `YYYY-MM-DD hh:mm:ss[.ffffff]`
// with trailing zeros of the fraction trimmed, as MySQL shows DATETIME(6).
func formatTimestamp(us int64) string {
	var sb strings.Builder
	days := floorDiv(us, microsPerDay)
	rem := us - days*microsPerDay
	writeDate(&sb, days)
	sb.WriteByte(' ')
	pad(&sb, rem/microsPerHour, 2)
	sb.WriteByte(':')
	pad(&sb, rem%microsPerHour/microsPerMinute, 2)
	sb.WriteByte(':')
	pad(&sb, rem%microsPerMinute/microsPerSecond, 2)
	if frac := rem % microsPerSecond; frac != 0 {
		s := strconv.FormatInt(frac+microsPerSecond, 10)[1:]
		sb.WriteByte('.')
		sb.WriteString(strings.TrimRight(s, "0"))
	}
	return sb.String()
}
