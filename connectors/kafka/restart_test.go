package kafka

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBrokerRestart stops the (persistent) cluster mid-stream and starts
// it again on the same port and data: the reader's client retries and the
// scan goes on without losing or repeating a record.
func TestBrokerRestart(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	port := freePort(t)
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir), kfake.SeedTopics(2, "t"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	produceBatch := func(from, to int) {
		cl := manualClient(t, addr)
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, rec("t", int32(i%2), fmt.Sprintf("%03d", i)))
		}
		produceTo(t, cl, recs...)
		cl.Close()
	}
	produceBatch(0, 100)
	r := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil, exec.ScanSpec{BatchSize: 10, Linger: time.Millisecond})
	got := readN(t, r, 60, 10*time.Second)

	c.Close()
	// While the broker is down Next keeps retrying instead of failing.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	for {
		b, err := r.Next(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.Fatalf("Next failed while the broker was down: %v", err)
			}
			break
		}
		got = append(got, rowsOf(b.Record)...) // rows fetched before the stop
		b.Record.Release()
	}
	cancel()

	c = start()
	defer c.Close()
	produceBatch(100, 200)
	got = append(got, readN(t, r, 200-len(got), 20*time.Second)...)
	var want []string
	for i := 0; i < 200; i++ {
		want = append(want, fmt.Sprintf("%03d", i))
	}
	if got := sorted(got...); !equal(got, want) {
		dups, missing := diff(got, want)
		t.Fatalf("read %d records: duplicated %v, missing %v", len(got), first(dups), first(missing))
	}
}

// TestPartitionMoved moves partition leadership to another broker
// mid-stream: the client follows the new leader without loss.
func TestPartitionMoved(t *testing.T) {
	mem := checkedMem(t)
	c, addr := newCluster(t, map[string]int32{"t": 2}, kfake.NumBrokers(2))
	batch := func(from, to int) {
		// A fresh producer each time: this tests the reader's client.
		cl := manualClient(t, addr)
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, rec("t", int32(i%2), fmt.Sprintf("%03d", i)))
		}
		produceTo(t, cl, recs...)
	}
	batch(0, 50)
	r := openSource(t, mem, opts("topic", "t", "brokers", addr, "format", "raw"), nil, exec.ScanSpec{BatchSize: 10, Linger: time.Millisecond})
	got := readN(t, r, 50, 10*time.Second)
	for p := int32(0); p < 2; p++ {
		to := int32(0)
		if c.LeaderFor("t", p) == 0 {
			to = 1
		}
		if err := c.MoveTopicPartition("t", p, to); err != nil {
			t.Fatal(err)
		}
	}
	batch(50, 100)
	got = append(got, readN(t, r, 50, 20*time.Second)...)
	var want []string
	for i := 0; i < 100; i++ {
		want = append(want, fmt.Sprintf("%03d", i))
	}
	if got := sorted(got...); !equal(got, want) {
		dups, missing := diff(got, want)
		t.Fatalf("read %d: duplicated %v, missing %v", len(got), first(dups), first(missing))
	}
}
