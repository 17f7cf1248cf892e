package sluice_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice"
)

// swSource is the scaled-out event-time source of the windowed tests:
// rows of every category in every partition, a 1 s watermark delay.
const swSource = `CREATE SOURCE e (category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = 'events', brokers = '%s', format = 'json', 'group.id' = '%s'%s)`

// swQuery closes each 10 s window of each category once.
const swQuery = `SELECT window_start, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(e, ts, INTERVAL '10' SECOND) GROUP BY window_start, category EMIT FINAL`

// swWindows collects closed windows: key "window|category" → "n total",
// and how often each was emitted (EMIT FINAL emits a window once).
type swWindows struct {
	mu    sync.Mutex
	rows  map[string]string
	times map[string]int
	by    map[string]int // emitter → rows
	// repeats allows a window emitted again with the same values: a
	// process killed before saving its state leaves its partitions'
	// next owners to close its last windows again (at-least-once
	// output), from the same rows and watermarks.
	repeats bool
	changed []string // windows emitted again with other values
}

func newSWWindows() *swWindows {
	return &swWindows{rows: map[string]string{}, times: map[string]int{}, by: map[string]int{}}
}

func (w *swWindows) add(who, key, val string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.rows[key]; ok && old != val {
		w.changed = append(w.changed, fmt.Sprintf("%s: %s then %s", key, old, val))
	}
	w.rows[key] = val
	w.times[key]++
	w.by[who]++
}

// check compares the closed windows with want: each once, with want's
// values; ok false while windows are missing.
func (w *swWindows) check(want map[string]string) (ok bool, problem string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.changed) > 0 {
		return false, fmt.Sprintf("windows emitted twice with different values: %v", w.changed)
	}
	for k, n := range w.times {
		if n > 1 && !w.repeats {
			return false, fmt.Sprintf("window %s emitted %d times", k, n)
		}
		if _, in := want[k]; !in {
			return false, fmt.Sprintf("window %s = %s is not in the single-process result", k, w.rows[k])
		}
		if w.rows[k] != want[k] {
			return false, fmt.Sprintf("window %s = %s, single process %s", k, w.rows[k], want[k])
		}
	}
	return len(w.rows) == len(want), ""
}

// swRun runs swQuery on db and adds every window it emits to res as who.
func swRun(t *testing.T, db *sluice.DB, who string, res *swWindows) (*sluice.Rows, context.CancelFunc, chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rows, err := db.Query(ctx, swQuery)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for rows.Next() {
			rec := rows.Record()
			for i := 0; i < int(rec.NumRows()); i++ {
				res.add(who, kText(rec, 0, i)+"|"+kText(rec, 1, i), kText(rec, 2, i)+" "+kText(rec, 3, i))
			}
		}
		done <- rows.Err()
	}()
	return rows, cancel, done
}

// swWant is the single-process result of swQuery over orders: the
// windows that end at or before the watermark closeAt.
func swWant(orders []kOrder, closeAt time.Time) map[string]string {
	type acc struct{ n, sum int64 }
	accs := map[string]*acc{}
	for _, o := range orders {
		ws := o.TS.Truncate(10 * time.Second)
		if !ws.Add(10 * time.Second).After(closeAt) {
			k := ws.UTC().Format("2006-01-02 15:04:05") + "|" + o.Category
			if accs[k] == nil {
				accs[k] = &acc{}
			}
			accs[k].n++
			accs[k].sum += o.Value
		}
	}
	out := map[string]string{}
	for k, a := range accs {
		out[k] = strconv.FormatInt(a.n, 10) + " " + strconv.FormatInt(a.sum, 10)
	}
	return out
}

// swOrders is 4,000 rows over 20 categories, 20 ms apart, the row of
// index j in partition j mod parts and 5 s later in event time per
// partition number: in time order within a partition, but partition 5
// 25 s ahead of partition 0. A repartition partition receives them out
// of event-time order, far more than the 1 s delay: were its rows to
// drive its watermark, partition 0's rows would be late there.
func swOrders(parts int) []kOrder {
	orders := kOrders(0, 4000, 20, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 20*time.Millisecond)
	for j := range orders {
		orders[j].TS = orders[j].TS.Add(time.Duration(j%parts) * 5 * time.Second)
	}
	return orders
}

// swWatermark is the single-process watermark after orders (spread by
// swRecords from index 0): the least over partitions of the greatest
// event time − 1 s.
func swWatermark(parts int, orders []kOrder) time.Time {
	top := make([]time.Time, parts)
	for j, o := range orders {
		if o.TS.After(top[j%parts]) {
			top[j%parts] = o.TS
		}
	}
	low := top[0]
	for _, t := range top {
		if t.Before(low) {
			low = t
		}
	}
	return low.Add(-time.Second)
}

// swRecords spreads orders round-robin over parts partitions, in time
// order within each: no row is late in its own partition.
func swRecords(parts int32, first int, orders []kOrder) []*kgo.Record {
	out := make([]*kgo.Record, len(orders))
	for i, o := range orders {
		out[i] = &kgo.Record{Topic: "events", Partition: int32(first+i) % parts, Value: kJSON(o)}
	}
	return out
}

// swFlush is one row per partition at event time at: it moves every
// partition's watermark to at − 1 s.
func swFlush(parts int32, at time.Time) []*kgo.Record {
	out := make([]*kgo.Record, parts)
	for p := range parts {
		out[p] = &kgo.Record{Topic: "events", Partition: p, Value: kJSON(kOrder{Category: "flush", Value: 0, TS: at})}
	}
	return out
}

func swWait(t *testing.T, res *swWindows, want map[string]string, what string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		ok, problem := res.check(want)
		if problem != "" {
			t.Fatalf("%s: %s", what, problem)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			res.mu.Lock()
			got := len(res.rows)
			res.mu.Unlock()
			missing := []string{}
			res.mu.Lock()
			for k := range want {
				if _, in := res.rows[k]; !in {
					missing = append(missing, k)
				}
			}
			res.mu.Unlock()
			sort.Strings(missing)
			if len(missing) > 5 {
				missing = missing[:5]
			}
			t.Fatalf("%s: %d of %d windows closed; missing e.g. %v", what, got, len(want), missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestScaleOutWindowRepartition: three DBs in one consumer group run an
// event-time TUMBLE … EMIT FINAL grouped by a column the topic is not
// partitioned by. The rows cross a repartition topic, out of event-time
// order (each repartition partition mixes every source partition), so
// the watermark crosses beside them: each upstream part writes its
// source partitions' watermarks into every repartition partition, and a
// window closes downstream when the least over all source partitions
// passes it. Folded, the windows the DBs emit equal the single-process
// result (the same query with 'scale.out' = 'false'), also when a DB is
// closed mid-stream and its partitions, state and watermark move to the
// others.
func TestScaleOutWindowRepartition(t *testing.T) {
	const parts = 6
	addr := kCluster(t, map[string]int32{"events": parts})
	res := newSWWindows()
	// A SELECT's output is at-least-once across a rebalance: a save
	// fenced by it (seen under -race) leaves the partition's next owner
	// to close again, with the same values, what was closed after the
	// last save that went through.
	res.repeats = true

	type member struct {
		db     *sluice.DB
		rows   *sluice.Rows
		cancel context.CancelFunc
		done   chan error
		closed bool
	}
	var members []*member
	stop := func(m *member) {
		if m.closed {
			return
		}
		m.closed = true
		m.cancel()
		if err := <-m.done; err != nil {
			t.Errorf("member: %v", err)
		}
		m.rows.Close()
		m.db.Close()
	}
	defer func() {
		for _, m := range members {
			stop(m)
		}
	}()
	for i := range 3 {
		db, mem := kOpen(t, kConfig())
		t.Cleanup(func() { mem.AssertSize(t, 0) })
		kExec(t, db, fmt.Sprintf(swSource, addr, "gw", ""))
		rows, cancel, done := swRun(t, db, fmt.Sprint("db", i), res)
		members = append(members, &member{db: db, rows: rows, cancel: cancel, done: done})
	}
	kWaitGroup(t, addr, "gw", 6, 2*parts)

	orders := swOrders(parts)
	kProduce(t, addr, swRecords(parts, 0, orders[:1500])...)
	// The windows the watermark passed close, on whichever DB holds
	// their key.
	early := swWant(orders[:1500], swWatermark(parts, orders[:1500]))
	swWait(t, res, early, "three DBs")

	// One DB leaves mid-stream.
	kProduce(t, addr, swRecords(parts, 1500, orders[1500:2500])...)
	stop(members[1])
	kProduce(t, addr, swRecords(parts, 2500, orders[2500:])...)
	end := orders[0].TS.Add(10 * time.Minute)
	kProduce(t, addr, swFlush(parts, end)...)
	want := swWant(orders, end.Add(-time.Second))
	swWait(t, res, want, "after a DB left")
	if len(res.by) < 2 {
		t.Errorf("windows came from %v: want the keys spread over the DBs", res.by)
	}

	// The single-process run of the same query over the same topic.
	single := newSWWindows()
	db, mem := kOpen(t, kConfig())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	kExec(t, db, fmt.Sprintf(swSource, addr, "gsingle", ", 'scale.out' = 'false', 'scan.startup.mode' = 'earliest'"))
	rows, cancel, done := swRun(t, db, "single", single)
	members = append(members, &member{db: db, rows: rows, cancel: cancel, done: done})
	swWait(t, single, want, "single process (the reference)")

	// The repartition topic carries the rows once each and watermark
	// records beside them.
	rep := kConsumeAll(t, addr, "_sluice-gw-windowaggregate0-repartition", func(r []*kgo.Record) bool { return false }, 3*time.Second)
	rowsOut, marks := 0, 0
	for _, r := range rep {
		if len(r.Headers) > 0 && r.Headers[0].Key == "sluice.watermark" {
			marks++
		} else {
			rowsOut++
		}
	}
	if rowsOut != len(orders)+parts || marks == 0 {
		t.Errorf("repartition topic: %d rows (want %d, one per source record) and %d watermark records (want some)", rowsOut, len(orders)+parts, marks)
	}
}

// swMemberEnv makes the test binary run swQuery as one process of the
// scaled-out windowed query (TestScaleOutWindowKillMember) instead of
// running tests: it prints each window it emits as "window|category n
// total" and runs until killed.
const swMemberEnv = "SLUICE_SCALEOUT_WINDOW_BROKERS"

func init() {
	addr := os.Getenv(swMemberEnv)
	if addr == "" {
		return
	}
	err := func() error {
		db, err := sluice.Open(sluice.Config{Log: io.Discard})
		if err != nil {
			return err
		}
		ctx := context.Background()
		if err := db.Exec(ctx, fmt.Sprintf(swSource, addr, "gwk", "")); err != nil {
			return err
		}
		rows, err := db.Query(ctx, swQuery)
		if err != nil {
			return err
		}
		out := bufio.NewWriter(os.Stdout)
		fmt.Fprintln(out, "started")
		out.Flush()
		for rows.Next() {
			rec := rows.Record()
			for i := 0; i < int(rec.NumRows()); i++ {
				fmt.Fprintf(out, "%s|%s %s %s\n", kText(rec, 0, i), kText(rec, 1, i), kText(rec, 2, i), kText(rec, 3, i))
			}
			out.Flush()
		}
		return rows.Err()
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestScaleOutWindowKillMember: the windowed query of
// TestScaleOutWindowRepartition on three processes, one a separate
// process killed with SIGKILL mid-stream (its open transactions, unsaved
// window state and group membership simply gone). The others take over
// its source and repartition partitions, restore the windows from the
// changelog and the watermark from the carried records, and every window
// closes with the single-process values (a window the killed process
// closed after its last save closes again, with the same values).
func TestScaleOutWindowKillMember(t *testing.T) {
	const parts = 6
	addr := kCluster(t, map[string]int32{"events": parts})
	res := newSWWindows()
	res.repeats = true
	type member struct {
		db     *sluice.DB
		rows   *sluice.Rows
		cancel context.CancelFunc
		done   chan error
	}
	var members []member
	defer func() {
		for _, m := range members {
			m.cancel()
			if err := <-m.done; err != nil {
				t.Errorf("member: %v", err)
			}
			m.rows.Close()
			m.db.Close()
		}
	}()
	for i := range 2 {
		db, mem := kOpen(t, kConfig())
		t.Cleanup(func() { mem.AssertSize(t, 0) })
		kExec(t, db, fmt.Sprintf(swSource, addr, "gwk", ""))
		rows, cancel, done := swRun(t, db, fmt.Sprint("db", i), res)
		members = append(members, member{db, rows, cancel, done})
	}
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), swMemberEnv+"="+addr)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "started" {
		t.Fatalf("member process did not start: %q %v", lines.Text(), lines.Err())
	}
	go func() {
		for lines.Scan() {
			// "2026-01-01 00:00:00|c1 n total"
			if f := strings.Fields(lines.Text()); len(f) == 4 {
				res.add("child", f[0]+" "+f[1], f[2]+" "+f[3])
			}
		}
	}()
	kWaitGroup(t, addr, "gwk", 6, 2*parts)

	orders := swOrders(parts)
	kProduce(t, addr, swRecords(parts, 0, orders[:1500])...)
	swWait(t, res, swWant(orders[:1500], swWatermark(parts, orders[:1500])), "three processes")
	res.mu.Lock()
	childRows := res.by["child"]
	res.mu.Unlock()
	if childRows == 0 {
		t.Fatal("the member process closed no window: it got no partition")
	}

	kProduce(t, addr, swRecords(parts, 1500, orders[1500:2500])...)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	cmd.Wait()
	kProduce(t, addr, swRecords(parts, 2500, orders[2500:])...)
	end := orders[0].TS.Add(10 * time.Minute)
	kProduce(t, addr, swFlush(parts, end)...)
	swWait(t, res, swWant(orders, end.Add(-time.Second)), "after SIGKILL of a member process")
}
