package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// Casts follow MySQL where it has an opinion: DOUBLE→integer rounds half
// away from zero, BOOLEAN→number is 0/1, TIMESTAMP→number is the
// YYYYMMDDhhmmss form (DATE: YYYYMMDD) and numbers cast back the same way,
// numbers→BOOLEAN test != 0, BOOLEAN→string is '1'/'0'. Unparsable strings
// and out-of-range values are errors (MySQL would warn and go on).

func castable(id arrow.Type) bool {
	switch id {
	case arrow.INT32, arrow.INT64, arrow.FLOAT64, arrow.DECIMAL128, arrow.STRING,
		arrow.BOOL, arrow.TIMESTAMP, arrow.DATE32, arrow.NULL:
		return true
	}
	return false
}

func registerCast() {
	registry["cast"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 1, 1)
		if err != nil {
			return bound{}, err
		}
		if (ts[0].ID() == arrow.INTERVAL_MONTH_DAY_NANO || ts[0].ID() == arrow.LIST) && ret.ID() == arrow.STRING {
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return castArray(ec, o[0].arr, ec.ret)
			}}, nil
		}
		if l, ok := ret.(*arrow.ListType); ok && castable(l.Elem().ID()) &&
			(ts[0].ID() == arrow.STRING || (ts[0].ID() == arrow.LIST && castable(ts[0].(*arrow.ListType).Elem().ID()))) {
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				return castArray(ec, o[0].arr, ec.ret)
			}}, nil
		}
		if !castable(ts[0].ID()) || !castable(ret.ID()) || ret.ID() == arrow.NULL {
			return bound{}, unsupported("cast to "+sqlTypeName(ret), ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			return castArray(ec, o[0].arr, ec.ret)
		}}, nil
	}
}

// castArray converts a to type to; the caller releases the result.
func castArray(ec *evalCtx, a arrow.Array, to arrow.DataType) (arrow.Array, error) {
	from := a.DataType()
	if arrow.TypeEqual(from, to) || (from.ID() == to.ID() && from.ID() != arrow.DECIMAL128 && from.ID() != arrow.LIST) {
		a.Retain()
		return a, nil
	}
	if from.ID() == arrow.NULL {
		return array.MakeArrayOfNull(ec.mem, to, a.Len()), nil
	}
	if l, ok := to.(*arrow.ListType); ok {
		switch x := a.(type) {
		case *array.String:
			return castStringToList(ec, x, l)
		case *array.List:
			return castListToList(ec, x, l)
		}
	}
	if out, ok := fastCast(ec, a, to); ok {
		return out, nil
	}
	n := a.Len()
	tname := sqlTypeName(to)
	if to.ID() == arrow.STRING {
		b := array.NewStringBuilder(ec.mem)
		defer b.Release()
		b.Reserve(n)
		f := formatter(a)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(f(i))
			}
		}
		return b.NewArray(), nil
	}
	if to.ID() == arrow.BOOL {
		buf := newBitmap(ec.mem, n)
		out := buf.Bytes()
		get := numReader(a)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				continue
			}
			var v bool
			if s, ok := a.(*array.String); ok {
				var err error
				if v, err = parseBool(s.Value(i)); err != nil {
					buf.Release()
					return nil, err
				}
			} else {
				v = get(i).nonZero()
			}
			if v {
				bitutil.SetBit(out, i)
			}
		}
		vb, nulls := combineValidity(ec.mem, n, a)
		return makeArray(to, n, vb, buf, nulls), nil
	}
	if ints, ok := a.(*array.Int64); ok && to.ID() == arrow.DECIMAL128 {
		return castIntToDecimal(ec, ints, to)
	}
	get := numReader(a)
	var conv func(v num) (any, error)
	switch to.ID() {
	case arrow.INT64, arrow.INT32:
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if to.ID() == arrow.INT32 {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		conv = func(v num) (any, error) {
			x, ok := v.toInt()
			if !ok || x < lo || x > hi {
				if v.str != nil {
					return nil, castError(*v.str, tname)
				}
				return nil, outOfRange(ec, tname)
			}
			return x, nil
		}
	case arrow.FLOAT64:
		conv = func(v num) (any, error) {
			f, ok := v.toFloat()
			if !ok {
				return nil, castError(*v.str, tname)
			}
			return f, nil
		}
	case arrow.DECIMAL128:
		p, s := decPrec(to), decScale(to)
		conv = func(v num) (any, error) {
			d, err := v.toDecimal(p, s)
			if err != nil {
				if v.str != nil {
					return nil, castError(*v.str, tname)
				}
				return nil, outOfRange(ec, tname)
			}
			return d, nil
		}
	case arrow.TIMESTAMP, arrow.DATE32:
		conv = func(v num) (any, error) {
			us, ok := v.toMicros()
			if !ok {
				if v.str != nil {
					return nil, castError(*v.str, tname)
				}
				return nil, outOfRange(ec, tname)
			}
			if to.ID() == arrow.DATE32 {
				return floorDiv(us, microsPerDay), nil
			}
			return us, nil
		}
	default:
		return nil, unsupported("cast to "+tname, from)
	}
	switch to.ID() {
	case arrow.INT64, arrow.TIMESTAMP:
		return castInto(ec, a, to, get, conv, func(v any) int64 { return v.(int64) })
	case arrow.INT32, arrow.DATE32:
		return castInto(ec, a, to, get, conv, func(v any) int32 { return int32(v.(int64)) })
	case arrow.FLOAT64:
		return castInto(ec, a, to, get, conv, func(v any) float64 { return v.(float64) })
	default:
		return castInto(ec, a, to, get, conv, func(v any) decimal128.Num { return v.(decimal128.Num) })
	}
}

// castIntToDecimal is the BIGINT → DECIMAL cast without the generic
// path's per-row boxing: each value is scaled and checked against the
// precision in place.
func castIntToDecimal(ec *evalCtx, a *array.Int64, to arrow.DataType) (arrow.Array, error) {
	n := a.Len()
	p, s := decPrec(to), decScale(to)
	buf, out := newFixed[decimal128.Num](ec.mem, n)
	nulls := a.NullN() > 0
	for i, x := range a.Int64Values() {
		if nulls && a.IsNull(i) {
			continue
		}
		d, ok := rescaleDec(decimal128.FromI64(x), 0, s)
		if !ok || !d.FitsInPrecision(p) {
			buf.Release()
			return nil, outOfRange(ec, sqlTypeName(to))
		}
		out[i] = d
	}
	vb, nc := combineValidity(ec.mem, n, a)
	return makeArray(to, n, vb, buf, nc), nil
}

func castInto[T fixed](ec *evalCtx, a arrow.Array, to arrow.DataType, get func(int) num, conv func(num) (any, error), put func(any) T) (arrow.Array, error) {
	n := a.Len()
	buf, out := newFixed[T](ec.mem, n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			continue
		}
		v, err := conv(get(i))
		if err != nil {
			buf.Release()
			return nil, err
		}
		out[i] = put(v)
	}
	vb, nulls := combineValidity(ec.mem, n, a)
	return makeArray(to, n, vb, buf, nulls), nil
}

// num is one source value in a neutral form.
type num struct {
	kind  byte // 'i' int, 'f' float, 'd' decimal, 'b' bool, 't' timestamp µs, 's' string
	i     int64
	f     float64
	d     decimal128.Num
	scale int32
	str   *string
}

func numReader(a arrow.Array) func(i int) num {
	switch x := a.(type) {
	case *array.Int32:
		return func(i int) num { return num{kind: 'i', i: int64(x.Value(i))} }
	case *array.Int64:
		return func(i int) num { return num{kind: 'i', i: x.Value(i)} }
	case *array.Float64:
		return func(i int) num { return num{kind: 'f', f: x.Value(i)} }
	case *array.Decimal128:
		s := decScale(a.DataType())
		return func(i int) num { return num{kind: 'd', d: x.Value(i), scale: s} }
	case *array.Boolean:
		return func(i int) num {
			if x.Value(i) {
				return num{kind: 'b', i: 1}
			}
			return num{kind: 'b'}
		}
	case *array.Timestamp:
		return func(i int) num { return num{kind: 't', i: int64(x.Value(i))} }
	case *array.Date32:
		return func(i int) num { return num{kind: 'D', i: int64(x.Value(i)) * microsPerDay} }
	case *array.String:
		return func(i int) num { s := x.Value(i); return num{kind: 's', str: &s} }
	}
	return func(int) num { return num{kind: '?'} }
}

func (v num) nonZero() bool {
	switch v.kind {
	case 'f':
		return v.f != 0
	case 'd':
		return v.d.Sign() != 0
	}
	return v.i != 0
}

// temporalNumber is MySQL's numeric form of a time: YYYYMMDDhhmmss.
func temporalNumber(us int64, dateOnly bool) int64 {
	days := floorDiv(us, microsPerDay)
	y, m, d := civilFromDays(days)
	ymd := y*10000 + int64(m)*100 + int64(d)
	if dateOnly {
		return ymd
	}
	tod := (us - days*microsPerDay) / microsPerSecond
	return ymd*1000000 + tod/3600*10000 + tod%3600/60*100 + tod%60
}

func (v num) toInt() (int64, bool) {
	switch v.kind {
	case 'i', 'b':
		return v.i, true
	case 'f':
		r := math.Round(v.f)
		if math.IsNaN(r) || r >= 9.223372036854775807e18 || r < -9.223372036854775808e18 {
			return 0, false
		}
		return int64(r), true
	case 'd':
		r, _ := rescaleDec(v.d, v.scale, 0)
		if hi, lo := r.HighBits(), r.LowBits(); (hi == 0 && lo < 1<<63) || (hi == -1 && lo >= 1<<63) {
			return int64(lo), true
		}
		return 0, false
	case 't':
		return temporalNumber(v.i, false), true
	case 'D':
		return temporalNumber(v.i, true), true
	case 's':
		s := strings.TrimSpace(*v.str)
		if x, err := strconv.ParseInt(s, 10, 64); err == nil {
			return x, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return num{kind: 'f', f: f}.toInt()
		}
	}
	return 0, false
}

func (v num) toFloat() (float64, bool) {
	switch v.kind {
	case 'f':
		return v.f, true
	case 'd':
		return v.d.ToFloat64(v.scale), true
	case 's':
		f, err := strconv.ParseFloat(strings.TrimSpace(*v.str), 64)
		return f, err == nil
	}
	x, ok := v.toInt()
	return float64(x), ok
}

func (v num) toDecimal(p, s int32) (decimal128.Num, error) {
	var d decimal128.Num
	switch v.kind {
	case 'f':
		if math.IsNaN(v.f) || math.Abs(v.f) >= 1e38 {
			return d, ErrOutOfRange
		}
		var err error
		if d, err = decimal128.FromFloat64(v.f, p, s); err != nil {
			return d, err
		}
	case 'd':
		var ok bool
		if d, ok = rescaleDec(v.d, v.scale, s); !ok {
			return d, ErrOutOfRange
		}
	case 's':
		var err error
		if d, err = ParseDecimal(strings.TrimSpace(*v.str), p, s); err != nil {
			return d, err
		}
	default:
		x, _ := v.toInt()
		var ok bool
		if d, ok = rescaleDec(decimal128.FromI64(x), 0, s); !ok {
			return d, ErrOutOfRange
		}
	}
	if !d.FitsInPrecision(p) {
		return d, ErrOutOfRange
	}
	return d, nil
}

func (v num) toMicros() (int64, bool) {
	switch v.kind {
	case 't', 'D':
		return v.i, true
	case 's':
		return parseTimestamp(*v.str)
	case 'i':
		return fromTemporalNumber(v.i)
	case 'f':
		return fromTemporalNumber(int64(v.f))
	}
	return 0, false
}

// fromTemporalNumber reads YYYYMMDD or YYYYMMDDhhmmss.
func fromTemporalNumber(x int64) (int64, bool) {
	var tod int64
	if x > 99991231 {
		hh, mm, ss := x/10000%100, x/100%100, x%100
		if hh > 23 || mm > 59 || ss > 59 {
			return 0, false
		}
		tod = (hh*3600 + mm*60 + ss) * microsPerSecond
		x /= 1000000
	}
	y, m, d := x/10000, int(x/100%100), int(x%100)
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d)*microsPerDay + tod, true
}

// parseTimestamp reads `YYYY-MM-DD`, optionally followed by ` ` or `T`,
// `hh:mm:ss` and a fraction of up to 9 digits (truncated to µs), and an
// optional trailing `Z`.
func parseTimestamp(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, "Z")
	num := func(p string) (int64, bool) {
		if p == "" {
			return 0, false
		}
		var x int64
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return 0, false
			}
			x = x*10 + int64(p[i]-'0')
		}
		return x, true
	}
	date, clock := s, ""
	if i := strings.IndexAny(s, " T"); i >= 0 {
		date, clock = s[:i], strings.TrimSpace(s[i+1:])
	}
	parts := strings.Split(date, "-")
	if len(parts) != 3 || len(parts[0]) != 4 {
		return 0, false
	}
	y, ok1 := num(parts[0])
	m, ok2 := num(parts[1])
	d, ok3 := num(parts[2])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > int64(daysInMonth(y, int(m))) {
		return 0, false
	}
	us := daysFromCivil(y, int(m), int(d)) * microsPerDay
	if clock == "" {
		return us, true
	}
	frac := ""
	if i := strings.IndexByte(clock, '.'); i >= 0 {
		clock, frac = clock[:i], clock[i+1:]
	}
	hms := strings.Split(clock, ":")
	if len(hms) < 2 || len(hms) > 3 {
		return 0, false
	}
	var f [3]int64
	for i, p := range hms {
		x, ok := num(p)
		if !ok {
			return 0, false
		}
		f[i] = x
	}
	if f[0] > 23 || f[1] > 59 || f[2] > 59 {
		return 0, false
	}
	us += f[0]*microsPerHour + f[1]*microsPerMinute + f[2]*microsPerSecond
	if frac != "" {
		if len(frac) > 9 {
			return 0, false
		}
		x, ok := num(frac)
		if !ok {
			return 0, false
		}
		for i := len(frac); i < 6; i++ {
			x *= 10
		}
		for i := len(frac); i > 6; i-- {
			x /= 10
		}
		us += x
	}
	return us, true
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, nil
	case "0", "false", "f", "no", "n", "off":
		return false, nil
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return f != 0, nil
	}
	return false, castError(s, "BOOLEAN")
}

// formatter renders row i of a as MySQL would print it.
func formatter(a arrow.Array) func(i int) string {
	switch x := a.(type) {
	case *array.Int32:
		return func(i int) string { return strconv.FormatInt(int64(x.Value(i)), 10) }
	case *array.Int64:
		return func(i int) string { return strconv.FormatInt(x.Value(i), 10) }
	case *array.Float64:
		return func(i int) string { return formatFloat(x.Value(i)) }
	case *array.Decimal128:
		s := decScale(a.DataType())
		return func(i int) string { return x.Value(i).ToString(s) }
	case *array.Boolean:
		return func(i int) string {
			if x.Value(i) {
				return "1"
			}
			return "0"
		}
	case *array.Timestamp:
		return func(i int) string { return formatTimestamp(int64(x.Value(i))) }
	case *array.Date32:
		return func(i int) string { return formatDate(int32(x.Value(i))) }
	case *array.MonthDayNanoInterval:
		return intervalFormatter(x)
	case *array.List:
		return listText(x)
	}
	return func(i int) string { return a.ValueStr(i) }
}

// formatFloat prints the shortest representation that round-trips, in
// plain notation for everyday magnitudes.
func formatFloat(f float64) string {
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e15) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// fastCast covers the widening casts the planner inserts most (INT→BIGINT,
// BIGINT→DOUBLE, DATE↔TIMESTAMP) with tight loops instead of the boxed
// general path.
func fastCast(ec *evalCtx, a arrow.Array, to arrow.DataType) (arrow.Array, bool) {
	f, t := a.DataType().ID(), to.ID()
	switch {
	case f == arrow.INT32 && t == arrow.INT64:
		in := values[int32](a)
		return mapFixed(&evalCtx{mem: ec.mem, n: a.Len(), ret: to}, a, func(i int) int64 { return int64(in[i]) }), true
	case f == arrow.INT32 && t == arrow.FLOAT64:
		in := values[int32](a)
		return mapFixed(&evalCtx{mem: ec.mem, n: a.Len(), ret: to}, a, func(i int) float64 { return float64(in[i]) }), true
	case f == arrow.INT64 && t == arrow.FLOAT64:
		in := values[int64](a)
		return mapFixed(&evalCtx{mem: ec.mem, n: a.Len(), ret: to}, a, func(i int) float64 { return float64(in[i]) }), true
	case f == arrow.DATE32 && t == arrow.TIMESTAMP:
		in := values[int32](a)
		return mapFixed(&evalCtx{mem: ec.mem, n: a.Len(), ret: to}, a, func(i int) int64 { return int64(in[i]) * microsPerDay }), true
	case f == arrow.TIMESTAMP && t == arrow.DATE32:
		in := values[int64](a)
		return mapFixed(&evalCtx{mem: ec.mem, n: a.Len(), ret: to}, a, func(i int) int32 { return int32(floorDiv(in[i], microsPerDay)) }), true
	}
	return nil, false
}
