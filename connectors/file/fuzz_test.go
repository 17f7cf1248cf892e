package file

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// The fuzzers feed arbitrary bytes to the file readers as a file and check
// the contract for a corrupt file: an error naming the file (and, from the
// decoders, the line or the row group, column and page), never a panic —
// which the reader boundary would turn into a *panicError, a failure here
// — nor a hang, a leak, or results that depend on the batch size.
//
//	go test ./connectors/file -run XXX -fuzz FuzzCSV -fuzztime 5m
//
// Seeds are in testdata/fuzz/FuzzX (committed) and added below.

// hangAfter is how long one input may take while fuzzing before the
// worker crashes on purpose: Go's fuzzer restarts a hung worker without
// saving the input, so a hang would go unreported otherwise. A crash
// makes the fuzzer save the input under testdata/fuzz like any crasher.
// Plain test runs (the seeds in CI) set no deadline. Two minutes, not
// seconds: under coverage instrumentation on a loaded 2-core machine an
// input that takes 0.1 s in a plain run took over 20 s, and each such
// false hang cost a fuzzing run (three on 2026-12-01); a real one, like
// the 1.9 GB page claim, runs far longer.
const hangAfter = 2 * time.Minute

// hangGuard arms the deadline when fuzzing; call the result when the
// input is done.
func hangGuard() (stop func()) {
	if fl := flag.Lookup("test.fuzz"); fl == nil || fl.Value.String() == "" {
		return func() {}
	}
	debug.SetTraceback("all")
	tm := time.AfterFunc(hangAfter, func() {
		panic(fmt.Sprintf("one input ran for more than %s: a hang", hangAfter))
	})
	return func() { tm.Stop() }
}

// quickMinimize caps the time the fuzzer spends minimizing each input
// at 5 s, unless -test.fuzzminimizetime says otherwise; call it before
// f.Fuzz. Go's default is 60 s, and a Parquet input of a few KB (one
// candidate per byte, each a file written and read twice) always used it
// up: with the coverage a mutated footer finds every few seconds, a
// 5-minute FuzzParquet run spent four of its minutes minimizing and ran
// 42 inputs (2,605 with the cap). Minimizing only shortens the inputs
// kept; a crasher is still saved, minimized or not.
func quickMinimize() {
	set := false
	flag.Visit(func(fl *flag.Flag) { set = set || fl.Name == "test.fuzzminimizetime" })
	if !set {
		_ = flag.Set("test.fuzzminimizetime", "5s")
	}
}

// fuzzSchema is a declared schema with every type the text formats read.
var fuzzSchema = arrow.NewSchema([]arrow.Field{
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	{Name: "m", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
}, nil)

// fuzzScan reads src whole with the batch size and returns the rows as
// text, or the error that ended the scan; a panic caught at the reader
// boundary fails the test.
func fuzzScan(t *testing.T, src *Source, spec exec.ScanSpec, dict []int) ([]string, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := src.Open(context.Background(), mem, spec)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if dict != nil {
		r.(exec.DictionaryReader).KeepDictionaries(dict)
	}
	var rows []string
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			checkNoPanic(t, err)
			return rows, err
		}
		rec := b.Record
		if rec.NumRows() > int64(spec.BatchSize) {
			t.Errorf("batch of %d rows, limit %d", rec.NumRows(), spec.BatchSize)
		}
		for c := 0; c < int(rec.NumCols()); c++ {
			if rec.Column(c).Len() != int(rec.NumRows()) {
				t.Fatalf("column %d has %d values for %d rows", c, rec.Column(c).Len(), rec.NumRows())
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			var sb strings.Builder
			for c := 0; c < int(rec.NumCols()); c++ {
				if rec.Column(c).IsNull(i) {
					sb.WriteString("NULL|")
				} else {
					sb.WriteString(rec.Column(c).ValueStr(i) + "|")
				}
			}
			rows = append(rows, sb.String())
		}
		rec.Release()
	}
}

// checkNoPanic fails the test when err is a panic the reader boundary
// caught in our code. A panic inside parquet-go (a nil definition-level
// buffer in decodeDataPage for some corrupt V2 page headers, found by
// FuzzParquet) cannot be fixed here: that the boundary turns it into an
// error naming the file is what is checked for it.
func checkNoPanic(t *testing.T, err error) {
	t.Helper()
	var pe *panicError
	if !errors.As(err, &pe) {
		return
	}
	// The frame after the runtime's panic( is where it happened.
	lines := strings.Split(string(pe.stack), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "panic(") {
			continue
		}
		for _, f := range lines[i+1:] {
			if strings.HasPrefix(f, "\t") || strings.HasPrefix(f, "runtime.") {
				continue
			}
			if strings.HasPrefix(f, "github.com/parquet-go/") && strings.Contains(err.Error(), "cannot decode the file") {
				return
			}
			break
		}
		break
	}
	t.Fatalf("a decoder panicked: %v\n%s", err, pe.stack)
}

// fuzzSource writes data to path and opens it; a failure must name the
// file.
func fuzzSource(t *testing.T, path string, data []byte, opts connectors.Options, declared *arrow.Schema) *Source {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts["path"] = path
	src, err := NewSource(opts, declared)
	if err != nil {
		checkNoPanic(t, err)
		if !strings.Contains(err.Error(), path) {
			t.Fatalf("error does not name the file: %v", err)
		}
		return nil
	}
	return src
}

// checkScans reads src at two batch sizes, with and without dictionary
// columns, and checks that they agree: the same rows, or both an error
// naming the file (not always the same one: a Parquet reader reads column
// by column a batch at a time, so which of two corrupt pages it meets
// first depends on the batch size).
func checkScans(t *testing.T, src *Source, path string, spec exec.ScanSpec) {
	t.Helper()
	big := spec
	big.BatchSize = 1024
	want, werr := fuzzScan(t, src, big, nil)
	small := spec
	small.BatchSize = 3
	n := len(spec.Columns)
	if spec.Columns == nil {
		n = src.Schema().NumFields()
	}
	var dict []int
	for i := range n {
		dict = append(dict, i)
	}
	got, gerr := fuzzScan(t, src, small, dict)
	if werr != nil {
		if !strings.Contains(werr.Error(), path) {
			t.Fatalf("error does not name the file: %v", werr)
		}
		if gerr == nil || !strings.Contains(gerr.Error(), path) {
			t.Fatalf("batch 1024 failed with %v, batch 3 with %v", werr, gerr)
		}
		return
	}
	if gerr != nil {
		t.Fatalf("batch 3 failed with %v, batch 1024 read %d rows", gerr, len(want))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("batch 3 read\n%s\nbatch 1024 read\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// textOptions picks the shared options of the text formats from mode.
func textOptions(mode uint8) connectors.Options {
	o := connectors.Options{}
	o["on_error"] = []string{"fail", "skip", "null", "fail"}[mode&3]
	o["max.row.size"] = []string{"64MiB", "64", "4KiB", "64MiB"}[mode>>2&3]
	return o
}

// FuzzCSV: CSV files, inferred or declared, any dialect and error policy.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"a,b,c\n1,2.5,x\n3,,\"q\"\"uoted\"\n",
		"s,i,f,ts,d,b,n,m\nx,1,1.5,2026-01-01 00:00:05,2026-01-02,true,7,1.25\n,,,,,,,\n",
		"s,i\n\"multi\nline\",2\r\n\"unterminated,3\n",
		"a;b\n1;2\n\n\n3;4",
		"i,s\n-9223372036854775808,\"\"\n99999999999999999999,x\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(0x35))
	}
	dir := f.TempDir()
	quickMinimize()
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		defer hangGuard()()
		path := filepath.Join(dir, "f.csv")
		opts := textOptions(mode)
		opts["format"] = "csv"
		opts["header"] = fmt.Sprint(mode&0x10 == 0)
		opts["delimiter"] = []string{",", ";", "tab", "|"}[mode>>5&3]
		declared := fuzzSchema
		if mode&0x80 != 0 {
			declared = nil
		}
		src := fuzzSource(t, path, data, opts, declared)
		if src == nil {
			return
		}
		checkScans(t, src, path, exec.ScanSpec{})
		if src.Schema().NumFields() > 1 {
			checkScans(t, src, path, exec.ScanSpec{Columns: []int{src.Schema().NumFields() - 1, 0}})
		}
	})
}

// FuzzJSON: JSON-lines files, inferred or declared.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"s":"x","i":1,"f":1.5,"ts":"2026-01-01T00:00:05Z","d":"2026-01-02","b":true,"n":7,"m":"1.25"}` + "\n" +
			`{"s":{"nested":[1,2,{"k":"v"}]},"i":null,"ts":1767225605000}` + "\n\n",
		`{"a":"\u00e9\ud83d\ude00","b":"\\\"","c":[]}` + "\n" + `{"a":1}`,
		`{"i": 1, "i": 2, "I": 3}` + "\n" + `[1]` + "\n" + `{"i":`,
		`{"s": [[[[[[[[[[]]]]]]]]]], "x": {"y": {"z": [}}}` + "\n",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(0x81))
	}
	dir := f.TempDir()
	quickMinimize()
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		defer hangGuard()()
		path := filepath.Join(dir, "f.jsonl")
		opts := textOptions(mode)
		opts["format"] = "json"
		declared := fuzzSchema
		if mode&0x80 != 0 {
			declared = nil
		}
		src := fuzzSource(t, path, data, opts, declared)
		if src == nil {
			return
		}
		checkScans(t, src, path, exec.ScanSpec{})
		if src.Schema().NumFields() > 1 {
			checkScans(t, src, path, exec.ScanSpec{Columns: []int{src.Schema().NumFields() - 1, 0}})
		}
	})
}

// fuzzParquetRow has a column of each Parquet shape the reader converts.
type fuzzParquetRow struct {
	S   *string   `parquet:"s,optional,dict"`
	P   string    `parquet:"p"`
	I   *int64    `parquet:"i,optional"`
	F   float64   `parquet:"f"`
	F32 float32   `parquet:"f32"`
	B   *bool     `parquet:"b,optional"`
	N   int32     `parquet:"n"`
	D   int32     `parquet:"d,date"`
	TS  time.Time `parquet:"ts,timestamp(millisecond)"`
	M   int64     `parquet:"m,decimal(2:18)"`
}

// fuzzParquetSeed writes n rows of every shape, in small pages and row
// groups, with the given compression.
func fuzzParquetSeed(f testing.TB, n, group int, opts ...parquet.WriterOption) []byte {
	var buf bytes.Buffer
	opts = append(opts, parquet.MaxRowsPerRowGroup(int64(group)), parquet.PageBufferSize(128))
	w := parquet.NewGenericWriter[fuzzParquetRow](&buf, opts...)
	for i := 0; i < n; i++ {
		r := fuzzParquetRow{P: fmt.Sprint("p", i), F: float64(i) / 3, F32: float32(i), N: int32(-i),
			D: int32(20000 + i), TS: time.UnixMilli(1767225600000 + int64(i)*1500).UTC(), M: int64(i * 125)}
		if i%3 != 1 {
			s := fmt.Sprint("cat", i%4)
			r.S = &s
		}
		if i%4 != 2 {
			v := int64(i * 7)
			r.I = &v
		}
		if i%5 != 0 {
			b := i%2 == 0
			r.B = &b
		}
		if _, err := w.Write([]fuzzParquetRow{r}); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzParquet: Parquet files, mostly valid ones with bytes changed, read
// with and without pushed-down filters (which consult the footer's
// statistics).
func FuzzParquet(f *testing.F) {
	f.Add(fuzzParquetSeed(f, 20, 7), uint8(0))
	f.Add(fuzzParquetSeed(f, 9, 4, parquet.Compression(&parquet.Snappy)), uint8(3))
	f.Add(fuzzParquetSeed(f, 30, 30, parquet.Compression(&parquet.Zstd)), uint8(5))
	f.Add(writeHostileParquet(f, 12, 5), uint8(1))
	dir := f.TempDir()
	filters := []exec.Predicate{
		{Column: 0, Op: "eq", Value: "cat1"},
		{Column: 1, Op: "gt", Value: int64(20)},
		{Column: 2, Op: "le", Value: 2.5},
		{Column: 0, Op: "is_null"},
		{Column: 1, Op: "is_not_null"},
		{Column: 2, Op: "ne", Value: int64(3)},
		{Column: 3, Op: "lt", Value: arrow.Timestamp(1767225600000000)},
		{Column: 3, Op: "ge", Value: arrow.Date32(20003)},
	}
	quickMinimize()
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		defer hangGuard()()
		path := filepath.Join(dir, "f.parquet")
		src := fuzzSource(t, path, data, connectors.Options{}, nil)
		if src == nil {
			return
		}
		spec := exec.ScanSpec{}
		if n := src.Schema().NumFields(); mode&0x80 != 0 && n > 0 {
			p := filters[int(mode&7)]
			p.Column = int(mode>>3&15) % n
			spec.Filters = []exec.Predicate{p}
		}
		checkScans(t, src, path, spec)
	})
}
