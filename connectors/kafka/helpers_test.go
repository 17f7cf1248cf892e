package kafka

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// newCluster starts an in-process kfake cluster with the given topics
// (name → partitions) and returns its bootstrap address.
func newCluster(t testing.TB, topics map[string]int32, extra ...kfake.Opt) (*kfake.Cluster, string) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	opts = append(opts, extra...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, strings.Join(c.ListenAddrs(), ",")
}

func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// produce writes records synchronously with a plain franz-go client.
func produce(t testing.TB, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addr, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func rec(topic string, part int32, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: part, Value: []byte(value)}
}

// manualPartitioner makes produce honour Record.Partition.
func manualClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addr, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produceTo(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func opts(kv ...string) connectors.Options {
	o := connectors.Options{"connector": "kafka"}
	for i := 0; i+1 < len(kv); i += 2 {
		o[kv[i]] = kv[i+1]
	}
	return o
}

func schema(fields ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fields, nil) }

func col(name string, typ arrow.DataType) arrow.Field {
	return arrow.Field{Name: name, Type: typ, Nullable: true}
}

// rowsOf renders each row as "v1|v2|..." by the shared text rules.
func rowsOf(r arrow.Record) []string {
	var out []string
	for i := 0; i < int(r.NumRows()); i++ {
		var parts []string
		for c := 0; c < int(r.NumCols()); c++ {
			parts = append(parts, format.FormatValue(r.Column(c), i))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

// readN reads batches until n rows arrived (or EOF / timeout), releasing
// each record, and returns the rows sorted.
func readN(t testing.TB, r exec.SourceReader, n int, timeout time.Duration) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []string
	for len(out) < n {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d rows: %v", len(out), err)
		}
		out = append(out, rowsOf(b.Record)...)
		b.Record.Release()
	}
	sort.Strings(out)
	return out
}

// readAll reads a bounded reader to io.EOF.
func readAll(t testing.TB, r exec.SourceReader) []string {
	t.Helper()
	return readN(t, r, int(^uint(0)>>1), 20*time.Second)
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func openSource(t testing.TB, mem memory.Allocator, o connectors.Options, declared *arrow.Schema, spec exec.ScanSpec) *Reader {
	t.Helper()
	src, err := NewSource(o, declared)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	r, err := src.OpenReader(ctx, mem, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}
