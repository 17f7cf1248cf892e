package planner

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestExplainJoinAggregate(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, `SELECT c.region, SUM(o.value) AS total
FROM orders o JOIN customers c ON o.customer_id = c.id
WHERE o.value > 10
GROUP BY c.region
ORDER BY total DESC
LIMIT 3`)
	want := `Logical plan:
  TopN: total DESC limit=3
    Project: region, sum(value) AS total
      Aggregate: keys=[region] aggs=[sum(value)]
        Join: inner on customer_id = id
          Filter: value > 10
            Scan: orders [value, customer_id] filters=[value gt 10]
          Scan: customers [id, region]
Physical plan:
  TopN: total DESC limit=3
    Project: region, sum(value) AS total
      HashAggregate(final): keys=[region] aggs=[sum(value)]
        Gather: morsels in order
          HashAggregate(partial): keys=[region] aggs=[sum(value)]
            HashJoin: inner keys=[customer_id] = [id] output=[value, region]
              Filter: value > 10
                Scan: orders columns=[value, customer_id] filters=[value gt 10]
              Gather: morsels in order
                Scan: customers columns=[id, region]
`
	if got := Explain(qp); got != want {
		t.Errorf("EXPLAIN:\n%s\nwant:\n%s", got, want)
	}
}

func findPhys(p PhysicalPlan, ok func(PhysicalPlan) bool) PhysicalPlan {
	if ok(p) {
		return p
	}
	for _, c := range p.Children() {
		if f := findPhys(c, ok); f != nil {
			return f
		}
	}
	return nil
}

func TestPhysicalScanPushdown(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT category FROM orders WHERE ts >= '2024-01-01' AND value IS NOT NULL AND 5 < value")
	s := findPhys(qp.Physical, func(p PhysicalPlan) bool { _, ok := p.(*PhysScan); return ok }).(*PhysScan)
	if !reflect.DeepEqual(s.Columns, []int{1, 2, 3}) {
		t.Errorf("columns = %v, want [1 2 3]", s.Columns)
	}
	jan1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	if len(s.Filters) != 3 {
		t.Fatalf("filters = %+v", s.Filters)
	}
	if f := s.Filters[0]; f != (ScanFilter{Column: 3, Op: "ge", Value: arrow.Timestamp(jan1)}) {
		t.Errorf("filter 0 = %+v", f)
	}
	if f := s.Filters[1]; f != (ScanFilter{Column: 2, Op: "is_not_null"}) {
		t.Errorf("filter 1 = %+v", f)
	}
	if f := s.Filters[2]; f != (ScanFilter{Column: 2, Op: "gt", Value: int64(5)}) {
		t.Errorf("filter 2 (flipped) = %+v", f)
	}
	// The filter above the scan still applies the whole predicate, over the
	// pruned columns.
	f := findPhys(qp.Physical, func(p PhysicalPlan) bool { _, ok := p.(*PhysFilter); return ok }).(*PhysFilter)
	if _, ok := f.Input.(*PhysScan); !ok {
		t.Errorf("filter input is %T", f.Input)
	}
	if c := f.Pred.(*Call).Args[1].(*Call).Args[1].(*ColumnRef); c.Index != 1 || c.Name != "value" {
		t.Errorf("value ref = %+v", c)
	}
}

func TestPhysicalTopNAndLimit(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT category, value FROM orders ORDER BY value DESC, category LIMIT 10 OFFSET 5")
	tn, ok := qp.Physical.(*PhysTopN)
	if !ok {
		t.Fatalf("root is %T:\n%s", qp.Physical, Explain(qp))
	}
	if tn.Limit != 10 || tn.Offset != 5 || len(tn.Keys) != 2 {
		t.Errorf("topn = %+v", tn)
	}
	if k := tn.Keys[0]; !k.Desc || k.NullsFirst || k.Expr.(*ColumnRef).Index != 1 {
		t.Errorf("key 0 = %+v", k)
	}
	if k := tn.Keys[1]; k.Desc || !k.NullsFirst || k.Expr.(*ColumnRef).Index != 0 {
		t.Errorf("key 1 = %+v", k)
	}
	qp = mustPlan(t, cat, "SELECT category FROM orders LIMIT 3")
	if l, ok := qp.Physical.(*PhysLimit); !ok || l.Limit != 3 || l.Offset != 0 {
		t.Errorf("plan:\n%s", Explain(qp))
	}
	// ORDER BY a column not selected: sorted below, dropped on top.
	qp = mustPlan(t, cat, "SELECT category FROM orders ORDER BY ts LIMIT 2")
	pr, ok := qp.Physical.(*PhysProject)
	if !ok || len(pr.Exprs) != 1 {
		t.Fatalf("plan:\n%s", Explain(qp))
	}
	if _, ok := pr.Input.(*PhysTopN); !ok {
		t.Errorf("plan:\n%s", Explain(qp))
	}
}

func TestPhysicalJoins(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT c.name, o.value FROM customers c LEFT JOIN orders o ON c.id = o.customer_id AND o.value > c.id")
	j := findPhys(qp.Physical, func(p PhysicalPlan) bool { _, ok := p.(*PhysHashJoin); return ok }).(*PhysHashJoin)
	if j.Type != LeftJoin || len(j.LeftKeys) != 1 || j.LeftKeys[0].String() != "id" || j.RightKeys[0].String() != "customer_id" {
		t.Errorf("join = %s", j)
	}
	if j.Residual == nil || j.Residual.String() != "value > id" {
		t.Errorf("residual = %v", j.Residual)
	}
	nl := j.Left.Schema().Len()
	if c := j.RightKeys[0].(*ColumnRef); c.Index >= j.Right.Schema().Len() {
		t.Errorf("right key index %d not within the right input", c.Index)
	}
	if c := j.Residual.(*Call).Args[0].(*ColumnRef); c.Index < nl {
		t.Errorf("residual right column index %d should be >= %d", c.Index, nl)
	}
	qp = mustPlan(t, cat, "SELECT c.name FROM customers c JOIN orders o ON o.value > c.id")
	j = findPhys(qp.Physical, func(p PhysicalPlan) bool { _, ok := p.(*PhysHashJoin); return ok }).(*PhysHashJoin)
	if len(j.LeftKeys) != 0 || j.Residual == nil {
		t.Errorf("non-equi join = %s", j)
	}
}

func TestPhysicalWindowUnionValues(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT window_start, COUNT(*) FROM SESSION(orders, ts, INTERVAL '30' SECOND) GROUP BY window_start")
	w := findPhys(qp.Physical, func(p PhysicalPlan) bool { _, ok := p.(*PhysWindow); return ok }).(*PhysWindow)
	if w.Kind != WindowSession || w.Gap != 30*time.Second {
		t.Errorf("window = %+v", w)
	}
	if f := w.Input.Schema().Fields[w.TimeCol]; f.Name != "ts" {
		t.Errorf("time column = %s", f.Name)
	}
	qp = mustPlan(t, cat, "SELECT id FROM orders UNION SELECT id FROM customers")
	agg, ok := qp.Physical.(*PhysHashAggregate)
	if !ok || len(agg.Aggs) != 0 || len(agg.Keys) != 1 {
		t.Fatalf("plan:\n%s", Explain(qp))
	}
	if u, ok := agg.Input.(*PhysUnionAll); !ok || len(u.Inputs) != 2 {
		t.Errorf("plan:\n%s", Explain(qp))
	}
	qp = mustPlan(t, cat, "SELECT 1 + 1 AS two")
	v, ok := qp.Physical.(*PhysValues)
	if !ok || len(v.Rows) != 1 || v.Rows[0][0].(*Literal).Value != int64(2) {
		t.Errorf("plan:\n%s", Explain(qp))
	}
	if qp.Output.Fields[0].Name != "two" {
		t.Errorf("output = %v", qp.Output.Names())
	}
}

// TestNarrowJoinThroughFilter: a filter the planner cannot push below a
// join (on the NULL-extended side of a LEFT JOIN) no longer stops the
// aggregate above from narrowing the join: the join outputs what the
// aggregate and the filter read, and the filter reads the narrowed row.
func TestNarrowJoinThroughFilter(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, `SELECT o.customer_id, SUM(o.value)
FROM orders o LEFT JOIN customers c ON o.customer_id = c.id
WHERE c.region IS NULL
GROUP BY o.customer_id`)
	got := Explain(qp)
	for _, want := range []string{
		"HashJoin: left keys=[customer_id] = [id] output=[value, customer_id, region]",
		"Filter: region IS NULL",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, got)
		}
	}
}
