package sluice_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
)

// chainFold folds the changelogs a scaled-out query's members emit into
// one signed multiset of rows: +1 for an insert or update-after, -1 for
// an update-before or delete. It does not depend on the order in which
// the members' outputs are read, and a change emitted twice or lost
// shows as a row counted twice, or a retraction left over.
type chainFold struct {
	mu  sync.Mutex
	net map[string]int
	by  map[*chainMember]int
}

func newChainFold() *chainFold {
	return &chainFold{net: map[string]int{}, by: map[*chainMember]int{}}
}

// live is the folded result: every row whose count is not 0.
func (f *chainFold) live() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, n := range f.net {
		if n != 0 {
			out[k] = n
		}
	}
	return out
}

func (f *chainFold) emitted(m *chainMember) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.by[m]
}

// chainMember is one DB running the query, its output folded.
type chainMember struct {
	db     *sluice.DB
	mem    *memory.CheckedAllocator
	rows   *sluice.Rows
	cancel context.CancelFunc
	done   chan error
}

// chainStart opens a DB with the sources and runs query in it, folding
// its rows (every column after the op, joined by "|") into f.
func chainStart(t *testing.T, sources, query string, f *chainFold) *chainMember {
	t.Helper()
	db, mem := kOpen(t, kConfig())
	kExec(t, db, sources)
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := db.Query(ctx, query)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	m := &chainMember{db: db, mem: mem, rows: rows, cancel: cancel, done: make(chan error, 1)}
	go func() {
		for rows.Next() {
			rec := rows.Record()
			for i := 0; i < int(rec.NumRows()); i++ {
				cells := make([]string, 0, rec.NumCols()-1)
				for c := 1; c < int(rec.NumCols()); c++ {
					cells = append(cells, kText(rec, c, i))
				}
				sign := 1
				if op := rows.Op(i); op == exec.OpUpdateBefore || op == exec.OpDelete {
					sign = -1
				}
				f.mu.Lock()
				f.net[strings.Join(cells, "|")] += sign
				f.by[m]++
				f.mu.Unlock()
			}
		}
		m.done <- rows.Err()
	}()
	return m
}

// stop stops the member's query cleanly mid-stream and closes its DB.
func (m *chainMember) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	if err := <-m.done; err != nil {
		t.Errorf("member: %v", err)
	}
	m.rows.Close()
	m.db.Close()
	if n := m.mem.CurrentAlloc(); n != 0 {
		t.Errorf("member leaked %d bytes", n)
	}
}

// chainWait waits until f folds to want (each row once).
func chainWait(t *testing.T, f *chainFold, want map[string]int, what string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	var got map[string]int
	for time.Now().Before(deadline) {
		got = f.live()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var missing, extra []string
	for k, n := range want {
		if got[k] != n {
			missing = append(missing, fmt.Sprintf("%s (×%d, want ×%d)", k, got[k], n))
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			extra = append(extra, fmt.Sprintf("%s (×%d)", k, n))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Fatalf("%s: folded result differs from the single-process one: %d rows wrong or missing %v, %d rows extra %v", what, len(missing), first(missing, 8), len(extra), first(extra, 8))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// chainScenario runs query in three DBs of one consumer group (each
// holding members group members, over parts partitions in all), feeding
// batch(i) for i in 0..2: all three run the first batch; one is closed
// in the middle of the second; a fourth joins in the middle of the
// third (it must emit some changes when joinerEmits: the last
// stage has partitions enough to give it one, and the second half of
// the third batch must change keys in each of them). After each batch the folded output must equal want(i), the
// single-process result of every batch so far. It returns the members
// still running (the last one the joiner), stopped by the test's end.
func chainScenario(t *testing.T, addr, sources, query, group string, members, parts int, batch func(i int) (first, second []*kgo.Record), want func(i int) map[string]int, joinerEmits bool) []*chainMember {
	t.Helper()
	f := newChainFold()
	var ms []*chainMember
	t.Cleanup(func() {
		for _, m := range ms {
			if m != nil {
				m.stop(t)
			}
		}
	})
	for range 3 {
		ms = append(ms, chainStart(t, sources, query, f))
	}
	kWaitGroup(t, addr, group, 3*members, parts)
	a, b := batch(0)
	kProduce(t, addr, append(a, b...)...)
	chainWait(t, f, want(0), "three DBs")

	a, b = batch(1)
	kProduce(t, addr, a...)
	ms[1].stop(t)
	ms[1] = nil
	kProduce(t, addr, b...)
	chainWait(t, f, want(1), "after a DB left mid-stream")

	a, b = batch(2)
	kProduce(t, addr, a...)
	joiner := chainStart(t, sources, query, f)
	ms = append(ms, joiner)
	kWaitGroup(t, addr, group, 3*members, parts)
	kProduce(t, addr, b...)
	chainWait(t, f, want(2), "after a DB joined mid-stream")
	if joinerEmits && f.emitted(joiner) == 0 {
		t.Errorf("the DB that joined emitted nothing: it took over no partition of the last stage, or one that got no records; the group: %s", kGroupState(t, addr, group))
	}
	return ms
}

// chainOrder is an order of the chained tests: its category, region and
// value. Categories are of uneven sizes, so that the counts per category
// differ (chainOrders).
type chainOrder struct {
	category, region string
	value            int64
}

// catTotal is one category's order count and value total.
type catTotal struct{ n, t int64 }

// byCategory folds orders as the lower GROUP BY category, COUNT(*),
// SUM(value) of the chained queries does.
func byCategory(all []chainOrder) map[string]catTotal {
	out := map[string]catTotal{}
	for _, o := range all {
		v := out[o.category]
		out[o.category] = catTotal{v.n + 1, v.t + o.value}
	}
	return out
}

// chainOrders makes orders first to first+n-1. Of every 1431 orders in a
// row, category ck has k+1 (k < 53), spread over them (order j is the
// (7j mod 1431)-th of the period), so every batch touches nearly every
// category and the counts differ from category to category. An
// operator keyed by a count (GROUP BY n over GROUP BY category) thus
// gets changes for dozens of keys from any half batch, some in every
// partition of its topic: the DB that joins before the last half batch
// has changes to emit, whichever partition it takes over. (A category
// of (j²+3j) mod 53, as before, gave 27 categories nearly all of one
// size: a half batch changed a handful of counts, and in the CI run of
// TestScaleOutGroupByOverGroupBy none fell in the partition the joiner
// held.)
func chainOrders(first, n int) []chainOrder {
	out := make([]chainOrder, n)
	for i := range out {
		j := first + i
		m := j * 7 % 1431
		k := (int(math.Sqrt(float64(8*m+1))) - 1) / 2 // the k with k(k+1)/2 <= m < (k+1)(k+2)/2
		out[i] = chainOrder{category: fmt.Sprintf("c%d", k), region: fmt.Sprintf("r%d", j/3%16), value: int64(j*7%101 + 1)}
	}
	return out
}

// chainRecords spreads orders round-robin over parts partitions of
// topic orders (from position first), so no key lives in one partition.
func chainRecords(parts int32, first int, orders []chainOrder) []*kgo.Record {
	out := make([]*kgo.Record, len(orders))
	for i, o := range orders {
		out[i] = &kgo.Record{Topic: "orders", Partition: int32(first+i) % parts,
			Value: []byte(fmt.Sprintf(`{"category":%q,"region":%q,"value":%d}`, o.category, o.region, o.value))}
	}
	return out
}

const chainSources = `CREATE SOURCE o (category VARCHAR, region VARCHAR, value BIGINT)
WITH (connector = 'kafka', topic = 'orders', brokers = '%s', format = 'json', 'group.id' = '%s')`

// TestScaleOutGroupByOverGroupBy: a GROUP BY over a GROUP BY on another
// key (how many categories have each count, and their totals) runs in
// three DBs through two repartition topics, the first aggregate's
// changes (retractions of the count a category had, inserts of its new
// one) crossing the second hop with their op column. Folded, the
// output equals the single-process result across a DB closed and one
// added mid-stream. Each hop has its own topics, listed by SHOW
// INTERNAL TOPICS and deleted by DROP SOURCE … CASCADE.
func TestScaleOutGroupByOverGroupBy(t *testing.T) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"orders": parts})
	const query = `SELECT n, COUNT(*) AS cats, SUM(t) AS total FROM (SELECT category, COUNT(*) AS n, SUM(value) AS t FROM o GROUP BY category) GROUP BY n EMIT CHANGES`
	const per = 1200
	var all []chainOrder
	batch := func(i int) ([]*kgo.Record, []*kgo.Record) {
		os := chainOrders(i*per, per)
		all = append(all, os...)
		return chainRecords(parts, i*per, os[:per/2]), chainRecords(parts, i*per+per/2, os[per/2:])
	}
	want := func(int) map[string]int {
		byN := map[int64]catTotal{}
		for _, v := range byCategory(all) {
			w := byN[v.n]
			byN[v.n] = catTotal{w.n + 1, w.t + v.t}
		}
		out := map[string]int{}
		for n, v := range byN {
			out[fmt.Sprintf("%d|%d|%d", n, v.n, v.t)] = 1
		}
		return out
	}
	// Per DB: the source's reader, the first and the second
	// repartition topic's.
	ms := chainScenario(t, addr, fmt.Sprintf(chainSources, addr, "g3"), query, "g3", 3, 3*parts, batch, want, true)

	joiner := ms[len(ms)-1]
	show := kRows(t, joiner.db, "SHOW INTERNAL TOPICS")
	wantTopics := [][]string{
		{"o", "g3", "_sluice-g3-groupaggregate0-changelog", "changelog", "groupaggregate0", "4"},
		{"o", "g3", "_sluice-g3-groupaggregate0-repartition", "repartition", "groupaggregate0", "4"},
		{"o", "g3", "_sluice-g3-groupaggregate1-changelog", "changelog", "groupaggregate1", "4"},
		{"o", "g3", "_sluice-g3-groupaggregate1-repartition", "repartition", "groupaggregate1", "4"},
	}
	if fmt.Sprint(show) != fmt.Sprint(wantTopics) {
		t.Errorf("SHOW INTERNAL TOPICS:\n%v\nwant\n%v", show, wantTopics)
	}
	// Both stages' partitions are reported.
	lag := joiner.rows.Stats().Lag
	seen := map[string]bool{}
	for k := range lag {
		seen[k[:strings.LastIndexByte(k, '/')]] = true
	}
	for _, topic := range []string{"orders", "_sluice-g3-groupaggregate0-repartition", "_sluice-g3-groupaggregate1-repartition"} {
		if !seen[topic] {
			t.Errorf("lag %v: no partition of %s", lag, topic)
		}
	}
	for i, m := range ms {
		if m != nil {
			m.stop(t)
			ms[i] = nil
		}
	}
	// Exactly once across the second hop: the committed records of the
	// second repartition topic fold to the first aggregate's result,
	// each change once.
	rep := kConsumeAll(t, addr, "_sluice-g3-groupaggregate1-repartition", func([]*kgo.Record) bool { return false }, 3*time.Second)
	counts := map[string]int{}
	for _, r := range rep {
		var op int8
		if _, err := fmt.Sscanf(string(r.Value), `{"op":%d,`, &op); err != nil {
			t.Fatalf("repartition record %s: %v", r.Value, err)
		}
		row := string(r.Value[strings.IndexByte(string(r.Value), ',')+1:])
		if exec.Op(op) == exec.OpUpdateBefore || exec.Op(op) == exec.OpDelete {
			counts[row]--
		} else {
			counts[row]++
		}
	}
	byCat := map[string]bool{}
	for _, o := range all {
		byCat[o.category] = true
	}
	live := 0
	for k, n := range counts {
		if n < 0 {
			t.Errorf("second repartition topic: row %s folds to %d", k, n)
		}
		live += n
	}
	if live != len(byCat) {
		t.Errorf("second repartition topic folds to %d rows, want one per category (%d)", live, len(byCat))
	}

	admin, _ := kOpen(t, kConfig())
	defer admin.Close()
	kExec(t, admin, fmt.Sprintf(chainSources, addr, "g3"))
	kExec(t, admin, "DROP SOURCE o CASCADE")
	kExec(t, admin, fmt.Sprintf(chainSources, addr, "g3"))
	if got := kRows(t, admin, "SHOW INTERNAL TOPICS"); len(got) != 0 {
		t.Errorf("internal topics left after DROP SOURCE o CASCADE: %v", got)
	}
}

// TestScaleOutJoinThenGroupBy: COUNT and SUM over a stream-stream join,
// grouped by a column that is not the join key, in three DBs: the join
// runs per partition of its topic (keyed by the join key), its output
// crosses a second topic keyed by the category. Folded, the output
// equals the single-process result across a DB closed and one added
// mid-stream.
func TestScaleOutJoinThenGroupBy(t *testing.T) {
	const parts = 3
	addr := kCluster(t, map[string]int32{"orders": parts, "payments": parts})
	const sources = `CREATE SOURCE o (id BIGINT, category VARCHAR)
WITH (connector = 'kafka', topic = 'orders', brokers = '%[1]s', format = 'json', 'group.id' = 'g4');
CREATE SOURCE p (order_id BIGINT, amount BIGINT)
WITH (connector = 'kafka', topic = 'payments', brokers = '%[1]s', format = 'json', 'group.id' = 'g4')`
	const query = `SELECT o.category, COUNT(*) AS n, SUM(p.amount) AS total FROM o JOIN p ON o.id = p.order_id GROUP BY o.category EMIT CHANGES`
	const per = 400
	type ct struct{ n, sum int64 }
	totals := map[string]ct{}
	records := func(from, to int) []*kgo.Record {
		var out []*kgo.Record
		for i := from; i < to; i++ {
			// 23 categories, each in every half batch: i*i%11 gave
			// only 6 (the squares mod 11), and a partition of the last
			// stage could hold none of them, so a DB that took it over
			// had nothing to emit (CI, "the DB that joined emitted
			// nothing").
			cat := fmt.Sprintf("c%d", i*7%23)
			out = append(out, &kgo.Record{Topic: "orders", Partition: int32(i) % parts, Value: []byte(fmt.Sprintf(`{"id":%d,"category":%q}`, i, cat))})
			for k := range 1 + i%3 {
				amount := int64(i*10 + k)
				out = append(out, &kgo.Record{Topic: "payments", Partition: int32(i+k+1) % parts, Value: []byte(fmt.Sprintf(`{"order_id":%d,"amount":%d}`, i, amount))})
				v := totals[cat]
				totals[cat] = ct{v.n + 1, v.sum + amount}
			}
		}
		return out
	}
	batch := func(i int) ([]*kgo.Record, []*kgo.Record) {
		return records(i*per, i*per+per/2), records(i*per+per/2, (i+1)*per)
	}
	want := func(int) map[string]int {
		out := map[string]int{}
		for cat, v := range totals {
			out[fmt.Sprintf("%s|%d|%d", cat, v.n, v.sum)] = 1
		}
		return out
	}
	// Per DB: both sources' readers, the join's topic's and the
	// aggregate's.
	chainScenario(t, addr, fmt.Sprintf(sources, addr), query, "g4", 4, 4*parts, batch, want, true)
}

// TestScaleOutTopNOverGroupBy: the top two categories by count per
// region (ROW_NUMBER over PARTITION BY region) over a GROUP BY region,
// category, in three DBs: the aggregate's changes cross a second topic
// keyed by the region, where each DB ranks whole regions. Rows moving in
// and out of the top two retract and insert; folded, the output equals
// the single-process result across a DB closed and one added
// mid-stream.
func TestScaleOutTopNOverGroupBy(t *testing.T) {
	const parts = 4
	addr := kCluster(t, map[string]int32{"orders": parts})
	const query = `SELECT * FROM (SELECT region, category, n, ROW_NUMBER() OVER (PARTITION BY region ORDER BY n DESC, category) AS rn FROM (SELECT region, category, COUNT(*) AS n FROM o GROUP BY region, category)) WHERE rn <= 2 EMIT CHANGES`
	const per = 1200
	var all []chainOrder
	batch := func(i int) ([]*kgo.Record, []*kgo.Record) {
		os := chainOrders(i*per, per)
		all = append(all, os...)
		return chainRecords(parts, i*per, os[:per/2]), chainRecords(parts, i*per+per/2, os[per/2:])
	}
	want := func(int) map[string]int {
		type key struct{ region, category string }
		counts := map[key]int{}
		for _, o := range all {
			counts[key{o.region, o.category}]++
		}
		byRegion := map[string][]key{}
		for k := range counts {
			byRegion[k.region] = append(byRegion[k.region], k)
		}
		out := map[string]int{}
		for region, ks := range byRegion {
			sort.Slice(ks, func(i, j int) bool {
				if counts[ks[i]] != counts[ks[j]] {
					return counts[ks[i]] > counts[ks[j]]
				}
				return ks[i].category < ks[j].category
			})
			for rn, k := range ks[:min(2, len(ks))] {
				out[fmt.Sprintf("%s|%s|%d|%d", region, k.category, counts[k], rn+1)] = 1
			}
		}
		return out
	}
	chainScenario(t, addr, fmt.Sprintf(chainSources, addr, "g5"), query, "g5", 3, 3*parts, batch, want, true)
}

// TestScaleOutOnePartitionOverGroupBy: operators that fold or rank
// every row together over a scaled-out GROUP BY (an aggregate without
// keys, ORDER BY … LIMIT) read its changes through a topic whose rows
// all go to one partition: one DB at a time holds them, and the result
// moves with that partition. Folded, the output equals the
// single-process result across a DB closed and one added mid-stream.
func TestScaleOutOnePartitionOverGroupBy(t *testing.T) {
	const parts = 4
	const per = 900
	cases := []struct {
		name, query string
		want        func(all []chainOrder) map[string]int
	}{
		{"global", `SELECT COUNT(*) AS cats, SUM(n) AS orders, MAX(n) AS most FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) EMIT CHANGES`,
			func(all []chainOrder) map[string]int {
				counts := map[string]int{}
				most := 0
				for _, o := range all {
					counts[o.category]++
					most = max(most, counts[o.category])
				}
				return map[string]int{fmt.Sprintf("%d|%d|%d", len(counts), len(all), most): 1}
			}},
		{"topn", `SELECT category, n FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) ORDER BY n DESC, category LIMIT 3 EMIT CHANGES`,
			func(all []chainOrder) map[string]int {
				counts := map[string]int{}
				for _, o := range all {
					counts[o.category]++
				}
				cats := make([]string, 0, len(counts))
				for c := range counts {
					cats = append(cats, c)
				}
				sort.Slice(cats, func(i, j int) bool {
					if counts[cats[i]] != counts[cats[j]] {
						return counts[cats[i]] > counts[cats[j]]
					}
					return cats[i] < cats[j]
				})
				out := map[string]int{}
				for _, c := range cats[:3] {
					out[fmt.Sprintf("%s|%d", c, counts[c])] = 1
				}
				return out
			}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := kCluster(t, map[string]int32{"orders": parts})
			group := fmt.Sprintf("g6%d", i)
			var all []chainOrder
			batch := func(i int) ([]*kgo.Record, []*kgo.Record) {
				os := chainOrders(i*per, per)
				all = append(all, os...)
				return chainRecords(parts, i*per, os[:per/2]), chainRecords(parts, i*per+per/2, os[per/2:])
			}
			chainScenario(t, addr, fmt.Sprintf(chainSources, addr, group), c.query, group, 3, 3*parts, batch, func(int) map[string]int { return c.want(all) }, false)
		})
	}
}

// TestScaleOutLocalChain: an operator whose keys include every key of
// the repartition topic the operator below reads (GROUP BY category, n
// over GROUP BY category) needs no hop: it runs inside the lower one's
// per-partition instance (EXPLAIN: Exchange: local … partitioned as …
// already), its state saved with the lower one's in one changelog
// record, so it moves with the partition. No topic of its own is made.
// Over it, a GROUP BY on another key goes through a Kafka exchange
// again (the stage below it is the local chain). Both, folded, equal
// the single-process result across a DB closed and one added
// mid-stream.
func TestScaleOutLocalChain(t *testing.T) {
	const parts = 4
	const per = 900
	cases := []struct {
		name, query string
		members     int
		topics      []string
		want        func(all []chainOrder) map[string]int
	}{
		{"local", `SELECT category, n, COUNT(*) AS c, SUM(t) AS total FROM (SELECT category, COUNT(*) AS n, SUM(value) AS t FROM o GROUP BY category) GROUP BY category, n EMIT CHANGES`, 2,
			[]string{"groupaggregate0-changelog", "groupaggregate0-repartition"},
			func(all []chainOrder) map[string]int {
				out := map[string]int{}
				for c, v := range byCategory(all) {
					out[fmt.Sprintf("%s|%d|1|%d", c, v.n, v.t)] = 1
				}
				return out
			}},
		{"local-then-kafka", `SELECT n, COUNT(*) AS cats FROM (SELECT category, n, COUNT(*) AS c FROM (SELECT category, COUNT(*) AS n FROM o GROUP BY category) GROUP BY category, n) GROUP BY n EMIT CHANGES`, 3,
			[]string{"groupaggregate0-changelog", "groupaggregate0-repartition", "groupaggregate2-changelog", "groupaggregate2-repartition"},
			func(all []chainOrder) map[string]int {
				byCat := map[string]int{}
				for _, o := range all {
					byCat[o.category]++
				}
				byN := map[int]int{}
				for _, n := range byCat {
					byN[n]++
				}
				out := map[string]int{}
				for n, c := range byN {
					out[fmt.Sprintf("%d|%d", n, c)] = 1
				}
				return out
			}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := kCluster(t, map[string]int32{"orders": parts})
			group := fmt.Sprintf("g7%d", i)
			sources := fmt.Sprintf(chainSources, addr, group)
			var all []chainOrder
			batch := func(i int) ([]*kgo.Record, []*kgo.Record) {
				os := chainOrders(i*per, per)
				all = append(all, os...)
				return chainRecords(parts, i*per, os[:per/2]), chainRecords(parts, i*per+per/2, os[per/2:])
			}
			ms := chainScenario(t, addr, sources, c.query, group, c.members, c.members*parts, batch, func(int) map[string]int { return c.want(all) }, true)
			db := ms[len(ms)-1].db
			var plan []string
			for _, r := range kRows(t, db, "EXPLAIN "+c.query) {
				plan = append(plan, strings.Join(r, " "))
			}
			if !strings.Contains(strings.Join(plan, "\n"), "Exchange: local keys=[category, n] (partitioned as _sluice-"+group+"-groupaggregate0-repartition already") {
				t.Errorf("EXPLAIN shows no local exchange:\n%s", strings.Join(plan, "\n"))
			}
			var got []string
			for _, r := range kRows(t, db, "SHOW INTERNAL TOPICS") {
				got = append(got, strings.TrimPrefix(r[2], "_sluice-"+group+"-"))
			}
			if fmt.Sprint(got) != fmt.Sprint(c.topics) {
				t.Errorf("internal topics %v, want %v (none for the local exchange)", got, c.topics)
			}
		})
	}
}

// kGroupState describes group for a failure message: its state, and
// each member's subscription and assigned partitions.
func kGroupState(t testing.TB, addr, group string) string {
	cl := kClient(t, addr)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return err.Error()
	}
	g := gs[group]
	out := fmt.Sprintf("state %s, %d members:", g.State, len(g.Members))
	for _, m := range g.Members {
		var subs []string
		if md, ok := m.Join.AsConsumer(); ok {
			subs = md.Topics
		}
		var as []string
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range a.Topics {
				as = append(as, fmt.Sprintf("%s%v", tp.Topic, tp.Partitions))
			}
		}
		out += fmt.Sprintf("\n  %s %s subs=%v assigned=%v", m.MemberID, m.ClientID, subs, as)
	}
	return out
}
