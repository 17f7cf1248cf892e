package kafka

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// openChangelogOn makes the internal topics of one exchange on a fresh
// cluster and opens its changelog.
func openChangelogOn(t testing.TB, parts int32) (*Source, *Changelog, string) {
	t.Helper()
	_, addr := newCluster(t, map[string]int32{"orders": parts})
	src, err := NewSource(opts("topic", "orders", "brokers", addr, "group.id", "g", "format", "json"),
		schema(col("k", arrow.BinaryTypes.String)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := src.EnsureInternalTopics(context.Background(), "_sluice-g-x-repartition", "_sluice-g-x-changelog", 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != int(parts) {
		t.Fatalf("internal topics have %d partitions, want the source's %d", n, parts)
	}
	st, err := src.OpenChangelog(context.Background(), "_sluice-g-x-changelog", "txn-a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return src, st.(*Changelog), addr
}

// TestChangelogSaveLoad: the newest save of each partition comes back
// whole (a state of several chunks, then a smaller one over it), with the
// offsets saved with it; a partition never saved has no state; the
// changelog topic is compacted.
func TestChangelogSaveLoad(t *testing.T) {
	src, cl, addr := openChangelogOn(t, 3)
	ctx := context.Background()
	big := make([]byte, 3*changelogChunk+17)
	for i := range big {
		big[i] = byte(rand.IntN(256))
	}
	if err := cl.Save(ctx, map[int32][]byte{0: big, 1: []byte("one")}, exec.Offsets{"_sluice-g-x-repartition/0": 40, "_sluice-g-x-repartition/1": 7}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Save(ctx, map[int32][]byte{1: []byte("one, later")}, exec.Offsets{"_sluice-g-x-repartition/1": 9}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    int32
		want []byte
		off  int64
	}{{0, big, 40}, {1, []byte("one, later"), 9}, {2, nil, -1}} {
		got, offs, ok, err := cl.Load(ctx, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (tc.want != nil) || !bytes.Equal(got, tc.want) {
			t.Errorf("partition %d: state of %d bytes (ok %v), want %d bytes", tc.p, len(got), ok, len(tc.want))
		}
		if tc.off >= 0 && offs[offsetKey("_sluice-g-x-repartition", tc.p)] != tc.off {
			t.Errorf("partition %d: offsets %v, want %d", tc.p, offs, tc.off)
		}
	}
	// The offsets were committed for the group with the state.
	adm := kadm.NewClient(manualClient(t, addr))
	fetched, err := adm.FetchOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fetched.Lookup("_sluice-g-x-repartition", 1); !ok || o.At != 9 {
		t.Errorf("committed offset of partition 1: %+v, want 9", o)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "_sluice-g-x-changelog")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cfgs.On("_sluice-g-x-changelog", nil); err != nil || !hasConfig(v, "cleanup.policy", "compact") {
		t.Errorf("changelog topic is not compacted: %+v %v", v, err)
	}
	topics, err := src.InternalTopics(ctx, "_sluice-g-")
	if err != nil || len(topics) != 2 {
		t.Errorf("internal topics %v (%v), want the repartition and changelog topics", topics, err)
	}
	if err := src.DeleteInternalTopics(ctx, "_sluice-g-x-repartition", "_sluice-g-x-changelog"); err != nil {
		t.Fatal(err)
	}
	if topics, _ := src.InternalTopics(ctx, "_sluice-g-"); len(topics) != 0 {
		t.Errorf("internal topics left after deleting them: %v", topics)
	}
}

func hasConfig(rc kadm.ResourceConfig, key, value string) bool {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// TestChangelogSaveFencedByGeneration: a save whose offsets a stale
// group member commits is refused as exec.ErrFenced and leaves nothing
// (neither state nor offsets): the partition's new owner restores the
// previous save.
func TestChangelogSaveFencedByGeneration(t *testing.T) {
	_, cl, _ := openChangelogOn(t, 2)
	ctx := context.Background()
	if err := cl.Save(ctx, map[int32][]byte{0: []byte("v1")}, exec.Offsets{"_sluice-g-x-repartition/0": 3}); err != nil {
		t.Fatal(err)
	}
	// A member the group does not know, at a generation it left behind.
	err := cl.save(ctx, map[int32][]byte{0: []byte("v2")}, exec.Offsets{"_sluice-g-x-repartition/0": 5}, "ghost-member", 99, nil)
	if !errors.Is(err, exec.ErrFenced) {
		t.Fatalf("save by a stale member: %v, want ErrFenced", err)
	}
	got, offs, _, err := cl.Load(ctx, 0)
	if err != nil || string(got) != "v1" || offs["_sluice-g-x-repartition/0"] != 3 {
		t.Errorf("after the fenced save: state %q offsets %v (%v), want v1 at 3", got, offs, err)
	}
}

// BenchmarkChangelogRestore measures restoring one partition's state of
// 64 MiB from the changelog (kfake, in process) against reading the same
// bytes as plain records of a topic with a plain consumer, in the same
// run: the ratio is the changelog's own cost.
func BenchmarkChangelogRestore(b *testing.B) {
	const size = 64 << 20
	_, cl, addr := openChangelogOn(b, 1)
	ctx := context.Background()
	state := make([]byte, size)
	for i := range state {
		state[i] = byte(i * 7)
	}
	if err := cl.Save(ctx, map[int32][]byte{0: state}, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("changelog", func(b *testing.B) {
		b.SetBytes(size)
		for range b.N {
			got, _, ok, err := cl.Load(ctx, 0)
			if err != nil || !ok || len(got) != size {
				b.Fatalf("restore: %d bytes, %v %v", len(got), ok, err)
			}
		}
	})
	pc := manualClient(b, addr)
	if _, err := kadm.NewClient(pc).CreateTopic(ctx, 1, -1, nil, "plain"); err != nil {
		b.Fatal(err)
	}
	var recs []*kgo.Record
	for off := 0; off < size; off += changelogChunk {
		recs = append(recs, &kgo.Record{Topic: "plain", Value: state[off:min(off+changelogChunk, size)]})
	}
	produceTo(b, manualClient(b, addr, kgo.ProducerBatchMaxBytes(changelogChunk*2)), recs...)
	for _, iso := range []struct {
		name  string
		level kgo.IsolationLevel
	}{{"plain-topic", kgo.ReadUncommitted()}, {"plain-topic-read-committed", kgo.ReadCommitted()}} {
		b.Run(iso.name, func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				c := manualClient(b, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"plain": {0: kgo.NewOffset().AtStart()}}),
					kgo.FetchMaxPartitionBytes(8<<20), kgo.FetchIsolationLevel(iso.level))
				n := 0
				for n < len(recs) {
					fs := c.PollFetches(ctx)
					n += len(fs.Records())
				}
				c.Close()
			}
		})
	}
}

// TestInternalTopicsParallelism: 'parallelism' sizes the internal topics
// (not the source's partition count); an existing topic keeps its count
// and a different 'parallelism' is refused naming the option; a bad value
// is refused when the source is made.
func TestInternalTopicsParallelism(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"orders": 3})
	ctx := context.Background()
	mk := func(par string) (*Source, error) {
		return NewSource(opts("topic", "orders", "brokers", addr, "group.id", "g", "format", "json", "parallelism", par),
			schema(col("k", arrow.BinaryTypes.String)))
	}
	src, err := mk("8")
	if err != nil {
		t.Fatal(err)
	}
	n, err := src.EnsureInternalTopics(ctx, "_sluice-g-x-repartition", "_sluice-g-x-changelog", 0)
	if err != nil || n != 8 {
		t.Fatalf("EnsureInternalTopics = %d, %v; want 8 partitions ('parallelism'), not the source's 3", n, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx, "_sluice-g-x-repartition", "_sluice-g-x-changelog")
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"_sluice-g-x-repartition", "_sluice-g-x-changelog"} {
		if got := len(md.Topics[topic].Partitions); got != 8 {
			t.Errorf("%s has %d partitions, want 8", topic, got)
		}
	}
	if n, err := src.EnsureInternalTopics(ctx, "_sluice-g-x-repartition", "_sluice-g-x-changelog", 0); err != nil || n != 8 {
		t.Errorf("again: %d, %v; want the existing 8", n, err)
	}
	other, err := mk("4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.EnsureInternalTopics(ctx, "_sluice-g-x-repartition", "_sluice-g-x-changelog", 0); err == nil || !strings.Contains(err.Error(), "'parallelism' asks for 4") {
		t.Errorf("a different 'parallelism' over existing topics: %v, want it refused", err)
	}
	for _, bad := range []string{"0", "x", "-2", "100000"} {
		if _, err := mk(bad); err == nil || !strings.Contains(err.Error(), "'parallelism'") {
			t.Errorf("'parallelism' = %q: %v, want an error naming the option", bad, err)
		}
	}
}

// TestChangelogJoinWriter: a changelog joins an exactly-once sink writer
// of its own cluster only (not an at-least-once one, nor one of another
// cluster whose topic of the same name is another topic). Joined, a save
// is staged in the writer's transaction: abandoned (the writer closed
// before its commit, as in a crash) neither the state nor the offsets
// are there; committed, both are, with the output.
func TestChangelogJoinWriter(t *testing.T) {
	ctx := context.Background()
	const rep, chl = "_sluice-g-x-repartition", "_sluice-g-x-changelog"
	_, addr := newCluster(t, map[string]int32{"orders": 2, "out": 1})
	src, err := NewSource(opts("topic", "orders", "brokers", addr, "group.id", "g", "format", "json"),
		schema(col("k", arrow.BinaryTypes.String)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.EnsureInternalTopics(ctx, rep, chl, 0); err != nil {
		t.Fatal(err)
	}
	st, err := src.OpenChangelog(ctx, chl, "txn-a")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cl := st.(*Changelog)
	_, other := newCluster(t, map[string]int32{"out": 1, chl: 2})
	out := schema(col("k", arrow.BinaryTypes.String))
	open := func(addr string, kv ...string) *Writer {
		t.Helper()
		sink, err := NewSink(opts(append([]string{"topic", "out", "brokers", addr, "group.id", "g"}, kv...)...))
		if err != nil {
			t.Fatal(err)
		}
		w, err := sink.OpenWriter(ctx, out, exec.SinkMode{})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct {
		name string
		w    *Writer
	}{
		{"at-least-once", open(addr)},
		{"another cluster", open(other, "delivery", "exactly-once", "transactional.id", "t-other")},
	} {
		ok, err := cl.JoinWriter(ctx, tc.w)
		tc.w.Close()
		if err != nil || ok {
			t.Errorf("%s: joined %v (%v), want refused", tc.name, ok, err)
		}
	}
	upTo := exec.Offsets{offsetKey(rep, 0): 12, offsetKey(rep, 1): 5}
	committed := func() int64 {
		fetched, err := kadm.NewClient(manualClient(t, addr)).FetchOffsets(ctx, "g")
		if err != nil {
			return -1
		}
		o, ok := fetched.Lookup(rep, 0)
		if !ok {
			return -1
		}
		return o.At
	}
	for _, commit := range []bool{false, true} {
		w := open(addr, "delivery", "exactly-once", "transactional.id", "t-out")
		if ok, err := cl.JoinWriter(ctx, w); err != nil || !ok {
			t.Fatalf("exactly-once writer of the same cluster: joined %v (%v)", ok, err)
		}
		if err := cl.Save(ctx, map[int32][]byte{0: []byte("state")}, upTo); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := w.Commit(ctx, upTo); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		state, offs, ok, err := cl.Load(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case commit && (!ok || string(state) != "state" || offs[offsetKey(rep, 0)] != 12 || committed() != 12):
			t.Errorf("committed: state %q (ok %v), saved offsets %v, group offset %d; want the state with offset 12", state, ok, offs, committed())
		case !commit && (ok || committed() >= 0):
			t.Errorf("abandoned before the commit: state %q (ok %v), group offset %d; want neither", state, ok, committed())
		}
	}
}

// TestChangelogLoadWaitsForOpenTxn: a partition that moves twice while
// its first owner's last transaction is still open (the process died
// mid-save; the broker aborts it only at its timeout). The second owner
// restored the state before that transaction and saved a newer one; the
// third must restore the newer one, not stop at the stable offset the
// dead transaction still holds back (the state from before the second
// owner, under the offsets the second owner committed: rows folded
// twice). Load waits for the dead transaction to end.
func TestChangelogLoadWaitsForOpenTxn(t *testing.T) {
	src, cl, addr := openChangelogOn(t, 1)
	ctx := context.Background()
	const topic = "_sluice-g-x-changelog"
	if err := cl.Save(ctx, map[int32][]byte{0: []byte("first owner")}, nil); err != nil {
		t.Fatal(err)
	}
	// The first owner dies in the middle of its next save.
	dead, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("txn-dead"),
		kgo.TransactionTimeout(2*time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	if err := dead.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := dead.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Key: []byte("meta"), Value: []byte(`{"chunks":1}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The second owner saves, committed, after the open transaction.
	second, err := src.OpenChangelog(ctx, topic, "txn-b")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Save(ctx, map[int32][]byte{0: []byte("second owner")}, nil); err != nil {
		t.Fatal(err)
	}
	third, err := src.OpenChangelog(ctx, topic, "txn-c")
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, _, ok, err := third.Load(lctx, 0)
	if err != nil || !ok || string(got) != "second owner" {
		t.Fatalf("restore after the partition moved twice: %q ok=%v err=%v, want the second owner's state", got, ok, err)
	}
}

// TestSharedTransactionalID: two writers given one 'transactional.id'
// (two running queries configured alike): the second to start fences
// the first, whose next commit fails naming the option, and the
// output it had not committed never becomes visible.
func TestSharedTransactionalID(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"out": 1})
	ctx := context.Background()
	kcol := col("k", arrow.BinaryTypes.String)
	open := func() exec.SinkWriter {
		s, err := NewSink(opts("topic", "out", "brokers", addr, "format", "json", "delivery", "exactly-once", "transactional.id", "shared"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Open(ctx, nil, schema(kcol), exec.SinkMode{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	rec := func(v string) arrow.Record {
		b := array.NewStringBuilder(memory.DefaultAllocator)
		defer b.Release()
		b.Append(v)
		col := b.NewArray()
		defer col.Release()
		return array.NewRecord(schema(kcol), []arrow.Array{col}, 1)
	}
	first := open()
	r1 := rec("from the first")
	defer r1.Release()
	if err := first.Write(ctx, r1); err != nil {
		t.Fatal(err)
	}
	second := open()
	r2 := rec("from the second")
	defer r2.Release()
	if err := second.Write(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if err := second.Commit(ctx, nil); err != nil {
		t.Fatalf("the second writer's commit: %v", err)
	}
	err := first.Commit(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "'transactional.id'") || !strings.Contains(err.Error(), `"shared"`) {
		t.Fatalf("the fenced writer's commit: %v, want an error naming 'transactional.id' and the id", err)
	}
	cl := manualClient(t, addr, kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"out": {0: kgo.NewOffset().AtStart()}}))
	var got []string
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)); n++ })
		if n == 0 {
			break
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "from the second") {
		t.Errorf("committed output %q, want only the second writer's row", got)
	}
}
