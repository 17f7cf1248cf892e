package sluice_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestUpsertKafkaAggregate: ksqlDB's and Flink's upsert-kafka shape. An
// upsert-json topic (latest value per key, tombstone = delete) is read as
// a keyed changelog: batch reads the table it leaves; a streaming
// aggregate over it consumes its retractions and is written upsert-json
// keyed by its group; that topic, read back as an upsert-json source,
// equals the batch result, and so does folding its records by key.
func TestUpsertKafkaAggregate(t *testing.T) {
	addr := kCluster(t, map[string]int32{"prices": 2, "totals": 1})
	row := func(id int, cat string, price int) *kgo.Record {
		return &kgo.Record{Topic: "prices", Partition: int32(id % 2), Key: []byte(fmt.Sprint(id)),
			Value: []byte(fmt.Sprintf(`{"id":%d,"category":%q,"price":%d}`, id, cat, price))}
	}
	tomb := func(id int) *kgo.Record {
		return &kgo.Record{Topic: "prices", Partition: int32(id % 2), Key: []byte(fmt.Sprint(id))}
	}
	kProduce(t, addr, row(1, "a", 10), row(2, "a", 20), row(3, "b", 5), row(1, "a", 15),
		row(2, "b", 20), tomb(3), tomb(7), row(4, "c", 7), row(5, "c", 1), tomb(5))
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(`CREATE SOURCE prices WITH (connector = 'kafka', topic = 'prices', brokers = '%s',
		format = 'upsert-json', key = 'id', 'scan.startup.mode' = 'earliest')`, addr))
	if got, want := joinRows(kRows(t, db, "SELECT id, category, price FROM prices ORDER BY id")), "1 a 15|2 b 20|4 c 7"; got != want {
		t.Errorf("batch: %s, want %s", got, want)
	}
	const agg = "SELECT category, SUM(price) AS total, COUNT(*) AS n FROM prices GROUP BY category"
	batch := joinRows(kRows(t, db, agg+" ORDER BY category"))
	if want := "a 15 1|b 20 1|c 7 1"; batch != want {
		t.Fatalf("batch aggregate: %s, want %s", batch, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	qctx, qcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- db.Exec(qctx, fmt.Sprintf(`CREATE SINK totals WITH (connector = 'kafka', topic = 'totals', brokers = '%s', format = 'upsert-json')
			AS %s EMIT CHANGES`, addr, agg))
	}()
	// Folding by key: the last value of each key, tombstones deleting.
	fold := func(recs []*kgo.Record) string {
		live := map[string]string{}
		var keys []string
		for _, r := range recs {
			k := string(r.Key)
			if _, ok := live[k]; !ok {
				keys = append(keys, k)
			}
			live[k] = string(r.Value)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			if live[k] != "" {
				out = append(out, k+"="+live[k])
			}
		}
		return strings.Join(out, " ")
	}
	const want = `a={"category":"a","total":15,"n":1} b={"category":"b","total":20,"n":1} c={"category":"c","total":7,"n":1}`
	kConsumeAll(t, addr, "totals", func(recs []*kgo.Record) bool { return fold(recs) == want }, 30*time.Second)
	qcancel()
	if err := <-done; err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "context canceled") {
		t.Fatal(err)
	}
	if got := fold(kConsumeAll(t, addr, "totals", func(recs []*kgo.Record) bool { return fold(recs) == want }, 10*time.Second)); got != want {
		t.Errorf("totals folds to %s, want %s", got, want)
	}
	kExec(t, db, fmt.Sprintf(`CREATE SOURCE totals_in WITH (connector = 'kafka', topic = 'totals', brokers = '%s',
		format = 'upsert-json', key = 'category', 'scan.startup.mode' = 'earliest')`, addr))
	if got := joinRows(kRows(t, db, "SELECT category, total, n FROM totals_in ORDER BY category")); got != batch {
		t.Errorf("totals read back: %s, want the batch result %s", got, batch)
	}
}

// TestSinkPrimaryKey: Flink's upsert sink shape. A table declared with
// PRIMARY KEY (…) NOT ENFORCED and written to is keyed by that key: an
// append result is upserted by it (the last row of a key wins), an
// updating result keyed by columns the key does not contain is refused
// rather than let two rows overwrite each other, and a changelog
// source's declared key must agree with the connector's.
func TestSinkPrimaryKey(t *testing.T) {
	addr := kCluster(t, map[string]int32{"latest": 1, "bykey": 1})
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(`CREATE TABLE latest (category STRING, v BIGINT, PRIMARY KEY (category) NOT ENFORCED)
		WITH ('connector' = 'kafka', 'topic' = 'latest', 'brokers' = '%s', 'format' = 'upsert-json')`, addr))
	kExec(t, db, `INSERT INTO latest SELECT * FROM (VALUES ('a', 1), ('b', 2), ('a', 3)) AS t(category, v)`)
	recs := kConsumeAll(t, addr, "latest", func(r []*kgo.Record) bool { return len(r) >= 3 }, 20*time.Second)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	if want := `a={"category":"a","v":1} b={"category":"b","v":2} a={"category":"a","v":3}`; strings.Join(got, " ") != want {
		t.Errorf("records %s, want %s", strings.Join(got, " "), want)
	}

	kExec(t, db, fmt.Sprintf(`CREATE TABLE bykey (category STRING, region STRING, total BIGINT, PRIMARY KEY (category) NOT ENFORCED)
		WITH ('connector' = 'kafka', 'topic' = 'bykey', 'brokers' = '%s', 'format' = 'upsert-json')`, addr))
	err := db.Exec(context.Background(), `INSERT INTO bykey SELECT category, region, SUM(value) AS total FROM 'testdata/data/sales.csv' GROUP BY category, region EMIT CHANGES`)
	const want = "sink bykey: the result updates rows by (category, region), which its PRIMARY KEY (category) does not contain"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("updating result by another key: %v, want an error containing %q", err, want)
	}

	err = db.Exec(context.Background(), fmt.Sprintf(`CREATE TABLE prices (id BIGINT, category STRING, PRIMARY KEY (category) NOT ENFORCED)
		WITH ('connector' = 'kafka', 'topic' = 'latest', 'brokers' = '%s', 'format' = 'upsert-json', 'key' = 'id')`, addr))
	if want := "PRIMARY KEY (category) differs from the changelog's key (id)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("changelog source with another key: %v, want an error containing %q", err, want)
	}
}

// TestUpsertSourceIsVersioned: an upsert-json source's 'key' is its
// primary key, so it is a versioned table without PRIMARY KEY declared
// again (the temporal join binds, no "declare PRIMARY KEY" error), and a
// declared PRIMARY KEY naming other columns is refused naming both.
func TestUpsertSourceIsVersioned(t *testing.T) {
	addr := kCluster(t, map[string]int32{"rates": 1, "orders": 1})
	kProduce(t, addr, &kgo.Record{Topic: "rates", Key: []byte("EUR"), Value: []byte(`{"cur":"EUR","rate":2,"ts":"2026-01-01 00:00:00"}`)})
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(`CREATE SOURCE rates (cur VARCHAR, rate BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts)
		WITH (connector = 'kafka', topic = 'rates', brokers = '%s', format = 'upsert-json', key = 'cur', 'scan.startup.mode' = 'earliest')`, addr))
	kExec(t, db, fmt.Sprintf(`CREATE SOURCE orders (cur VARCHAR, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts)
		WITH (connector = 'kafka', topic = 'orders', brokers = '%s', format = 'json', 'scan.startup.mode' = 'earliest')`, addr))
	rows, err := db.Query(t.Context(), `EXPLAIN SELECT o.amount * r.rate FROM orders AS o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur`)
	if err == nil {
		rows.Close()
	}
	if err != nil && strings.Contains(err.Error(), "PRIMARY KEY") {
		t.Errorf("temporal join against an upsert source: %v, want its key taken as the primary key", err)
	}
	err = db.Exec(t.Context(), fmt.Sprintf(`CREATE SOURCE bad (cur VARCHAR, rate BIGINT, PRIMARY KEY (rate) NOT ENFORCED)
		WITH (connector = 'kafka', topic = 'rates', brokers = '%s', format = 'upsert-json', key = 'cur')`, addr))
	if err == nil || !strings.Contains(err.Error(), "PRIMARY KEY (rate) differs from the changelog's key (cur)") {
		t.Errorf("PRIMARY KEY other than 'key': %v, want an error naming both", err)
	}
}

// TestUpsertSourceState: a streaming query over an upsert-json source
// counts the live row per key its reader keeps as the query's state
// (Stats, so metrics and EXPLAIN ANALYZE), and 'state.ttl' on the source
// is the scan's, shown by EXPLAIN.
func TestUpsertSourceState(t *testing.T) {
	addr := kCluster(t, map[string]int32{"prices": 1})
	var recs []*kgo.Record
	for i := range 50 {
		recs = append(recs, &kgo.Record{Topic: "prices", Key: []byte(fmt.Sprint(i % 20)), Value: []byte(fmt.Sprintf(`{"id":%d,"price":%d}`, i%20, i))})
	}
	kProduce(t, addr, recs...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(`CREATE SOURCE prices (id BIGINT, price BIGINT) WITH (connector = 'kafka', topic = 'prices', brokers = '%s',
		format = 'upsert-json', key = 'id', 'scan.startup.mode' = 'earliest', 'state.ttl' = '1h')`, addr))
	plan := joinRows(kRows(t, db, "EXPLAIN SELECT id, price FROM prices EMIT CHANGES"))
	if !strings.Contains(plan, "Scan: prices columns=[id, price] ttl=1h") {
		t.Errorf("EXPLAIN does not show the scan's ttl:\n%s", plan)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	rows, err := db.Query(ctx, "SELECT id, price FROM prices EMIT CHANGES")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := int64(0)
	for n < 20+2*30 && rows.Next() { // 20 inserts, 30 updates of two rows each
		n += rows.Record().NumRows()
	}
	if n != 80 {
		t.Fatalf("%d changes, want 80: %v", n, rows.Err())
	}
	st := rows.Stats()
	if st.StateGroups != 20 || st.StateBytes < 20*16 {
		t.Errorf("state %d groups, %d bytes; want the 20 live keys counted", st.StateGroups, st.StateBytes)
	}
}
