package planner

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// physicalOf renders the physical plan section of EXPLAIN.
func physicalOf(qp *QueryPlan) string {
	var b strings.Builder
	writePhysical(&b, qp.Physical, 0)
	return b.String()
}

func TestParallelizeBatchPlans(t *testing.T) {
	cat := testCatalog(t)
	for _, tc := range []struct{ name, sql, want string }{
		{"pipeline", "SELECT id FROM orders WHERE value > 1", `Gather: morsels in order
  Project: id
    Filter: value > 1
      Scan: orders columns=[id, value] filters=[value gt 1]
`},
		{"two-phase group by, avg as sum and count", "SELECT category, AVG(value), COUNT(*) FROM orders GROUP BY category", `Project: category, avg(value) AS AVG(value), count(*) AS COUNT(*)
  HashAggregate(final): keys=[category] aggs=[avg(value), count(*)]
    Gather: morsels in order
      HashAggregate(partial): keys=[category] aggs=[avg(value), count(*)]
        Scan: orders columns=[category, value]
`},
		{"distinct aggregates over one argument merge per-morsel sets", "SELECT category, COUNT(DISTINCT value), SUM(DISTINCT value) FROM orders GROUP BY category", `Project: category, count(DISTINCT value) AS COUNT(DISTINCT value), sum(DISTINCT value) AS SUM(DISTINCT value)
  HashAggregate: keys=[category] aggs=[count(DISTINCT value), sum(DISTINCT value)]
    Gather: morsels in order
      HashAggregate(dedup): keys=[category, value] aggs=[]
        Scan: orders columns=[category, value]
`},
		{"mixed distinct aggregates run whole over a gathered scan", "SELECT COUNT(DISTINCT category), COUNT(DISTINCT id) FROM orders", `Project: count(DISTINCT category) AS COUNT(DISTINCT category), count(DISTINCT id) AS COUNT(DISTINCT id)
  HashAggregate: keys=[] aggs=[count(DISTINCT category), count(DISTINCT id)]
    Gather: morsels in order
      Scan: orders columns=[id, category]
`},
		{"session windows are not per-morsel", "SELECT window_start, COUNT(*) FROM SESSION(orders, ts, INTERVAL '5' SECOND) GROUP BY window_start", `Project: window_start, count(*) AS COUNT(*)
  HashAggregate: keys=[window_start] aggs=[count(*)]
    Window: session(ts, gap=5s)
      Gather: morsels in order
        Scan: orders columns=[ts]
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := physicalOf(mustPlan(t, cat, tc.sql)); got != tc.want {
				t.Errorf("physical plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestPartialSchemaCarriesEachState(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT label, SUM(price), AVG(price), AVG(n), MIN(score), COUNT(d) FROM items GROUP BY label")
	partial := findPhys(qp.Physical, func(p PhysicalPlan) bool {
		a, ok := p.(*PhysHashAggregate)
		return ok && a.Mode == AggPartial
	}).(*PhysHashAggregate)
	var got []string
	for _, f := range partial.Out.Fields {
		got = append(got, f.Name+" "+f.Type.String())
	}
	want := []string{
		"label utf8",
		"sum(price) decimal(38, 2)",
		"avg(price).sum decimal(38, 2)", "avg(price).count int64",
		"avg(n).sum int64", "avg(n).count int64",
		"min(score) float64",
		"count(d) int64",
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("partial schema:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	final := qp.Physical.Children()[0].(*PhysHashAggregate)
	if final.Mode != AggFinal || !arrow.TypeEqual(final.Keys[0].Type(), TypeVarchar) {
		t.Fatalf("final aggregate: mode %v keys %v", final.Mode, final.Keys)
	}
}

func TestStreamingPlansAreNotParallelized(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT category, SUM(value) FROM orders GROUP BY category EMIT CHANGES")
	if got := physicalOf(qp); strings.Contains(got, "Gather") || strings.Contains(got, "partial") {
		t.Fatalf("streaming plan was parallelized:\n%s", got)
	}
}
