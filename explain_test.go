package sluice_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// EXPLAIN ANALYZE runs the query and reports what the stream did: rows in
// and out and the late rows the watermark dropped.
func TestExplainAnalyzeCountsLateRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := sluice.Open(sluice.Config{Allocator: mem, BaseDir: "testdata"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE clicks (user VARCHAR, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) WITH (connector = 'file', path = 'data/clicks.csv', format = 'csv')`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{`EXPLAIN ANALYZE SELECT window_start, SUM(amount) FROM TUMBLE(clicks, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT FINAL`,
			[]string{"rows out: 4", "rows in: 11", "late rows dropped: 2", "watermark: +inf (end of input)", "emit: FINAL"}},
		{`EXPLAIN ANALYZE SELECT window_start, SUM(amount) FROM TUMBLE(clicks, ts, INTERVAL '10' SECOND) GROUP BY window_start EMIT FINAL`,
			[]string{"rows out: 3", "late rows dropped: 0"}},
		{`EXPLAIN ANALYZE SELECT user, COUNT(*) FROM clicks GROUP BY user`,
			[]string{"HashAggregate(final): keys=[user] aggs=[count(*)]  (rows out: 3, batches: 1", "HashAggregate(partial): keys=[user] aggs=[count(*)]  (rows out: 3,", "Scan: clicks columns=[user]  (rows out: 11,", "elapsed"}},
	} {
		text := strings.Join(queryLines(t, db, tc.query), "\n")
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s\nmissing %q in:\n%s", tc.query, w, text)
			}
		}
	}
}
