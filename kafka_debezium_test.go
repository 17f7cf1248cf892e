package sluice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec/stream"
)

// debeziumEvents is a change history of a products table: inserts, a
// snapshot read, updates (one moving a row between categories) and a
// delete, with the tombstone Debezium sends after it, and the schema
// envelope on some events.
func debeziumEvents(topic string) []*kgo.Record {
	row := func(id int, cat string, price int) string {
		return fmt.Sprintf(`{"id":%d,"category":%q,"price":%d}`, id, cat, price)
	}
	ev := func(before, after, op string) *kgo.Record {
		return &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf(`{"before":%s,"after":%s,"op":%q,"ts_ms":1}`, before, after, op))}
	}
	withSchema := func(r *kgo.Record) *kgo.Record {
		r.Value = []byte(`{"schema":{"type":"struct"},"payload":` + string(r.Value) + `}`)
		return r
	}
	return []*kgo.Record{
		ev("null", row(1, "a", 10), "r"),
		ev("null", row(2, "a", 20), "c"),
		withSchema(ev("null", row(3, "b", 5), "c")),
		ev(row(1, "a", 10), row(1, "a", 15), "u"),
		ev(row(2, "a", 20), row(2, "b", 20), "u"),
		withSchema(ev(row(3, "b", 5), "null", "d")),
		{Topic: topic, Value: nil}, // tombstone
		ev("null", row(4, "c", 7), "c"),
	}
}

// foldDebezium applies Debezium envelopes to a multiset of after/before
// images rendered as JSON text.
func foldDebezium(t *testing.T, recs []*kgo.Record) []string {
	t.Helper()
	out, err := foldDebeziumErr(recs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func foldDebeziumErr(recs []*kgo.Record) ([]string, error) {
	var lines []string
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		var env struct {
			Before, After json.RawMessage
			Op            string
		}
		if err := json.Unmarshal(r.Value, &env); err != nil {
			return nil, fmt.Errorf("%s: %v", r.Value, err)
		}
		canon := func(m json.RawMessage) string {
			var v map[string]any
			json.Unmarshal(m, &v)
			b, _ := json.Marshal(v) // sorted keys
			return string(b)
		}
		switch env.Op {
		case "u":
			lines = append(lines, "-U\t"+canon(env.Before), "+U\t"+canon(env.After))
		case "d":
			lines = append(lines, "-D\t"+canon(env.Before))
		case "c", "r":
			lines = append(lines, "+I\t"+canon(env.After))
		}
	}
	return stream.FoldLines(lines)
}

// TestDebeziumPassThroughAndAggregate: the shapes of Arroyo's
// debezium_pass_through and debezium_agg tests. A Debezium topic is read
// as a changelog: batch reads the table it leaves; a pass-through query
// writes Debezium again and folds to that table; an aggregate over it
// consumes the retractions and its Debezium output folds to the grouped
// table.
func TestDebeziumPassThroughAndAggregate(t *testing.T) {
	addr := kCluster(t, map[string]int32{"products": 1, "copy": 1, "totals": 1})
	kProduce(t, addr, debeziumEvents("products")...)
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	defer db.Close()
	kExec(t, db, fmt.Sprintf(`CREATE SOURCE products (id BIGINT, category VARCHAR, price BIGINT)
		WITH (connector = 'kafka', topic = 'products', brokers = '%s', format = 'debezium-json', 'scan.startup.mode' = 'earliest')`, addr))
	// Batch: the table after all changes.
	got := kRows(t, db, "SELECT id, category, price FROM products ORDER BY id")
	if want := "1 a 15|2 b 20|4 c 7"; joinRows(got) != want {
		t.Errorf("batch: %s, want %s", joinRows(got), want)
	}
	got = kRows(t, db, "SELECT category, SUM(price), COUNT(*) FROM products GROUP BY category ORDER BY category")
	if want := "a 15 1|b 20 1|c 7 1"; joinRows(got) != want {
		t.Errorf("batch aggregate: %s, want %s", joinRows(got), want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, q := range []string{
		fmt.Sprintf(`CREATE SINK copy WITH (connector = 'kafka', topic = 'copy', brokers = '%s', format = 'debezium-json')
			AS SELECT id, category, price FROM products EMIT CHANGES`, addr),
		fmt.Sprintf(`CREATE SINK totals WITH (connector = 'kafka', topic = 'totals', brokers = '%s', format = 'debezium-json')
			AS SELECT category, SUM(price) AS total, COUNT(*) AS n FROM products GROUP BY category EMIT CHANGES`, addr),
	} {
		qctx, qcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- db.Exec(qctx, q) }()
		topic := "copy"
		want := []string{`{"category":"a","id":1,"price":15}`, `{"category":"b","id":2,"price":20}`, `{"category":"c","id":4,"price":7}`}
		if strings.Contains(q, "totals") {
			topic = "totals"
			want = []string{`{"category":"a","n":1,"total":15}`, `{"category":"b","n":1,"total":20}`, `{"category":"c","n":1,"total":7}`}
		}
		var folded []string
		kConsumeAll(t, addr, topic, func(recs []*kgo.Record) bool {
			folded = foldDebeziumQuiet(recs)
			return strings.Join(folded, "|") == strings.Join(want, "|")
		}, 30*time.Second)
		qcancel()
		if err := <-done; err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("%s: %v", topic, err)
		}
		recs := kConsumeAll(t, addr, topic, func(recs []*kgo.Record) bool {
			return len(recs) > 0 && strings.Join(foldDebeziumQuiet(recs), "|") == strings.Join(want, "|")
		}, 10*time.Second)
		if got := foldDebezium(t, recs); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s folds to %q, want %q", topic, got, want)
		}
	}
}

// foldDebeziumQuiet is foldDebezium for polling: nil while it fails.
func foldDebeziumQuiet(recs []*kgo.Record) []string {
	out, _ := foldDebeziumErr(recs)
	return out
}

func joinRows(rows [][]string) string {
	var s []string
	for _, r := range rows {
		s = append(s, strings.Join(r, " "))
	}
	return strings.Join(s, "|")
}
