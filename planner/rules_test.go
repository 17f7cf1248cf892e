package planner

import (
	"reflect"
	"testing"
)

// findNode returns the first node (pre-order) for which ok holds.
func findNode(p Plan, ok func(Plan) bool) Plan {
	if ok(p) {
		return p
	}
	for _, c := range p.Children() {
		if f := findNode(c, ok); f != nil {
			return f
		}
	}
	return nil
}

func countNodes(p Plan, ok func(Plan) bool) int {
	n := 0
	if ok(p) {
		n++
	}
	for _, c := range p.Children() {
		n += countNodes(c, ok)
	}
	return n
}

func TestRulesFireAndSettle(t *testing.T) {
	cat := testCatalog(t)
	isScan := func(p Plan) bool { _, ok := p.(*Scan); return ok }
	tests := []struct {
		name  string
		rule  Rule
		query string
		check func(t *testing.T, p Plan)
	}{
		{"fold arithmetic", FoldConstants, "SELECT value FROM orders WHERE value > 1 + 2", func(t *testing.T, p Plan) {
			f := findNode(p, func(p Plan) bool { _, ok := p.(*Filter); return ok }).(*Filter)
			if got := f.Pred.String(); got != "value > 3" {
				t.Errorf("pred = %s, want value > 3", got)
			}
		}},
		{"fold true filter away", FoldConstants, "SELECT value FROM orders WHERE 1 = 1 AND true", func(t *testing.T, p Plan) {
			if n := countNodes(p, func(p Plan) bool { _, ok := p.(*Filter); return ok }); n != 0 {
				t.Errorf("%d filters left:\n%s", n, FormatPlan(p))
			}
		}},
		{"fold select without from", FoldConstants, "SELECT 1 + 1 AS two, upper('a')", func(t *testing.T, p Plan) {
			v, ok := p.(*Values)
			if !ok || len(v.Rows) != 1 || v.Rows[0][0].String() != "2" || v.Rows[0][1].String() != "'A'" {
				t.Errorf("plan = %s", FormatPlan(p))
			}
		}},
		{"push through project into scan", PushDownFilters, "SELECT * FROM (SELECT category, value FROM orders) s WHERE value > 1 AND category = 'a'", func(t *testing.T, p Plan) {
			s := findNode(p, isScan).(*Scan)
			want := []ScanFilter{{Column: 2, Op: "gt", Value: int64(1)}, {Column: 1, Op: "eq", Value: "a"}}
			if !reflect.DeepEqual(s.Filters, want) {
				t.Errorf("scan filters = %+v, want %+v", s.Filters, want)
			}
			f := findNode(p, func(p Plan) bool { _, ok := p.(*Filter); return ok }).(*Filter)
			if _, ok := f.Input.(*Scan); !ok || f.Pred.String() != "value > 1 AND category = 'a'" {
				t.Errorf("filter not directly over the scan:\n%s", FormatPlan(p))
			}
		}},
		{"push into join sides", PushDownFilters, "SELECT o.value FROM orders o JOIN customers c ON o.customer_id = c.id WHERE c.region = 'eu' AND o.value > 1 AND o.value > c.id", func(t *testing.T, p Plan) {
			j := findNode(p, func(p Plan) bool { _, ok := p.(*Join); return ok }).(*Join)
			if _, ok := j.Left.(*Filter); !ok {
				t.Errorf("left side not filtered:\n%s", FormatPlan(p))
			}
			if _, ok := j.Right.(*Filter); !ok {
				t.Errorf("right side not filtered:\n%s", FormatPlan(p))
			}
			if got := j.Cond.String(); got != "customer_id = id AND value > id" {
				t.Errorf("join cond = %s", got)
			}
		}},
		{"outer join keeps null-side filter above", PushDownFilters, "SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.value > 1 AND c.region = 'eu'", func(t *testing.T, p Plan) {
			j := findNode(p, func(p Plan) bool { _, ok := p.(*Join); return ok }).(*Join)
			if _, ok := j.Left.(*Filter); !ok {
				t.Errorf("preserved side not filtered:\n%s", FormatPlan(p))
			}
			if _, ok := j.Right.(*Filter); ok {
				t.Errorf("null-supplying side filtered:\n%s", FormatPlan(p))
			}
		}},
		{"merge projects", MergeProjects, "SELECT x + 1 AS y FROM (SELECT value AS x FROM orders) s", func(t *testing.T, p Plan) {
			if n := countNodes(p, func(p Plan) bool { _, ok := p.(*Project); return ok }); n != 1 {
				t.Errorf("%d projects:\n%s", n, FormatPlan(p))
			}
			if got := p.(*Project).Exprs[0].String(); got != "value + 1" {
				t.Errorf("expr = %s", got)
			}
		}},
		{"prune scan columns", PruneColumns, "SELECT category FROM orders WHERE value > 1", func(t *testing.T, p Plan) {
			s := findNode(p, isScan).(*Scan)
			if !reflect.DeepEqual(s.Columns, []int{1, 2}) {
				t.Errorf("columns = %v, want [1 2]", s.Columns)
			}
			f := findNode(p, func(p Plan) bool { _, ok := p.(*Filter); return ok }).(*Filter)
			if c := f.Pred.(*Call).Args[0].(*ColumnRef); c.Index != 1 {
				t.Errorf("value renumbered to %d, want 1", c.Index)
			}
		}},
		{"prune count star keeps one column", PruneColumns, "SELECT COUNT(*) FROM orders", func(t *testing.T, p Plan) {
			if s := findNode(p, isScan).(*Scan); len(s.Columns) != 1 {
				t.Errorf("columns = %v", s.Columns)
			}
		}},
		{"prune through join", PruneColumns, "SELECT c.name FROM orders o JOIN customers c ON o.customer_id = c.id", func(t *testing.T, p Plan) {
			j := findNode(p, func(p Plan) bool { _, ok := p.(*Join); return ok }).(*Join)
			if got := j.Left.(*Scan).Columns; !reflect.DeepEqual(got, []int{4}) {
				t.Errorf("left columns = %v", got)
			}
			if got := j.Right.(*Scan).Columns; !reflect.DeepEqual(got, []int{0, 1}) {
				t.Errorf("right columns = %v", got)
			}
			if got := j.Cond.String(); got != "customer_id = id" {
				t.Errorf("cond = %s", got)
			}
			if c := j.Cond.(*Call).Args[1].(*ColumnRef); c.Index != 1 {
				t.Errorf("right id index = %d, want 1", c.Index)
			}
		}},
		{"limit into sort", LimitIntoSort, "SELECT category FROM orders ORDER BY value DESC LIMIT 5 OFFSET 2", func(t *testing.T, p Plan) {
			tn, ok := findNode(p, func(p Plan) bool { _, ok := p.(*TopN); return ok }).(*TopN)
			if !ok || tn.Limit != 5 || tn.Offset != 2 || !tn.Keys[0].Desc || tn.Keys[0].NullsFirst {
				t.Errorf("plan:\n%s", FormatPlan(p))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Bind(parseQuery(t, tc.query), cat)
			if err != nil {
				t.Fatal(err)
			}
			if _, changed, err := tc.rule(p); err != nil || !changed {
				t.Fatalf("rule did not fire (err %v):\n%s", err, FormatPlan(p))
			}
			p, err = RunRules(p, []Rule{tc.rule})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
			again, changed, err := tc.rule(p)
			if err != nil || changed {
				t.Errorf("rule still changes the plan at its fixed point (err %v):\n%s", err, FormatPlan(again))
			}
		})
	}
}

// A NaN constant in a filter settles: reflect.DeepEqual finds a NaN scan
// hint unequal to itself, so a pushed NaN made PushDownFilters report a
// change on every pass ("did not reach a fixed point after 50 passes").
// NaN is never a hint (a row group's min/max leave NaN out), while the
// other conjuncts still are.
func TestOptimizeSettlesOnNaN(t *testing.T) {
	cat := testCatalog(t)
	for _, q := range []string{
		"SELECT n FROM items WHERE score = CAST('NaN' AS DOUBLE)",
		"SELECT n FROM items WHERE score > CAST('NaN' AS DOUBLE) AND n < 3",
		"SELECT n FROM items WHERE CAST('nan' AS DOUBLE) <= score OR score = CAST('NaN' AS FLOAT)",
		"SELECT n FROM (SELECT n, score FROM items WHERE n > 1) s WHERE score <> CAST('NaN' AS DOUBLE)",
	} {
		t.Run(q, func(t *testing.T) {
			p, err := Bind(parseQuery(t, q), cat)
			if err != nil {
				t.Fatal(err)
			}
			p, err = Optimize(p)
			if err != nil {
				t.Fatal(err)
			}
			s := findNode(p, func(p Plan) bool { _, ok := p.(*Scan); return ok }).(*Scan)
			for _, h := range s.Filters {
				if f, ok := h.Value.(float64); ok && f != f {
					t.Errorf("NaN pushed as a scan hint: %+v", s.Filters)
				}
			}
			for _, r := range DefaultRules {
				if again, changed, err := r(p); err != nil || changed {
					t.Errorf("a rule still changes the optimised plan (err %v):\n%s", err, FormatPlan(again))
				}
			}
		})
	}
}
