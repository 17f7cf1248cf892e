package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
)

// numKeys is the number of distinct categories in the generated data.
const numKeys = 100

// dataVersion names the generator's output in the cache: bump it whenever
// the generated rows or file layout change so stale files are not reused.
const dataVersion = "v1"

// parquetRowGroupRows is the row-group size of the generated Parquet file:
// about 1M rows, the order of magnitude common writers produce for two
// narrow columns (DuckDB writes 122,880-row groups, Spark 128 MB ones).
const parquetRowGroupRows = 1 << 20

// categoryNames are the group keys "cat-00" … "cat-99".
var categoryNames = func() []string {
	s := make([]string, numKeys)
	for i := range s {
		s[i] = fmt.Sprintf("cat-%02d", i)
	}
	return s
}()

// splitmix64 is a stateless mixer: row i's values are a pure function of
// i, so every input format holds exactly the same rows.
func splitmix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// row returns row i: its category index and its value in [0, 1e6).
func row(i int64) (key int, value int64) {
	h := splitmix64(uint64(i))
	return int(h % numKeys), int64((h >> 32) % 1_000_000)
}

// expected computes the exact per-category sums of the first n rows.
func expected(n int64) map[string]int64 {
	m := make(map[string]int64, numKeys)
	for i := int64(0); i < n; i++ {
		k, v := row(i)
		m[categoryNames[k]] += v
	}
	return m
}

// dataset is the generated data on disk.
type dataset struct {
	rows    int64
	csv     string
	parquet string
}

// ensureData writes the CSV and Parquet files for n rows into dir unless
// they are already there (files are written under a temporary name and
// renamed, so an interrupted run never leaves a truncated cache entry).
func ensureData(dir string, n int64, logf func(string, ...any)) (dataset, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return dataset{}, fmt.Errorf("cache dir: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("sales-%s-%d", dataVersion, n))
	ds := dataset{rows: n, csv: base + ".csv", parquet: base + ".parquet"}
	if _, err := os.Stat(ds.csv); err != nil {
		logf("generating %s", ds.csv)
		if err := writeAtomically(ds.csv, func(f *os.File) error { return writeCSV(f, n) }); err != nil {
			return ds, err
		}
	}
	if _, err := os.Stat(ds.parquet); err != nil {
		logf("generating %s", ds.parquet)
		if err := writeAtomically(ds.parquet, func(f *os.File) error { return writeParquet(f, n) }); err != nil {
			return ds, err
		}
	}
	return ds, nil
}

func writeAtomically(path string, write func(*os.File) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

func writeCSV(f *os.File, n int64) error {
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("category,value\n")
	var buf []byte
	for i := int64(0); i < n; i++ {
		k, v := row(i)
		buf = append(buf[:0], categoryNames[k]...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, v, 10)
		buf = append(buf, '\n')
		w.Write(buf)
	}
	return w.Flush()
}

// pqRow is the Parquet layout: a dictionary-encoded string key and a
// plain int64, both Snappy-compressed, the defaults of common writers.
type pqRow struct {
	Category string `parquet:"category,dict,snappy"`
	Value    int64  `parquet:"value,snappy"`
}

func writeParquet(f *os.File, n int64) error {
	w := parquet.NewGenericWriter[pqRow](f, parquet.MaxRowsPerRowGroup(parquetRowGroupRows))
	buf := make([]pqRow, 0, 8192)
	for i := int64(0); i < n; i++ {
		k, v := row(i)
		buf = append(buf, pqRow{Category: categoryNames[k], Value: v})
		if len(buf) == cap(buf) || i == n-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return w.Close()
}

// benchSchema is the schema of the in-memory Arrow data.
var benchSchema = arrow.NewSchema([]arrow.Field{
	{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// arrowRecords builds the n rows as Arrow records of batch rows each.
// The caller releases them.
func arrowRecords(mem memory.Allocator, n int64, batch int) []arrow.Record {
	var recs []arrow.Record
	b := array.NewRecordBuilder(mem, benchSchema)
	defer b.Release()
	cat := b.Field(0).(*array.StringBuilder)
	val := b.Field(1).(*array.Int64Builder)
	for i := int64(0); i < n; i++ {
		k, v := row(i)
		cat.Append(categoryNames[k])
		val.Append(v)
		if cat.Len() == batch || i == n-1 {
			recs = append(recs, b.NewRecord())
		}
	}
	return recs
}
