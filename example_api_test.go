package sluice_test

import (
	"context"
	"fmt"
	"log"
	"sort"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice"
)

// Sale is the Go value the examples feed to SQL through a channel.
type Sale struct {
	Category string
	Value    int64
	TS       time.Time `sluice:"ts"`
}

// sales returns a closed channel holding a few sales, one second apart.
func sales() <-chan Sale {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ch := make(chan Sale, 8)
	for _, s := range []Sale{
		{"books", 12, t0}, {"games", 30, t0.Add(time.Second)}, {"books", 7, t0.Add(2 * time.Second)},
		{"music", 5, t0.Add(3 * time.Second)}, {"games", 8, t0.Add(4 * time.Second)}, {"books", 1, t0.Add(5 * time.Second)},
	} {
		ch <- s
	}
	close(ch)
	return ch
}

// printRows prints every row of rows, one line per row.
func printRows(rows *sluice.Rows) {
	for rec := range rows.Records() {
		for r := 0; r < int(rec.NumRows()); r++ {
			for c, col := range rec.Columns() {
				if c > 0 {
					fmt.Print(" ")
				}
				fmt.Print(col.ValueStr(r))
			}
			fmt.Println()
		}
	}
}

// A batch query over Go values: the channel becomes a source, the query
// runs to completion and its result is read as Arrow records.
func Example_batch() {
	ctx := context.Background()
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	schema, fn, err := sluice.SourceFromChan(sales())
	if err != nil {
		log.Fatal(err)
	}
	if err := db.RegisterSource("sales", schema, fn); err != nil {
		log.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT category, SUM(value) AS total, COUNT(*) AS n
		FROM sales GROUP BY category ORDER BY total DESC`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	printRows(rows)
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// games 38 2
	// books 20 3
	// music 5 1
}

// A micro-batch query: EMIT EVERY re-evaluates the aggregate on a timer;
// with FULL each trigger emits the whole result table. When a bounded
// source ends, the last trigger emits the final table.
func Example_microBatch() {
	ctx := context.Background()
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	schema, fn, err := sluice.SourceFromChan(sales())
	if err != nil {
		log.Fatal(err)
	}
	if err := db.RegisterSource("sales", schema, fn); err != nil {
		log.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT category, SUM(value) AS total FROM sales
		GROUP BY category EMIT EVERY INTERVAL '100' MILLISECOND FULL`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	// Keep the last table each category appeared in.
	last := map[string]int64{}
	for rec := range rows.Records() {
		for r := 0; r < int(rec.NumRows()); r++ {
			last[rec.Column(0).ValueStr(r)] = rec.Column(1).(interface{ Value(int) int64 }).Value(r)
		}
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	for _, k := range sortedKeys(last) {
		fmt.Println(k, last[k])
	}
	// Output:
	// books 20
	// games 38
	// music 5
}

// A continuous query: EMIT CHANGES streams a changelog (+I, -U, +U, -D in
// the op column) as rows arrive. Applying it keeps a live copy of the
// result, here printed once the bounded source has ended.
func Example_continuous() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	schema, fn, err := sluice.SourceFromChan(sales())
	if err != nil {
		log.Fatal(err)
	}
	if err := db.RegisterSource("sales", schema, fn); err != nil {
		log.Fatal(err)
	}
	rows, err := db.Query(ctx, `SELECT category, COUNT(*) AS n FROM sales GROUP BY category EMIT CHANGES`)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	live := map[string]string{}
	for rec := range rows.Records() {
		// Column 0 is the op column; rows.Op reads it as a sluice.Change.
		for r := 0; r < int(rec.NumRows()); r++ {
			key, val := rec.Column(1).ValueStr(r), rec.Column(2).ValueStr(r)
			switch rows.Op(r) {
			case sluice.Insert, sluice.UpdateAfter:
				live[key] = val
			case sluice.Delete:
				delete(live, key)
			}
		}
	}
	if err := rows.Err(); err != nil {
		log.Fatal(err)
	}
	for _, k := range sortedKeys(live) {
		fmt.Println(k, live[k])
	}
	// Output:
	// books 3
	// games 2
	// music 1
}

// Event-time windows over a Go source: WithWatermark declares the event
// time, TUMBLE groups it into windows, and EMIT FINAL emits each window
// once, when the watermark passes its end (or the source ends).
func Example_windows() {
	ctx := context.Background()
	db, err := sluice.Open(sluice.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	schema, fn, err := sluice.SourceFromChan(sales())
	if err != nil {
		log.Fatal(err)
	}
	if err := db.RegisterSource("sales", schema, fn, sluice.WithWatermark("ts", time.Second)); err != nil {
		log.Fatal(err)
	}
	var out []string
	err = db.RegisterSink("totals", func(ctx context.Context, rec arrow.Record) error {
		for r := 0; r < int(rec.NumRows()); r++ {
			start := rec.Column(0).(*array.Timestamp).Value(r).ToTime(arrow.Microsecond)
			out = append(out, fmt.Sprintf("%s %s", start.Format(time.TimeOnly), rec.Column(1).ValueStr(r)))
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	err = db.Exec(ctx, `INSERT INTO totals
		SELECT window_start, SUM(value) AS total
		FROM TUMBLE(sales, ts, INTERVAL '3' SECOND)
		GROUP BY window_start EMIT FINAL`)
	if err != nil {
		log.Fatal(err)
	}
	sort.Strings(out)
	for _, l := range out {
		fmt.Println(l)
	}
	// Output:
	// 00:00:00 49
	// 00:00:03 14
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
