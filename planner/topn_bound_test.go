package planner

import (
	"strings"
	"testing"
)

// TestBoundTopNs: a top-N whose first key is a column read straight from
// a scan (through filters, renaming projections, the Gather and the
// per-morsel top-N) prunes that scan by its cut-off; a computed key, a
// key from a join or aggregate, or a first key the scan does not give
// leave the plan alone.
func TestBoundTopNs(t *testing.T) {
	cat := testCatalog(t)
	for _, tc := range []struct{ name, sql, want string }{
		{"through a filter", "SELECT id, value FROM orders WHERE category = 'a' ORDER BY value DESC LIMIT 3", `TopN: value DESC limit=3
  Gather: morsels in order
    TopN: value DESC limit=3
      Project: id, value
        Filter: category = 'a'
          Scan: orders columns=[id, category, value] filters=[category eq 'a'] topn-bound=value
`},
		{"renamed, with an offset and a second key", "SELECT value AS v, id FROM orders ORDER BY v, id LIMIT 2 OFFSET 1", `TopN: v, id limit=2 offset=1
  Gather: morsels in order
    TopN: v, id limit=3
      Project: value AS v, id
        Scan: orders columns=[id, value] topn-bound=value
`},
		{"computed key", "SELECT value + 1 AS v FROM orders ORDER BY v DESC LIMIT 3", `TopN: v DESC limit=3
  Gather: morsels in order
    TopN: v DESC limit=3
      Project: value + 1 AS v
        Scan: orders columns=[value]
`},
		{"aggregate key", "SELECT category, COUNT(*) AS n FROM orders GROUP BY category ORDER BY category LIMIT 3", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := physicalOf(mustPlan(t, cat, tc.sql))
			if tc.want == "" {
				if strings.Contains(got, "topn-bound") {
					t.Errorf("a scan under a grouped top-N is pruned:\n%s", got)
				}
				return
			}
			if got != tc.want {
				t.Errorf("physical plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
