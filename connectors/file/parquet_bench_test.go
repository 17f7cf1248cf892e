package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/bufpool"
)

// scanBenchRow is sluicebench's layout: a dictionary-encoded key of 100
// values, a pseudo-random value below 1e6 and an event time, all snappy,
// in parquet-go's default pages and 1M-row row groups.
type scanBenchRow struct {
	Category string `parquet:"category,dict,snappy"`
	Value    int64  `parquet:"value,snappy"`
	TS       int64  `parquet:"ts,timestamp(microsecond),snappy"`
}

const scanBenchRows = 4 << 20

// scanBenchFile writes scanBenchRows rows into the benchmark's temporary
// directory, or once into $SLUICE_SCANBENCH_DIR when that is set (so a
// CPU profile shows the scan, not the writing).
func scanBenchFile(b *testing.B) string {
	b.Helper()
	dir := os.Getenv("SLUICE_SCANBENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, fmt.Sprintf("scanbench-v1-%d.parquet", scanBenchRows))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := parquet.NewGenericWriter[scanBenchRow](f, parquet.MaxRowsPerRowGroup(1<<20))
	buf := make([]scanBenchRow, 0, 8192)
	x := uint64(1)
	for i := 0; i < scanBenchRows; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		buf = append(buf, scanBenchRow{Category: fmt.Sprintf("cat-%02d", x%100), Value: int64(x>>32) % 1_000_000, TS: int64(i) * 1000})
		if len(buf) == cap(buf) || i == scanBenchRows-1 {
			if _, err := w.Write(buf); err != nil {
				b.Fatal(err)
			}
			buf = buf[:0]
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchParquetScan reads category and value (and the filter's column)
// of the file: as one scan, or morsel by morsel as a parallel scan's
// workers do, one after the other, so the difference is what splitting
// costs.
func benchParquetScan(b *testing.B, morsels bool, filters []exec.Predicate) {
	benchParquetScanSpec(b, morsels, exec.ScanSpec{Columns: []int{0, 1}, Filters: filters})
}

func benchParquetScanSpec(b *testing.B, morsels bool, spec exec.ScanSpec) {
	path := scanBenchFile(b)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		b.Fatal(err)
	}
	mem := bufpool.New() // what a session uses
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var rows int64
	for range b.N {
		var ms []exec.Morsel
		if morsels {
			if ms, err = src.Morsels(ctx, spec); err != nil {
				b.Fatal(err)
			}
		} else {
			ms = []exec.Morsel{benchWhole{src, spec}}
		}
		for _, m := range ms {
			r, err := m.Open(ctx, mem)
			if err != nil {
				b.Fatal(err)
			}
			// As a GROUP BY over the key asks (exec.Scan.KeepDictionaries).
			r.(exec.DictionaryReader).KeepDictionaries([]int{0})
			rows += drainRows(b, r)
		}
	}
	// CPU time, not wall time, is what compares on a shared machine.
	cpu := processCPU() - cpu0
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(rows)/float64(b.N), "out-rows")
}

// processCPU is the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchWhole is a whole source as one morsel.
type benchWhole struct {
	src  *Source
	spec exec.ScanSpec
}

func (w benchWhole) Open(ctx context.Context, mem memory.Allocator) (exec.SourceReader, error) {
	return w.src.Open(ctx, mem, w.spec)
}
func (w benchWhole) String() string { return "whole" }

func BenchmarkParquetScanWhole(b *testing.B)   { benchParquetScan(b, false, nil) }
func BenchmarkParquetScanMorsels(b *testing.B) { benchParquetScan(b, true, nil) }

// BenchmarkParquetScanSmallMorsels splits the row groups into ranges of
// about 1 MB: against BenchmarkParquetScanMorsels, what a morsel costs.
func BenchmarkParquetScanSmallMorsels(b *testing.B) {
	benchParquetScanSpec(b, true, exec.ScanSpec{Columns: []int{0, 1}, MorselBytes: 1 << 20})
}

// BenchmarkParquetScanFilter is sluicebench's filter-project: value <
// 1000 keeps 0.1% of the rows.
func BenchmarkParquetScanFilter(b *testing.B) {
	benchParquetScan(b, false, []exec.Predicate{{Column: 1, Op: "lt", Value: int64(1000)}})
}

// BenchmarkParquetOpen is what each morsel pays before its first row:
// the footer read, checked and decoded.
func BenchmarkParquetOpen(b *testing.B) {
	path := scanBenchFile(b)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		b.Fatal(err)
	}
	spec := exec.ScanSpec{Columns: []int{0, 1}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r, err := openParquet(memory.DefaultAllocator, path, src.Schema(), spec, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		r.close()
	}
}
