package planner

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/sluicesql/sluice/sql"
)

// bindValuesList binds `(VALUES (…), …) [AS] alias(cols)`: each column
// takes the common type of its rows' values; columns are named col0,
// col1, … unless the alias names them (DuckDB's rule).
func (b *binder) bindValuesList(vl *sql.ValuesList, alias string) (Plan, *scope, error) {
	if alias == "" {
		alias = vl.Alias
	}
	if alias == "" {
		alias = "values"
	}
	width := len(vl.Rows[0])
	rows := make([][]Expr, len(vl.Rows))
	empty := exprCtx{sc: &scope{}, noAgg: "aggregate functions are not allowed in VALUES"}
	for i, r := range vl.Rows {
		if len(r) != width {
			return nil, nil, sql.Errorf(sql.BindError, posOf(b.q, offsetOf(r[0], 0)), "VALUES row %d has %d values, row 1 has %d", i+1, len(r), width)
		}
		rows[i] = make([]Expr, width)
		for j, n := range r {
			var e Expr
			var err error
			if vl.Defaults[[2]int{i, j}] {
				if b.insertDefault == nil {
					return nil, nil, sql.Errorf(sql.BindError, vl.DefaultPos, "DEFAULT is a value only in INSERT INTO table VALUES (…)")
				}
				e, err = b.insertDefault(j)
			} else {
				e, err = b.bindExpr(n, empty, offsetOf(n, 0))
			}
			if err != nil {
				return nil, nil, err
			}
			rows[i][j] = e
		}
	}
	names := make([]string, width)
	types := make([]arrow.DataType, width)
	for j := range names {
		names[j] = fmt.Sprintf("col%d", j)
		if j < len(vl.Columns) {
			names[j] = vl.Columns[j]
		}
		col := make([]Expr, len(rows))
		for i := range rows {
			col[i] = rows[i][j]
		}
		off := offsetOf(vl.Rows[0][j], 0)
		col, t, err := b.unify(col, off, fmt.Sprintf("VALUES column %d", j+1))
		if err != nil {
			return nil, nil, err
		}
		if isNull(t) {
			t = TypeVarchar // DuckDB's type for a column of NULLs is INTEGER; a string takes any later cast
			for i := range col {
				col[i] = castTo(col[i], t)
			}
		}
		types[j] = t
		for i := range rows {
			rows[i][j] = col[i]
		}
	}
	if len(vl.Columns) > width {
		return nil, nil, sql.Errorf(sql.BindError, vl.Pos, "%s names %d columns but VALUES has %d", alias, len(vl.Columns), width)
	}
	p := &Values{Rows: rows, Names: names, Types: types}
	return p, scopeFor(alias, p, names), nil
}

// bindFileTable binds a file read as a table ('orders.csv', read_csv(…)):
// the engine opened it as a source under the placeholder name before
// planning.
func (b *binder) bindFileTable(name string, ft *sql.FileTable, alias string) (Plan, *scope, error) {
	def, ok := b.cat.LookupSource(name)
	if !ok {
		return nil, nil, sql.Errorf(sql.BindError, ft.Pos, "reading the file %q as a table needs a session", ft.Paths[0])
	}
	if alias == "" {
		alias = ft.Name()
	}
	scan := newScan(def)
	return scan, scopeFor(alias, scan, nil), nil
}

// isByAll reports whether a GROUP BY or ORDER BY list is ALL (which the
// sql package hands over as the single column `$`).
func (b *binder) isByAll(items []*ast.ByItem) bool {
	if !b.q.ByAll || len(items) != 1 {
		return false
	}
	c, ok := items[0].Expr.(*ast.ColumnNameExpr)
	return ok && c.Name.Table.O == "" && c.Name.Name.O == "$"
}

// groupByAll is GROUP BY ALL's keys: every select item without an
// aggregate, in order (DuckDB's rule).
func groupByAll(items []selectItem) []Expr {
	var keys []Expr
	for _, it := range items {
		if hasAgg(it.expr) {
			continue
		}
		if _, ok := it.expr.(*Literal); ok {
			continue
		}
		dup := false
		for _, k := range keys {
			dup = dup || exprKey(k) == exprKey(it.expr)
		}
		if !dup {
			keys = append(keys, it.expr)
		}
	}
	return keys
}

// alwaysNull reports whether column i of p is NULL in every row because
// it comes, through projections of plain columns, from a VALUES column
// whose every row is a NULL literal.
func alwaysNull(p Plan, i int) bool {
	for {
		switch x := p.(type) {
		case *Project:
			c, ok := x.Exprs[i].(*ColumnRef)
			if !ok {
				return false
			}
			p, i = x.Input, c.Index
		case *Values:
			for _, r := range x.Rows {
				if l, ok := r[i].(*Literal); !ok || l.Value != nil {
					return false
				}
			}
			return true
		default:
			return false
		}
	}
}
