package sql

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// fullJoins finds `FULL [OUTER] JOIN` in body and returns the FULL
// keywords, to be handed to the TiDB parser as LEFT (same length). A FULL
// join must have an ON or USING condition (or be NATURAL), which is
// checked here so the error points at the FULL keyword.
//
// FULL directly before [OUTER] JOIN after a table reference is the join
// keyword (as in standard SQL), never an alias; where a table name is
// expected (after FROM, JOIN, a comma or AS) it is a name.
func (ps *parseState) fullJoins(body []token) ([]token, error) {
	var out []token
	for i, t := range body {
		if !t.is("FULL") || i == 0 {
			continue
		}
		if p := body[i-1]; p.is("FROM") || p.is("JOIN") || p.is("STRAIGHT_JOIN") || p.is("AS") || p.isPunct(",") || p.isPunct("(") {
			continue // a source or alias named full
		}
		j := i + 1
		if j < len(body) && body[j].is("OUTER") {
			j++
		}
		if j >= len(body) || !body[j].is("JOIN") {
			continue
		}
		natural := i > 0 && body[i-1].is("NATURAL")
		if !natural && !hasJoinCondition(body, j+1) {
			c := &cursor{ps: ps, toks: body}
			return nil, c.errAt(t, "FULL JOIN needs an ON or USING condition")
		}
		out = append(out, t)
	}
	return out, nil
}

// hasJoinCondition reports whether an ON or USING follows at the depth of
// body[from] before the FROM clause (or the enclosing parenthesis) ends.
func hasJoinCondition(body []token, from int) bool {
	depth := 0
	for _, t := range body[from:] {
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			if depth == 0 {
				return false
			}
			depth--
		case depth > 0:
		case t.is("ON") || t.is("USING"):
			return true
		case t.isPunct(",") || (t.kind == tkIdent && clauseWords[strings.ToUpper(t.text)]):
			return false
		}
	}
	return false
}

// markFullJoins identifies which joins of sel (parsed from input, where
// every FULL keyword at fulls was replaced by LEFT) were written FULL. It
// parses the query a second time with those keywords as RIGHT: the two
// ASTs have the same shape, and the joins that are LEFT in the first and
// RIGHT in the second are exactly the FULL ones. This needs no positions,
// which the TiDB AST does not keep for joins.
func (ps *parseState) markFullJoins(sel ast.Node, input string, start int, fulls []token) (map[*ast.Join]bool, error) {
	offs := make([]int, len(fulls))
	for i, t := range fulls {
		offs[i] = t.off - start // input is the query's text from start
	}
	sort.Sort(sort.Reverse(sort.IntSlice(offs)))
	alt := input
	for _, o := range offs {
		alt = alt[:o] + "RIGHT" + alt[o+len("LEFT"):]
	}
	stmts, err := ps.parseTiDB(alt)
	if err != nil || len(stmts) != 1 {
		return nil, fmt.Errorf("sql: re-parsing the FULL JOIN query failed: %v", err)
	}
	first, second := collectJoins(sel), collectJoins(stmts[0])
	if len(first) != len(second) {
		return nil, fmt.Errorf("sql: FULL JOIN query re-parsed to %d joins instead of %d", len(second), len(first))
	}
	out := map[*ast.Join]bool{}
	for i, j := range first {
		if j.Tp == ast.LeftJoin && second[i].Tp == ast.RightJoin {
			out[j] = true
		}
	}
	if len(out) != len(fulls) {
		return nil, fmt.Errorf("sql: found %d FULL joins in the parsed query, expected %d", len(out), len(fulls))
	}
	return out, nil
}

// joinCollector lists the joins of an AST in visiting order.
type joinCollector struct{ joins []*ast.Join }

// Enter implements ast.Visitor.
func (c *joinCollector) Enter(n ast.Node) (ast.Node, bool) {
	if j, ok := n.(*ast.Join); ok && j.Right != nil {
		c.joins = append(c.joins, j)
	}
	return n, false
}

// Leave implements ast.Visitor.
func (c *joinCollector) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func collectJoins(n ast.Node) []*ast.Join {
	c := &joinCollector{}
	n.Accept(c)
	return c.joins
}
