package sluice_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
)

// srQueries are per-key top-N queries over a scaled-out source, keyed by
// a column the topic is not partitioned by: the three highest values per
// category, and deduplication (each category's first row by event time).
var srQueries = map[string]string{
	"top3":  `SELECT category, value, rn FROM (SELECT category, value, ROW_NUMBER() OVER (PARTITION BY category ORDER BY value DESC) AS rn FROM %s) WHERE rn <= 3 EMIT CHANGES`,
	"first": `SELECT category, value FROM (SELECT category, value, ts, ROW_NUMBER() OVER (PARTITION BY category ORDER BY ts) AS rn FROM %s) WHERE rn = 1 EMIT CHANGES`,
}

// srLive folds a changelog of rows into the live rows, whichever process
// emitted each change: a key's changes come from its owner at the time.
type srLive struct {
	mu   sync.Mutex
	rows map[string]int
	bad  []string
}

func (l *srLive) apply(op exec.Op, row string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch op {
	case exec.OpInsert, exec.OpUpdateAfter:
		l.rows[row]++
	default:
		if l.rows[row] == 0 {
			l.bad = append(l.bad, "retraction of a row not live: "+row)
			return
		}
		if l.rows[row]--; l.rows[row] == 0 {
			delete(l.rows, row)
		}
	}
}

func (l *srLive) snapshot() (string, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for r, n := range l.rows {
		for range n {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n"), append([]string(nil), l.bad...)
}

// srWant is the single-process result of each query over orders, as
// srLive renders it.
func srWant(orders []kOrder) map[string]string {
	by := map[string][]kOrder{}
	for _, o := range orders {
		by[o.Category] = append(by[o.Category], o)
	}
	var top, first []string
	for c, os := range by {
		vals := make([]int64, len(os))
		for i, o := range os {
			vals[i] = o.Value
		}
		sort.Slice(vals, func(i, j int) bool { return vals[i] > vals[j] })
		for i := 0; i < 3 && i < len(vals); i++ {
			top = append(top, fmt.Sprintf("%s %d %d", c, vals[i], i+1))
		}
		early := os[0]
		for _, o := range os {
			if o.TS.Before(early.TS) {
				early = o
			}
		}
		first = append(first, fmt.Sprintf("%s %d", c, early.Value))
	}
	sort.Strings(top)
	sort.Strings(first)
	return map[string]string{"top3": strings.Join(top, "\n"), "first": strings.Join(first, "\n")}
}

// TestScaleOutRankTopN: three DBs in one consumer group run a per-key
// top-3 and a deduplication (ROW_NUMBER() OVER (PARTITION BY category …))
// on a column the topic is not partitioned by: the rows go through a
// repartition topic by category, each DB numbers the categories of the
// repartition partitions it holds, the state moves with them. Folded,
// the changelogs of the three equal the single-process result, also
// after one DB is closed mid-stream.
func TestScaleOutRankTopN(t *testing.T) {
	const parts = 6
	addr := kCluster(t, map[string]int32{"orders": parts})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	live := map[string]*srLive{}
	for q := range srQueries {
		live[q] = &srLive{rows: map[string]int{}}
	}
	type run struct {
		rows   *sluice.Rows
		cancel context.CancelFunc
		done   chan error
	}
	type member struct {
		db   *sluice.DB
		runs []run
	}
	var members []*member
	stop := func(m *member) {
		if m.db == nil {
			return
		}
		for _, r := range m.runs {
			r.cancel()
			if err := <-r.done; err != nil {
				t.Errorf("member: %v", err)
			}
			r.rows.Close()
		}
		m.db.Close()
		m.db = nil
	}
	defer func() {
		for _, m := range members {
			stop(m)
		}
	}()
	for range 3 {
		db, mem := kOpen(t, kConfig())
		t.Cleanup(func() { mem.AssertSize(t, 0) })
		m := &member{db: db}
		for q, text := range srQueries {
			kExec(t, db, fmt.Sprintf(`CREATE SOURCE src_%s (category VARCHAR, value BIGINT, ts TIMESTAMP)
WITH (connector = 'kafka', topic = 'orders', brokers = '%s', format = 'json', 'group.id' = 'gr_%s')`, q, addr, q))
			ctx, cancel := context.WithCancel(context.Background())
			rows, err := db.Query(ctx, fmt.Sprintf(text, "src_"+q))
			if err != nil {
				cancel()
				t.Fatalf("%s: %v", q, err)
			}
			r := run{rows: rows, cancel: cancel, done: make(chan error, 1)}
			l := live[q]
			go func() {
				for rows.Next() {
					rec := rows.Record()
					ops := rec.Column(0).(*array.Int8)
					for i := 0; i < int(rec.NumRows()); i++ {
						var f []string
						for c := 1; c < int(rec.NumCols()); c++ {
							f = append(f, kText(rec, c, i))
						}
						l.apply(exec.Op(ops.Value(i)), strings.Join(f, " "))
					}
				}
				r.done <- rows.Err()
			}()
			m.runs = append(m.runs, r)
		}
		members = append(members, m)
	}
	for q := range srQueries {
		kWaitGroup(t, addr, "gr_"+q, 6, 2*parts)
	}
	wait := func(orders []kOrder, what string) {
		t.Helper()
		want := srWant(orders)
		deadline := time.Now().Add(120 * time.Second)
		for q := range srQueries {
			for {
				got, bad := live[q].snapshot()
				if len(bad) > 0 {
					t.Fatalf("%s %s: %v", what, q, bad[:min(len(bad), 3)])
				}
				if got == want[q] {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s %s: folded\n%s\nwant (single process)\n%s", what, q, got, want[q])
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	orders := kOrders(0, 3000, 30, base, time.Millisecond)
	kProduce(t, addr, soSpread("orders", parts, 0, orders[:1200])...)
	wait(orders[:1200], "three DBs")
	kProduce(t, addr, soSpread("orders", parts, 1200, orders[1200:2000])...)
	stop(members[1])
	kProduce(t, addr, soSpread("orders", parts, 2000, orders[2000:])...)
	wait(orders, "after a DB left")
}
