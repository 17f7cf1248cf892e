package sluice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// eoScript is a Kafka → filter → Kafka query with exactly-once delivery;
// group is the source's 'group.id' ("" for none).
func eoScript(addr, group string) string {
	extra := ""
	if group != "" {
		extra = ", 'group.id' = '" + group + "'"
	}
	return kSource("orders", addr, "orders", extra) + `;
CREATE SINK out WITH (connector = 'kafka', topic = 'out', brokers = '` + addr + `', format = 'json',
  delivery = 'exactly-once', 'transactional.id' = 'rec-out')
AS SELECT category, value FROM orders WHERE value > 100 EMIT CHANGES`
}

// eoRun runs the script for d (a clean stop when it ends).
func eoRun(t *testing.T, dir, script string, d time.Duration) {
	t.Helper()
	if err := eoRunErr(t, dir, script, d); err != nil {
		t.Fatal(err)
	}
}

// eoRunErr is eoRun for a goroutine: it returns the error.
func eoRunErr(t *testing.T, dir, script string, d time.Duration) error {
	db, mem := kOpen(t, kConfigCheckpoint(dir))
	defer mem.AssertSize(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := db.Exec(ctx, script); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// eoFinish runs the script for d in the background while eoCheck waits
// for its output.
func eoFinish(t *testing.T, addr, dir, script string, n int, d, wait time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- eoRunErr(t, dir, script, d) }()
	msg := eoCheck(t, addr, n, wait)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if msg != "" {
		t.Fatal(msg)
	}
}

// eoCheck checks that a read_committed consumer of "out" sees each value
// of 101..n exactly once, waiting up to wait for the last of them; it
// returns what is wrong, or "".
func eoCheck(t *testing.T, addr string, n int, wait time.Duration) string {
	t.Helper()
	want := n - 100
	out := kConsumeAll(t, addr, "out", func(rs []*kgo.Record) bool { return len(rs) >= want }, wait)
	out = append(out[:0:0], out...)
	more := kConsumeAll(t, addr, "out", func([]*kgo.Record) bool { return false }, time.Second)
	if len(more) > len(out) {
		out = more
	}
	seen := map[int64]int{}
	for _, r := range out {
		var m struct{ Value int64 }
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("output %q: %v", r.Value, err)
		}
		seen[m.Value]++
	}
	var dups, missing []int64
	for v := int64(101); v <= int64(n); v++ {
		switch seen[v] {
		case 0:
			missing = append(missing, v)
		case 1:
		default:
			dups = append(dups, v)
		}
	}
	if len(dups) > 0 || len(missing) > 0 {
		return fmt.Sprintf("%d output records for %d inputs: %d duplicated (first %v), %d missing (first %v)",
			len(out), want, len(dups), kHead(dups), len(missing), kHead(missing))
	}
	return ""
}

func eoProduce(t *testing.T, addr string, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		o := kOrder{Category: fmt.Sprintf("c%d", i%5), Value: int64(i + 1), TS: kBase}
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 3), Key: []byte(o.Category), Value: kJSON(o)})
	}
	kProduce(t, addr, recs...)
}

// A Kafka → Kafka exactly-once query restarted from its checkpoint and
// stopped again at once writes nothing twice: the quick stop checkpointed
// empty offsets, and the next start re-read the topics from the beginning
// (5000/5000 records duplicated).
func TestKafkaExactlyOnceQuickStopAfterRestart(t *testing.T) {
	for _, group := range []string{"", "qs"} {
		t.Run("group="+group, func(t *testing.T) {
			const n = 2000
			addr := kCluster(t, map[string]int32{"orders": 3, "out": 2})
			dir := t.TempDir()
			script := eoScript(addr, group)
			eoProduce(t, addr, 0, n/2)
			eoRun(t, dir, script, 1500*time.Millisecond)
			for _, d := range []time.Duration{30 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond} {
				eoRun(t, dir, script, d) // stopped before (or at) its first batch
			}
			eoProduce(t, addr, n/2, n)
			eoFinish(t, addr, dir, script, n, 5*time.Second, 10*time.Second)
		})
	}
}

// Output of a burst becomes visible to read_committed consumers while the
// input is idle afterwards: the open transaction is committed with a
// checkpoint on the tick. It stayed open until the transaction timed out,
// and the next input then failed the query (INVALID_PRODUCER_EPOCH).
func TestKafkaExactlyOnceIdleInputCommits(t *testing.T) {
	const n = 3000
	addr := kCluster(t, map[string]int32{"orders": 3, "out": 2})
	dir := t.TempDir()
	eoProduce(t, addr, 0, n) // one burst, read at once; then nothing
	eoFinish(t, addr, dir, eoScript(addr, ""), n, 8*time.Second, 7*time.Second)
}
