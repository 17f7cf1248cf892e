package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/kafka"
	"github.com/sluicesql/sluice/exec"
)

// TestCommitsNoOffsetOfAnEarlierAssignment: a partition that the group
// takes away from a process and later gives back to it is, until its
// first batch there, still known to the pipeline by its offset from
// before it left (the pipeline keeps every partition's last offset).
// Another member read it on and committed more meanwhile, so committing
// that old offset moves the group back: the partition's next owner (or
// this process, rewound after a refused commit) reads again rows whose
// effect the state it restores from the changelog already holds, and
// counts them twice (the crash harness's kafka-kafka-scaleout-changes
// counted 52 rows of a category twice after members moved back and
// forth). held (the downstream's commits) and the upstream's commits
// keep only offsets of the current assignment. Without the check the
// stale offset of the partition given back is committed.
func TestCommitsNoOffsetOfAnEarlierAssignment(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := strings.Join(c.ListenAddrs(), ",")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produceN := func(p int32, n int) {
		t.Helper()
		var recs []*kgo.Record
		for range n {
			recs = append(recs, &kgo.Record{Topic: "in", Partition: p, Value: []byte("x")})
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceN(0, 5)
	produceN(1, 5)

	src, err := kafka.NewSource(connectors.Options{"connector": "kafka", "topic": "in", "brokers": addr, "format": "raw", "group.id": "g"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	up, err := src.UpstreamSource() // from the committed offsets, 6 s session
	if err != nil {
		t.Fatal(err)
	}
	sr, err := up.Open(ctx, mem, exec.ScanSpec{Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := sr.(*kafka.Reader)
	// The member reads on (a pipeline's reader goroutine), so that the
	// group can rebalance between its polls.
	var mu sync.Mutex
	rows := 0
	readCtx, stopRead := context.WithCancel(ctx)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for readCtx.Err() == nil {
			pctx, pcancel := context.WithTimeout(readCtx, 100*time.Millisecond)
			b, err := r.Next(pctx)
			pcancel()
			if err == nil {
				mu.Lock()
				rows += int(b.Record.NumRows())
				mu.Unlock()
				b.Record.Release()
			} else if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Errorf("reading: %v", err)
				return
			}
		}
	}()
	defer func() {
		stopRead()
		<-readDone
		r.Close()
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting until %s (reader holds %v)", what, r.Offsets())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the member read all 10 rows", func() bool { mu.Lock(); defer mu.Unlock(); return rows == 10 })
	remembered := r.Offsets() // what the pipeline keeps
	if len(remembered) != 2 || remembered["in/0"] != 5 || remembered["in/1"] != 5 {
		t.Fatalf("offsets after reading everything: %v", remembered)
	}
	if err := r.CommitOffsets(ctx, remembered); err != nil {
		t.Fatal(err)
	}

	// A second member takes a partition, reads 3 more rows of it,
	// commits them and leaves: the partition comes back.
	var moved int32 = -1
	var movedMu sync.Mutex
	other, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, as map[string][]int32) {
			movedMu.Lock()
			defer movedMu.Unlock()
			for _, p := range as["in"] {
				moved = p
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	otherClosed := false
	defer func() {
		if !otherClosed {
			other.Close()
		}
	}()
	movedTo := func() int32 { movedMu.Lock(); defer movedMu.Unlock(); return moved }
	for movedTo() < 0 {
		pctx, pcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		other.PollFetches(pctx)
		pcancel()
		if ctx.Err() != nil {
			t.Fatal("the second member got no partition")
		}
	}
	q := movedTo()
	key := map[int32]string{0: "in/0", 1: "in/1"}[q]
	stay := map[int32]string{0: "in/1", 1: "in/0"}[q]
	produceN(q, 3)
	got := 0
	for got < 3 {
		fs := other.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("the second member read %d of 3 rows", got)
		}
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	if err := other.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	other.Close() // leaves the group
	otherClosed = true
	waitFor("the partition came back", func() bool { return r.Offsets()[key] == 8 })

	// The pipeline still knows the partition at 5, from before it left.
	so := &scaledOut{down: r}
	if got := so.held(remembered); len(got) != 1 || got[stay] != 5 {
		t.Errorf("downstream commit of %v keeps %v, want only %s at 5: %s at 5 is from before it moved away and back (its owner meanwhile committed 8)",
			remembered, got, stay, key)
	}
	fresh := exec.Offsets{key: 8, stay: 5}
	if got := so.held(fresh); len(got) != 2 || got[key] != 8 {
		t.Errorf("downstream commit of %v keeps %v, want both", fresh, got)
	}
	u := &upstream{reader: r, offsets: exec.Offsets{key: 5, stay: 5}}
	u.dropRevoked()
	if len(u.offsets) != 1 || u.offsets[stay] != 5 {
		t.Errorf("upstream offsets kept %v, want only %s at 5", u.offsets, stay)
	}
}
