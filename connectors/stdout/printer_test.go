package stdout

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

func TestPrinter(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "op", Type: arrow.PrimitiveTypes.Int8},
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "total", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[
		{"op":0,"category":"a","total":1.5,"ts":1767225605000000},
		{"op":2,"category":null,"total":null,"ts":null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	for _, tc := range []struct {
		format string
		want   []string // substrings, in order
	}{
		{"csv", []string{"op,category,total,ts\n+I,a,1.5,2026-01-01 00:00:05\n+U,,,\n"}},
		{"json", []string{`{"op":"+I","category":"a","total":1.5,"ts":"2026-01-01 00:00:05"}` + "\n" + `{"op":"+U","category":null,"total":null,"ts":null}` + "\n"}},
		{"table", []string{"OP", "CATEGORY", "TOTAL", "+I", "a", "1.5", "2026-01-01 00:00:05", "+U", "NULL"}},
	} {
		t.Run(tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			sink := &Sink{W: &buf, Format: tc.format}
			w, err := sink.Open(context.Background(), mem, schema, exec.SinkMode{Changelog: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			if tc.format == "table" && buf.Len() != 0 {
				t.Errorf("table printed before commit: %q", buf.String())
			}
			if err := w.Commit(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			w.Close()
			out := buf.String()
			if tc.format != "table" {
				if out != tc.want[0] {
					t.Errorf("got %q want %q", out, tc.want[0])
				}
				return
			}
			pos := 0
			for _, s := range tc.want {
				i := strings.Index(strings.ToUpper(out[pos:]), strings.ToUpper(s))
				if i < 0 {
					t.Fatalf("%q not found after %d in\n%s", s, pos, out)
				}
				pos += i + len(s)
			}
		})
	}
	// An empty CSV result still prints its header.
	var buf bytes.Buffer
	p, _ := NewPrinter(&buf, "csv")
	p.SetSchema(schema)
	if err := p.Flush(); err != nil || buf.String() != "op,category,total,ts\n" {
		t.Errorf("empty csv: %q %v", buf.String(), err)
	}
	if _, err := NewPrinter(&buf, "xml"); err == nil {
		t.Error("unknown format: want error")
	}
	if _, err := connectors.NewSink(connectors.Env{}, connectors.Options{"connector": "stdout", "format": "xml"}); err == nil {
		t.Error("stdout sink with unknown format: want error")
	}
}
