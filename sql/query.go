package sql

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// replacement is a span of the script that the TiDB parser sees as name
// (padded with spaces to the span's length) or, with an empty name, blanks.
type replacement struct {
	span
	name string
}

// clauseWords end a FROM clause at their parenthesis depth.
var clauseWords = map[string]bool{
	"SELECT": true, "WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true,
	"LIMIT": true, "ON": true, "USING": true, "WINDOW": true, "UNION": true,
	"EXCEPT": true, "INTERSECT": true, "QUALIFY": true,
}

// notAfterEmit are words that show a preceding EMIT is an alias, not the
// EMIT clause.
var notAfterEmit = map[string]bool{
	"WHERE": true, "GROUP": true, "HAVING": true, "ORDER": true, "LIMIT": true,
	"JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "CROSS": true,
	"NATURAL": true, "STRAIGHT_JOIN": true, "ON": true, "USING": true, "UNION": true,
	"EXCEPT": true, "INTERSECT": true, "WINDOW": true, "FROM": true, "AS": true,
}

// query parses toks (a query with optional window table functions and a
// trailing EMIT clause) into a Query. The TiDB parser sees the query's own
// text with its comments blanked and the extensions replaced by
// same-length placeholders, so the offsets in its AST are offsets into
// the query's text (Query.PosOf turns them into script positions), and
// each query costs time in its own length only, not the script's.
func (ps *parseState) query(toks []token) (*Query, error) {
	q := &Query{stmt: ps.stmtAt(toks), Windows: map[string]*WindowTVF{}, index: ps.ix, indexOff: toks[0].off}
	var repls []replacement
	n := len(toks)
	// EMIT clause: at depth 0, and not in a spot where EMIT is an alias.
	depth := 0
	for i, t := range toks {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		}
		if depth != 0 || !t.is("EMIT") || i == 0 {
			continue
		}
		prev := toks[i-1]
		if prev.is("AS") || prev.is("FROM") || prev.is("JOIN") || prev.is("SELECT") || prev.isPunct(",") || prev.isPunct(".") {
			continue
		}
		if i+1 < n && (toks[i+1].kind == tkPunct || notAfterEmit[strings.ToUpper(toks[i+1].text)]) {
			continue
		}
		e, err := ps.emit(toks[i:])
		if err != nil {
			return nil, err
		}
		q.Emit = e
		n = i
		break
	}
	if n == 0 {
		return nil, Errorf(ParseError, q.pos, "expected a query")
	}
	body := toks[:n]
	ivRepls, ivs := standaloneIntervals(body)
	q.Intervals = ivs
	if body[0].is("VALUES") {
		if q.Emit != nil {
			return nil, Errorf(ParseError, q.Emit.Pos, "VALUES has no EMIT clause")
		}
		return ps.valuesQuery(q, body)
	}

	// Window table functions and UNNEST in FROM.
	var unnests []unnestAt
	inFrom := []bool{false}
	for i := 0; i < len(body); i++ {
		t := body[i]
		top := len(inFrom) - 1
		if inFrom[top] && i > 0 && t.is("FOR") {
			r, end, ok, err := ps.systemTime(q, body, i)
			if err != nil {
				return nil, err
			}
			if ok {
				repls = append(repls, r)
				i = end
				continue
			}
		}
		if inFrom[top] && i > 0 && (body[i-1].is("FROM") || body[i-1].is("JOIN") || body[i-1].isPunct(",")) &&
			t.is("UNNEST") && i+1 < len(body) && body[i+1].isPunct("(") {
			u, err := ps.unnestItem(q, body, i, len(unnests))
			if err != nil {
				return nil, err
			}
			unnests = append(unnests, u)
			i = u.end
			continue
		}
		if inFrom[top] && i > 0 && (body[i-1].is("FROM") || body[i-1].is("JOIN") || body[i-1].isPunct(",")) {
			r, end, ok, err := ps.fromItem(q, body, i)
			if err != nil {
				return nil, err
			}
			if ok {
				repls = append(repls, r)
				i = end
				continue
			}
		}
		if t.kind == tkIdent && inFrom[top] && i > 0 && i+1 < len(body) && body[i+1].isPunct("(") {
			prev := body[i-1]
			if prev.is("FROM") || prev.is("JOIN") || prev.isPunct(",") {
				w, end, ok, err := ps.windowTVF(body, i)
				if err != nil {
					return nil, err
				}
				if ok {
					name := fmt.Sprintf("__w%d", len(q.Windows))
					sp := span{t.off, body[end].end}
					if sp.end-sp.off < len(name) {
						return nil, Errorf(ParseError, w.Pos, "window table function call too short")
					}
					q.Windows[name] = w
					repls = append(repls, replacement{sp, name})
					i = end
					continue
				}
			}
		}
		switch {
		case t.isPunct("("):
			inFrom = append(inFrom, false)
		case t.isPunct(")"):
			if len(inFrom) > 1 {
				inFrom = inFrom[:len(inFrom)-1]
			}
		case t.is("FROM") || t.is("JOIN") || t.is("STRAIGHT_JOIN"):
			inFrom[top] = true
		case t.kind == tkIdent && clauseWords[strings.ToUpper(t.text)]:
			inFrom[top] = false
		}
	}

	for _, ir := range ivRepls {
		if !inReplacement(repls, ir.span) { // a VALUES list or table function took it already
			repls = append(repls, ir)
		}
	}
	repls = append(repls, byAll(q, body)...)
	lists, subs, err := ps.listLiterals(q, body, repls)
	if err != nil {
		return nil, err
	}
	repls = append(repls, lists...)

	// FULL [OUTER] JOIN reaches TiDB as LEFT [OUTER] JOIN.
	fulls, err := ps.fullJoins(body)
	if err != nil {
		return nil, err
	}
	for _, t := range fulls {
		repls = append(repls, replacement{span{t.off, t.end}, "LEFT"})
	}

	castRepls, casts, err := ps.castTypes(body)
	if err != nil {
		return nil, err
	}
	for _, cr := range castRepls {
		if !inReplacement(repls, cr.span) { // a VALUES list took it already
			repls = append(repls, cr)
		}
	}
	q.CastTypes = casts
	unitRepls, units := extractUnits(body)
	for _, ur := range unitRepls {
		if !inReplacement(repls, ur.span) {
			repls = append(repls, ur)
		}
	}
	q.ExtractUnits = units
	for _, ir := range intervalLiterals(body) {
		if !inReplacement(repls, ir.span) { // a table function's argument took it already
			repls = append(repls, ir)
		}
	}

	if repls, err = ps.subscripts(q, body, subs, repls); err != nil {
		return nil, err
	}
	if repls, err = ps.unnestItems(q, body, unnests, repls); err != nil {
		return nil, err
	}

	start, end := body[0].off, body[len(body)-1].end
	orders, renames, names := ps.aggOrders(body, q)
	repls = append(repls, renames...)
	q.AggNames = names
	if len(orders) > 0 {
		full := ps.tidbInput(start, end, repls)
		if q.AggOrders, err = ps.parseAggOrders(q, orders, full, start, end); err != nil {
			return nil, err
		}
		repls = append(repls, blankAggOrders(orders)...)
	}
	filters, err := ps.aggFilters(body)
	if err != nil {
		return nil, err
	}
	if len(filters) > 0 {
		full := ps.tidbInput(start, end, repls)
		if q.AggFilters, err = ps.parseFilters(filters, full, start, end); err != nil {
			return nil, err
		}
		repls = append(repls, blankFilters(filters)...)
	}
	input := ps.tidbInput(start, end, repls)
	stmts, err := ps.parseTiDB(input)
	if err != nil {
		return nil, ps.tidbError(err, input, start, end)
	}
	if len(stmts) != 1 {
		return nil, Errorf(ParseError, q.pos, "expected one query, found %d statements", len(stmts))
	}
	switch s := stmts[0].(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		q.Select = s.(ast.ResultSetNode)
	default:
		return nil, Errorf(ParseError, q.pos, "expected a query (SELECT …)")
	}
	if len(fulls) > 0 {
		fj, err := ps.markFullJoins(q.Select, input, start, fulls)
		if err != nil {
			return nil, &Error{Kind: ParseError, Pos: ps.pos(fulls[0].off), Msg: err.Error(), Err: err}
		}
		q.FullJoins = fj
	}
	return q, nil
}

// parseTiDB runs the TiDB parser, turning a panic inside it (a bug there,
// but bad input must never crash sluice) into an error.
func (ps *parseState) parseTiDB(input string) (stmts []ast.StmtNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			ps.tidb = nil // its state is unknown now
			stmts, err = nil, fmt.Errorf("TiDB parser failed: %v", r)
		}
	}()
	if ps.tidb == nil {
		ps.tidb = parser.New()
	}
	stmts, _, err = ps.tidb.ParseSQL(input)
	return stmts, err
}

// done drops ps's TiDB parser. Parsers are not pooled between scripts: a
// parser's symbol cache keeps nodes of trees it returned and writes their
// offsets again in a later parse, which raced with a binder reading an
// earlier script's tree on another goroutine (concurrent pgwire sessions).
func (ps *parseState) done() {
	ps.tidb = nil
}

// tidbInput is the query's text script[start:end] with the comments in
// it blanked and repls applied; the length is the text's, so offsets into
// it are offsets into the query's text.
func (ps *parseState) tidbInput(start, end int, repls []replacement) string {
	b := []byte(ps.script[start:end])
	blank := func(from, to int) {
		for k := max(from-start, 0); k < to-start && k < len(b); k++ {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
	}
	// Comments are in script order: start at the first one ending past start.
	for i := sort.Search(len(ps.comments), func(i int) bool { return ps.comments[i].end > start }); i < len(ps.comments) && ps.comments[i].off < end; i++ {
		blank(ps.comments[i].off, ps.comments[i].end)
	}
	for _, r := range repls {
		blank(r.off, r.end)
		copy(b[r.off-start:r.end-start], r.name)
	}
	return string(b)
}

// tidbError converts a TiDB parse error of input (the text of
// script[start:end]) into a ParseError at the offending token. TiDB
// reports `line L column C near "<rest of input>"`; the rest of the input
// tells the exact byte offset.
func (ps *parseState) tidbError(err error, input string, start, end int) error {
	msg := err.Error()
	k := strings.Index(msg, ` near "`)
	if k < 0 {
		return &Error{Kind: ParseError, Pos: ps.pos(start), Msg: "syntax error: " + msg, Err: err}
	}
	rem := msg[k+len(` near "`):]
	off := -1
	for o := 0; o <= len(input); o++ {
		v := input[o:]
		if len(v) > 2048 {
			v = v[:2048]
		}
		if strings.HasPrefix(rem, v) && len(rem) > len(v) && rem[len(v)] == '"' {
			off = o
			break
		}
	}
	if off < 0 || strings.TrimSpace(input[off:]) == "" {
		return &Error{Kind: ParseError, Pos: ps.pos(end), Msg: "syntax error at end of query", Err: err}
	}
	// Skip blanks (comments) to the token, then name it as the user wrote it.
	for off < len(input) && (input[off] == ' ' || input[off] == '\n' || input[off] == '\t' || input[off] == '\r') {
		off++
	}
	off += start
	return &Error{Kind: ParseError, Pos: ps.pos(off),
		Msg: fmt.Sprintf("syntax error at or near %q", firstToken(ps.script[off:end])), Err: err}
}

// firstToken returns the first token of s, for error messages.
func firstToken(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	if lr, err := lex(s); err == nil && len(lr.tokens) > 0 {
		return lr.tokens[0].text
	}
	if f := strings.Fields(s); len(f) > 0 {
		if len(f[0]) > 40 {
			return f[0][:40]
		}
		return f[0]
	}
	return s
}

// emit parses `EMIT EVERY <interval> [FULL] | EMIT CHANGES | EMIT FINAL`,
// which must end the statement.
func (ps *parseState) emit(toks []token) (*Emit, error) {
	c := &cursor{ps: ps, toks: toks}
	kw := c.next()
	e := &Emit{Pos: ps.pos(kw.off)}
	switch {
	case c.accept("EVERY"):
		e.Kind = EmitEvery
		it := c.peek()
		d, err := c.interval()
		if err != nil {
			return nil, err
		}
		if d <= 0 {
			return nil, c.errAt(it, "EMIT EVERY interval must be positive")
		}
		e.Interval = d
		e.Full = c.accept("FULL")
	case c.accept("CHANGES"):
		e.Kind = EmitChanges
	case c.accept("FINAL"):
		e.Kind = EmitFinal
	default:
		return nil, c.unexpected("EVERY, CHANGES or FINAL after EMIT")
	}
	if !c.eof() {
		t := c.peek()
		return nil, c.errAt(t, "unexpected %q after the EMIT clause (EMIT must end the statement)", t.text)
	}
	return e, nil
}
