package sluice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// kCluster starts an in-process kfake cluster holding topics (name →
// partitions) and returns its bootstrap address.
func kCluster(t testing.TB, topics map[string]int32) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// kClient is a plain franz-go client that honours Record.Partition.
func kClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addr, ",")...),
		kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// kProduce writes records synchronously.
func kProduce(t testing.TB, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl := kClient(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

// kOrder is one produced order.
type kOrder struct {
	Category string
	Value    int64
	TS       time.Time
}

// kOrders makes n orders over cats categories, values and times from a
// simple deterministic sequence starting at first (so batches differ).
func kOrders(first, n, cats int, base time.Time, step time.Duration) []kOrder {
	out := make([]kOrder, n)
	for i := range out {
		j := first + i
		out[i] = kOrder{Category: fmt.Sprintf("c%d", j%cats), Value: int64(j*7%101 + 1), TS: base.Add(time.Duration(j) * step)}
	}
	return out
}

// kJSON renders an order as the JSON value sluice reads.
func kJSON(o kOrder) []byte {
	return []byte(fmt.Sprintf(`{"category":%q,"value":%d,"ts":%q}`, o.Category, o.Value, o.TS.UTC().Format("2006-01-02 15:04:05.000")))
}

// kRecords turns orders into records keyed by category on the partition
// the key hashes to (mod parts), so a category lives in one partition.
func kRecords(topic string, parts int32, orders []kOrder) []*kgo.Record {
	out := make([]*kgo.Record, len(orders))
	for i, o := range orders {
		p := int32(0)
		for _, c := range []byte(o.Category) {
			p = (p*31 + int32(c)) % parts
		}
		out[i] = &kgo.Record{Topic: topic, Partition: p, Key: []byte(o.Category), Value: kJSON(o)}
	}
	return out
}

// kSums sums value per category.
func kSums(orders ...[]kOrder) map[string]int64 {
	out := map[string]int64{}
	for _, os := range orders {
		for _, o := range os {
			out[o.Category] += o.Value
		}
	}
	return out
}

// kOpen opens a DB on a checked allocator.
func kOpen(t testing.TB, cfg sluice.Config) (*sluice.DB, *memory.CheckedAllocator) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg.Allocator = mem
	if cfg.Log == nil {
		cfg.Log = &strings.Builder{}
	}
	db, err := sluice.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return db, mem
}

func kExec(t testing.TB, db *sluice.DB, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.Exec(ctx, script); err != nil {
		t.Fatalf("%s: %v", script, err)
	}
}

// kText renders cell (c, i) by the shared text rules.
func kText(rec arrow.Record, c, i int) string { return format.FormatValue(rec.Column(c), i) }

// kRows reads a batch result to the end as rows of text cells.
func kRows(t testing.TB, db *sluice.DB, query string) [][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.Query(ctx, query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		rec := rows.Record()
		for i := 0; i < int(rec.NumRows()); i++ {
			var r []string
			for c := 0; c < int(rec.NumCols()); c++ {
				r = append(r, kText(rec, c, i))
			}
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// kSumMap reads (category, total) rows into a map.
func kSumMap(t testing.TB, rows [][]string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range rows {
		v, err := strconv.ParseInt(r[len(r)-1], 10, 64)
		if err != nil {
			t.Fatalf("row %v: %v", r, err)
		}
		out[r[0]] = v
	}
	return out
}

func kEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// kFoldUntil reads a changelog (op, key, total) or a FULL snapshot (key,
// total) from rows and folds it into a table until it equals want or the
// timeout passes; it returns the last folded table.
func kFoldUntil(t testing.TB, rows *sluice.Rows, want map[string]int64, timeout time.Duration) map[string]int64 {
	t.Helper()
	return kFoldUntilFrom(t, rows, nil, want, timeout)
}

// kFoldUntilFrom is kFoldUntil starting from the table init.
func kFoldUntilFrom(t testing.TB, rows *sluice.Rows, init, want map[string]int64, timeout time.Duration) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	for k, v := range init {
		got[k] = v
	}
	deadline := time.AfterFunc(timeout, func() { rows.Close() })
	defer deadline.Stop()
	for rows.Next() {
		rec := rows.Record()
		off := 0
		if rows.Changelog() {
			off = 1
		} else {
			got = map[string]int64{} // a FULL snapshot replaces the table
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			k := kText(rec, off, i)
			op := exec.OpInsert
			if off == 1 {
				op = exec.Op(rec.Column(0).(*array.Int8).Value(i))
			}
			switch op {
			case exec.OpInsert, exec.OpUpdateAfter:
				v, err := strconv.ParseInt(kText(rec, off+1, i), 10, 64)
				if err != nil {
					t.Fatalf("total %q: %v", kText(rec, off+1, i), err)
				}
				got[k] = v
			default:
				delete(got, k)
			}
		}
		if kEqual(got, want) {
			return got
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return got
}

// kConsumeAll reads every record of topic from the start until quiet for
// idle (or timeout), with a read_committed consumer.
func kConsumeAll(t testing.TB, addr, topic string, until func([]*kgo.Record) bool, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := kClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for !until(out) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("consume %s/%d: %v", tp, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// kCompact is the compacted view of an upsert topic: key → the JSON value
// of its last record, tombstones deleting the key.
func kCompact(t testing.TB, recs []*kgo.Record, field string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range recs {
		if r.Value == nil {
			delete(out, string(r.Key))
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		f, ok := m[field].(float64)
		if !ok {
			t.Fatalf("value %q has no number %q", r.Value, field)
		}
		out[string(r.Key)] = int64(f)
	}
	return out
}

// kWaitGroup waits until group has members stable members holding
// partitions partitions between them.
func kWaitGroup(t testing.TB, addr, group string, members, partitions int) {
	t.Helper()
	cl := kClient(t, addr)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		gs, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			if g, ok := gs[group]; ok && g.State == "Stable" && len(g.Members) == members {
				n := 0
				for _, m := range g.Members {
					if a, ok := m.Assigned.AsConsumer(); ok {
						for _, tp := range a.Topics {
							n += len(tp.Partitions)
						}
					}
				}
				if n == partitions {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %q did not settle on %d members holding %d partitions", group, members, partitions)
}

func kSortedKeys(m map[string]int64) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// kConfig is the DB configuration of the Kafka tests.
func kConfig() sluice.Config { return sluice.Config{} }

// kConfigCheckpoint is kConfig checkpointing to dir (none if empty).
func kConfigCheckpoint(dir string) sluice.Config {
	c := kConfig()
	c.CheckpointDir = dir
	return c
}
