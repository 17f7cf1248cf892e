package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// readOrdered reads r to its end (or stop rows), rendering rows like
// scan, and checks after every batch that the offsets count the rows
// returned so far (plus base, the rows a resumed scan skipped): what a
// sequential scan reports at the same row.
func readOrdered(t *testing.T, r exec.SourceReader, base int64, stop int) ([]string, exec.Offsets, error) {
	t.Helper()
	ctx := context.Background()
	var rows []string
	for stop < 0 || len(rows) < stop {
		b, err := r.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, nil, err
		}
		for i := 0; i < int(b.Record.NumRows()); i++ {
			var parts []string
			for c := 0; c < int(b.Record.NumCols()); c++ {
				parts = append(parts, format.FormatValue(b.Record.Column(c), i))
			}
			rows = append(rows, strings.Join(parts, "|"))
		}
		b.Record.Release()
		var consumed int64
		for _, v := range r.Offsets() {
			consumed += v
		}
		if consumed != base+int64(len(rows)) {
			t.Fatalf("after %d rows the offsets %v count %d", len(rows), r.Offsets(), consumed-base)
		}
	}
	return rows, r.Offsets(), nil
}

// A scan opened with exec.OpenOrdered over several workers returns the
// rows of a sequential scan in the same order, reports after every batch
// the offsets a sequential scan would, resumes from them, and fails with
// the sequential scan's first error.
func TestOpenOrderedIsTheSequentialScan(t *testing.T) {
	dir := t.TempDir()
	var csv, jsonl, bad strings.Builder
	csv.WriteString("id,category,value\n")
	bad.WriteString("id,category,value\n")
	for i := range 300 {
		fmt.Fprintf(&csv, "%d,cat-%d,%d\n", i, i%7, i*3)
		fmt.Fprintf(&jsonl, `{"id": %d, "category": "cat-%d", "value": %d}`+"\n", i, i%7, i*3)
		v := fmt.Sprint(i * 3)
		if i == 200 || i == 250 {
			v = "x" + v
		}
		fmt.Fprintf(&bad, "%d,cat-%d,%s\n", i, i%7, v)
	}
	write(t, filepath.Join(dir, "t.csv"), csv.String())
	write(t, filepath.Join(dir, "t.jsonl"), jsonl.String())
	write(t, filepath.Join(dir, "bad.csv"), bad.String())
	for _, sub := range []string{"a", "b", "c"} {
		write(t, filepath.Join(dir, "part-"+sub+".csv"), csv.String())
	}
	writeParquet(t, memory.NewGoAllocator(), filepath.Join(dir, "t.parquet"), 700, 50)

	for _, tc := range []struct{ path, format string }{
		{"t.csv", "csv"},
		{"t.jsonl", "json"},
		{"part-*.csv", "csv"},
		{"t.parquet", "parquet"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			opts := connectors.Options{"path": filepath.Join(dir, tc.path), "format": tc.format}
			src, err := NewSource(opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, workers := range []int{2, 3} {
				for _, bs := range []int{7, 1024} {
					spec := exec.ScanSpec{BatchSize: bs, MorselBytes: 300}
					want, _, err := scan(t, src, spec)
					if err != nil {
						t.Fatal(err)
					}
					r, err := exec.OpenOrdered(ctx, mem, src, spec, workers)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := r.(*Reader); ok {
						t.Fatalf("%d workers: the scan was not split", workers)
					}
					half := len(want) / 2
					first, at, err := readOrdered(t, r, 0, half)
					r.Close()
					if err != nil {
						t.Fatal(err)
					}
					// Resume a fresh ordered scan where the first stopped.
					resumed := spec
					resumed.From = at
					r, err = exec.OpenOrdered(ctx, mem, src, resumed, workers)
					if err != nil {
						t.Fatal(err)
					}
					rest, end, err := readOrdered(t, r, int64(len(first)), -1)
					r.Close()
					if err != nil {
						t.Fatal(err)
					}
					got := append(first, rest...)
					if strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Fatalf("%d workers, batch %d: read %d rows (resumed after %d), the sequential scan %d", workers, bs, len(got), len(first), len(want))
					}
					_, seq, _ := scan(t, src, spec)
					if fmt.Sprint(end) != fmt.Sprint(seq.Offsets()) {
						t.Fatalf("final offsets %v, sequential %v", end, seq.Offsets())
					}
				}
			}
		})
	}

	t.Run("first error", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		src, err := NewSource(connectors.Options{"path": filepath.Join(dir, "bad.csv"), "format": "csv"}, arrow.NewSchema([]arrow.Field{
			{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
			{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		}, nil))
		if err != nil {
			t.Fatal(err)
		}
		spec := exec.ScanSpec{BatchSize: 16, MorselBytes: 300}
		_, _, want := scan(t, src, spec)
		if want == nil {
			t.Fatal("the sequential scan of bad.csv did not fail")
		}
		r, err := exec.OpenOrdered(context.Background(), mem, src, spec, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, _, got := readOrdered(t, r, 0, -1)
		if got == nil || got.Error() != want.Error() {
			t.Fatalf("ordered scan failed with %v, the sequential one with %v", got, want)
		}
	})
}
