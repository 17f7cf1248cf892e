package file

import (
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
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

type dictRow struct {
	Category *string `parquet:"category,optional,dict"`
	Plain    string  `parquet:"plain"`
	Value    int64   `parquet:"value"`
}

// writeDictParquet writes n rows in row groups of groupRows: category is
// dictionary-encoded (NULL every 7th row), plain is not.
func writeDictParquet(t *testing.T, path string, n, groupRows int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[dictRow](f, parquet.MaxRowsPerRowGroup(int64(groupRows)))
	for i := 0; i < n; i++ {
		var c *string
		if i%7 != 3 {
			s := fmt.Sprintf("cat-%d", i%5)
			c = &s
		}
		if _, err := w.Write([]dictRow{{Category: c, Plain: fmt.Sprint("p", i%3), Value: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// readAll scans src, asking for dictionaries on dictCols when not nil,
// and returns each row rendered as text plus the column types seen.
func readAll(t *testing.T, mem memory.Allocator, src exec.Source, dictCols []int) ([]string, map[string]bool) {
	t.Helper()
	r, err := src.Open(context.Background(), mem, exec.ScanSpec{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if dictCols != nil {
		r.(exec.DictionaryReader).KeepDictionaries(dictCols)
	}
	var out []string
	types := map[string]bool{}
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, types
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := b.Record
		for c := 0; c < int(rec.NumCols()); c++ {
			types[fmt.Sprintf("%d:%s", c, rec.Column(c).DataType())] = true
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			s := ""
			for c := 0; c < int(rec.NumCols()); c++ {
				s += rec.Column(c).ValueStr(i) + "|"
			}
			out = append(out, s)
		}
		rec.Release()
	}
}

func TestParquetKeepDictionaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.parquet")
	writeDictParquet(t, path, 100, 32)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	plain, plainTypes := readAll(t, mem, src, nil)
	dict, dictTypes := readAll(t, mem, src, []int{0, 1})
	if len(plain) != 100 {
		t.Fatalf("read %d rows", len(plain))
	}
	for i := range plain {
		if plain[i] != dict[i] {
			t.Fatalf("row %d: plain %q, dictionary %q", i, plain[i], dict[i])
		}
	}
	// Rows are generated independently of the reader: check a few.
	for _, i := range []int{0, 3, 99} {
		want := fmt.Sprintf("cat-%d|p%d|%d|", i%5, i%3, i)
		if i%7 == 3 {
			want = fmt.Sprintf("(null)|p%d|%d|", i%3, i)
		}
		if plain[i] != want {
			t.Errorf("row %d = %q, want %q", i, plain[i], want)
		}
	}
	dt := arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	if !dictTypes["0:"+dt.String()] || dictTypes["0:utf8"] {
		t.Errorf("column 0 types %v, want dictionary only", dictTypes)
	}
	if !dictTypes["1:utf8"] || !plainTypes["0:utf8"] {
		t.Errorf("plain column types %v / %v, want utf8", dictTypes, plainTypes)
	}
}

func TestParquetDictionaryGroupBy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.parquet")
	writeDictParquet(t, path, 1000, 300)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	scan, err := exec.NewScan(mem, src, exec.ScanSpec{Columns: []int{0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := exec.NewHashAggregate(mem, scan, []expr.Expr{expr.Column(0, arrow.BinaryTypes.String, "category")}, []string{"category"},
		[]exec.AggCall{{Func: "sum", Arg: expr.Column(1, arrow.PrimitiveTypes.Int64, "value"), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := exec.Collect(context.Background(), agg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range recs {
		k, s := r.Column(0).(*array.String), r.Column(1).(*array.Int64)
		for i := 0; i < k.Len(); i++ {
			got[k.ValueStr(i)] = s.Value(i)
		}
		r.Release()
	}
	want := map[string]int64{}
	for i := 0; i < 1000; i++ {
		k := fmt.Sprintf("cat-%d", i%5)
		if i%7 == 3 {
			k = "(null)"
		}
		want[k] += int64(i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
