package sql

import (
	"github.com/pingcap/tidb/pkg/parser/ast"
)

// aggFilter is one `agg(…) FILTER (WHERE cond)` of a query.
type aggFilter struct {
	agg    token // the aggregate's name
	clause span  // FILTER … ) — blanked for the main parse
	cond   span  // the condition's text
}

// aggFilters finds the FILTER (WHERE …) clauses after aggregate calls. The
// TiDB parser has no FILTER clause: the main parse sees blanks there and
// each condition is parsed on its own (parseFilters), at its own offsets.
func (ps *parseState) aggFilters(body []token) ([]aggFilter, error) {
	var out []aggFilter
	for i := 1; i+3 < len(body); i++ {
		t := body[i]
		if !t.is("FILTER") || !body[i-1].isPunct(")") || !body[i+1].isPunct("(") || !body[i+2].is("WHERE") {
			continue
		}
		// The call's name: the word before the "(" matching body[i-1].
		depth, open := 0, -1
		for j := i - 1; j >= 0; j-- {
			if body[j].isPunct(")") {
				depth++
			} else if body[j].isPunct("(") {
				if depth--; depth == 0 {
					open = j
					break
				}
			}
		}
		if open >= 3 && body[open-1].is("GROUP") && body[open-2].is("WITHIN") && body[open-3].isPunct(")") {
			// agg(…) WITHIN GROUP (ORDER BY …) FILTER (…): the call is
			// before the WITHIN GROUP clause.
			open = matchOpen(body, open-3)
		}
		if open < 1 || body[open-1].kind != tkIdent {
			continue
		}
		depth, closing := 0, -1
		for j := i + 1; j < len(body); j++ {
			if body[j].isPunct("(") {
				depth++
			} else if body[j].isPunct(")") {
				if depth--; depth == 0 {
					closing = j
					break
				}
			}
		}
		if closing < 0 {
			continue // unbalanced: TiDB reports it
		}
		if closing == i+3 {
			return nil, Errorf(ParseError, ps.pos(body[closing].off), "FILTER (WHERE …) needs a condition")
		}
		out = append(out, aggFilter{
			agg:    body[open-1],
			clause: span{t.off, body[closing].end},
			cond:   span{body[i+3].off, body[closing-1].end},
		})
		i = closing
	}
	return out, nil
}

// parseFilters parses each filter's condition as `SELECT cond` padded to
// the condition's own offset in the query's text, so its nodes carry
// offsets into that text just as the main parse's do. full is the text
// the main parse saw, before the filters were blanked (other
// replacements applied). The result is keyed by the offset of the
// aggregate's name in the query's text (its OriginTextPosition).
func (ps *parseState) parseFilters(filters []aggFilter, full string, start, end int) (map[int]ast.ExprNode, error) {
	if len(filters) == 0 {
		return nil, nil
	}
	out := map[int]ast.ExprNode{}
	for _, f := range filters {
		cs, ce := f.cond.off-start, f.cond.end-start
		if cs < len("SELECT ") {
			return nil, Errorf(ParseError, ps.pos(f.agg.off), "FILTER outside a SELECT")
		}
		e, err := ps.parseExprAt(full, cs, ce, start, end)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, Errorf(ParseError, ps.pos(f.cond.off), "FILTER (WHERE …) takes one condition")
		}
		out[f.agg.off-start] = e
	}
	return out, nil
}

// blankFilters returns the replacements that hide the FILTER clauses
// from the main parse.
func blankFilters(filters []aggFilter) []replacement {
	out := make([]replacement, len(filters))
	for i, f := range filters {
		out[i] = replacement{span: f.clause}
	}
	return out
}

// matchOpen returns the index of the "(" that the ")" at closing closes,
// or −1.
func matchOpen(body []token, closing int) int {
	depth := 0
	for j := closing; j >= 0; j-- {
		if body[j].isPunct(")") {
			depth++
		} else if body[j].isPunct("(") {
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return -1
}
