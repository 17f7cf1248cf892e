package format

import (
	"strings"
	"testing"
)

// TestInferDebezium: the Connect schema of an event names the columns and
// types (timestamps by their logical name, other logical types left as
// numbers, nested values as text); without one the sampled after images
// (a delete's before image) are inferred as JSON; nothing to infer from
// is an error.
func TestInferDebezium(t *testing.T) {
	const withSchema = `{"schema":{"type":"struct","fields":[{"type":"struct","field":"before","fields":[]},{"type":"struct","field":"after","fields":[
		{"type":"int16","field":"id"},{"type":"string","field":"name"},{"type":"int64","name":"io.debezium.time.Timestamp","field":"at"},
		{"type":"int64","name":"io.debezium.time.MicroTimestamp","field":"at_us"},{"type":"boolean","field":"ok"},{"type":"float","field":"f"},
		{"type":"struct","field":"nested","fields":[]}]}]},"payload":{"before":null,"after":null,"op":"c"}}`
	for _, tt := range []struct {
		events []string
		want   string
	}{
		{[]string{"", withSchema}, "id BIGINT, name VARCHAR, at TIMESTAMP, at_us BIGINT, ok BOOLEAN, f DOUBLE, nested VARCHAR"},
		{[]string{`{"before":null,"after":{"a":1,"b":"x"},"op":"c"}`, `{"before":{"a":2.5,"c":true},"after":null,"op":"d"}`}, "a DOUBLE, b VARCHAR, c BOOLEAN"},
		{[]string{`{"op":7}`}, `"op" is a JSON number`},
		{[]string{`{"op":"t"}`}, "no change event with a row image"},
		{[]string{`[1]`}, "event 1: not a Debezium change event: a JSON array, not an object"},
	} {
		var evs [][]byte
		for _, e := range tt.events {
			if e != "" {
				evs = append(evs, []byte(e))
			} else {
				evs = append(evs, nil)
			}
		}
		s, err := InferDebezium(evs)
		var got string
		if err != nil {
			got = "error: " + err.Error()
		} else {
			var cols []string
			for _, f := range s.Fields() {
				cols = append(cols, f.Name+" "+SQLTypeName(f.Type))
			}
			got = strings.Join(cols, ", ")
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%v: %s, want %s", tt.events, got, tt.want)
		}
	}
}
