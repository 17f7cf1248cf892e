package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

const benchRows = 1_000_000

func benchSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
}

func benchScan(b *testing.B, src exec.Source) {
	mem := memory.NewGoAllocator()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := src.Open(context.Background(), mem, exec.ScanSpec{})
		if err != nil {
			b.Fatal(err)
		}
		if n := drainRows(b, r); n != benchRows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(benchRows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// drainRows reads r to its end, releasing every batch, closes it and
// returns the rows it read.
func drainRows(b *testing.B, r exec.SourceReader) int64 {
	defer r.Close()
	var n int64
	for {
		bt, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n += bt.Record.NumRows()
		bt.Record.Release()
	}
}

func BenchmarkCSVRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "category,value")
	for i := 0; i < benchRows; i++ {
		fmt.Fprintf(w, "cat-%02d,%d\n", i%10, int64(i)*7919%1000003)
	}
	w.Flush()
	f.Close()
	src, err := NewSource(connectors.Options{"path": path}, benchSchema())
	if err != nil {
		b.Fatal(err)
	}
	benchScan(b, src)
}

func BenchmarkParquetRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.parquet")
	mem := memory.NewGoAllocator()
	sink, err := NewSink(connectors.Options{"path": path})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	wr, err := sink.Open(ctx, mem, benchSchema(), exec.SinkMode{})
	if err != nil {
		b.Fatal(err)
	}
	bld := array.NewRecordBuilder(mem, benchSchema())
	for i := 0; i < benchRows; i++ {
		bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("cat-%02d", i%10))
		bld.Field(1).(*array.Int64Builder).Append(int64(i) * 7919 % 1000003)
		if bld.Field(0).Len() == 65536 || i == benchRows-1 {
			rec := bld.NewRecord()
			if err := wr.Write(ctx, rec); err != nil {
				b.Fatal(err)
			}
			rec.Release()
		}
	}
	bld.Release()
	if err := wr.Commit(ctx, nil); err != nil {
		b.Fatal(err)
	}
	wr.Close()
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchScan(b, src)
}
