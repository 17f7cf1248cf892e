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
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

type pagedRow struct {
	Category *string `parquet:"category,optional,dict"`
	Value    *int64  `parquet:"value,optional"`
	Name     string  `parquet:"name"`
}

// pagedWant renders row i as readAll does, computed from i alone. Rows
// from 1500 on have distinct categories, so a small dictionary limit
// makes the writer fall back to plain pages inside a column chunk.
func pagedWant(i int) (cat *string, val *int64, name, text string) {
	c := fmt.Sprintf("cat-%d", i%5)
	if i >= 1500 {
		c = fmt.Sprintf("u-%d", i)
	}
	v := int64(i * 3)
	name = fmt.Sprint("n", i%11)
	cs, vs := c, fmt.Sprint(v)
	if i%7 == 3 {
		cs = "(null)"
	} else {
		cat = &c
	}
	if i%5 == 1 {
		vs = "(null)"
	} else {
		val = &v
	}
	return cat, val, name, cs + "|" + vs + "|" + name + "|"
}

// writePagedParquet writes n rows in row groups of groupRows with tiny
// pages, so batches cross page boundaries.
func writePagedParquet(t *testing.T, path string, n, groupRows int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[pagedRow](f, parquet.MaxRowsPerRowGroup(int64(groupRows)),
		parquet.PageBufferSize(512), parquet.DictionaryMaxBytes(400))
	for i := 0; i < n; i++ {
		c, v, name, _ := pagedWant(i)
		if _, err := w.Write([]pagedRow{{Category: c, Value: v, Name: name}}); err != nil {
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

// readPaged scans src from the given row with the batch size, keeping
// dictionaries on column 0 when asked.
func readPaged(t *testing.T, mem memory.Allocator, src *Source, batch int, from int64, keep bool) ([]string, map[string]bool) {
	t.Helper()
	spec := exec.ScanSpec{BatchSize: batch}
	if from > 0 {
		spec.From = exec.Offsets{"file:" + src.Files()[0]: from}
	}
	r, err := src.Open(context.Background(), mem, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if keep {
		r.(exec.DictionaryReader).KeepDictionaries([]int{0})
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
		if int(rec.NumRows()) > batch {
			t.Errorf("batch of %d rows, limit %d", rec.NumRows(), batch)
		}
		types[rec.Column(0).DataType().String()] = true
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

// TestParquetPagedBatches reads chunks of many small pages (with NULLs,
// and a dictionary that falls back to plain pages) at batch sizes that do
// and do not line up with pages, from the start and from resume offsets
// inside row groups, with and without dictionaries.
func TestParquetPagedBatches(t *testing.T) {
	const n, groupRows = 2500, 1000
	path := filepath.Join(t.TempDir(), "paged.parquet")
	writePagedParquet(t, path, n, groupRows)
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		batch int
		from  int64
		keep  bool
	}{
		{1, 0, false}, {7, 0, false}, {100, 0, false}, {4096, 0, false},
		{1, 0, true}, {7, 0, true}, {333, 0, true}, {4096, 0, true},
		{7, 5, false}, {64, 999, true}, {64, 1000, true}, {50, 1777, true}, {10, 2499, false},
	} {
		t.Run(fmt.Sprintf("batch%d_from%d_keep%v", tc.batch, tc.from, tc.keep), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			got, types := readPaged(t, mem, src, tc.batch, tc.from, tc.keep)
			if len(got) != n-int(tc.from) {
				t.Fatalf("read %d rows, want %d", len(got), n-int(tc.from))
			}
			for j, g := range got {
				if _, _, _, want := pagedWant(int(tc.from) + j); g != want {
					t.Fatalf("row %d = %q, want %q", int(tc.from)+j, g, want)
				}
			}
			dict := types[dictStringType.String()]
			if tc.keep && tc.from < 1000 && !dict {
				t.Errorf("types %v: want dictionary batches", types)
			}
			if !tc.keep && dict {
				t.Errorf("types %v: dictionary without KeepDictionaries", types)
			}
			if tc.keep && tc.from == 0 && !types[arrow.BinaryTypes.String.String()] {
				t.Errorf("types %v: want plain batches after the dictionary fallback", types)
			}
		})
	}
}
