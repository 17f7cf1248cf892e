package blackhole

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

func TestDiscardsAndCounts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	s, err := connectors.NewSink(connectors.Env{}, connectors.Options{"connector": "blackhole"})
	if err != nil {
		t.Fatal(err)
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	w, err := s.Open(context.Background(), mem, schema, exec.SinkMode{Changelog: true})
	if err != nil {
		t.Fatal(err)
	}
	b := array.NewRecordBuilder(mem, schema)
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2, 3}, nil)
	rec := b.NewRecord()
	b.Release()
	for range 2 {
		if err := w.Write(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	rec.Release()
	if err := w.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if n := s.(*Sink).Rows(); n != 6 {
		t.Errorf("counted %d rows, want 6", n)
	}
	_, err = connectors.NewSink(connectors.Env{}, connectors.Options{"connector": "blackhole", "path": "x"})
	if err == nil || !strings.Contains(err.Error(), "path") {
		t.Errorf("blackhole with a path: %v, want an error naming the option", err)
	}
}
