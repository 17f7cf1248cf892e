package file

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// splitRow is a row of the files TestParquetRowGroupSplit writes: a
// dictionary string, a plain integer and a column with NULLs.
type splitRow struct {
	Category string `parquet:"category,dict,snappy"`
	Value    int64  `parquet:"value,snappy"`
	Maybe    *int64 `parquet:"maybe,optional"`
}

// writeSplitFile writes rows in row groups of groupRows with small pages,
// so every column chunk has many pages (and an offset index).
func writeSplitFile(t *testing.T, path string, rows, groupRows, pageVersion int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[splitRow](f, parquet.MaxRowsPerRowGroup(int64(groupRows)),
		parquet.PageBufferSize(512), parquet.DataPageVersion(pageVersion))
	for i := range rows {
		r := splitRow{Category: fmt.Sprintf("cat-%d", i%13), Value: int64(i) * 7}
		if i%5 != 2 {
			v := int64(-i)
			r.Maybe = &v
		}
		if _, err := w.Write([]splitRow{r}); err != nil {
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

// editFooter rewrites a Parquet file's footer through edit.
func editFooter(t *testing.T, path string, edit func(md *pqformat.FileMetaData)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	start := len(b) - 8 - n
	var md pqformat.FileMetaData
	var proto thrift.CompactProtocol
	if err := thrift.Unmarshal(&proto, b[start:len(b)-8], &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	var fb bytes.Buffer
	if err := thrift.NewEncoder(proto.NewWriter(&fb)).Encode(&md); err != nil {
		t.Fatal(err)
	}
	out := append(append([]byte(nil), b[:start]...), fb.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, uint32(fb.Len()))
	out = append(out, "PAR1"...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestParquetRowGroupSplit: a row group much larger than a morsel splits
// into ranges of its rows, and reading the morsels in order returns
// exactly the whole scan — with data pages v1 and v2, NULLs, a dictionary
// column read as strings or kept as a dictionary, any batch size. A file
// whose offset index is missing is not split below its row groups; one
// whose offset index disagrees with the page headers (here: another
// column's) is still read right, by decoding up to each range's start.
func TestParquetRowGroupSplit(t *testing.T) {
	dir := t.TempDir()
	const rows, groupRows = 3000, 1300
	for _, tc := range []struct {
		name    string
		version int
		edit    func(md *pqformat.FileMetaData)
		split   bool // more morsels than row groups
	}{
		{name: "v2 pages", version: 2, split: true},
		{name: "v1 pages", version: 1, split: true},
		{name: "no offset index", version: 2, edit: func(md *pqformat.FileMetaData) {
			for g := range md.RowGroups {
				for c := range md.RowGroups[g].Columns {
					md.RowGroups[g].Columns[c].OffsetIndexOffset, md.RowGroups[g].Columns[c].OffsetIndexLength = 0, 0
				}
			}
		}},
		{name: "offset index of another column", version: 2, split: true, edit: func(md *pqformat.FileMetaData) {
			for g := range md.RowGroups {
				cols := md.RowGroups[g].Columns
				cols[1].OffsetIndexOffset, cols[1].OffsetIndexLength = cols[2].OffsetIndexOffset, cols[2].OffsetIndexLength
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".parquet")
			writeSplitFile(t, path, rows, groupRows, tc.version)
			if tc.edit != nil {
				editFooter(t, path, tc.edit)
			}
			src, err := NewSource(connectors.Options{"path": path, "format": "parquet"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, cols := range [][]int{nil, {1}, {2, 0}} {
				for _, bs := range []int{1, 3, 1024} {
					spec := exec.ScanSpec{Columns: cols, BatchSize: bs, MorselBytes: 2000}
					want, _, err := scan(t, src, spec)
					if err != nil {
						t.Fatal(err)
					}
					got, n, err := readMorsels(t, src, spec)
					if err != nil {
						t.Fatal(err)
					}
					if len(want) != rows || strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Fatalf("columns %v, batch %d: %d morsels read %d rows, the whole scan %d", cols, bs, n, len(got), len(want))
					}
					if split := n > 3; split != tc.split {
						t.Fatalf("columns %v: %d morsels for 3 row groups; want split = %v", cols, n, tc.split)
					}
				}
			}
		})
	}
}

// TestSeekable: an offset index is trusted only when it lists exactly the
// data pages the header walk found, at the same offsets and first rows.
func TestSeekable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.parquet")
	writeSplitFile(t, path, 2000, 2000, 2)
	f, pf, err := openParquetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md := pf.Metadata().RowGroups[0].Columns
	chunks := pf.RowGroups()[0].ColumnChunks()
	for c := range md {
		locs, err := checkPages(f, pf.Size(), &md[c].MetaData, pf.Metadata().RowGroups[0].NumRows, pf.Root().Columns()[c].Type().Kind(), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(locs) < 3 {
			t.Fatalf("column %d: %d pages, want several", c, len(locs))
		}
		if !seekable(chunks[c], &md[c], pf.Size(), locs) {
			t.Errorf("column %d: intact offset index not trusted", c)
		}
		for name, bad := range map[string][]pageLoc{
			"a page less":  locs[1:],
			"other rows":   append([]pageLoc{{locs[0].offset, locs[0].rows + 1}}, locs[1:]...),
			"other offset": append([]pageLoc{{locs[0].offset + 1, locs[0].rows}}, locs[1:]...),
			"unknown rows": append([]pageLoc{{locs[0].offset, -1}}, locs[1:]...),
		} {
			if seekable(chunks[c], &md[c], pf.Size(), bad) {
				t.Errorf("column %d: offset index trusted against %s", c, name)
			}
		}
		lying := md[c]
		lying.OffsetIndexLength = offsetIndexBytes + 1
		if seekable(chunks[c], &lying, pf.Size(), locs) {
			t.Errorf("column %d: offset index of an absurd length trusted", c)
		}
	}
}
