package sql

import "github.com/pingcap/tidb/pkg/parser/ast"

// OrderKey is one ORDER BY item of a query's outermost SELECT, in the
// terms a client that shows the result needs: the output column it names
// (by name, or by 1-based Position when written as a number) and whether
// it sorts descending. NULLs sort first ascending and last descending.
type OrderKey struct {
	Name     string // the column's name as written; "" for a position
	Position int    // 1-based select-list position; 0 for a name
	Desc     bool
}

// OrderKeys lists the outermost ORDER BY of q, so a live view can keep an
// updating result (a top-N's changelog) in the query's order. ok is false
// when there is none or an item is an expression other than a column name
// or a position, which only the planner can evaluate.
func (q *Query) OrderKeys() (keys []OrderKey, ok bool) {
	var ob *ast.OrderByClause
	switch s := q.Select.(type) {
	case *ast.SelectStmt:
		ob = s.OrderBy
	case *ast.SetOprStmt:
		ob = s.OrderBy
	}
	if ob == nil || len(ob.Items) == 0 || q.ByAll {
		return nil, false
	}
	for _, it := range ob.Items {
		switch e := it.Expr.(type) {
		case *ast.ColumnNameExpr:
			keys = append(keys, OrderKey{Name: e.Name.Name.O, Desc: it.Desc})
		case *ast.PositionExpr:
			if e.P != nil {
				return nil, false
			}
			keys = append(keys, OrderKey{Position: e.N, Desc: it.Desc})
		default:
			return nil, false
		}
	}
	return keys, true
}
