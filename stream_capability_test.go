package sluice_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
)

// TestStreamingRunsWhatExplainAccepts sweeps aggregate functions (with and
// without DISTINCT) over columns of every SQL type, under each EMIT mode
// and operator (GroupAggregate; WindowAggregate updating and on close; an
// aggregate over an updating aggregate): every query EXPLAIN accepts must
// run to the end without error and fold to its batch twin. A capability
// the planner promises and an operator lacks fails here.
func TestStreamingRunsWhatExplainAccepts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := sluice.Open(sluice.Config{Allocator: mem, BaseDir: "testdata", BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE s (id BIGINT, category VARCHAR, value BIGINT, price DECIMAL(10,2), ts TIMESTAMP, region VARCHAR, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (connector = 'file', path = 'data/sales.csv', format = 'csv')`); err != nil {
		t.Fatal(err)
	}
	args := []string{"value", "price", "CAST(price AS DOUBLE)", "CAST(value AS INT)", "region", "value > 5", "ts", "DATE(ts)"}
	shapes := []struct{ name, query string }{
		{"group changes", "SELECT category, %s FROM s GROUP BY category EMIT CHANGES"},
		{"group every", "SELECT category, %s FROM s GROUP BY category EMIT EVERY 1s"},
		{"window updates", "SELECT window_start, %s FROM TUMBLE(s, ts, INTERVAL '5' SECOND) GROUP BY window_start EMIT CHANGES"},
		{"window final", "SELECT window_start, category, %s FROM HOP(s, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, category EMIT FINAL"},
		{"over an aggregate", "SELECT n, %s FROM (SELECT category, region, value, price, ts, id, COUNT(*) OVER () AS w, 1 AS n FROM s) x GROUP BY n EMIT CHANGES"},
	}
	// The last shape needs window functions; aggregate over an updating
	// aggregate instead, with the argument computed by the inner one.
	shapes[4] = struct{ name, query string }{"over an aggregate",
		"SELECT n, %s FROM (SELECT category, COUNT(*) AS n, MAX(region) AS region, SUM(value) AS value, SUM(price) AS price, MAX(ts) AS ts FROM s GROUP BY category) x GROUP BY n EMIT CHANGES"}
	ran := 0
	for _, shape := range shapes {
		for _, fn := range []string{"COUNT", "SUM", "AVG", "MIN", "MAX"} {
			for _, d := range []string{"", "DISTINCT "} {
				for _, a := range args {
					call := fmt.Sprintf("%s(%s%s)", fn, d, a)
					q := fmt.Sprintf(shape.query, call)
					if _, err := collect(ctx, db, "EXPLAIN "+q); err != nil {
						continue // refused while planning: fine, with its message
					}
					got, err := collect(ctx, db, q)
					if err != nil {
						t.Errorf("%s: EXPLAIN accepts %s but running it fails: %v", shape.name, call, err)
						continue
					}
					ran++
					want, err := collect(ctx, db, q[:strings.Index(q, " EMIT ")])
					if err != nil {
						t.Errorf("%s: batch twin of %s: %v", shape.name, call, err)
						continue
					}
					if !sameTables(got, want) {
						t.Errorf("%s: %s streams\n%s\nbut batch gives\n%s", shape.name, call, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				}
			}
		}
	}
	if ran < 150 {
		t.Fatalf("only %d streaming queries ran: the sweep checks too little", ran)
	}
}

// sameTables compares two sorted tables cell by cell; floating-point cells
// may differ in the last bits, because a streaming float SUM adds and
// subtracts retracted values in another order than the batch sum adds the
// final ones (relative 1e-12).
func sameTables(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		ca, cb := strings.Split(a[i], "\t"), strings.Split(b[i], "\t")
		if len(ca) != len(cb) {
			return false
		}
		for j := range ca {
			if ca[j] == cb[j] {
				continue
			}
			x, errx := strconv.ParseFloat(ca[j], 64)
			y, erry := strconv.ParseFloat(cb[j], 64)
			if errx != nil || erry != nil || math.Abs(x-y) > 1e-12*math.Max(math.Abs(x), math.Abs(y)) {
				return false
			}
		}
	}
	return true
}

// collect runs q and returns its final table, sorted: a changelog folded
// (each -U/-D takes back one +I/+U of the same row), the last snapshot of
// EMIT EVERY, or the rows.
func collect(ctx context.Context, db *sluice.DB, q string) ([]string, error) {
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	count := map[string]int{}
	var plain []string
	for rows.Next() {
		for _, l := range renderRecord(rows.Record()) {
			if !rows.Changelog() {
				plain = append(plain, l)
				continue
			}
			op, row, _ := strings.Cut(l, "\t")
			if op == "-U" || op == "-D" {
				count[row]--
			} else {
				count[row]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for row, n := range count {
		if n < 0 {
			return nil, fmt.Errorf("changelog retracts %q more often than it inserts it", row)
		}
		for ; n > 0; n-- {
			plain = append(plain, row)
		}
	}
	sort.Strings(plain)
	return plain, nil
}
