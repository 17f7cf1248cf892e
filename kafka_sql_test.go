package sluice_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var kBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// kSource declares the orders source over topic.
func kSource(name, addr, topic string, extra string) string {
	return fmt.Sprintf(`CREATE SOURCE %s (category VARCHAR, value BIGINT, ts TIMESTAMP)
WITH (connector = 'kafka', topic = '%s', brokers = '%s', format = 'json'%s)`, name, topic, addr, extra)
}

// TestKafkaBatch: a query without EMIT reads every partition to its end
// offset as of query start and ends; a second query sees records produced
// in between.
func TestKafkaBatch(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 3})
	first := kOrders(0, 300, 5, kBase, time.Second)
	kProduce(t, addr, kRecords("orders", 3, first)...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	kExec(t, db, kSource("orders", addr, "orders", ""))

	q := `SELECT category, SUM(value) AS total FROM orders GROUP BY category`
	if got, want := kSumMap(t, kRows(t, db, q)), kSums(first); !kEqual(got, want) {
		t.Fatalf("batch sums %v, want %v", got, want)
	}
	more := kOrders(300, 50, 5, kBase, time.Second)
	kProduce(t, addr, kRecords("orders", 3, more)...)
	if got, want := kSumMap(t, kRows(t, db, q)), kSums(first, more); !kEqual(got, want) {
		t.Fatalf("second batch sums %v, want %v", got, want)
	}
	// Empty topic partitions and filters push through.
	rows := kRows(t, db, `SELECT COUNT(*) FROM orders WHERE value > 50`)
	n := 0
	for _, o := range append(first, more...) {
		if o.Value > 50 {
			n++
		}
	}
	if len(rows) != 1 || rows[0][0] != fmt.Sprint(n) {
		t.Fatalf("count %v, want %d", rows, n)
	}
}

// TestKafkaEmitChanges: the changelog over Kafka folds to the sums of
// everything produced, before and after the query started; Close stops
// it promptly, and so does cancelling the query's context.
func TestKafkaEmitChanges(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 2})
	first := kOrders(0, 200, 4, kBase, time.Second)
	kProduce(t, addr, kRecords("orders", 2, first)...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	kExec(t, db, kSource("orders", addr, "orders", ""))

	for _, stop := range []string{"close", "cancel"} {
		t.Run(stop, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rows, err := db.Query(ctx, `SELECT category, SUM(value) AS total FROM orders GROUP BY category EMIT CHANGES`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			if !rows.Changelog() {
				t.Fatal("EMIT CHANGES result is not a changelog")
			}
			if got, want := kFoldUntil(t, rows, kSums(first), 20*time.Second), kSums(first); !kEqual(got, want) {
				t.Fatalf("folded %v, want %v", got, want)
			}
			more := kOrders(1000, 40, 4, kBase, time.Second)
			kProduce(t, addr, kRecords("orders", 2, more)...)
			if got, want := kFoldUntilFrom(t, rows, kSums(first), kSums(first, more), 20*time.Second), kSums(first, more); !kEqual(got, want) {
				t.Fatalf("folded after more %v, want %v", got, want)
			}
			first = append(first, more...)
			start := time.Now()
			if stop == "cancel" {
				cancel()
				for rows.Next() {
				}
			}
			if err := rows.Close(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("stopping took %s", d)
			}
		})
	}
}

// TestKafkaEmitEveryFull: micro-batches over Kafka; the last FULL snapshot
// equals the sums.
func TestKafkaEmitEveryFull(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 3})
	orders := kOrders(0, 500, 6, kBase, time.Second)
	kProduce(t, addr, kRecords("orders", 3, orders)...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	kExec(t, db, kSource("orders", addr, "orders", ""))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := db.Query(ctx, `SELECT category, SUM(value) AS total FROM orders GROUP BY category EMIT EVERY INTERVAL '200' MILLISECOND FULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Changelog() {
		t.Fatal("EMIT EVERY … FULL should be snapshots, not a changelog")
	}
	if got, want := kFoldUntil(t, rows, kSums(orders), 20*time.Second), kSums(orders); !kEqual(got, want) {
		t.Fatalf("last snapshot %v, want %v", got, want)
	}
}
