package kafka

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// pipeline is one incarnation of a source → sink query with exactly-once
// delivery, committing every commitEvery rows.
type pipeline struct {
	r *Reader
	w *Writer
}

func startPipeline(t *testing.T, mem memory.Allocator, addr string) *pipeline {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	src, err := NewSource(opts("topic", "in", "brokers", addr, "format", "raw", "group.id", "eos", "scan.startup.mode", "group-offsets"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.OpenReader(ctx, mem, exec.ScanSpec{BatchSize: 7, Linger: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(opts("topic", "out", "brokers", addr, "delivery", "exactly-once", "transactional.id", "eos-query"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.OpenWriter(ctx, src.Schema(), exec.SinkMode{})
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	return &pipeline{r: r, w: w}
}

// run moves rows until stop says so; it commits every commitEvery rows
// and returns the rows moved.
func (p *pipeline) run(ctx context.Context, commitEvery int, stop func(moved int) bool) (int, error) {
	moved, sinceCommit := 0, 0
	for !stop(moved) {
		b, err := p.r.Next(ctx)
		if err != nil {
			return moved, err
		}
		err = p.w.Write(ctx, b.Record)
		n := int(b.Record.NumRows())
		b.Record.Release()
		if err != nil {
			return moved, err
		}
		moved += n
		sinceCommit += n
		if sinceCommit >= commitEvery {
			if err := p.w.Commit(ctx, p.r.Offsets()); err != nil {
				return moved, err
			}
			sinceCommit = 0
		}
	}
	return moved, nil
}

// TestExactlyOnceKillAndRestart abandons a query mid-stream without
// committing (its transaction stays open, its producer alive), restarts it
// from the group's committed offsets, and checks with a read_committed
// consumer that the output holds every input record exactly once.
func TestExactlyOnceKillAndRestart(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"in": 4, "out": 3})
	const n = 1000
	cl := manualClient(t, addr)
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, rec("in", int32(i%4), fmt.Sprint(i)))
	}
	produceTo(t, cl, recs...)

	// First incarnation: dies after ~530 rows, between commits.
	p1 := startPipeline(t, mem, addr)
	ctx1, cancel1 := context.WithCancel(context.Background())
	moved1, err := p1.run(ctx1, 100, func(moved int) bool { return moved >= 530 })
	if err != nil {
		t.Fatal(err)
	}
	cancel1()
	// The reader's process is gone: it leaves the group without committing.
	// Its writer is not closed: a zombie with an open transaction.
	p1.r.Close()
	zombie := p1.w
	defer zombie.Close()

	committedOut := len(consumeAll(t, addr, "out", true))
	if committedOut == 0 || committedOut >= moved1 {
		t.Fatalf("after the crash %d rows are committed of %d moved; want some but not all", committedOut, moved1)
	}

	// Second incarnation: fences the zombie and resumes from the group.
	p2 := startPipeline(t, mem, addr)
	defer p2.r.Close()
	defer p2.w.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(context.Background(), "in")
	if err != nil {
		t.Fatal(err)
	}
	caughtUp := func(int) bool {
		offs := p2.r.Offsets()
		done := true
		ends.Each(func(o kadm.ListedOffset) {
			if offs[offsetKey(o.Topic, o.Partition)] < o.Offset {
				done = false
			}
		})
		return done
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel2()
	if _, err := p2.run(ctx2, 100, caughtUp); err != nil {
		t.Fatalf("%v (offsets %v, partitions %v, ends %v)", err, p2.r.Offsets(), p2.r.Partitions(), ends)
	}
	if err := p2.w.Commit(ctx2, p2.r.Offsets()); err != nil {
		t.Fatal(err)
	}

	// The zombie can no longer commit anything.
	if err := zombie.Commit(context.Background(), nil); err == nil {
		t.Error("the fenced writer committed")
	}

	out := consumeAll(t, addr, "out", true)
	var got []string
	for _, r := range out {
		got = append(got, string(r.Value))
	}
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf(`{"value":"%d"}`, i))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !equal(got, want) {
		dups, missing := diff(got, want)
		t.Fatalf("output has %d records for %d inputs: %d duplicated, %d missing (e.g. %v %v)", len(got), n, len(dups), len(missing), first(dups), first(missing))
	}
	// The group's committed offsets are the input's end.
	committed, err := adm.FetchOffsets(context.Background(), "eos")
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if !ok || c.At != o.Offset {
			t.Errorf("group offset of %s/%d is %v, want %d", o.Topic, o.Partition, c.At, o.Offset)
		}
	})
}

func diff(got, want []string) (dups, missing []string) {
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		switch count[w] {
		case 0:
			missing = append(missing, w)
		case 1:
		default:
			dups = append(dups, w)
		}
	}
	return dups, missing
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
