package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// cte is one common table expression of a WITH clause in scope. A
// reference binds its query afresh (inlining it): the plan is a tree, so a
// CTE named twice is computed twice, and each use streams like any
// subquery in FROM.
type cte struct {
	name string
	def  *ast.CommonTableExpression
	// visible is how many entries of binder.ctes the CTE's own query
	// sees: the CTEs defined before it (chaining), never itself.
	visible int
}

// withCTEs puts the CTEs of w (may be nil) in scope and returns the
// function that takes them out again.
func (b *binder) withCTEs(w *ast.WithClause) (func(), error) {
	n := len(b.ctes)
	restore := func() { b.ctes = b.ctes[:n] }
	if w == nil {
		return restore, nil
	}
	if w.IsRecursive {
		return nil, b.errAt(b.wordOff("recursive"), "WITH RECURSIVE is not supported")
	}
	for _, c := range w.CTEs {
		for _, o := range b.ctes[n:] {
			if strings.EqualFold(o.name, c.Name.O) {
				b.ctes = b.ctes[:n]
				return nil, b.errAt(b.wordOff(c.Name.O), "WITH names %q twice", c.Name.O)
			}
		}
		b.ctes = append(b.ctes, cte{name: c.Name.O, def: c, visible: len(b.ctes)})
	}
	return restore, nil
}

// lookupCTE finds the innermost CTE in scope called name.
func (b *binder) lookupCTE(name string) *cte {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if strings.EqualFold(b.ctes[i].name, name) {
			return &b.ctes[i]
		}
	}
	return nil
}

// bindCTE binds a reference to c as a subquery in FROM named alias; the
// CTE's column list, if any, renames its columns.
func (b *binder) bindCTE(c *cte, alias string) (Plan, *scope, error) {
	saved := b.ctes
	b.ctes = b.ctes[:c.visible:c.visible]
	p, names, err := b.bindQuery(c.def.Query.Query)
	b.ctes = saved
	if err != nil {
		return nil, nil, err
	}
	sc := scopeFor(alias, p, names)
	if cols := c.def.ColNameList; len(cols) > 0 {
		if len(cols) != len(sc.cols) {
			return nil, nil, b.errAt(b.wordOff(c.name), "WITH %s names %d columns but its query has %d", c.name, len(cols), len(sc.cols))
		}
		for i, col := range cols {
			sc.cols[i].name = col.O
		}
	}
	return p, sc, nil
}
