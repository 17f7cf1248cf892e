package planner

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// chain joins n terms made by term with op.
func chain(n int, op string, term func(i int) string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = term(i)
	}
	return strings.Join(parts, " "+op+" ")
}

// exprDepth is the height of a bound expression tree.
func exprDepth(e Expr) int {
	c, ok := e.(*Call)
	if !ok {
		return 1
	}
	d := 0
	for _, a := range c.Args {
		d = max(d, exprDepth(a))
	}
	return d + 1
}

// TestLongLogicChains binds 50,000-term OR and AND chains: they plan, as
// balanced trees (so folding, EXPLAIN and the kernels recurse only
// log2(n) deep), and keep every term.
func TestLongLogicChains(t *testing.T) {
	cat := testCatalog(t)
	const n = 50000
	for _, op := range []string{"OR", "AND"} {
		t.Run(op, func(t *testing.T) {
			q := "SELECT id FROM orders WHERE " + chain(n, op, func(i int) string { return fmt.Sprintf("value <> %d", i) })
			qp, err := PlanQuery(parseQuery(t, q), cat)
			if err != nil {
				t.Fatal(err)
			}
			var pred Expr
			walkPlan(qp.Logical, func(p Plan) {
				if f, ok := p.(*Filter); ok {
					pred = f.Pred
				}
			})
			if pred == nil {
				t.Fatalf("no filter in\n%s", FormatPlan(qp.Logical))
			}
			if d := exprDepth(pred); d > 20 {
				t.Errorf("predicate is %d deep, want a balanced tree (≤ 20)", d)
			}
			terms := 0
			walkExpr(pred, func(e Expr) {
				if c, ok := e.(*Call); ok && c.Func == "ne" {
					terms++
				}
			})
			if terms != n {
				t.Errorf("%d terms planned, want %d", terms, n)
			}
		})
	}
}

// walkPlan calls f on p and its descendants.
func walkPlan(p Plan, f func(Plan)) {
	f(p)
	for _, c := range p.Children() {
		walkPlan(c, f)
	}
}

// TestLogicChainExplain checks that a balanced chain still reads as the
// flat chain that was written, and that parentheses the user wrote
// around a different operator stay.
func TestLogicChainExplain(t *testing.T) {
	cat := testCatalog(t)
	tests := []struct{ where, want string }{
		{"value = 1 OR value = 2 OR value = 3 OR value = 4 OR value = 5",
			"value = 1 OR value = 2 OR value = 3 OR value = 4 OR value = 5"},
		{"value = 1 AND (value = 2 OR value = 3) AND value = 4 AND value = 5",
			"value = 1 AND (value = 2 OR value = 3) AND value = 4 AND value = 5"},
		{"(value = 1 OR value = 2) AND category = 'a' OR id = 3",
			"(value = 1 OR value = 2) AND category = 'a' OR id = 3"},
	}
	for _, tt := range tests {
		logical, err := Bind(parseQuery(t, "SELECT id FROM orders WHERE "+tt.where), cat)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatPlan(logical); !strings.Contains(got, "Filter: "+tt.want+"\n") {
			t.Errorf("WHERE %s:\n%s\nwant Filter: %s", tt.where, got, tt.want)
		}
	}
}

// TestLogicChainTermErrors reports a non-boolean term of a chain at the
// term itself.
func TestLogicChainTermErrors(t *testing.T) {
	cat := testCatalog(t)
	q := "SELECT id FROM orders WHERE value = 1 OR value = 2 OR category OR value = 4"
	_, err := Bind(parseQuery(t, q), cat)
	var se *sql.Error
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want a *sql.Error", err)
	}
	if want := strings.Index(q, "category OR") + 1; se.Pos.Line != 1 || se.Pos.Col != want || !strings.Contains(se.Msg, "OR needs a BOOLEAN, got VARCHAR") {
		t.Errorf("got %s, want line 1:%d: OR needs a BOOLEAN, got VARCHAR", se.Error(), want)
	}
}

// TestDeepStatements plans hostile, deeply nested statements: each either
// plans or fails with a positioned error — never a stack overflow, which
// would kill the test binary. The ones beyond sql.MaxDepth must fail
// saying they nest too deeply.
func TestDeepStatements(t *testing.T) {
	rep := strings.Repeat
	nest := func(n int, open, inner, close string) string { return rep(open, n) + inner + rep(close, n) }
	tests := []struct {
		name, sql string
		tooDeep   bool // must fail for nesting beyond sql.MaxDepth
	}{
		{"10k parentheses", "SELECT " + nest(10000, "(", "1", ")"), true},
		{"100k parentheses", "SELECT " + nest(100000, "(", "1", ")"), true},
		{"900 parentheses", "SELECT " + nest(900, "(", "value", ")") + " FROM orders", false},
		{"50k-term sum", "SELECT " + chain(50000, "+", func(int) string { return "value" }) + " FROM orders", true},
		{"50k-term product of constants", "SELECT " + chain(50000, "*", func(int) string { return "1" }), true},
		{"500-term sum", "SELECT " + chain(500, "+", func(int) string { return "value" }) + " FROM orders", false},
		{"10k-term comparison chain", "SELECT " + chain(10000, "=", func(int) string { return "1" }), true},
		{"10k NOT", "SELECT " + rep("NOT ", 10000) + "true", true},
		{"10k unary minus", "SELECT " + rep("- ", 10000) + "1", true},
		{"10k IS NULL", "SELECT value" + rep(" IS NULL", 10000) + " FROM orders", true},
		{"10k nested CASE", "SELECT " + nest(10000, "CASE WHEN true THEN ", "1", " END"), true},
		{"5k nested function calls", "SELECT " + nest(5000, "abs(", "value", ")") + " FROM orders", true},
		{"2k joins", "SELECT 1 FROM orders" + rep(" JOIN orders", 2000), true},
		{"2k comma joins", "SELECT 1 FROM orders" + rep(", orders", 2000), true},
		{"10k nested subqueries", "SELECT * FROM " + nest(10000, "(SELECT * FROM ", "orders", ") x"), true},
		{"2k UNION ALL", rep("SELECT 1 UNION ALL ", 2000) + "SELECT 1", false},
		{"10k-term AND of ORs", "SELECT id FROM orders WHERE " + chain(5000, "AND", func(i int) string { return fmt.Sprintf("(value = %d OR id = %d)", i, i) }), false},
		{"50k-value IN", "SELECT id FROM orders WHERE value IN (" + chain(50000, ",", func(i int) string { return fmt.Sprint(i) }) + ")", false},
		{"OR chain deep inside parentheses", "SELECT id FROM orders WHERE " + nest(500, "(", chain(10000, "OR", func(i int) string { return fmt.Sprintf("id = %d", i) }), ")"), false},
		{"million-token statement", "SELECT 1" + rep(",1", sql.MaxTokens/2), true},
	}
	cat := testCatalog(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := sql.Parse(tt.sql)
			if err == nil {
				q, ok := stmts[0].(*sql.Query)
				if !ok {
					t.Fatalf("not a query: %T", stmts[0])
				}
				var qp *QueryPlan
				if qp, err = PlanQuery(q, cat); err == nil {
					_ = Explain(qp)
				}
			}
			if err != nil {
				checkError(t, tt.sql, "plan", err)
			}
			switch {
			case tt.tooDeep && err == nil:
				t.Fatalf("planned; want an error for nesting beyond %d levels", sql.MaxDepth)
			case tt.tooDeep && !strings.Contains(err.Error(), "too deeply") && !strings.Contains(err.Error(), "too long"):
				t.Fatalf("got %v, want a nesting error", err)
			case !tt.tooDeep && err != nil:
				t.Fatalf("got %v, want it to plan", err)
			}
		})
	}
}

// TestUnionSchemaKeptUpToDate checks the schema the binder carries along
// a chain of UNIONs against the one the plan computes, across type
// widening (which wraps the left side in a cast) and nullability.
func TestUnionSchemaKeptUpToDate(t *testing.T) {
	cat := testCatalog(t)
	b := &binder{q: parseQuery(t, "SELECT 1"), cat: cat, pos: map[Expr]int{}}
	var plans []Plan
	for _, q := range []string{
		"SELECT 1 AS a, 'x' AS b",
		"SELECT 2, 'y'",
		"SELECT NULL, NULL",
		"SELECT value, category FROM orders",
		"SELECT 2.5, 'z'",
		"SELECT score, label FROM items",
		"SELECT 3, 'w'",
	} {
		p, err := Bind(parseQuery(t, q), cat)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	acc, accSchema := plans[0], plans[0].Schema()
	for i, p := range plans[1:] {
		var err error
		if acc, accSchema, err = b.union(acc, accSchema, p, nil, nil); err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(accSchema.Fields), fmt.Sprint(acc.Schema().Fields); got != want {
			t.Fatalf("after %d unions the binder holds %s, the plan says %s", i+1, got, want)
		}
	}
}
