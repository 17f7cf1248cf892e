package kafka

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// TestDebeziumDecode: each op becomes its change rows, with or without
// the schema envelope; tombstones, truncates and messages are no rows; an
// update without a before image, a bad after image and an unknown op are
// bad records that leave nothing behind.
func TestDebeziumDecode(t *testing.T) {
	mem := checkedMem(t)
	sch := schema(col("id", arrow.PrimitiveTypes.Int64), col("name", arrow.BinaryTypes.String))
	d, err := newDebeziumValues(mem, sch, []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.release()
	for _, tt := range []struct {
		v    string
		rows int
		err  string
	}{
		{`{"before":null,"after":{"id":1,"name":"x"},"op":"c"}`, 1, ""},
		{`{"schema":{},"payload":{"before":null,"after":{"id":2,"name":"y"},"op":"r"}}`, 1, ""},
		{`{"before":{"id":1,"name":"x"},"after":{"id":1,"name":"z"},"op":"u"}`, 2, ""},
		{`{"before":{"id":2,"name":"y"},"after":null,"op":"d"}`, 1, ""},
		{"", 0, ""},
		{`{"op":"t"}`, 0, ""},
		{`{"before":null,"after":{"id":1,"name":"z"},"op":"u"}`, 0, "REPLICA IDENTITY FULL"},
		{`{"before":{"id":1,"name":"z"},"after":{"id":"nope","name":"w"},"op":"u"}`, 0, "id"},
		{`{"before":null,"after":{"id":3},"op":"x"}`, 0, `unknown Debezium op "x"`},
		{`[1,2]`, 0, "not a Debezium change event"},
	} {
		var v []byte
		if tt.v != "" {
			v = []byte(tt.v)
		}
		n, err := d.appendRows(&kgo.Record{Value: v})
		if tt.err == "" && (err != nil || n != tt.rows) {
			t.Errorf("%s: %d rows, %v; want %d", tt.v, n, err, tt.rows)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%s: %v, want an error with %q", tt.v, err, tt.err)
		}
	}
	rec := d.newRecord()
	defer rec.Release()
	if got := strings.Join(rowsOf(rec), " "); got != "0|1|x 0|2|y 1|1|x 2|1|z 3|2|y" {
		t.Errorf("rows %s", got)
	}
}

// TestDebeziumInferred: a debezium-json source without declared columns
// takes them from the sampled events' row images, and reads the changes.
func TestDebeziumInferred(t *testing.T) {
	_, addr := newCluster(t, map[string]int32{"cdc": 1})
	mem := checkedMem(t)
	produce(t, addr,
		rec("cdc", 0, `{"before":null,"after":{"id":1,"name":"x","at":"2026-01-01 00:00:01"},"op":"c"}`),
		rec("cdc", 0, `{"before":{"id":1,"name":"x","at":"2026-01-01 00:00:01"},"after":{"id":1,"name":"y","at":"2026-01-01 00:00:02"},"op":"u"}`),
		&kgo.Record{Topic: "cdc"},
	)
	o := opts("topic", "cdc", "brokers", addr, "format", "debezium-json")
	src, err := NewSource(o, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, f := range src.Schema().Fields() {
		cols = append(cols, f.Name+" "+format.SQLTypeName(f.Type))
	}
	if got := strings.Join(cols, ", "); got != "id BIGINT, name VARCHAR, at TIMESTAMP" {
		t.Errorf("inferred %s", got)
	}
	r := openSource(t, mem, o, nil, exec.ScanSpec{Bounded: true})
	if got, want := readAll(t, r), sorted("0|1|x|2026-01-01 00:00:01", "1|1|x|2026-01-01 00:00:01", "2|1|y|2026-01-01 00:00:02"); !equal(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
}
