package memtable

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

func TestTableWriteCommitScan(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "b", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	tbl := New(schema)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"a": 1, "b": "x"}, {"a": null, "b": "y"}, {"a": 3, "b": null}]`))
	if err != nil {
		t.Fatal(err)
	}
	// A writer closed without Commit leaves nothing.
	w, err := tbl.Sink().Open(ctx, mem, schema, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if tbl.Rows() != 0 {
		t.Fatalf("uncommitted rows visible: %d", tbl.Rows())
	}
	w, _ = tbl.Sink().Open(ctx, mem, schema, exec.SinkMode{})
	if err := w.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	rec.Release() // the table keeps its own copy
	if err := w.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for _, size := range []int{1, 2, 1024} {
		r, err := tbl.Open(ctx, mem, exec.ScanSpec{Columns: []int{1}, BatchSize: size})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			b, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Record.NumCols() != 1 || b.Record.NumRows() > int64(size) {
				t.Fatalf("batch of %d columns, %d rows at size %d", b.Record.NumCols(), b.Record.NumRows(), size)
			}
			col := b.Record.Column(0).(*array.String)
			for i := 0; i < col.Len(); i++ {
				if col.IsNull(i) {
					got = append(got, "NULL")
				} else {
					got = append(got, col.Value(i))
				}
			}
			b.Record.Release()
		}
		r.Close()
		if strings.Join(got, ",") != "x,y,NULL" {
			t.Fatalf("size %d: got %v", size, got)
		}
	}
	if _, err := tbl.Sink().Open(ctx, mem, schema, exec.SinkMode{Changelog: true}); err == nil {
		t.Fatal("a changelog was accepted")
	}
}
