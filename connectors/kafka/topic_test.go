package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// TestSinkCreatesMissingTopic: a sink to a topic that does not exist
// creates it with 'topic.partitions' (as ksqlDB does) and writes to it;
// with 'topic.create' = 'false' the missing topic is an error naming the
// topic and the option.
func TestSinkCreatesMissingTopic(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"other": 1})
	ctx := context.Background()

	sink, err := NewSink(opts("topic", "big", "brokers", addr, "topic.create", "false"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sink.Open(ctx, mem, ordersSchema, exec.SinkMode{})
	var oe *connectors.OptionError
	if !errors.As(err, &oe) || oe.Option != "topic.create" || !strings.Contains(err.Error(), `"big"`) {
		t.Fatalf("topic.create = false: %v, want an error naming the topic and 'topic.create'", err)
	}

	sink, err = NewSink(opts("topic", "big", "brokers", addr, "topic.partitions", "3"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(ctx, mem, ordersSchema, exec.SinkMode{})
	if err != nil {
		t.Fatalf("a missing topic was not created: %v", err)
	}
	in, _, err := array.RecordFromJSON(mem, ordersSchema, strings.NewReader(`[{"category":"a","value":1},{"category":"b","value":2}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Release()
	if err := w.Write(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(tctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(td["big"].Partitions); got != 3 {
		t.Errorf("created topic has %d partitions, want 3 ('topic.partitions')", got)
	}
	r := openSource(t, mem, opts("topic", "big", "brokers", addr), nil, exec.ScanSpec{Bounded: true})
	if got := readAll(t, r); len(got) != 2 {
		t.Errorf("read back %v, want the 2 rows written", got)
	}

	for _, bad := range [][]string{{"topic.partitions", "0"}, {"topic.replication", "x"}, {"topic.create", "maybe"}, {"transaction.timeout", "2h"}, {"transaction.timeout", "soon"}} {
		if _, err := NewSink(opts("topic", "t", "brokers", addr, bad[0], bad[1])); err == nil || !strings.Contains(err.Error(), "'"+bad[0]+"'") {
			t.Errorf("%s = %q: %v, want an error naming the option", bad[0], bad[1], err)
		}
	}
}

// TestUnreachableSaysHowLong: a refused connection fails fast and says
// how long it took, not the connect timeout it did not wait for.
func TestUnreachableSaysHowLong(t *testing.T) {
	sink, err := NewSink(opts("topic", "t", "brokers", "127.0.0.1:1", "connect.timeout", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = sink.Open(context.Background(), checkedMem(t), ordersSchema, exec.SinkMode{})
	if err == nil {
		t.Fatal("no error reaching a closed port")
	}
	if time.Since(start) < 27*time.Second && strings.Contains(err.Error(), "within 30s") {
		t.Errorf("failed after %s but says %v", time.Since(start), err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("%v does not name the brokers", err)
	}
}
