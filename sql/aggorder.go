package sql

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// AggOrder is the ORDER BY of an ordered aggregate: written inside the
// call (`STRING_AGG(x, ',' ORDER BY y)`, `ARRAY_AGG(x ORDER BY y)`) or
// after it (`PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x)`,
// `LISTAGG(x, ',') WITHIN GROUP (ORDER BY y)`). The TiDB parser knows
// neither form (only GROUP_CONCAT's own ORDER BY, which it parses), so
// the main parse sees blanks there and the keys are parsed on their own,
// at their own offsets.
type AggOrder struct {
	By []*ast.ByItem
	// WithinGroup: the keys came in a WITHIN GROUP clause.
	WithinGroup bool
}

// aggOrderClause is one ORDER BY of an aggregate call found in the text.
type aggOrderClause struct {
	agg    token // the call's name
	clause span  // blanked for the main parse
	order  span  // "ORDER BY …" itself
	within bool
	over   bool // the clause is "OVER (…)" or "OVER w" (order is the clause)
}

// renamedAggs are aggregate names that are keywords of the TiDB parser,
// so that `first(x)` is a syntax error there: the main parse sees a
// same-length placeholder and Query.AggNames keeps the name.
var renamedAggs = map[string]bool{"FIRST": true, "LAST": true, "LIST": true}

// valueAggs are window functions of the TiDB parser that are also
// aggregates without OVER (DuckDB's FIRST_VALUE(x) = FIRST(x)): renamed
// as renamedAggs are when no OVER follows the call.
var valueAggs = map[string]bool{"FIRST_VALUE": true, "LAST_VALUE": true}

// overFollows reports whether the tokens from k on start an OVER clause,
// after the call's FILTER (WHERE …) if it has one.
func overFollows(body []token, k int) bool {
	if k+1 < len(body) && body[k].is("FILTER") && body[k+1].isPunct("(") {
		if end := matchParen(body, k+1); end > 0 {
			k = end + 1
		}
	}
	return k < len(body) && body[k].is("OVER")
}

// blankDistinct are the aggregates whose DISTINCT the TiDB parser does
// not read (it knows them as plain functions, or as aggregates without
// DISTINCT): the main parse sees a blank and Query.AggDistinct keeps it.
var blankDistinct = map[string]bool{
	"BIT_AND": true, "BIT_OR": true, "BIT_XOR": true, "STRING_AGG": true, "LISTAGG": true,
	"MEDIAN": true, "PERCENTILE_CONT": true, "PERCENTILE_DISC": true, "QUANTILE": true,
	"QUANTILE_CONT": true, "QUANTILE_DISC": true, "PERCENTILE_APPROX": true, "APPROX_QUANTILE": true,
	"ARRAY_AGG": true, "LIST": true, "FIRST": true, "LAST": true, "ARG_MIN": true, "ARG_MAX": true,
	"MIN_BY": true, "MAX_BY": true, "ARGMIN": true, "ARGMAX": true, "BOOL_AND": true, "BOOL_OR": true,
	"EVERY": true, "ANY_VALUE": true,
}

// tidbWindowAggs are the aggregates of blankDistinct that the TiDB parser
// reads with an OVER clause itself.
var tidbWindowAggs = map[string]bool{"BIT_AND": true, "BIT_OR": true, "BIT_XOR": true}

// notACall are words after which `name (` is a table and its columns.
var notACall = map[string]bool{"FROM": true, "JOIN": true, "INTO": true, "TABLE": true, "VIEW": true, "UPDATE": true}

// aggOrders finds the ORDER BY clauses inside the calls of the aggregates
// blankDistinct names, the WITHIN GROUP clauses after calls, and the
// calls renamedAggs names.
func (ps *parseState) aggOrders(body []token, q *Query) ([]aggOrderClause, []replacement, map[int]string) {
	var out []aggOrderClause
	var repls []replacement
	var names map[int]string
	start := body[0].off
	for i := 0; i+1 < len(body); i++ {
		t := body[i]
		if t.kind != tkIdent || !body[i+1].isPunct("(") || (i > 0 && (body[i-1].isPunct(".") || notACall[strings.ToUpper(body[i-1].text)])) {
			continue
		}
		closing := matchParen(body, i+1)
		if closing < 0 {
			continue // unbalanced: TiDB reports it
		}
		name := strings.ToUpper(t.text)
		if renamedAggs[name] || valueAggs[name] && !overFollows(body, closing+1) {
			repls = append(repls, replacement{span{t.off, t.end}, "__" + strings.Repeat("a", len(t.text)-2)})
			if names == nil {
				names = map[int]string{}
			}
			names[t.off-start] = strings.ToLower(name)
		}
		if blankDistinct[name] && i+2 < closing && body[i+2].is("DISTINCT") {
			repls = append(repls, replacement{span: span{body[i+2].off, body[i+2].end}})
			if q.AggDistinct == nil {
				q.AggDistinct = map[int]bool{}
			}
			q.AggDistinct[t.off-start] = true
		}
		if blankDistinct[name] { // an aggregate of the layer (not GROUP_CONCAT, whose ORDER BY TiDB reads; not a subquery)
			depth := 0
			for j := i + 2; j+1 < closing; j++ {
				switch {
				case body[j].isPunct("("):
					depth++
				case body[j].isPunct(")"):
					depth--
				case depth == 0 && body[j].is("ORDER") && body[j+1].is("BY"):
					sp := span{body[j].off, body[closing-1].end}
					out = append(out, aggOrderClause{agg: t, clause: sp, order: sp})
					j = closing
				}
			}
		}
		// WITHIN GROUP (ORDER BY …) after the call.
		after := closing + 1
		if k := closing + 1; k+4 < len(body) && body[k].is("WITHIN") && body[k+1].is("GROUP") && body[k+2].isPunct("(") &&
			body[k+3].is("ORDER") && body[k+4].is("BY") {
			if end := matchParen(body, k+2); end > 0 {
				out = append(out, aggOrderClause{agg: t, clause: span{body[k].off, body[end].end},
					order: span{body[k+3].off, body[end-1].end}, within: true})
				after = end + 1
			}
		}
		// OVER after the call (and its FILTER), for the aggregates the
		// TiDB parser knows as plain functions.
		if !blankDistinct[name] && name != "APPROX_COUNT_DISTINCT" || tidbWindowAggs[name] {
			continue
		}
		if k := after; k+1 < len(body) && body[k].is("FILTER") && body[k+1].isPunct("(") {
			if end := matchParen(body, k+1); end > 0 {
				after = end + 1
			}
		}
		if k := after; k+1 < len(body) && body[k].is("OVER") {
			end := k + 1
			if body[k+1].isPunct("(") {
				end = matchParen(body, k+1)
			}
			if end > 0 {
				sp := span{body[k].off, body[end].end}
				out = append(out, aggOrderClause{agg: t, clause: sp, order: sp, over: true})
			}
		}
	}
	return out, repls, names
}

// parseAggOrders parses each clause's keys as `SELECT 1 … ORDER BY keys`
// padded to the clause's own offset, so the keys carry offsets into the
// query's text; full is the text the main parse saw before the clauses
// were blanked. The result is keyed by the offset of the call's name.
// OVER clauses go to q.AggOvers.
func (ps *parseState) parseAggOrders(q *Query, clauses []aggOrderClause, full string, start, end int) (map[int]*AggOrder, error) {
	if len(clauses) == 0 {
		return nil, nil
	}
	out := map[int]*AggOrder{}
	for _, c := range clauses {
		cs, ce := c.order.off-start, c.order.end-start
		if c.over {
			spec, err := ps.parseAggOver(c, full, start, end)
			if err != nil {
				return nil, err
			}
			if q.AggOvers == nil {
				q.AggOvers = map[int]*ast.WindowSpec{}
			}
			q.AggOvers[c.agg.off-start] = spec
			continue
		}
		const head = "SELECT 1 "
		if cs < len(head) {
			return nil, Errorf(ParseError, ps.pos(c.agg.off), "ORDER BY of an aggregate outside a SELECT")
		}
		b := []byte(full[:ce])
		for k := range b[:cs] {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
		copy(b, head)
		input := string(b)
		stmts, err := ps.parseTiDB(input)
		if err != nil {
			return nil, ps.tidbError(err, input, start, end)
		}
		sel, ok := stmts[0].(*ast.SelectStmt)
		if len(stmts) != 1 || !ok || sel.OrderBy == nil || sel.From != nil || sel.Limit != nil {
			return nil, Errorf(ParseError, ps.pos(c.order.off), "an aggregate's ORDER BY takes a list of keys")
		}
		key := c.agg.off - start
		if prev, dup := out[key]; dup {
			if prev.WithinGroup == c.within {
				return nil, Errorf(ParseError, ps.pos(c.order.off), "an aggregate takes one ORDER BY")
			}
			return nil, Errorf(ParseError, ps.pos(c.order.off), "an aggregate takes ORDER BY inside the call or WITHIN GROUP, not both")
		}
		out[key] = &AggOrder{By: sel.OrderBy.Items, WithinGroup: c.within}
	}
	return out, nil
}

// parseAggOver parses an OVER clause after an aggregate call as the
// window of `SELECT count(*) OVER …` padded to the clause's own offset,
// so its expressions carry offsets into the query's text.
func (ps *parseState) parseAggOver(c aggOrderClause, full string, start, end int) (*ast.WindowSpec, error) {
	cs, ce := c.order.off-start, c.order.end-start
	const head = "SELECT count(*) "
	if cs < len(head) {
		return nil, Errorf(ParseError, ps.pos(c.agg.off), "OVER of an aggregate outside a SELECT")
	}
	b := []byte(full[:ce])
	for k := range b[:cs] {
		if b[k] != '\n' {
			b[k] = ' '
		}
	}
	copy(b, head)
	input := string(b)
	stmts, err := ps.parseTiDB(input)
	if err != nil {
		return nil, ps.tidbError(err, input, start, end)
	}
	if sel, ok := stmts[0].(*ast.SelectStmt); ok && len(stmts) == 1 && sel.From == nil && len(sel.Fields.Fields) == 1 {
		if w, ok := sel.Fields.Fields[0].Expr.(*ast.WindowFuncExpr); ok {
			return &w.Spec, nil
		}
	}
	return nil, Errorf(ParseError, ps.pos(c.order.off), "malformed OVER clause")
}

// blankAggOrders returns the replacements that hide the clauses.
func blankAggOrders(clauses []aggOrderClause) []replacement {
	out := make([]replacement, len(clauses))
	for i, c := range clauses {
		out[i] = replacement{span: c.clause}
	}
	return out
}
