// Package format holds the row formats shared by the connectors: decoders
// that append CSV fields and JSON objects straight into Arrow builders,
// encoders for CSV and JSON lines, the text rules every printer uses
// (FormatValue), and schema inference for CSV and JSON.
//
// Text rules: timestamps print as `2026-01-01 00:00:05` with a fraction
// only when it is non-zero (trailing zeros trimmed) and parse also with a
// `T` separator and a trailing `Z`; DATE is `2026-01-01`; BOOLEAN parses
// true/false/1/0; DECIMAL is its plain text; floats print in shortest form
// without an exponent for ordinary magnitudes; NULL is an empty CSV field
// and JSON null.
package format

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/internal/interval"
)

// FieldError reports a value that cannot be converted to its column's
// type. Readers wrap it with the place (file:line, topic/partition/offset)
// so users can find the bad row; errors.As recovers it.
type FieldError struct {
	Column string // column name
	Value  string // the offending text
	Type   string // SQL type name, e.g. BIGINT
	// Reason, when set, is why a value of the right type is refused by
	// the column's declared rule: "is NOT NULL, but the value is NULL".
	Reason string
}

// Error renders `column "value": cannot parse "abc" as BIGINT`, or the
// broken rule: `column "id" is NOT NULL, but the value is NULL or missing`.
func (e *FieldError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("column %q %s", e.Column, e.Reason)
	}
	return fmt.Sprintf("column %q: cannot parse %q as %s", e.Column, e.Value, e.Type)
}

// RowError reports a row that is malformed as a whole (wrong number of
// CSV fields, invalid JSON), as opposed to a single bad value.
type RowError struct {
	Msg string
}

// Error returns the message.
func (e *RowError) Error() string { return e.Msg }

// SQLTypeName names an Arrow type the way SQL users know it, for error
// messages and DESCRIBE-like output.
func SQLTypeName(t arrow.DataType) string {
	switch t := t.(type) {
	case *arrow.Int64Type:
		return "BIGINT"
	case *arrow.Int32Type, *arrow.Int16Type, *arrow.Int8Type:
		return "INT"
	case *arrow.Float64Type, *arrow.Float32Type:
		return "DOUBLE"
	case *arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType:
		return "VARCHAR"
	case *arrow.BooleanType:
		return "BOOLEAN"
	case *arrow.TimestampType:
		return "TIMESTAMP"
	case *arrow.Date32Type:
		return "DATE"
	case *arrow.Decimal128Type:
		return fmt.Sprintf("DECIMAL(%d,%d)", t.Precision, t.Scale)
	case *arrow.ListType:
		return SQLTypeName(t.Elem()) + "[]"
	case *arrow.MonthDayNanoIntervalType:
		return "INTERVAL"
	}
	return t.String()
}

// bstr views b as a string without copying; the string must not outlive
// b's contents, which is why it is only passed to strconv parsers.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// ParseInt parses a base-10 integer without allocating; the common case of
// plain digits is handled inline, everything else falls back to strconv.
func ParseInt(b []byte) (int64, bool) {
	n := len(b)
	if n == 0 || n > 18 {
		v, err := strconv.ParseInt(bstr(b), 10, 64)
		return v, err == nil
	}
	i := 0
	neg := false
	if b[0] == '-' || b[0] == '+' {
		neg = b[0] == '-'
		i = 1
		if n == 1 {
			return 0, false
		}
	}
	var v int64
	for ; i < n; i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + int64(c)
	}
	if neg {
		v = -v
	}
	return v, true
}

// ParseFloat parses a float64 without allocating.
func ParseFloat(b []byte) (float64, bool) {
	v, err := strconv.ParseFloat(bstr(b), 64)
	return v, err == nil
}

// parseDecimal parses a DECIMAL(prec, scale) value (expr.ParseDecimal
// keeps far-out exponents from stalling the scan).
func parseDecimal(v []byte, prec, scale int32) (decimal128.Num, bool) {
	n, err := expr.ParseDecimal(string(v), prec, scale)
	return n, err == nil
}

// ParseBool accepts true/false/1/0 (case-insensitive words).
func ParseBool(b []byte) (bool, bool) {
	switch len(b) {
	case 1:
		switch b[0] {
		case '1':
			return true, true
		case '0':
			return false, true
		}
	case 4:
		if (b[0]|0x20) == 't' && (b[1]|0x20) == 'r' && (b[2]|0x20) == 'u' && (b[3]|0x20) == 'e' {
			return true, true
		}
	case 5:
		if (b[0]|0x20) == 'f' && (b[1]|0x20) == 'a' && (b[2]|0x20) == 'l' && (b[3]|0x20) == 's' && (b[4]|0x20) == 'e' {
			return false, true
		}
	}
	return false, false
}

func digits(b []byte, n int) (int, bool) {
	v := 0
	for i := 0; i < n; i++ {
		c := b[i] - '0'
		if c > 9 {
			return 0, false
		}
		v = v*10 + int(c)
	}
	return v, true
}

// daysFromCivil converts a proleptic Gregorian date to days since the Unix
// epoch (Howard Hinnant's algorithm), avoiding time.Date on the hot path.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// ParseDate parses YYYY-MM-DD into days since the epoch.
func ParseDate(b []byte) (int32, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(b, 4)
	m, ok2 := digits(b[5:], 2)
	d, ok3 := digits(b[8:], 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return int32(daysFromCivil(y, m, d)), true
}

func daysIn(y, m int) int {
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

// ParseTimestamp parses `YYYY-MM-DD[( |T)hh:mm[:ss[.fffffffff]]][Z|±hh:mm]`
// into nanoseconds since the epoch (UTC).
func ParseTimestamp(b []byte) (int64, bool) {
	if len(b) < 10 {
		return 0, false
	}
	days, ok := ParseDate(b[:10])
	if !ok {
		return 0, false
	}
	ns := int64(days) * 86400e9
	b = b[10:]
	if len(b) == 0 {
		return ns, true
	}
	if b[0] != ' ' && b[0] != 'T' || len(b) < 6 || b[3] != ':' {
		return 0, false
	}
	h, ok1 := digits(b[1:], 2)
	mi, ok2 := digits(b[4:], 2)
	if !ok1 || !ok2 || h > 23 || mi > 59 {
		return 0, false
	}
	ns += int64(h)*3600e9 + int64(mi)*60e9
	b = b[6:]
	if len(b) >= 3 && b[0] == ':' {
		s, ok := digits(b[1:], 2)
		if !ok || s > 60 {
			return 0, false
		}
		ns += int64(s) * 1e9
		b = b[3:]
		if len(b) > 0 && b[0] == '.' {
			i := 1
			var frac int64
			scale := int64(1e9)
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				if scale > 1 {
					scale /= 10
					frac += int64(b[i]-'0') * scale
				}
				i++
			}
			if i == 1 {
				return 0, false
			}
			ns += frac
			b = b[i:]
		}
	}
	switch {
	case len(b) == 0:
		return ns, true
	case len(b) == 1 && (b[0] == 'Z' || b[0] == 'z'):
		return ns, true
	case len(b) == 6 && (b[0] == '+' || b[0] == '-') && b[3] == ':':
		oh, ok1 := digits(b[1:], 2)
		om, ok2 := digits(b[4:], 2)
		if !ok1 || !ok2 {
			return 0, false
		}
		off := int64(oh)*3600e9 + int64(om)*60e9
		if b[0] == '+' {
			return ns - off, true
		}
		return ns + off, true
	}
	return 0, false
}

// TimestampToNanos converts a timestamp value of the given unit to
// nanoseconds since the epoch.
func TimestampToNanos(v arrow.Timestamp, unit arrow.TimeUnit) int64 {
	switch unit {
	case arrow.Second:
		return int64(v) * 1e9
	case arrow.Millisecond:
		return int64(v) * 1e6
	case arrow.Microsecond:
		return int64(v) * 1e3
	}
	return int64(v)
}

// NanosToTimestamp converts nanoseconds since the epoch to the unit,
// truncating toward negative infinity.
func NanosToTimestamp(ns int64, unit arrow.TimeUnit) arrow.Timestamp {
	var d int64 = 1
	switch unit {
	case arrow.Second:
		d = 1e9
	case arrow.Millisecond:
		d = 1e6
	case arrow.Microsecond:
		d = 1e3
	}
	q := ns / d
	if ns%d < 0 {
		q--
	}
	return arrow.Timestamp(q)
}

// AppendTimestamp appends the text form of ns (UTC) to dst.
func AppendTimestamp(dst []byte, ns int64) []byte {
	t := time.Unix(0, ns).UTC()
	dst = t.AppendFormat(dst, "2006-01-02 15:04:05")
	if f := t.Nanosecond(); f != 0 {
		var buf [10]byte
		buf[0] = '.'
		for i := 9; i >= 1; i-- {
			buf[i] = byte('0' + f%10)
			f /= 10
		}
		n := 10
		for buf[n-1] == '0' {
			n--
		}
		dst = append(dst, buf[:n]...)
	}
	return dst
}

// AppendDate appends days-since-epoch as YYYY-MM-DD.
func AppendDate(dst []byte, days int32) []byte {
	return time.Unix(int64(days)*86400, 0).UTC().AppendFormat(dst, "2006-01-02")
}

// AppendFloat appends f in shortest form: plain decimal for ordinary
// magnitudes, exponent form only below 1e-6 or at/above 1e21.
func AppendFloat(dst []byte, f float64, bits int) []byte {
	a := math.Abs(f)
	if a != 0 && (a < 1e-6 || a >= 1e21) && !math.IsInf(f, 0) {
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, bits)
}

// IsOpColumn reports whether field is the changelog op column, which is
// printed as +I/-U/+U/-D rather than as a number.
func IsOpColumn(f arrow.Field) bool {
	return f.Name == exec.OpColumn && f.Type.ID() == arrow.INT8
}

// AppendValue appends the text form of arr[i] to dst; NULL appends
// nothing (callers that need a marker check IsNull first).
func AppendValue(dst []byte, arr arrow.Array, i int) []byte {
	if arr.IsNull(i) {
		return dst
	}
	switch a := arr.(type) {
	case *array.Int64:
		return strconv.AppendInt(dst, a.Value(i), 10)
	case *array.Int32:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int16:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Int8:
		return strconv.AppendInt(dst, int64(a.Value(i)), 10)
	case *array.Uint64:
		return strconv.AppendUint(dst, a.Value(i), 10)
	case *array.Uint32:
		return strconv.AppendUint(dst, uint64(a.Value(i)), 10)
	case *array.Float64:
		return AppendFloat(dst, a.Value(i), 64)
	case *array.Float32:
		return AppendFloat(dst, float64(a.Value(i)), 32)
	case *array.String:
		return append(dst, a.Value(i)...)
	case *array.LargeString:
		return append(dst, a.Value(i)...)
	case *array.Binary:
		return append(dst, a.Value(i)...)
	case *array.Boolean:
		return strconv.AppendBool(dst, a.Value(i))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return AppendTimestamp(dst, TimestampToNanos(a.Value(i), unit))
	case *array.Date32:
		return AppendDate(dst, int32(a.Value(i)))
	case *array.Date64:
		return AppendTimestamp(dst, int64(a.Value(i))*1e6)[:len(dst)+10]
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return append(dst, a.Value(i).ToString(scale)...)
	case *array.List:
		return appendList(dst, a, i)
	case *array.MonthDayNanoInterval:
		return interval.Append(dst, a.Value(i))
	}
	return append(dst, arr.ValueStr(i)...)
}

// appendList appends a list as DuckDB prints one (expr.AppendList),
// each element by the text rules.
func appendList(dst []byte, a *array.List, i int) []byte {
	vals := a.ListValues()
	return expr.AppendList(dst, a, i, func(dst []byte, k int) []byte { return AppendValue(dst, vals, k) })
}

// FormatValue renders arr[i] by the shared text rules; NULL is "NULL".
// Printers that need another NULL marker check arr.IsNull first.
func FormatValue(arr arrow.Array, i int) string {
	if arr.IsNull(i) {
		return "NULL"
	}
	return string(AppendValue(nil, arr, i))
}

// AppendFieldValue is AppendValue that renders the changelog op column
// (field named exec.OpColumn of type int8) as +I/-U/+U/-D.
func AppendFieldValue(dst []byte, f arrow.Field, arr arrow.Array, i int) []byte {
	if IsOpColumn(f) && !arr.IsNull(i) {
		return append(dst, exec.Op(arr.(*array.Int8).Value(i)).String()...)
	}
	return AppendValue(dst, arr, i)
}
