package sql

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// intervalUnits maps an interval unit word (singular or plural) to its length.
var intervalUnits = map[string]time.Duration{
	"MICROSECOND": time.Microsecond, "MICROSECONDS": time.Microsecond,
	"MILLISECOND": time.Millisecond, "MILLISECONDS": time.Millisecond,
	"SECOND": time.Second, "SECONDS": time.Second,
	"MINUTE": time.Minute, "MINUTES": time.Minute,
	"HOUR": time.Hour, "HOURS": time.Hour,
	"DAY": 24 * time.Hour, "DAYS": 24 * time.Hour,
}

// intervalHint is appended to interval errors so the user sees a form that works.
const intervalHint = "an interval like INTERVAL '5' SECOND or 5s"

// interval parses one interval spelling at the cursor:
//
//	INTERVAL '5' SECOND | INTERVAL 5 SECOND | INTERVAL '5 SECOND' | 5 SECONDS | 5s | 500ms
//
// Units are MICROSECOND through DAY, singular or plural. The sign is kept;
// callers decide what range is allowed.
func (c *cursor) interval() (time.Duration, error) {
	t := c.peek()
	if t.is("INTERVAL") {
		c.next()
		v := c.peek()
		switch v.kind {
		case tkString:
			c.next()
			fields := strings.Fields(v.val)
			if len(fields) == 2 {
				// INTERVAL '5 SECOND'
				return c.scaleInterval(v, fields[0], fields[1])
			}
			u := c.peek()
			if u.kind != tkIdent {
				return 0, c.unexpected("an interval unit (SECOND, MINUTE, …)")
			}
			c.next()
			return c.scaleInterval(v, strings.TrimSpace(v.val), u.text)
		case tkNumber:
			c.next()
			u := c.peek()
			if u.kind != tkIdent {
				return 0, c.unexpected("an interval unit (SECOND, MINUTE, …)")
			}
			c.next()
			return c.scaleInterval(v, v.text, u.text)
		case tkPunct:
			if v.text == "-" && c.peekAt(1).kind == tkNumber {
				c.next()
				n := c.next()
				u := c.peek()
				if u.kind != tkIdent {
					return 0, c.unexpected("an interval unit (SECOND, MINUTE, …)")
				}
				c.next()
				return c.scaleInterval(v, "-"+n.text, u.text)
			}
		}
		return 0, c.unexpected("an interval value such as '5'")
	}
	if t.kind == tkNumber {
		c.next()
		if _, err := strconv.ParseFloat(t.text, 64); err == nil {
			// 5 SECONDS
			u := c.peek()
			if u.kind != tkIdent {
				return 0, c.errAt(t, "interval %s needs a unit (e.g. 5s or 5 SECOND)", t.text)
			}
			c.next()
			return c.scaleInterval(t, t.text, u.text)
		}
		return c.shorthand(t)
	}
	return 0, c.unexpected(intervalHint)
}

// scaleInterval computes num × unit, reporting problems at tok.
func (c *cursor) scaleInterval(tok token, num, unit string) (time.Duration, error) {
	u, ok := intervalUnits[strings.ToUpper(unit)]
	if !ok {
		return 0, c.errAt(tok, "unknown interval unit %q (use MILLISECOND, SECOND, MINUTE, HOUR or DAY)", unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, c.errAt(tok, "bad interval value %q", num)
	}
	ns := v * float64(u)
	if math.Abs(ns) > float64(math.MaxInt64/2) {
		return 0, c.errAt(tok, "interval %s %s is too large", num, unit)
	}
	return time.Duration(math.Round(ns)), nil
}

// shorthand parses a duration token such as 5s, 500ms, 2m, 1h or 1d.
func (c *cursor) shorthand(t token) (time.Duration, error) {
	s := strings.ToLower(t.text)
	if strings.HasSuffix(s, "d") {
		if v, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64); err == nil {
			return c.scaleInterval(t, strconv.FormatFloat(v, 'g', -1, 64), "DAY")
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, c.errAt(t, "bad duration %q: want %s", t.text, intervalHint)
	}
	return d, nil
}

// ParseInterval parses a duration written in any of the interval forms
// the dialect accepts (`10s`, `500ms`, `10 SECONDS`, `INTERVAL '10'
// SECOND`), so option values such as 'watermark.idle_timeout' read the
// same way as intervals in queries. Errors carry no position: the caller
// names the option.
func ParseInterval(s string) (time.Duration, error) {
	noPos := func(err error) error {
		msg := err.Error()
		var se *Error
		if errors.As(err, &se) {
			msg = se.Msg
		}
		return &Error{Kind: ParseError, Msg: msg, Err: err}
	}
	lr, err := lex(s)
	if err != nil {
		return 0, noPos(err)
	}
	if len(lr.tokens) == 0 {
		return 0, Errorf(ParseError, Pos{}, "empty interval: want %s", intervalHint)
	}
	c := &cursor{ps: newParseState(s, Pos{}), toks: lr.tokens}
	d, err := c.interval()
	if err != nil {
		return 0, noPos(err)
	}
	if !c.eof() {
		return 0, Errorf(ParseError, Pos{}, "unexpected %q after the interval: want %s", c.peek().text, intervalHint)
	}
	return d, nil
}

// exprUnits are the interval units of expressions (`ts - INTERVAL '20'
// MILLISECOND`) that the TiDB parser, following MySQL, does not know:
// MILLISECOND (Flink's and DuckDB's) and the plurals PostgreSQL and
// DuckDB accept. Each maps to the unit TiDB sees and the power of ten the
// value is divided by.
var exprUnits = map[string]struct {
	unit string
	div  int
}{
	"MILLISECOND": {"SECOND", 3}, "MILLISECONDS": {"SECOND", 3},
	"MICROSECONDS": {"MICROSECOND", 0}, "SECONDS": {"SECOND", 0}, "MINUTES": {"MINUTE", 0},
	"HOURS": {"HOUR", 0}, "DAYS": {"DAY", 0}, "WEEKS": {"WEEK", 0}, "MONTHS": {"MONTH", 0},
	"YEARS": {"YEAR", 0},
}

// intervalUnits rewrites `INTERVAL v unit` with a unit of exprUnits into
// the same interval in a unit TiDB parses: '20' MILLISECOND becomes
// '0.020' SECOND (TiDB keeps fractional seconds exactly). The rewrite is
// never longer than the text it replaces (MILLISECOND is five letters
// longer than SECOND; the value grows by at most four), so offsets keep.
func intervalLiterals(body []token) []replacement {
	var repls []replacement
	for i := 0; i+2 < len(body); i++ {
		if !body[i].is("INTERVAL") {
			continue
		}
		v, u := body[i+1], body[i+2]
		if u.kind != tkIdent || (v.kind != tkString && v.kind != tkNumber) {
			continue
		}
		eu, ok := exprUnits[strings.ToUpper(u.text)]
		if !ok {
			continue
		}
		num := v.text
		if v.kind == tkString {
			num = strings.TrimSpace(v.val)
		}
		if eu.div > 0 {
			scaled, ok := shiftDecimal(num, eu.div)
			if !ok {
				continue // not a plain number: TiDB reports it
			}
			num = scaled
		}
		text := "'" + num + "' " + eu.unit
		if len(text) > u.end-v.off {
			continue
		}
		repls = append(repls, replacement{span{v.off, u.end}, text})
	}
	return repls
}

// shiftDecimal divides the decimal number s by 10^n by moving its point,
// exactly (no float rounding): "20", 3 → "0.020"; "1500.5", 3 → "1.5005".
func shiftDecimal(s string, n int) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	ip, fp, _ := strings.Cut(s, ".")
	if ip == "" && fp == "" {
		return "", false
	}
	for _, r := range ip + fp {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	for len(ip) <= n {
		ip = "0" + ip
	}
	out := ip[:len(ip)-n] + "." + ip[len(ip)-n:] + fp
	if neg {
		out = "-" + out
	}
	return out, true
}

// IntervalLit is an interval literal that stands as a value of its own
// (`SELECT INTERVAL '90' MINUTE`, `INTERVAL '1' HOUR + INTERVAL '30'
// MINUTE`, `-INTERVAL '2' DAY`): MySQL, and so the TiDB parser, knows
// INTERVAL only beside a time (`ts + INTERVAL …`, DATE_ADD, a window
// frame), so such a literal reaches TiDB as a parenthesised placeholder
// and Query.Intervals keeps it.
type IntervalLit struct {
	// Value is the amount as written, without quotes ("90", "-1.5").
	Value string
	// Unit is the unit, upper case and singular (MINUTE, MILLISECOND).
	Unit string
	// Len is the literal's length in bytes of the query's text.
	Len int
}

// intervalPlaceholder is what TiDB sees in place of a standalone
// interval literal (padded with spaces): a parenthesised value, at the
// literal's offset, which the planner binds from Query.Intervals.
const intervalPlaceholder = "(0)"

// exprStart are the words after which a + or - is a sign, not an
// operator: they end no operand.
var exprStart = map[string]bool{
	"SELECT": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "XOR": true,
	"WHEN": true, "THEN": true, "ELSE": true, "ON": true, "HAVING": true, "BY": true,
	"IN": true, "IS": true, "BETWEEN": true, "LIKE": true, "DISTINCT": true, "ALL": true,
	"ANY": true, "SOME": true, "CASE": true, "VALUES": true, "SET": true, "AS": true,
	"DIV": true, "MOD": true, "REGEXP": true, "RLIKE": true, "RETURN": true, "QUALIFY": true,
}

// endsOperand reports whether t can be the last token of an operand, so
// that a + or - after it is a binary operator.
func endsOperand(t token) bool {
	switch t.kind {
	case tkNumber, tkString, tkQIdent:
		return true
	case tkIdent:
		return !exprStart[strings.ToUpper(t.text)]
	}
	return t.isPunct(")") || t.isPunct("]")
}

// multiplied reports whether token k (after an interval literal's unit)
// is a multiplicative operator, which binds the literal before the + or
// - in front of it: TiDB's DATE_ADD would read `ts + INTERVAL '1' HOUR *
// n` as (ts + INTERVAL '1' HOUR) * n, DuckDB and PostgreSQL as ts +
// (INTERVAL '1' HOUR * n); the literal then stands alone.
func multiplied(body []token, k int) bool {
	if k >= len(body) {
		return false
	}
	t := body[k]
	return t.isPunct("*") || t.isPunct("/") || t.isPunct("%") || t.is("DIV") || t.is("MOD")
}

// dateAddFuncs take `INTERVAL n unit` as their second argument in the
// TiDB grammar.
var dateAddFuncs = map[string]bool{"DATE_ADD": true, "DATE_SUB": true, "ADDDATE": true, "SUBDATE": true}

// standaloneIntervals finds the interval literals `INTERVAL v unit` (v a
// number or string, optionally signed) that TiDB cannot parse where they
// stand, and replaces each by intervalPlaceholder; the map gives each by
// the offset of its INTERVAL keyword in the query's text. A literal TiDB
// reads is left alone: the right operand of a binary + or -, the left
// operand of + before anything but another interval literal, DATE_ADD's
// second argument, a frame bound (… PRECEDING / FOLLOWING).
func standaloneIntervals(body []token) ([]replacement, map[int]IntervalLit) {
	var repls []replacement
	var lits map[int]IntervalLit
	start := body[0].off
	// opens[k] is the index of the '(' enclosing token k (or -1).
	opens, stack := make([]int, len(body)), []int{}
	for k, t := range body {
		top := -1
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		opens[k] = top
		switch {
		case t.isPunct("("):
			stack = append(stack, k)
		case t.isPunct(")") && len(stack) > 0:
			stack = stack[:len(stack)-1]
		}
	}
	// literal returns the index of the unit token of the interval literal
	// at i, or -1.
	literal := func(i int) (int, string) {
		if i >= len(body) || !body[i].is("INTERVAL") {
			return -1, ""
		}
		j, sign := i+1, ""
		if j < len(body) && (body[j].isPunct("-") || body[j].isPunct("+")) {
			sign = body[j].text
			j++
		}
		if j+1 >= len(body) || (body[j].kind != tkString && body[j].kind != tkNumber) || body[j+1].kind != tkIdent {
			return -1, ""
		}
		v := body[j].text
		if body[j].kind == tkString {
			v = strings.TrimSpace(body[j].val)
		}
		if sign == "-" {
			v = "-" + v
		}
		return j + 1, v
	}
	for i := range body {
		u, v := literal(i)
		if u < 0 {
			continue
		}
		if u+1 < len(body) && (body[u+1].is("PRECEDING") || body[u+1].is("FOLLOWING")) {
			continue
		}
		if i > 0 {
			prev := body[i-1]
			if (prev.isPunct("+") || prev.isPunct("-")) && i > 1 && endsOperand(body[i-2]) && !multiplied(body, u+1) {
				continue // ts + INTERVAL …: TiDB's DATE_ADD
			}
			if o := opens[i]; prev.isPunct(",") && o > 0 && dateAddFuncs[strings.ToUpper(body[o-1].text)] {
				continue
			}
		}
		if u+1 < len(body) && body[u+1].isPunct("+") {
			if next, _ := literal(u + 2); next < 0 {
				continue // INTERVAL … + ts: TiDB's DATE_ADD
			}
		}
		unit := strings.ToUpper(body[u].text)
		if _, ok := intervalUnits[unit]; ok && strings.HasSuffix(unit, "S") {
			unit = strings.TrimSuffix(unit, "S")
		} else if s := strings.TrimSuffix(unit, "S"); s != unit && (s == "WEEK" || s == "MONTH" || s == "QUARTER" || s == "YEAR") {
			unit = s
		}
		repls = append(repls, replacement{span{body[i].off, body[u].end}, intervalPlaceholder})
		if lits == nil {
			lits = map[int]IntervalLit{}
		}
		lits[body[i].off-start] = IntervalLit{Value: v, Unit: unit, Len: body[u].end - body[i].off}
	}
	return repls, lits
}
