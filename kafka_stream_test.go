package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaWindowedEmitFinal: tumbling windows over a topic with two
// partitions read at different paces. Per-partition watermarks keep the
// slower partition's rows from being late; 'watermark.idle_timeout' lets
// the last windows close once one partition stops while the other moves
// on. Every window's final row equals the sum computed here.
func TestKafkaWindowedEmitFinal(t *testing.T) {
	for _, tc := range []struct {
		name      string
		batchSize int
	}{
		// Small batches alternate between the partitions, so neither runs
		// far ahead of the other.
		{"alternating", 16},
		// Whole-partition batches: partition 0 (with the far-ahead row)
		// arrives before partition 1 has sent anything, so only its
		// registration at start keeps the watermark back.
		{"partition-at-a-time", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kWindowedFinal(t, tc.batchSize)
		})
	}
}

func kWindowedFinal(t *testing.T, batchSize int) {
	addr := kCluster(t, map[string]int32{"orders": 2})
	orders := kOrders(0, 600, 3, kBase, 100*time.Millisecond) // 60s of event time
	recs := make([]*kgo.Record, 0, len(orders)+1)
	for i, o := range orders {
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Value: kJSON(o)})
	}
	// Only partition 0 moves past the data; partition 1 goes idle.
	recs = append(recs, &kgo.Record{Topic: "orders", Partition: 0, Value: kJSON(kOrder{Category: "closer", Value: 1, TS: kBase.Add(200 * time.Second)})})
	kProduce(t, addr, recs...)

	want := map[string]int64{}
	for _, o := range orders {
		ws := o.TS.Truncate(10 * time.Second).UTC().Format("2006-01-02 15:04:05")
		want[ws+"|"+o.Category] += o.Value
	}
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	if batchSize > 0 {
		kExec(t, db, fmt.Sprintf("SET batch_size = %d", batchSize))
	}
	kExec(t, db, `CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'kafka', topic = 'orders', brokers = '`+addr+`', format = 'json', 'watermark.idle_timeout' = '300ms')`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rows, err := db.Query(ctx, `SELECT window_start, category, SUM(value) AS total
FROM TUMBLE(orders, ts, INTERVAL '10' SECOND) GROUP BY window_start, category EMIT FINAL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int64{}
	stop := time.AfterFunc(20*time.Second, func() { rows.Close() })
	defer stop.Stop()
	for len(got) < len(want) && rows.Next() {
		rec := rows.Record()
		off := 0
		if rows.Changelog() {
			off = 1
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			k := kText(rec, off, i) + "|" + kText(rec, off+1, i)
			if _, dup := got[k]; dup {
				t.Fatalf("window %s emitted twice", k)
			}
			var v int64
			fmt.Sscan(kText(rec, off+2, i), &v)
			got[k] = v
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !kEqual(got, want) {
		t.Fatalf("final windows\n got %v\nwant %v (late rows: %d)", got, want, rows.Stats().LateRows)
	}
	if st := rows.Stats(); st.LateRows != 0 {
		t.Fatalf("%d rows were late: per-partition watermarks should keep them in", st.LateRows)
	}
}

// TestKafkaUpsertSink: Kafka → EMIT CHANGES → Kafka. The output topic,
// compacted by key, equals the sums; with a HAVING that retracts groups,
// retracted keys get tombstones.
func TestKafkaUpsertSink(t *testing.T) {
	orders := kOrders(0, 400, 5, kBase, time.Second)
	sums := kSums(orders)
	// A threshold between the smallest and largest sum retracts some
	// groups (their sums grow past it) and keeps others.
	vals := make([]int64, 0, len(sums))
	for _, v := range sums {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	limit := vals[len(vals)/2]
	for _, tc := range []struct {
		name, having string
		keep         func(int64) bool
	}{
		{"sums", "", func(int64) bool { return true }},
		{"tombstones", fmt.Sprintf("HAVING SUM(value) < %d", limit), func(v int64) bool { return v < limit }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := kCluster(t, map[string]int32{"orders": 2, "totals": 1})
			kProduce(t, addr, kRecords("orders", 2, orders)...)
			want := map[string]int64{}
			for k, v := range sums {
				if tc.keep(v) {
					want[k] = v
				}
			}
			dropped := len(sums) - len(want)
			db, mem := kOpen(t, kConfig())
			defer mem.AssertSize(t, 0)
			if dropped > 0 {
				// Small batches make groups grow past the limit one step at
				// a time, so they are emitted first and retracted later.
				kExec(t, db, "SET batch_size = 5")
			}
			kExec(t, db, kSource("orders", addr, "orders", ""))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- db.Exec(ctx, `CREATE SINK totals WITH (connector = 'kafka', topic = 'totals', brokers = '`+addr+`', format = 'json', key = 'category')
AS SELECT category, SUM(value) AS total FROM orders GROUP BY category `+tc.having+` EMIT CHANGES`)
			}()
			var recs []*kgo.Record
			select {
			case err := <-done:
				t.Fatalf("sink query ended early: %v", err)
			default:
			}
			recs = kConsumeAll(t, addr, "totals", func(rs []*kgo.Record) bool {
				return kEqual(kCompact(t, rs, "total"), want) && kTombstones(rs) >= dropped
			}, 20*time.Second)
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("sink query: %v", err)
			}
			if got := kCompact(t, recs, "total"); !kEqual(got, want) {
				t.Fatalf("compacted output %v, want %v", got, want)
			}
			// Every retracted group was written and then tombstoned.
			last := map[string][]byte{}
			for _, r := range recs {
				last[string(r.Key)] = r.Value
			}
			for k := range sums {
				if _, kept := want[k]; kept {
					continue
				}
				if v, ok := last[k]; !ok || v != nil {
					t.Fatalf("retracted group %s: last record %q, want a tombstone", k, v)
				}
			}
		})
	}
}

// TestKafkaGroupScaleOut: two DBs run the same stateless query with the
// same group.id; the group splits the 4 partitions between them and the
// union of their outputs is the input, each record exactly once.
func TestKafkaGroupScaleOut(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 4})
	const n = 800
	type out struct {
		who  int
		part string
		off  string
		cat  string
	}
	ch := make(chan out, n*2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for who := 0; who < 2; who++ {
		db, mem := kOpen(t, kConfig())
		defer mem.AssertSize(t, 0)
		kExec(t, db, `CREATE SOURCE orders (category VARCHAR, value BIGINT, _partition INT, _offset BIGINT)
WITH (connector = 'kafka', topic = 'orders', brokers = '`+addr+`', format = 'json', 'group.id' = 'scale', 'scan.startup.mode' = 'earliest')`)
		rows, err := db.Query(ctx, `SELECT _partition, _offset, category FROM orders WHERE value > 0 EMIT CHANGES`)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(who int) {
			defer wg.Done()
			defer rows.Close()
			for rows.Next() {
				rec := rows.Record()
				off := 0
				if rows.Changelog() {
					off = 1
				}
				for i := 0; i < int(rec.NumRows()); i++ {
					ch <- out{who, kText(rec, off, i), kText(rec, off+1, i), kText(rec, off+2, i)}
				}
			}
			if err := rows.Err(); err != nil {
				t.Error(err)
			}
		}(who)
	}
	kWaitGroup(t, addr, "scale", 2, 4)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "orders", Partition: int32(i % 4), Value: kJSON(kOrder{Category: fmt.Sprintf("c%d", i), Value: int64(i + 1), TS: kBase})}
	}
	kProduce(t, addr, recs...)

	seen := map[string]int{}
	owner := map[string]int{}
	byWho := [2]int{}
	timeout := time.After(20 * time.Second)
	grace := (<-chan time.Time)(nil)
loop:
	for {
		select {
		case o := <-ch:
			k := o.part + "/" + o.off
			if seen[k]++; seen[k] > 1 {
				t.Fatalf("record %s (%s) delivered twice", k, o.cat)
			}
			if w, ok := owner[o.part]; ok && w != o.who {
				t.Fatalf("partition %s read by both DBs", o.part)
			}
			owner[o.part] = o.who
			byWho[o.who]++
			if len(seen) == n && grace == nil {
				grace = time.After(500 * time.Millisecond) // catch late duplicates
			}
		case <-grace:
			break loop
		case <-timeout:
			break loop
		}
	}
	cancel()
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("union has %d records, want %d", len(seen), n)
	}
	if byWho[0] == 0 || byWho[1] == 0 {
		t.Fatalf("one DB read nothing: %v", byWho)
	}
	var parts []string
	for p, w := range owner {
		parts = append(parts, fmt.Sprintf("%s→db%d", p, w))
	}
	sort.Strings(parts)
	t.Logf("partitions %s; rows per DB %v", strings.Join(parts, " "), byWho)
}

// TestKafkaCancelStops: cancelling a sink query's context ends Exec
// promptly even when no record ever arrives.
func TestKafkaCancelStops(t *testing.T) {
	addr := kCluster(t, map[string]int32{"orders": 1, "out": 1})
	db, mem := kOpen(t, kConfig())
	defer mem.AssertSize(t, 0)
	kExec(t, db, kSource("orders", addr, "orders", ""))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- db.Exec(ctx, `CREATE SINK out WITH (connector = 'kafka', topic = 'out', brokers = '`+addr+`')
AS SELECT category, value FROM orders EMIT CHANGES`)
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled sink query did not stop")
	}
}

func kTombstones(recs []*kgo.Record) int {
	n := 0
	for _, r := range recs {
		if r.Value == nil {
			n++
		}
	}
	return n
}
