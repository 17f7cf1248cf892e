package kafka

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kgo"
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
