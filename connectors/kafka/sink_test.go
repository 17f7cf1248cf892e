package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// consumeAll reads every record of topic up to its current end with a
// plain franz-go client (read_committed when committed is set).
func consumeAll(t testing.TB, addr, topic string, committed bool) []*kgo.Record {
	t.Helper()
	o := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords()}
	if committed {
		o = append(o, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := manualClient(t, addr, o...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	list := adm.ListEndOffsets
	if committed {
		list = adm.ListCommittedOffsets
	}
	listed, err := list(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	var out []*kgo.Record
	next := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if next[p] < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consuming %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			next[r.Partition] = r.Offset + 1
		})
		if ctx.Err() != nil {
			t.Fatalf("timed out consuming %s: have %v of %v", topic, next, ends)
		}
	}
	return out
}

func changelogRecord(t testing.TB, mem memory.Allocator, rows string) arrow.Record {
	t.Helper()
	s := schema(arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8},
		col("category", arrow.BinaryTypes.String), col("total", arrow.PrimitiveTypes.Int64))
	r, _, err := array.RecordFromJSON(mem, s, strings.NewReader(rows))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestUpsertSinkTombstones: a changelog becomes keyed upserts; -U is
// dropped and -D is a tombstone, so reading the topic back as a compacted
// table gives the final result.
func TestUpsertSinkTombstones(t *testing.T) {
	for _, fmtName := range []string{"json", "csv"} {
		t.Run(fmtName, func(t *testing.T) {
			mem := checkedMem(t)
			_, addr := newCluster(t, map[string]int32{"totals": 2})
			sink, err := NewSink(opts("topic", "totals", "brokers", addr, "format", fmtName))
			if err != nil {
				t.Fatal(err)
			}
			in := changelogRecord(t, mem, `[
				{"op":0,"category":"a","total":1},
				{"op":0,"category":"b","total":5},
				{"op":1,"category":"a","total":1},
				{"op":2,"category":"a","total":3},
				{"op":3,"category":"b","total":5}]`)
			defer in.Release()
			ctx := context.Background()
			w, err := sink.Open(ctx, mem, in.Schema(), exec.SinkMode{Changelog: true, Keys: []int{1}})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if err := w.Write(ctx, in); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit(ctx, nil); err != nil {
				t.Fatal(err)
			}
			var got []string
			table := map[string]string{}
			for _, r := range consumeAll(t, addr, "totals", false) {
				v := "<tombstone>"
				if r.Value != nil {
					v = string(r.Value)
				}
				got = append(got, string(r.Key)+"="+v)
				if r.Value == nil {
					delete(table, string(r.Key))
				} else {
					table[string(r.Key)] = v
				}
			}
			val := map[string][2]string{"json": {`{"category":"a","total":1}`, `{"category":"a","total":3}`}, "csv": {"a,1", "a,3"}}[fmtName]
			bval := map[string]string{"json": `{"category":"b","total":5}`, "csv": "b,5"}[fmtName]
			want := []string{"a=" + val[0], "a=" + val[1], "b=" + bval, "b=<tombstone>"}
			sort.Strings(got)
			if !equal(got, sorted(want...)) {
				t.Fatalf("records %q, want %q", got, want)
			}
			if len(table) != 1 || table["a"] != val[1] {
				t.Fatalf("compacted table %v, want only a=%s", table, val[1])
			}
		})
	}
}

// TestAppendSinkRoundTrip writes rows with a two-column key and reads them
// back through the source, _key included.
func TestAppendSinkRoundTrip(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"out": 1})
	in, _, err := array.RecordFromJSON(mem, ordersSchema, strings.NewReader(`[{"category":"a \"q\"","value":1},{"category":null,"value":2}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	sink, err := NewSink(opts("topic", "out", "brokers", addr, "key", "category,value"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := sink.Open(ctx, mem, in.Schema(), exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	declared := schema(col("category", arrow.BinaryTypes.String), col("value", arrow.PrimitiveTypes.Int64), col("_key", arrow.BinaryTypes.String))
	r := openSource(t, mem, opts("topic", "out", "brokers", addr), declared, exec.ScanSpec{Bounded: true})
	want := []string{`a "q"|1|{"category":"a \"q\"","value":1}`, `NULL|2|{"category":null,"value":2}`}
	if got := readAll(t, r); !equal(got, sorted(want...)) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestGroupSplit: two readers of one group split four partitions and
// together read every record exactly once.
func TestGroupSplit(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"t": 4})
	o := opts("topic", "t", "brokers", addr, "format", "raw", "group.id", "split")
	spec := exec.ScanSpec{Linger: 5 * time.Millisecond, BatchSize: 7}
	a := openSource(t, mem, o, nil, spec)
	b := openSource(t, mem, o, nil, spec)
	// Poll both until the group settled with all partitions assigned.
	deadline := time.Now().Add(20 * time.Second)
	for {
		pa, pb := a.Partitions(), b.Partitions()
		if len(pa) > 0 && len(pb) > 0 && len(pa)+len(pb) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group did not settle: %v %v", pa, pb)
		}
		for _, r := range []*Reader{a, b} {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			if bt, err := r.Next(ctx); err == nil {
				bt.Record.Release()
				t.Fatal("no data was produced yet")
			}
			cancel()
		}
	}
	cl := manualClient(t, addr)
	const n = 400
	var want []string
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("%03d", i)
		want = append(want, v)
		recs = append(recs, rec("t", int32(i%4), v))
	}
	produceTo(t, cl, recs...)
	var mu sync.Mutex
	var got []string
	perReader := make([]int, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, r := range []*Reader{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				bt, err := r.Next(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				got = append(got, rowsOf(bt.Record)...)
				perReader[i] += int(bt.Record.NumRows())
				full := len(got) >= n
				mu.Unlock()
				bt.Record.Release()
				if full {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(got)
	if !equal(got, want) {
		t.Fatalf("read %d records (%v per reader), want each of %d exactly once", len(got), perReader, n)
	}
	if perReader[0] == 0 || perReader[1] == 0 {
		t.Fatalf("partitions were not split: %v", perReader)
	}
}
