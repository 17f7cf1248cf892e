package planner

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/sluicesql/sluice/sql"
)

func TestFullJoinExplain(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT o.id, c.name FROM orders o FULL OUTER JOIN customers c ON o.customer_id = c.id WHERE o.value > 10 AND c.region = 'eu'")
	// Neither side of a full join is preserved, so the WHERE stays above it.
	want := `Physical plan:
  Project: id, name
    Filter: value > 10 AND region = 'eu'
      HashJoin: full keys=[customer_id] = [id] output=[id, value, name, region]
        Gather: morsels in order
          Scan: orders columns=[id, value, customer_id]
        Gather: morsels in order
          Scan: customers columns=[id, name, region]
`
	got := Explain(qp)
	if i := strings.Index(got, "Physical plan:"); i < 0 || got[i:] != want {
		t.Errorf("EXPLAIN:\n%s\nwant:\n%s", got, want)
	}
	for _, f := range qp.Output.Fields {
		if !f.Nullable {
			t.Errorf("column %s of a full join is not nullable", f.Name)
		}
	}
}

func TestFullJoinUsing(t *testing.T) {
	cat := testCatalog(t)
	tests := []struct {
		query string
		names []string
	}{
		{"SELECT * FROM orders FULL JOIN customers USING (id)",
			[]string{"id", "category", "value", "ts", "customer_id", "name", "region"}},
		{"SELECT * FROM orders NATURAL FULL OUTER JOIN customers",
			[]string{"id", "category", "value", "ts", "customer_id", "name", "region"}},
		{"SELECT name, id FROM customers c FULL JOIN orders o USING (id)", []string{"name", "id"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			qp := mustPlan(t, cat, tt.query)
			if got := qp.Output.Names(); !reflect.DeepEqual(got, tt.names) {
				t.Errorf("columns = %v, want %v", got, tt.names)
			}
			j := findPhys(qp.Physical, func(p PhysicalPlan) bool { _, ok := p.(*PhysHashJoin); return ok }).(*PhysHashJoin)
			if j.Type != FullJoin || len(j.LeftKeys) != 1 {
				t.Errorf("join = %s, want a full hash join on id", j)
			}
		})
	}

	// The unqualified USING column is COALESCE(left, right); qualified
	// names still reach each side.
	qp := mustPlan(t, cat, "SELECT id, orders.id, customers.id FROM orders FULL JOIN customers USING (id) WHERE id > 3")
	p, ok := qp.Physical.(*PhysProject)
	if !ok {
		t.Fatalf("root = %s, want a projection", qp.Physical)
	}
	ref := func(e Expr) int {
		if c, ok := e.(*ColumnRef); ok {
			return c.Index
		}
		return -1
	}
	co, ok := p.Exprs[0].(*Call)
	if !ok || co.Func != "coalesce" || len(co.Args) != 2 || ref(co.Args[0]) != 0 || ref(co.Args[1]) != 1 {
		t.Errorf("id = %s, want coalesce of the left (0) and right (1) id", p.Exprs[0])
	}
	if ref(p.Exprs[1]) != 0 || ref(p.Exprs[2]) != 1 {
		t.Errorf("orders.id, customers.id = %s, %s; want columns 0 and 1", p.Exprs[1], p.Exprs[2])
	}
	f, ok := p.Input.(*PhysFilter)
	if !ok {
		t.Fatalf("below the projection: %s, want the WHERE filter", p.Input)
	}
	if c, ok := f.Pred.(*Call); !ok || c.Func != "gt" {
		t.Errorf("filter = %s", f.Pred)
	} else if a, ok := c.Args[0].(*Call); !ok || a.Func != "coalesce" {
		t.Errorf("WHERE id reads %s, want the coalesced id", c.Args[0])
	}
}

func TestFullJoinWithoutCondition(t *testing.T) {
	// sql.Parse rejects it with a position; the binder checks again in
	// case an AST reaches it some other way.
	if _, err := sql.Parse("SELECT * FROM orders FULL JOIN customers"); err == nil {
		t.Fatal("parse accepted FULL JOIN without ON")
	}
	q := parseQuery(t, "SELECT * FROM orders FULL JOIN customers ON orders.id = customers.id")
	for j := range q.FullJoins {
		j.On = (*ast.OnCondition)(nil)
	}
	_, err := PlanQuery(q, testCatalog(t))
	var se *sql.Error
	if !errors.As(err, &se) || se.Kind != sql.BindError || se.Msg != "FULL JOIN needs an ON or USING condition" {
		t.Errorf("error = %v, want the FULL JOIN condition error", err)
	}
}
