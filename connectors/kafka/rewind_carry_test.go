package kafka

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// TestRewindCarriesWatermarksAgain: a repartition topic's reader that
// rewinds (a commit the group refused) hands on, while it reads the
// partition again, the same watermarks at the same rows as the first
// time. It kept the carried view of what it had read before, past the
// rows read again, so no mark read again moved the watermark and the
// operator (restored as of the committed offset) heard of none until
// the partition got back where it had been: the four rows came back as
// one batch carrying no watermark.
func TestRewindCarriesWatermarksAgain(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"src": 1, "rep": 1})
	var recs []*kgo.Record
	for i := range 4 {
		recs = append(recs, &kgo.Record{Topic: "rep", Partition: 0, Value: []byte(fmt.Sprintf(`{"v":%d}`, i))})
		m := markRecord(t, map[string]int64{"src/0": int64(i) * 1000})
		m.Topic, m.Partition = "rep", 0
		recs = append(recs, m)
	}
	produceTo(t, manualClient(t, addr), recs...)

	mem := checkedMem(t)
	host, err := NewSource(opts("topic", "src", "brokers", addr, "group.id", "g-rewind", "format", "json"),
		schema(col("v", arrow.PrimitiveTypes.Int64)))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := host.RepartitionSource("rep", schema(col("v", arrow.PrimitiveTypes.Int64)), [][]string{{"src/0"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := rs.(*Source).OpenReader(ctx, mem, exec.ScanSpec{BatchSize: 100, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// read returns, per batch until 4 rows came, its rows and the
	// watermark it carries ("-" for none).
	read := func() []string {
		var out []string
		rows := 0
		for rows < 4 {
			b, err := r.Next(ctx)
			if err != nil {
				t.Fatalf("after %d rows: %v", rows, err)
			}
			wm := "-"
			if b.CarriesWatermark {
				wm = fmt.Sprint(b.Watermark)
			}
			n := int(b.Record.NumRows())
			rows += n
			out = append(out, fmt.Sprintf("%d rows, watermark %s", n, wm))
			b.Record.Release()
		}
		return out
	}
	first := read()
	r.Rewind(r.Epoch())
	// The rewind runs after the next poll: a record more wakes it.
	more := &kgo.Record{Topic: "rep", Partition: 0, Value: []byte(`{"v":4}`)}
	produceTo(t, manualClient(t, addr), more)
	again := read()
	if !slices.Equal(first, again) {
		t.Errorf("read again after a rewind:\n%v\nfirst read:\n%v", again, first)
	}
	if want := "1 rows, watermark 0"; len(first) == 0 || first[0] != want {
		t.Errorf("first read %v, want it to start with %q", first, want)
	}
}
