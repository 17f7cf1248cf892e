package main

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/bufpool"
)

// TestEveryPathComputesTheSums runs each measured path on small data and
// checks it against the generator's sums (computed row by row, not by any
// of the paths).
func TestEveryPathComputesTheSums(t *testing.T) {
	const n = 30_000
	ds, err := ensureData(t.TempDir(), n, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	want := expected(n)
	if len(want) != numKeys {
		t.Fatalf("%d keys in the data, want %d", len(want), numKeys)
	}
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := arrowRecords(mem, n, 1000)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	csvRun, err := sluiceSQL(ctx, mem, ds.csv, "csv", 1)
	if err != nil {
		t.Fatal(err)
	}
	pqRun, err := sluiceSQL(ctx, mem, ds.parquet, "parquet", 1)
	if err != nil {
		t.Fatal(err)
	}
	csv2, err := sluiceSQL(ctx, mem, ds.csv, "csv", 2)
	if err != nil {
		t.Fatal(err)
	}
	pq2, err := sluiceSQL(ctx, mem, ds.parquet, "parquet", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		run  func() (map[string]int64, error)
	}{
		{"sluice csv", csvRun},
		{"sluice parquet", pqRun},
		{"sluice csv parallel", csv2},
		{"sluice parquet parallel", pq2},
		{"sluice arrow", func() (map[string]int64, error) {
			return sluiceArrow(ctx, mem, &memSource{schema: benchSchema, recs: recs})
		}},
		{"go csv", func() (map[string]int64, error) { return goLoopCSV(ds.csv) }},
		{"go parquet", func() (map[string]int64, error) { return goLoopParquet(ds.parquet) }},
		{"go arrow", func() (map[string]int64, error) { return goLoopArrow(recs) }},
		{"pool allocator", func() (map[string]int64, error) {
			return sluiceArrow(ctx, bufpool.New(), &memSource{schema: benchSchema, recs: recs})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			if err := sameSums(got, want); err != nil {
				t.Error(err)
			}
		})
	}
	// Cached files are reused, not rewritten.
	st, _ := os.Stat(ds.csv)
	if _, err := ensureData(filepath.Dir(ds.csv), n, t.Logf); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(ds.csv); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("cached CSV was rewritten")
	}
}

// Benchmarks of the sluice paths on 1M rows: `go test -bench . -cpuprofile
// cpu.out ./cmd/sluicebench` profiles one path at a time.
var benchData = func() func(b *testing.B) dataset {
	var ds dataset
	return func(b *testing.B) dataset {
		if ds.rows == 0 {
			var err error
			if ds, err = ensureData(filepath.Join(os.TempDir(), "sluicebench-gotest"), 1_000_000, b.Logf); err != nil {
				b.Fatal(err)
			}
		}
		return ds
	}
}()

func benchRun(b *testing.B, rows int64, run func() (map[string]int64, error)) {
	runtime.GC()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkSluiceCSV(b *testing.B)     { benchSQL(b, "csv") }
func BenchmarkSluiceParquet(b *testing.B) { benchSQL(b, "parquet") }

func benchSQL(b *testing.B, format string) {
	ds := benchData(b)
	path := ds.csv
	if format == "parquet" {
		path = ds.parquet
	}
	run, err := sluiceSQL(context.Background(), nil, path, format, runtime.GOMAXPROCS(0))
	if err != nil {
		b.Fatal(err)
	}
	benchRun(b, ds.rows, run)
}

func BenchmarkSluiceArrow(b *testing.B) {
	for _, alloc := range []string{"go", "pool"} {
		b.Run(alloc, func(b *testing.B) {
			mem, _ := allocator(alloc)
			recs := arrowRecords(memory.NewGoAllocator(), 1_000_000, exec.DefaultBatchSize)
			src := &memSource{schema: benchSchema, recs: recs}
			benchRun(b, 1_000_000, func() (map[string]int64, error) { return sluiceArrow(context.Background(), mem, src) })
		})
	}
}
