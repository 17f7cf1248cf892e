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

// tjSources are the event-time sources of the scaled-out interval and
// window joins: orders and payments, each with a 1 s watermark delay,
// neither topic keyed by the join key.
const tjSources = `CREATE SOURCE o (id BIGINT, category VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = 'orders', brokers = '%[1]s', format = 'json', 'group.id' = '%[2]s'%[3]s);
CREATE SOURCE p (order_id BIGINT, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = 'payments', brokers = '%[1]s', format = 'json', 'group.id' = '%[2]s'%[3]s)`

// tjEvent is one order or payment of the timed-join tests.
type tjEvent struct {
	payment bool
	id      int // the order's id (a payment's order_id)
	amount  int
	ts      time.Time
}

// tjData is n orders 100 ms apart from base and their payments: order i
// is paid 2 s later (i%4 != 0), 8 s later (i%8 == 0: outside the
// interval join's 5 s bound) or never (i%8 == 4). Each topic's events
// are in event-time order and spread round-robin over the partitions,
// so no row is late in its own partition and every partition holds
// every key's rows: the join needs the repartition topic.
func tjData(n int, base time.Time) []tjEvent {
	var orders, payments []tjEvent
	for i := range n {
		ts := base.Add(time.Duration(i) * 100 * time.Millisecond)
		orders = append(orders, tjEvent{id: i, ts: ts})
		switch {
		case i%4 != 0:
			payments = append(payments, tjEvent{payment: true, id: i, amount: i * 10, ts: ts.Add(2 * time.Second)})
		case i%8 == 0:
			payments = append(payments, tjEvent{payment: true, id: i, amount: i*10 + 1, ts: ts.Add(8 * time.Second)})
		}
	}
	sort.SliceStable(payments, func(a, b int) bool { return payments[a].ts.Before(payments[b].ts) })
	return append(orders, payments...)
}

func tjCategory(id int) string { return fmt.Sprintf("c%d", id%5) }

// tjRecords are the records of the events whose time is in [from, to),
// each on its partition (round-robin by its index among its topic's
// events), in event-time order.
func tjRecords(events []tjEvent, parts int32, from, to time.Time) []*kgo.Record {
	var out []*kgo.Record
	var n [2]int32
	for _, e := range events {
		side := 0
		if e.payment {
			side = 1
		}
		part := n[side] % parts
		n[side]++
		if e.ts.Before(from) || !e.ts.Before(to) {
			continue
		}
		ts := e.ts.UTC().Format("2006-01-02 15:04:05.000")
		if e.payment {
			out = append(out, &kgo.Record{Topic: "payments", Partition: part, Value: []byte(fmt.Sprintf(`{"order_id":%d,"amount":%d,"ts":%q}`, e.id, e.amount, ts))})
		} else {
			out = append(out, &kgo.Record{Topic: "orders", Partition: part, Value: []byte(fmt.Sprintf(`{"id":%d,"category":%q,"ts":%q}`, e.id, tjCategory(e.id), ts))})
		}
	}
	return out
}

// tjFlush is one order and one payment per partition at event time at,
// joining nothing: it moves both sides' watermarks to at − 1 s.
func tjFlush(parts int32, at time.Time) []*kgo.Record {
	var out []*kgo.Record
	ts := at.UTC().Format("2006-01-02 15:04:05.000")
	for p := range parts {
		out = append(out,
			&kgo.Record{Topic: "orders", Partition: p, Value: []byte(fmt.Sprintf(`{"id":%d,"category":"flush","ts":%q}`, 1000000+p, ts))},
			&kgo.Record{Topic: "payments", Partition: p, Value: []byte(fmt.Sprintf(`{"order_id":%d,"amount":0,"ts":%q}`, 2000000+p, ts))})
	}
	return out
}

// tjProduceSlowly produces recs in 30 slices 100 ms apart, while the
// caller moves partitions; done closes after the last.
func tjProduceSlowly(t *testing.T, addr string, recs []*kgo.Record) (done chan struct{}) {
	done = make(chan struct{})
	pcl := kClient(t, addr)
	go func() {
		defer close(done)
		defer pcl.Close()
		step := max(1, len(recs)/30)
		for i := 0; i < len(recs); i += step {
			if err := pcl.ProduceSync(context.Background(), recs[i:min(i+step, len(recs))]...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return done
}

// soWaitSubset waits until every row of need was emitted; every row
// emitted must be in final (the whole run's single-process result), once.
func soWaitSubset(t *testing.T, res *soJoined, need []string, final []string, what string) {
	t.Helper()
	in := map[string]bool{}
	for _, w := range final {
		in[w] = true
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		got := res.snapshot()
		for g, n := range got {
			if !in[g] || n != 1 {
				t.Fatalf("%s: row %q emitted %d times; the single-process result has it %v", what, g, n, in[g])
			}
		}
		missing := 0
		for _, w := range need {
			if got[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d rows missing", what, missing, len(need))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tjCase is one timed join over tjSources: its query and its
// single-process result over events (rows "id,category,amount"), and
// the rows of it that are emitted as soon as both rows are read
// (matches of an interval join), which a check mid-stream can wait for.
type tjCase struct {
	name, query string
	want        func(events []tjEvent) (all, early []string)
}

var tjCases = []tjCase{
	{
		name: "interval",
		// A LEFT interval join: an order without a payment within 5 s
		// is emitted with NULL once the payments' watermark passes
		// its bound, so the watermark crossing the hop decides when
		// (too early: the NULL row and the match both; never: missing).
		query: `SELECT o.id, o.category, p.amount FROM o LEFT JOIN p ON o.id = p.order_id AND p.ts BETWEEN o.ts AND o.ts + INTERVAL '5' SECOND EMIT CHANGES`,
		want: func(events []tjEvent) (all, early []string) {
			paid := map[int]tjEvent{}
			for _, e := range events {
				if e.payment {
					paid[e.id] = e
				}
			}
			for _, e := range events {
				if e.payment {
					continue
				}
				p, ok := paid[e.id]
				if ok && !p.ts.Before(e.ts) && !p.ts.After(e.ts.Add(5*time.Second)) {
					row := fmt.Sprintf("%d,%s,%d", e.id, tjCategory(e.id), p.amount)
					all, early = append(all, row), append(early, row)
					continue
				}
				all = append(all, fmt.Sprintf("%d,%s,NULL", e.id, tjCategory(e.id)))
			}
			return all, early
		},
	},
	{
		name: "window",
		// A window join emits each 10 s window when both sides'
		// watermarks pass its end: every row waits for the
		// watermarks that crossed the hop.
		query: `SELECT o.id, o.category, p.amount FROM TUMBLE(o, ts, INTERVAL '10' SECOND) o JOIN TUMBLE(p, ts, INTERVAL '10' SECOND) p ON o.window_start = p.window_start AND o.window_end = p.window_end AND o.id = p.order_id EMIT FINAL`,
		want: func(events []tjEvent) (all, early []string) {
			orders := map[int]tjEvent{}
			for _, e := range events {
				if !e.payment {
					orders[e.id] = e
				}
			}
			for _, e := range events {
				if o, ok := orders[e.id]; ok && e.payment && o.ts.Truncate(10*time.Second).Equal(e.ts.Truncate(10*time.Second)) {
					all = append(all, fmt.Sprintf("%d,%s,%d", e.id, tjCategory(e.id), e.amount))
				}
			}
			return all, nil
		},
	},
}

// TestScaleOutTimedJoins: three DBs in one consumer group run an
// interval join and a window join of two event-time sources on a key
// neither topic is partitioned by. Both inputs cross one repartition
// topic keyed by the join key, and each side's watermark crosses beside
// its rows, per source partition: the join's watermark of a side is the
// least over that side's source partitions. Folded, the rows the DBs
// emit are exactly the single-process result (computed here, and the
// same query run by one DB with 'scale.out' = 'false'), also when one
// DB is closed and one added mid-stream while rows stream in.
func TestScaleOutTimedJoins(t *testing.T) {
	for _, tc := range tjCases {
		t.Run(tc.name, func(t *testing.T) {
			const parts = 4
			addr := kCluster(t, map[string]int32{"orders": parts, "payments": parts})
			group := "gt" + tc.name
			sources := fmt.Sprintf(tjSources, addr, group, "")
			res := &soJoined{rows: map[string]int{}}
			var members []*soJoinMember
			defer func() {
				for _, m := range members {
					if m != nil {
						m.stop(t)
					}
				}
			}()
			for range 3 {
				members = append(members, soJoinRunOn(t, sources, tc.query, res))
			}
			kWaitGroup(t, addr, group, 9, 3*parts)

			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			events := tjData(1200, base)
			final, _ := tc.want(events)
			cut1, cut2, end := base.Add(40*time.Second), base.Add(80*time.Second), base.Add(10*time.Minute)
			_, early1 := tc.want(tjBefore(events, cut1))
			kProduce(t, addr, tjRecords(events, parts, base, cut1)...)
			soWaitSubset(t, res, early1, final, "three DBs")

			// One DB leaves and another joins while rows stream in.
			done := tjProduceSlowly(t, addr, tjRecords(events, parts, cut1, cut2))
			time.Sleep(700 * time.Millisecond)
			members[1].stop(t)
			members[1] = nil
			members = append(members, soJoinRunOn(t, sources, tc.query, res))
			<-done
			kWaitGroup(t, addr, group, 9, 3*parts)
			kProduce(t, addr, tjRecords(events, parts, cut2, end)...)
			kProduce(t, addr, tjFlush(parts, end)...)
			soWaitJoined(t, res, final, true, "after a DB left and one joined")

			// The single-process run of the same query over the same topics.
			single := &soJoined{rows: map[string]int{}}
			members = append(members, soJoinRunOn(t, fmt.Sprintf(tjSources, addr, group+"single", ", 'scale.out' = 'false', 'scan.startup.mode' = 'earliest'"), tc.query, single))
			soWaitJoined(t, single, final, true, "single process (the reference)")
		})
	}
}

// tjBefore is the events before at.
func tjBefore(events []tjEvent, at time.Time) []tjEvent {
	var out []tjEvent
	for _, e := range events {
		if e.ts.Before(at) {
			out = append(out, e)
		}
	}
	return out
}

// TestScaleOutTimedJoinExplain: EXPLAIN of an interval join over two
// scaled-out sources shows both sides' Kafka exchanges carrying their
// watermark column, and the join taking each side's watermark from them.
func TestScaleOutTimedJoinExplain(t *testing.T) {
	db, _ := kOpen(t, kConfig())
	defer db.Close()
	kExec(t, db, fmt.Sprintf(tjSources, "127.0.0.1:1", "gx", ""))
	var b strings.Builder
	for _, r := range kRows(t, db, "EXPLAIN "+tjCases[0].query) {
		b.WriteString(strings.Join(r, " ") + "\n")
	}
	got := b.String()
	for _, want := range []string{
		"Exchange: kafka keys=[id] side=0 watermark=ts topic=_sluice-gx-join0-repartition",
		"Exchange: kafka keys=[order_id] side=1 watermark=ts topic=_sluice-gx-join0-repartition",
		"each side's watermark crosses the Kafka exchange",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, got)
		}
	}
}
