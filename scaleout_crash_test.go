package sluice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice"
)

// soEOScript is a scaled-out GROUP BY on a non-partition key into an
// exactly-once Kafka sink (upserts keyed by category).
const soEOScript = `CREATE SOURCE o (category VARCHAR, value BIGINT, ts TIMESTAMP)
WITH (connector = 'kafka', topic = 'orders', brokers = '%[1]s', format = 'json', 'group.id' = 'g3');
CREATE SINK totals WITH (connector = 'kafka', topic = 'totals', brokers = '%[1]s', format = 'json',
  key = 'category', delivery = 'exactly-once', 'transactional.id' = 'so-eo')
AS SELECT category, COUNT(*) AS n, SUM(value) AS total FROM o GROUP BY category EMIT CHANGES`

// soEOMemberEnv makes the test binary run soEOScript as one process of
// the scaled-out query (TestScaleOutCrashAfterOutputCommit) until killed.
const soEOMemberEnv = "SLUICE_SCALEOUT_EO_BROKERS"

func init() {
	addr := os.Getenv(soEOMemberEnv)
	if addr == "" {
		return
	}
	db, err := sluice.Open(sluice.Config{Log: io.Discard})
	if err == nil {
		err = db.Exec(context.Background(), fmt.Sprintf(soEOScript, addr))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// TestScaleOutCrashAfterOutputCommit: a scaled-out GROUP BY writes an
// exactly-once Kafka sink. Its process is killed with SIGKILL at the
// first request it sends after its output transaction committed — the
// moment a separate state (changelog) transaction would still be to
// come. The same query started again (same transactional id) restores
// the state and the group offsets, more input arrives, and the committed
// output is exactly once: each category's last row is the single-process
// count and sum (no input lost from the state), and each category's
// counts only grow (no row emitted twice after the restore).
func TestScaleOutCrashAfterOutputCommit(t *testing.T) {
	const parts = 4
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "orders"), kfake.SeedTopics(2, "totals"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := strings.Join(c.ListenAddrs(), ",")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), soEOMemberEnv+"="+addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitOnce sync.Once
	wait := func() { waitOnce.Do(func() { cmd.Wait() }) }
	defer func() {
		cmd.Process.Kill()
		wait()
	}()
	kWaitGroup(t, addr, "g3", 2, 2*parts) // upstream and downstream members

	// Armed by the sink's first committing EndTxn (let through), the
	// next request of any kind kills the process: its output is
	// committed, and nothing it would do next happens.
	killed := make(chan struct{})
	c.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		end := req.(*kmsg.EndTxnRequest)
		if end.TransactionalID != "so-eo" || !end.Commit {
			c.KeepControl()
			return nil, nil, false
		}
		c.DropControl()
		c.Control(func(next kmsg.Request) (kmsg.Response, error, bool) {
			if next == req {
				return nil, nil, false // the EndTxn itself: handled normally
			}
			c.DropControl()
			cmd.Process.Kill()
			close(killed)
			return nil, nil, false
		})
		return nil, nil, false
	})
	first := kOrders(0, 2000, 20, base, time.Millisecond)
	kProduce(t, addr, soSpread("orders", parts, 0, first)...)
	select {
	case <-killed:
	case <-time.After(60 * time.Second):
		t.Fatal("the member never committed output")
	}
	wait()
	committed := kConsumeAll(t, addr, "totals", func([]*kgo.Record) bool { return false }, time.Second)
	if len(committed) == 0 {
		t.Fatal("no output committed before the kill")
	}

	// The query again, as the same process would run after a restart.
	db, mem := kOpen(t, kConfig())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- db.Exec(ctx, fmt.Sprintf(soEOScript, addr)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("restarted query: %v", err)
		}
		db.Close()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Errorf("restarted DB leaked %d bytes", n)
		}
	}()
	second := kOrders(2000, 2000, 20, base, time.Millisecond)
	kProduce(t, addr, soSpread("orders", parts, 2000, second)...)
	want := soWant(append(first, second...))

	var out []*kgo.Record
	var got map[string][2]int64
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		out = kConsumeAll(t, addr, "totals", func([]*kgo.Record) bool { return false }, time.Second)
		got = soFoldTotals(t, out)
		if soEqual(got, want) {
			break
		}
	}
	if !soEqual(got, want) {
		t.Fatalf("committed output folded\n%v\nwant (single process)\n%v", got, want)
	}
	// Each category's counts grow strictly in output order (one key is
	// in one partition): a count emitted twice is a duplicate.
	last := map[string]int64{}
	for _, r := range out {
		if r.Value == nil {
			continue
		}
		var row struct {
			Category string
			N        int64
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		if row.N <= last[row.Category] {
			t.Errorf("category %s: count %d after %d (emitted again after the restore)", row.Category, row.N, last[row.Category])
		}
		last[row.Category] = row.N
	}
}

// soFoldTotals folds the sink's upserts: per category the last (count,
// sum).
func soFoldTotals(t *testing.T, recs []*kgo.Record) map[string][2]int64 {
	t.Helper()
	out := map[string][2]int64{}
	for _, r := range recs {
		if r.Value == nil {
			delete(out, string(r.Key))
			continue
		}
		var row struct {
			Category string
			N, Total int64
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("output %q: %v", r.Value, err)
		}
		out[row.Category] = [2]int64{row.N, row.Total}
	}
	return out
}
