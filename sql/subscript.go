package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Subscript is DuckDB's element access l[i] or slice l[a:b] written
// after the operand whose offset keys it in Query.Subscripts. The TiDB
// parser lacks both: the main parse sees the operand alone (the brackets
// blanked), and the bounds are parsed on their own with offsets into the
// query's text, as FILTER conditions are.
type Subscript struct {
	// Index is i of l[i]; nil in a slice.
	Index ast.ExprNode
	// Slice is set for l[a:b]; Begin and End are a and b, nil where
	// omitted (l[:b], l[a:]).
	Slice      bool
	Begin, End ast.ExprNode
	// Pos is where the [ is written.
	Pos Pos
	// Then is the subscript written right after this one, applied to its
	// result (l[1:2][1]); nil when none.
	Then *Subscript
}

// subscriptAt is a subscript found by listLiterals: body[open] is the [,
// body[close] the ], and operand the offset (in the script) where the
// operand it applies to starts.
type subscriptAt struct {
	open, close int
	operand     int
}

// notOperand are the words after which a [ opens a list literal, not a
// subscript of what precedes it.
var notOperand = map[string]bool{
	"SELECT": true, "IN": true, "AND": true, "OR": true, "WHEN": true, "THEN": true, "ELSE": true,
	"NOT": true, "BY": true, "WHERE": true, "ON": true, "HAVING": true, "AS": true, "IS": true,
	"LIKE": true, "BETWEEN": true, "CASE": true, "DISTINCT": true, "ALL": true, "ANY": true,
	"SOME": true, "RETURN": true, "VALUES": true, "XOR": true, "DIV": true, "MOD": true,
}

// subscriptAfter reports whether a [ right after p subscripts p's
// expression: after a name, a string, a ) or a ].
func subscriptAfter(p token) bool {
	switch {
	case p.kind == tkQIdent || p.kind == tkString || p.isPunct(")") || p.isPunct("]"):
		return true
	case p.kind == tkIdent:
		return !notOperand[strings.ToUpper(p.text)]
	}
	return false
}

// subscriptOperand finds where the operand of the subscript body[open:close+1]
// starts: a (qualified) name, a function call or a parenthesised
// expression before it, or a list literal. A subscript of a subscript
// (l[1:2][1]) has the operand of the first (subscripts chains them).
func (ps *parseState) subscriptOperand(body []token, open, close int, done []subscriptAt) (subscriptAt, error) {
	s := subscriptAt{open: open, close: close}
	j := open - 1
	switch p := body[j]; {
	case p.isPunct("]"):
		for _, d := range done {
			if d.close == j {
				s.operand = d.operand
				return s, nil
			}
		}
		depth := 0
		for ; j >= 0; j-- {
			if body[j].isPunct("]") {
				depth++
			} else if body[j].isPunct("[") {
				if depth--; depth == 0 {
					break
				}
			}
		}
	case p.isPunct(")"):
		j = matchOpen(body, j)
		if j > 0 && (body[j-1].kind == tkIdent || body[j-1].kind == tkQIdent) && !notOperand[strings.ToUpper(body[j-1].text)] {
			j-- // a function call f(x)
		}
	}
	for j >= 2 && body[j-1].isPunct(".") && (body[j-2].kind == tkIdent || body[j-2].kind == tkQIdent) {
		j -= 2 // t.l, db.t.l
	}
	if j < 0 {
		return s, Errorf(ParseError, ps.pos(body[open].off), "a subscript needs a list before it")
	}
	s.operand = body[j].off
	return s, nil
}

// subscripts parses the bounds of subs into q.Subscripts and returns the
// replacements of the main parse: repls less those inside a subscript's
// brackets, and each subscript's brackets blanked. A bound is parsed from
// the query's text with repls applied and the subscripts inside it
// blanked.
func (ps *parseState) subscripts(q *Query, body []token, subs []subscriptAt, repls []replacement) ([]replacement, error) {
	if len(subs) == 0 {
		return repls, nil
	}
	start, end := body[0].off, body[len(body)-1].end
	spanOf := func(s subscriptAt) span { return span{body[s.open].off, body[s.close].end} }
	q.Subscripts = map[int]*Subscript{}
	for _, s := range subs {
		sp := spanOf(s)
		inner := append([]replacement(nil), repls...)
		for _, o := range subs {
			if osp := spanOf(o); osp.off > sp.off && osp.end <= sp.end {
				inner = append(inner, replacement{span: osp})
			}
		}
		full := ps.tidbInput(start, end, inner)
		sub := &Subscript{Pos: ps.pos(body[s.open].off)}
		// The bounds: split at a ':' outside parentheses and brackets.
		parts, from, depth := [][2]int{}, s.open+1, 0
		for k := s.open + 1; k < s.close; k++ {
			switch t := body[k]; {
			case t.isPunct("(") || t.isPunct("["):
				depth++
			case t.isPunct(")") || t.isPunct("]"):
				depth--
			case t.isPunct(":") && depth == 0:
				parts = append(parts, [2]int{from, k})
				from = k + 1
			}
		}
		parts = append(parts, [2]int{from, s.close})
		if len(parts) > 2 {
			return nil, Errorf(ParseError, ps.pos(body[parts[2][0]-1].off), "a slice l[a:b] takes two bounds (a step is not supported)")
		}
		bounds := make([]ast.ExprNode, len(parts))
		for k, p := range parts {
			if p[0] == p[1] {
				if len(parts) == 1 {
					return nil, Errorf(ParseError, sub.Pos, "a subscript l[i] needs an index")
				}
				continue
			}
			e, err := ps.parseBound(full, body[p[0]].off-start, body[p[1]-1].end-start, start, end)
			if err != nil {
				return nil, err
			}
			bounds[k] = e
		}
		if len(parts) == 1 {
			sub.Index = bounds[0]
		} else {
			sub.Slice, sub.Begin, sub.End = true, bounds[0], bounds[1]
		}
		prev := q.Subscripts[s.operand-start]
		if prev == nil {
			q.Subscripts[s.operand-start] = sub
			continue
		}
		for prev.Then != nil { // l[1:2][1]: subs come in the text's order
			prev = prev.Then
		}
		prev.Then = sub
	}
	var blanks []replacement
	for _, s := range subs {
		blanks = append(blanks, replacement{span: spanOf(s)})
	}
	return replaceSpans(repls, blanks), nil
}

// replaceSpans is repls less those inside one of with's spans, then with.
func replaceSpans(repls, with []replacement) []replacement {
	var out []replacement
	for _, r := range repls {
		if !inReplacement(with, r.span) {
			out = append(out, r)
		}
	}
	return append(out, with...)
}

// parseBound parses the bound at full[from:to] (see parseExprAt).
func (ps *parseState) parseBound(full string, from, to, start, end int) (ast.ExprNode, error) {
	if from < len("SELECT ") {
		return nil, Errorf(ParseError, ps.pos(start+from), "a subscript outside a query")
	}
	e, err := ps.parseExprAt(full, from, to, start, end)
	if err == nil && e == nil {
		err = Errorf(ParseError, ps.pos(start+from), "a subscript takes one expression")
	}
	return e, err
}

// parseExprAt parses the expression at full[from:to] on its own (full is
// the query's text as the TiDB parser sees it, starting at start in the
// script; from ≥ len("SELECT ")): the text before it blanked, SELECT put
// in front, so the AST's offsets are offsets into the query's text. It
// returns nil, nil when the text is not one expression.
func (ps *parseState) parseExprAt(full string, from, to, start, end int) (ast.ExprNode, error) {
	b := []byte(full[:to])
	for k := range b[:from] {
		if b[k] != '\n' {
			b[k] = ' '
		}
	}
	copy(b, "SELECT")
	input := string(b)
	stmts, err := ps.parseTiDB(input)
	if err != nil {
		return nil, ps.tidbError(err, input, start, end)
	}
	sel, ok := stmts[0].(*ast.SelectStmt)
	if len(stmts) != 1 || !ok || sel.Fields == nil || len(sel.Fields.Fields) != 1 || sel.From != nil || sel.Fields.Fields[0].Expr == nil {
		return nil, nil
	}
	return sel.Fields.Fields[0].Expr, nil
}

// UnnestItem is `UNNEST(expr) [AS] alias [(column)]` in FROM, DuckDB's
// and Flink's (`CROSS JOIN UNNEST(t.l) AS u(x)`): the TiDB parser reads no
// table functions, so the item reaches it as a placeholder table name,
// a key of Query.Unnests, and the expression is parsed on its own with
// offsets into the query's text.
type UnnestItem struct {
	Expr ast.ExprNode
	// Alias and Column name the relation and its one column ("": DuckDB's
	// default, unnest).
	Alias, Column string
	Pos           Pos
}

// unnestAt is an UNNEST item found in FROM: body[kw] is UNNEST,
// body[open] and body[close] the parentheses of its argument, body[end]
// the item's last token, name its placeholder.
type unnestAt struct {
	kw, open, close, end int
	name                 string
	item                 *UnnestItem
}

// unnestItem reads `UNNEST(…) [AS] alias [(column)]` at body[i].
func (ps *parseState) unnestItem(q *Query, body []token, i int, n int) (unnestAt, error) {
	c := &cursor{ps: ps, toks: body}
	u := unnestAt{kw: i, open: i + 1, name: fmt.Sprintf("_u%d", n)}
	u.item = &UnnestItem{Pos: ps.pos(body[i].off)}
	if u.close = matchParen(body, i+1); u.close < 0 {
		return u, c.errAt(body[i+1], "unclosed ( in UNNEST")
	}
	if u.close == i+2 {
		return u, c.errAt(body[u.close], "UNNEST needs a list")
	}
	u.end = u.close
	j := u.close + 1
	if j < len(body) && body[j].is("AS") {
		j++
	}
	if j < len(body) && (body[j].kind == tkIdent || body[j].kind == tkQIdent) && !clauseWords[strings.ToUpper(body[j].text)] && !notAfterEmit[strings.ToUpper(body[j].text)] && !body[j].is("CROSS") {
		u.item.Alias, u.end = body[j].val, j
		if j+1 < len(body) && body[j+1].isPunct("(") {
			cl := matchParen(body, j+1)
			if cl < 0 {
				return u, c.errAt(body[j+1], "unclosed ( in the column list of %s", u.item.Alias)
			}
			cc := &cursor{ps: ps, toks: body[j+2 : cl]}
			name, _, err := cc.ident("a column name")
			if err != nil {
				return u, err
			}
			if !cc.eof() {
				return u, cc.errAt(cc.peek(), "UNNEST of one list names one column")
			}
			u.item.Column, u.end = name, cl
		}
	} else if j > u.close+1 {
		return u, c.errAt(body[j-1], "expected a name after AS")
	}
	if sp := (span{body[i].off, body[u.end].end}); sp.end-sp.off < len(u.name) {
		return u, c.errAt(body[i], "UNNEST item too short")
	}
	return u, nil
}

// unnestItems parses the arguments of the UNNEST items in FROM into
// q.Unnests (from the query's text with repls applied) and returns the
// main parse's replacements: repls less those inside an item, and each
// item replaced by its placeholder.
func (ps *parseState) unnestItems(q *Query, body []token, items []unnestAt, repls []replacement) ([]replacement, error) {
	if len(items) == 0 {
		return repls, nil
	}
	start, end := body[0].off, body[len(body)-1].end
	full := ps.tidbInput(start, end, repls)
	q.Unnests = map[string]*UnnestItem{}
	var with []replacement
	for _, u := range items {
		from, to := body[u.open+1].off-start, body[u.close-1].end-start
		e, err := ps.parseExprAt(full, from, to, start, end)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, Errorf(ParseError, ps.pos(body[u.open+1].off), "UNNEST takes one list")
		}
		u.item.Expr = e
		q.Unnests[u.name] = u.item
		with = append(with, replacement{span{body[u.kw].off, body[u.end].end}, u.name})
	}
	return replaceSpans(repls, with), nil
}
