package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// hostileRow is the shape of the small Parquet files the hostile-input
// tests corrupt.
type hostileRow struct {
	Name  *string `parquet:"name,optional,dict"`
	Value int64   `parquet:"value"`
	Day   int32   `parquet:"day,date"`
}

// writeHostileParquet writes n rows in row groups of groupRows and returns
// the file's bytes.
func writeHostileParquet(t testing.TB, n, groupRows int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[hostileRow](&buf, parquet.MaxRowsPerRowGroup(int64(groupRows)), parquet.PageBufferSize(256))
	for i := 0; i < n; i++ {
		var name *string
		if i%3 != 1 {
			s := []string{"a", "bb", "ccc"}[i%3]
			name = &s
		}
		if _, err := w.Write([]hostileRow{{Name: name, Value: int64(i), Day: int32(20000 + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rewriteFooter decodes a Parquet file's footer, lets edit change it and
// returns the file with the re-encoded footer: corruption a reader cannot
// catch by a checksum, only by checking what it reads.
func rewriteFooter(t testing.TB, data []byte, edit func(md *pqformat.FileMetaData)) []byte {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	start := len(data) - 8 - n
	var md pqformat.FileMetaData
	if err := thriftUnmarshal(data[start:len(data)-8], &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	footer, err := thriftMarshal(&md)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), data[:start]...)
	out = append(out, footer...)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
	return append(out, "PAR1"...)
}

// TestParquetCorruptStatistics: a min/max statistic of the wrong length
// for its column (12 bytes for an INT64) used to panic the process in
// canSkip (parquet-go's Kind.Value panics) as soon as a filter was pushed
// down. Such statistics are now ignored: the row group is read, and the
// filter still sees every row.
func TestParquetCorruptStatistics(t *testing.T) {
	data := writeHostileParquet(t, 30, 10)
	for _, tc := range []struct {
		name string
		edit func(st *pqformat.Statistics)
	}{
		{"min 12 bytes", func(st *pqformat.Statistics) { st.MinValue = make([]byte, 12) }},
		{"max 3 bytes", func(st *pqformat.Statistics) { st.MaxValue = []byte{1, 2, 3} }},
		{"min above max", func(st *pqformat.Statistics) {
			st.MinValue = binary.LittleEndian.AppendUint64(nil, 1000)
		}},
		{"negative null count", func(st *pqformat.Statistics) { st.NullCount = -5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := rewriteFooter(t, data, func(md *pqformat.FileMetaData) {
				for i := range md.RowGroups {
					tc.edit(&md.RowGroups[i].Columns[1].MetaData.Statistics)
				}
			})
			path := filepath.Join(t.TempDir(), "bad.parquet")
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := NewSource(connectors.Options{"path": path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			all, _, err := scan(t, src, exec.ScanSpec{Columns: []int{1}})
			if err != nil || len(all) != 30 {
				t.Fatalf("unfiltered: %d rows, %v", len(all), err)
			}
			for _, tc := range []struct {
				p     exec.Predicate
				match func(v string) bool
			}{
				{exec.Predicate{Column: 1, Op: "eq", Value: int64(25)}, func(v string) bool { return v == "25" }},
				{exec.Predicate{Column: 1, Op: "ge", Value: int64(0)}, func(v string) bool { return v != "NULL" && !strings.HasPrefix(v, "-") }},
				{exec.Predicate{Column: 1, Op: "is_not_null"}, func(v string) bool { return v != "NULL" }},
			} {
				rows, r, err := scan(t, src, exec.ScanSpec{Columns: []int{1}, Filters: []exec.Predicate{tc.p}})
				if err != nil {
					t.Fatalf("%+v: %v", tc.p, err)
				}
				// Nothing may be skipped on the strength of broken
				// statistics: every row group is read, and every
				// matching row comes out (the reader drops rows only by
				// their values).
				var want []string
				for _, v := range all {
					if tc.match(v) {
						want = append(want, v)
					}
				}
				if strings.Join(rows, ",") != strings.Join(want, ",") || r.Stats().RowGroupsSkipped != 0 {
					t.Errorf("%+v: rows %v, want %v, stats %+v", tc.p, rows, want, r.Stats())
				}
			}
		})
	}
}

// TestParquetCorruptSchemaTypes: a footer whose logical types do not fit
// the physical ones (a DATE on an INT64 column) used to reach
// parquet-go's typed accessors, which panic; such a column is now not
// readable and naming it is an error that names the file.
func TestParquetCorruptSchemaTypes(t *testing.T) {
	data := writeHostileParquet(t, 30, 10)
	bad := rewriteFooter(t, data, func(md *pqformat.FileMetaData) {
		for i := range md.Schema {
			if md.Schema[i].Name == "value" {
				md.Schema[i].LogicalType = pqformat.LogicalType{Value: &pqformat.DateType{}}
			}
		}
	})
	path := filepath.Join(t.TempDir(), "bad.parquet")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range src.Schema().Fields() {
		if f.Name == "value" {
			t.Fatalf("a DATE on INT64 is inferred as %s", f.Type)
		}
	}
	if _, _, err := scan(t, src, exec.ScanSpec{}); err != nil {
		t.Fatalf("the other columns: %v", err)
	}
}

// TestParquetCorruptPages: bytes flipped inside the data pages are an
// error naming the file, row group, column and page — never a panic —
// whatever byte is hit.
func TestParquetCorruptPages(t *testing.T) {
	data := writeHostileParquet(t, 30, 10)
	dir := t.TempDir()
	errs, paged := 0, 0
	for off := 4; off < len(data)-8; off += 3 {
		bad := append([]byte(nil), data...)
		bad[off] ^= 0xa5
		path := filepath.Join(dir, "bad.parquet")
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := NewSource(connectors.Options{"path": path}, nil)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Errorf("byte %d: error does not name the file: %v", off, err)
			}
			continue
		}
		_, _, err = scan(t, src, exec.ScanSpec{Filters: []exec.Predicate{{Column: 1, Op: "gt", Value: int64(3)}}})
		if err != nil {
			errs++
			if !strings.Contains(err.Error(), path) {
				t.Errorf("byte %d: error does not name the file: %v", off, err)
			}
			if strings.Contains(err.Error(), path+": row group ") && strings.Contains(err.Error(), ", page ") {
				paged++
			}
		}
	}
	if errs == 0 || paged == 0 {
		t.Errorf("%d corruptions detected, %d of them naming a page", errs, paged)
	}
}

func thriftUnmarshal(b []byte, md *pqformat.FileMetaData) error {
	return thrift.Unmarshal(new(thrift.CompactProtocol), b, md)
}

func thriftMarshal(md *pqformat.FileMetaData) ([]byte, error) {
	return thrift.Marshal(new(thrift.CompactProtocol), md)
}

// TestParquetCorruptFooterPanics: parquet-go panics while opening a file
// whose footer declares a FIXED_LEN_BYTE_ARRAY decimal without a length;
// that is an error naming the file, at CREATE SOURCE (inference) as at
// scan time with a declared schema.
func TestParquetCorruptFooterPanics(t *testing.T) {
	data := writeHostileParquet(t, 30, 10)
	bad := rewriteFooter(t, data, func(md *pqformat.FileMetaData) {
		for i := range md.Schema {
			if md.Schema[i].Name == "value" {
				md.Schema[i].Type = thrift.Null[pqformat.Type]{V: pqformat.FixedLenByteArray, Valid: true}
				md.Schema[i].TypeLength = thrift.Null[int32]{}
				md.Schema[i].LogicalType = pqformat.LogicalType{Value: &pqformat.DecimalType{Precision: 10, Scale: 2}}
			}
		}
	})
	path := filepath.Join(t.TempDir(), "bad.parquet")
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewSource(connectors.Options{"path": path}, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

// panicky is a file reader that panics, standing in for a decoder bug
// that some corrupt file triggers.
type panicky struct{ closed bool }

func (p *panicky) next(context.Context) (arrow.Record, error) {
	var s []int
	_ = s[3] // index out of range
	return nil, nil
}
func (p *panicky) consumed() int64  { return 7 }
func (p *panicky) stats() Stats     { return Stats{} }
func (p *panicky) close() error     { p.closed = true; return nil }
func (p *panicky) position() string { return "x.parquet: row group 1, column \"v\", page 2" }

// TestReaderRecoversPanic: the reader boundary turns a decoder's panic
// into an error naming the file and the position, stops the scan for
// good, and still closes the file.
func TestReaderRecoversPanic(t *testing.T) {
	dir := t.TempDir()
	src, err := NewSource(connectors.Options{"path": write(t, filepath.Join(dir, "a.csv"), "a\n1\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sr, err := src.Open(context.Background(), mem, exec.ScanSpec{})
	if err != nil {
		t.Fatal(err)
	}
	r := sr.(*Reader)
	p := &panicky{}
	r.cur = p
	for i := 0; i < 2; i++ {
		_, err = r.Next(context.Background())
		if err == nil || !strings.Contains(err.Error(), `x.parquet: row group 1, column "v", page 2: cannot decode`) ||
			!strings.Contains(err.Error(), "index out of range") {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := r.Close(); err != nil || !p.closed {
		t.Fatalf("close: %v, closed %v", err, p.closed)
	}
}

// sparseFile writes prefix and extends the file with zero bytes to size
// without using the disk: a 1 GB line for the row-size tests.
func sparseFile(t *testing.T, path, prefix string, size int64) string {
	t.Helper()
	write(t, path, prefix)
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRowSizeLimit: a 1 GB single CSV line or JSON value used to be read
// whole, the buffer doubling as it went (a 500 MB line took 2 GB). Now
// the reader stops at max.row.size (64 MiB by default) with an error
// naming the file, the line and the option, having allocated a small
// multiple of the limit — at inference (CREATE SOURCE) as at scan time.
// (Small limits keep the test cheap; the default is checked in
// TestMaxRowSizeOption.)
func TestRowSizeLimit(t *testing.T) {
	dir := t.TempDir()
	declared := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	for _, tc := range []struct {
		name, file, prefix, limit string
		max                       uint64
		line                      int
	}{
		{"csv", "big.csv", "a\n1\n", "4MiB", 4 << 20, 3},
		{"csv quoted", "quoted.csv", "a\n1\n\"", "8MB", 8e6, 3},
		{"json", "big.json", "{\"a\": 1}\n{\"a\": \"", "8MB", 8e6, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sparseFile(t, filepath.Join(dir, tc.file), tc.prefix, 1<<30)
			opts := connectors.Options{"path": path, "max.row.size": tc.limit}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			src, err := NewSource(opts, declared)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = scan(t, src, exec.ScanSpec{})
			runtime.ReadMemStats(&after)
			if at := fmt.Sprintf("%s:%d:", path, tc.line); !errors.Is(err, ErrRowTooLong) ||
				!strings.Contains(err.Error(), at) || !strings.Contains(err.Error(), "max.row.size") {
				t.Fatalf("want a row-too-long error at %s, got %v", at, err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 4*tc.max+16<<20 {
				t.Errorf("allocated %d MB for a %d MB limit", got>>20, tc.max>>20)
			}
			// Inference meets the same limit.
			if _, err := NewSource(opts, nil); !errors.Is(err, ErrRowTooLong) {
				t.Errorf("inference: want a row-too-long error, got %v", err)
			}
		})
	}
}

// TestMaxRowSizeOption: the option takes sizes with units and rejects
// nonsense, naming itself.
func TestMaxRowSizeOption(t *testing.T) {
	for in, want := range map[string]int{"64MB": 64e6, "1KiB": 1024, "100": 100, "2GB": 2e9} {
		o, err := ParseOptions(connectors.Options{"path": "x.csv", "max.row.size": in})
		if err != nil || o.MaxRowSize != want {
			t.Errorf("%q: %d, %v; want %d", in, o.MaxRowSize, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "lots", "3GB"} {
		_, err := ParseOptions(connectors.Options{"path": "x.csv", "max.row.size": in})
		if err == nil || !strings.Contains(err.Error(), "'max.row.size'") {
			t.Errorf("%q: want an error naming the option, got %v", in, err)
		}
	}
	if o, _ := ParseOptions(connectors.Options{"path": "x.csv"}); o.MaxRowSize != DefaultMaxRowSize {
		t.Errorf("default %d", o.MaxRowSize)
	}
}

// TestLongRowsWithinLimit: rows longer than the reader's first buffer
// (and than the 1 MB inference sample) are read and inferred correctly;
// a JSON file whose first line passed 1 MB used to fail inference with
// "unterminated string".
func TestLongRowsWithinLimit(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("x", 6<<20)
	for _, tc := range []struct{ file, data string }{
		{"long.json", `{"s": "` + long + `", "n": 1}` + "\n" + `{"s": "y", "n": 2}` + "\n"},
		{"long.csv", "s,n\n" + long + ",1\ny,2\n"},
		{"longheader.csv", "s" + long[:2<<20] + ",n\nz,1\ny,2\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			src, err := NewSource(connectors.Options{"path": write(t, filepath.Join(dir, tc.file), tc.data)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			sch := src.Schema()
			if sch.NumFields() != 2 || sch.Field(1).Name != "n" || sch.Field(1).Type.ID() != arrow.INT64 {
				t.Fatalf("inferred %s", sch)
			}
			rows, _, err := scan(t, src, exec.ScanSpec{Columns: []int{1}})
			if err != nil || strings.Join(rows, ",") != "1,2" {
				t.Fatalf("rows %q, %v", rows, err)
			}
			// Below the row's size the limit names file, line and option.
			_, err = NewSource(connectors.Options{"path": filepath.Join(dir, tc.file), "max.row.size": "1MiB"}, nil)
			if !errors.Is(err, ErrRowTooLong) || !strings.Contains(err.Error(), tc.file+":") || !strings.Contains(err.Error(), "1.0 MiB") {
				t.Fatalf("want the limit error, got %v", err)
			}
		})
	}
}

// TestParquetDependencyPanic: FuzzParquet's crasher d74f0f8f38ab9f46, a
// corrupt V2 data page on which parquet-go dereferences a nil
// definition-level buffer. Its page header is already refused by
// checkPages (a required field is missing), before parquet-go decodes the
// page; either way the error names the file, row group, column and page.
func TestParquetDependencyPanic(t *testing.T) {
	raw, err := os.ReadFile("testdata/fuzz/FuzzParquet/d74f0f8f38ab9f46")
	if err != nil {
		t.Fatal(err)
	}
	lit := strings.TrimSuffix(strings.TrimPrefix(strings.Split(string(raw), "\n")[1], "[]byte("), ")")
	data, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bad.parquet")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = scan(t, src, exec.ScanSpec{})
	if err == nil || !strings.Contains(err.Error(), path+": row group 0, column ") || !strings.Contains(err.Error(), "page ") {
		t.Fatalf("want an error naming file, row group, column and page, got %v", err)
	}
}
