package file

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// TestDebeziumLineNotAnEvent: a line of a Debezium file that is no change
// event (not JSON, no op, an unknown op) fails the scan naming the file
// and line under 'on_error' = 'fail', and is dropped and counted under
// 'skip' and 'null' while the events around it are read.
func TestDebeziumLineNotAnEvent(t *testing.T) {
	dir := t.TempDir()
	lines := []string{
		`{"before":null,"after":{"id":1,"name":"a"},"op":"c"}`,
		`this is not json`,
		`{"before":null,"after":{"id":2,"name":"b"},"op":"c"}`,
		`{"id":3,"name":"c"}`,
		`{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"z"},"op":"x"}`,
		`{"before":{"id":2,"name":"b"},"after":null,"op":"d"}`,
	}
	path := write(t, filepath.Join(dir, "cdc.jsonl"), strings.Join(lines, "\n")+"\n")
	declared := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	for _, tc := range []struct {
		policy string
		want   string // rows (op first) or the error's start
		err    bool
	}{
		{"fail", "cdc.jsonl:2: not a Debezium change event", true},
		{"skip", "0|1|a\n0|2|b\n3|2|b", false},
		{"null", "0|1|a\n0|2|b\n3|2|b", false},
	} {
		opts := connectors.Options{"path": path, "format": "debezium-json", "on_error": tc.policy}
		src, err := NewSource(opts, declared)
		if err != nil {
			t.Fatal(err)
		}
		rows, r, err := scan(t, src, exec.ScanSpec{BatchSize: 2})
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one starting %q", tc.policy, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.policy, err)
		}
		if got := strings.Join(rows, "\n"); got != tc.want {
			t.Errorf("%s: rows\n%s\nwant\n%s", tc.policy, got, tc.want)
		}
		if got := r.Stats().Skipped; got != 3 {
			t.Errorf("%s: %d lines counted as skipped, want 3", tc.policy, got)
		}
	}
}
