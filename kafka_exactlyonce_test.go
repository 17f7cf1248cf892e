package sluice_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaExactlyOnceRestart: Kafka → stateless filter → Kafka sink with
// 'delivery' = 'exactly-once'. The first run is killed (its context
// cancelled) mid-stream while input keeps arriving; a new DB with the same
// checkpoint directory, group and transactional id finishes the job. A
// read_committed consumer of the output sees every expected record exactly
// once.
func TestKafkaExactlyOnceRestart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint bool
	}{
		{"group-offsets", false},
		{"checkpoint-dir", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kExactlyOnce(t, tc.checkpoint)
		})
	}
}

func kExactlyOnce(t *testing.T, checkpoint bool) {
	const n = 3000
	addr := kCluster(t, map[string]int32{"orders": 3, "out": 2})
	dir := ""
	if checkpoint {
		dir = t.TempDir()
	}
	script := kSource("orders", addr, "orders", ", 'group.id' = 'eo'") + `;
CREATE SINK out WITH (connector = 'kafka', topic = 'out', brokers = '` + addr + `', format = 'json',
  delivery = 'exactly-once', 'transactional.id' = 'eo-out')
AS SELECT category, value FROM orders WHERE value > 100 EMIT CHANGES`

	// Input arrives throughout the first run.
	prodDone := make(chan struct{})
	firstStopped := make(chan struct{})
	go func() {
		defer close(prodDone)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("orders"))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for i := 0; i < n; i++ {
			o := kOrder{Category: fmt.Sprintf("c%d", i%5), Value: int64(i + 1), TS: kBase}
			cl.Produce(context.Background(), &kgo.Record{Key: []byte(o.Category), Value: kJSON(o)}, func(_ *kgo.Record, err error) {
				if err != nil {
					t.Error(err)
				}
			})
			if i == n/2 {
				// The second half waits until the first run has
				// committed some output and stopped, so that run
				// always ends mid-stream, however slow the machine.
				<-firstStopped
			}
			if i%100 == 99 {
				time.Sleep(80 * time.Millisecond) // ~2.4s in all
			}
		}
		if err := cl.Flush(context.Background()); err != nil {
			t.Error(err)
		}
	}()

	var stopMu sync.Mutex
	var stopCur context.CancelFunc
	stopRun := func() {
		stopMu.Lock()
		defer stopMu.Unlock()
		if stopCur != nil {
			stopCur()
		}
	}
	run := func(d time.Duration) {
		db, mem := kOpen(t, kConfigCheckpoint(dir))
		defer mem.AssertSize(t, 0)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		stopMu.Lock()
		stopCur = cancel
		stopMu.Unlock()
		err := db.Exec(ctx, script)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("run: %v", err)
		}
	}
	// The first run is stopped mid-stream: as soon as some of its output
	// is committed, while half the input is still to come.
	firstDone := make(chan struct{})
	go func() { defer close(firstDone); run(60 * time.Second) }()
	kConsumeAll(t, addr, "out", func(rs []*kgo.Record) bool { return len(rs) > 0 }, 45*time.Second)
	stopRun()
	<-firstDone
	close(firstStopped)
	var want []int64
	for v := int64(101); v <= n; v++ {
		want = append(want, v)
	}
	// The first run committed part of the output, not all of it.
	first := kConsumeAll(t, addr, "out", func([]*kgo.Record) bool { return false }, time.Second)
	if len(first) == 0 || len(first) >= len(want) {
		t.Fatalf("first run committed %d of %d records: the kill was not mid-stream", len(first), len(want))
	}
	if checkpoint {
		if ents, _ := os.ReadDir(dir); len(ents) == 0 {
			t.Fatal("first run wrote no checkpoint")
		}
	}
	<-prodDone
	// The second run catches up; output shows up as its transactions
	// commit (about once a second).
	done := make(chan struct{})
	go func() { defer close(done); run(6 * time.Second) }()
	out := kConsumeAll(t, addr, "out", func(rs []*kgo.Record) bool { return len(rs) >= len(want) }, 15*time.Second)
	<-done
	// Anything committed after the count was reached counts too.
	out = kConsumeAll(t, addr, "out", func([]*kgo.Record) bool { return false }, 3*time.Second)
	seen := map[int64]int{}
	for _, r := range out {
		var m struct{ Value int64 }
		if err := json.Unmarshal(r.Value, &m); err != nil {
			t.Fatalf("output %q: %v", r.Value, err)
		}
		seen[m.Value]++
	}
	var dups, missing []int64
	for _, v := range want {
		switch seen[v] {
		case 0:
			missing = append(missing, v)
		case 1:
		default:
			dups = append(dups, v)
		}
	}
	if len(dups) > 0 || len(missing) > 0 || len(out) != len(want) {
		t.Fatalf("%d output records for %d inputs: %d duplicated (first %v), %d missing (first %v)",
			len(out), len(want), len(dups), kHead(dups), len(missing), kHead(missing))
	}
}

func kHead(vs []int64) []int64 {
	if len(vs) > 5 {
		return vs[:5]
	}
	return vs
}
