package sluice_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
)

// temporalRates is a topic of exchange rates keyed by cur in format
// (upsert-json or debezium-json), in this order: EUR 2 from 00:00, USD
// 10 from 00:01, EUR 3 from 00:10 (an update: -U EUR 2, +U EUR 3), a
// delete of USD (-D; the rates' watermark is 00:10 then, so USD has no
// rate from 00:10), GBP 5 from 00:20, USD 11 from 00:30 (+I again), and
// XXX from 01:00, whose watermark lets out every order.
func temporalRates(topic, format string) []*kgo.Record {
	row := func(cur string, rate int, ts string) string {
		return fmt.Sprintf(`{"cur":%q,"rate":%d,"ts":"2026-01-01 %s"}`, cur, rate, ts)
	}
	type change struct{ cur, before, after string }
	changes := []change{
		{"EUR", "", row("EUR", 2, "00:00:00")}, {"USD", "", row("USD", 10, "00:01:00")},
		{"EUR", row("EUR", 2, "00:00:00"), row("EUR", 3, "00:10:00")},
		{"USD", row("USD", 10, "00:01:00"), ""},
		{"GBP", "", row("GBP", 5, "00:20:00")}, {"USD", "", row("USD", 11, "00:30:00")}, {"XXX", "", row("XXX", 1, "01:00:00")},
	}
	var recs []*kgo.Record
	for _, c := range changes {
		r := &kgo.Record{Topic: topic, Key: []byte(c.cur)}
		switch {
		case format == "upsert-json" && c.after != "":
			r.Value = []byte(c.after)
		case format == "debezium-json":
			op, before, after := "u", c.before, c.after
			switch {
			case before == "":
				op, before = "c", "null"
			case after == "":
				op, after = "d", "null"
			}
			r.Value = []byte(fmt.Sprintf(`{"before":%s,"after":%s,"op":%q,"ts_ms":1}`, before, after, op))
		}
		recs = append(recs, r)
	}
	return recs
}

// temporalOrders are the orders, in event-time order, each with the rate
// it must meet (hand-computed from temporalRates; "" is none): the rate
// valid at the order's time, a version's valid_from inclusive, none
// while USD is deleted (00:10 to 00:30) or before GBP's first version.
var temporalOrders = []struct{ cur, ts, rate string }{
	{"USD", "00:05:00", "10"}, {"EUR", "00:05:00", "2"}, {"USD", "00:09:00", "10"},
	{"EUR", "00:10:00", "3"}, {"USD", "00:12:00", ""}, {"EUR", "00:15:00", "3"},
	{"GBP", "00:19:00", ""}, {"GBP", "00:20:00", "5"}, {"USD", "00:35:00", "11"},
}

// TestTemporalJoinChangelogTable: FOR SYSTEM_TIME AS OF against an
// upsert-json Kafka source (its key is the primary key, its changelog the
// versions) and a debezium-json one with PRIMARY KEY declared: each order meets the rate valid at its time, an update
// starts a new version, a tombstone ends the key's versions until a new
// insert; INNER drops and LEFT null-pads the orders without a rate; the
// result is append-only and the same at parallelism 1 and 4.
func TestTemporalJoinChangelogTable(t *testing.T) {
	for _, tc := range []struct{ format, with, pk string }{
		{"upsert-json", "key = 'cur', ", ""},
		{"debezium-json", "", ", PRIMARY KEY (cur) NOT ENFORCED"},
	} {
		for _, par := range []int{1, 4} {
			for _, kind := range []string{"JOIN", "LEFT JOIN"} {
				t.Run(fmt.Sprintf("%s/%s/p%d", tc.format, strings.ReplaceAll(kind, " ", "_"), par), func(t *testing.T) {
					addr := kCluster(t, map[string]int32{"rates": 1, "orders": 1})
					kProduce(t, addr, temporalRates("rates", tc.format)...)
					var recs []*kgo.Record
					for i, o := range temporalOrders {
						recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprintf(`{"id":%d,"cur":%q,"ts":"2026-01-01 %s"}`, i, o.cur, o.ts))})
					}
					kProduce(t, addr, recs...)
					cfg := kConfig()
					cfg.Parallelism = par
					db, mem := kOpen(t, cfg)
					defer mem.AssertSize(t, 0)
					defer db.Close()
					kExec(t, db, fmt.Sprintf(`CREATE SOURCE rates (cur VARCHAR, rate BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts%s)
					WITH (connector = 'kafka', topic = 'rates', brokers = '%s', format = '%s', %s'scan.startup.mode' = 'earliest')`, tc.pk, addr, tc.format, tc.with))
					kExec(t, db, fmt.Sprintf(`CREATE SOURCE orders (id BIGINT, cur VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts)
					WITH (connector = 'kafka', topic = 'orders', brokers = '%s', format = 'json', 'scan.startup.mode' = 'earliest')`, addr))
					query := `SELECT o.id, o.cur, r.rate FROM orders AS o ` + kind + ` rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur EMIT CHANGES`
					plan := joinRows(kRows(t, db, "EXPLAIN "+query))
					if !strings.Contains(plan, "temporal join") || !strings.Contains(plan, "a -D ends its key's versions") {
						t.Errorf("EXPLAIN does not show a temporal join over a changelog:\n%s", plan)
					}
					if par > 1 && !strings.Contains(plan, "partitioned by keys") {
						t.Errorf("EXPLAIN at parallelism %d does not show a partitioned join:\n%s", par, plan)
					}
					var want []string
					for i, o := range temporalOrders {
						rate := o.rate
						if rate == "" {
							rate = "NULL"
						}
						if o.rate != "" || kind == "LEFT JOIN" {
							want = append(want, fmt.Sprintf("%d %s %s", i, o.cur, rate))
						}
					}
					got := temporalRead(t, db, query, len(want))
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				})
			}
		}
	}
}

// temporalRead runs an endless query until it emitted n rows, each rendered as its cells joined by
// spaces; it fails on any op but +I (the join is append-only).
func temporalRead(t *testing.T, db *sluice.DB, query string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	rows, err := db.Query(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var got []string
	for len(got) < n && rows.Next() {
		rec := rows.Record()
		op := -1
		for c := 0; c < int(rec.NumCols()); c++ {
			if rec.ColumnName(c) == "op" {
				op = c
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				if c == op {
					if o := rows.Op(i); o != exec.OpInsert {
						t.Errorf("op %s: the temporal join is append-only", o)
					}
					continue
				}
				cells = append(cells, kText(rec, c, i))
			}
			got = append(got, strings.Join(cells, " "))
		}
	}
	if len(got) < n {
		t.Fatalf("%d rows, want %d: %v", len(got), n, rows.Err())
	}
	return got
}
