package file

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// editPageHeader rewrites the header of the page at offset at of the
// Parquet file at path through edit, moving what follows it by the
// header's change in length: the footer's offsets past it, and the size
// of the column chunk holding it, so the rest of the file stays intact.
func editPageHeader(t *testing.T, path string, at int64, edit func(h *pqformat.PageHeader)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var proto thrift.CompactProtocol
	br := proto.NewReaderFromBytes(b[at:])
	var h pqformat.PageHeader
	if err := thrift.NewDecoder(br).Decode(&h); err != nil {
		t.Fatal(err)
	}
	old := int64(len(b[at:]) - br.Reader().(*bytes.Reader).Len())
	edit(&h)
	var hb bytes.Buffer
	if err := thrift.NewEncoder(proto.NewWriter(&hb)).Encode(&h); err != nil {
		t.Fatal(err)
	}
	delta := int64(hb.Len()) - old
	out := append(append(append([]byte(nil), b[:at]...), hb.Bytes()...), b[at+old:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	shift := func(off *int64) {
		if *off > at {
			*off += delta
		}
	}
	editFooter(t, path, func(md *pqformat.FileMetaData) {
		for g := range md.RowGroups {
			for c := range md.RowGroups[g].Columns {
				cc := &md.RowGroups[g].Columns[c]
				m := &cc.MetaData
				start := m.DataPageOffset
				if m.DictionaryPageOffset != 0 {
					start = m.DictionaryPageOffset
				}
				if at >= start && at < start+m.TotalCompressedSize {
					m.TotalCompressedSize += delta
				}
				shift(&m.DataPageOffset)
				shift(&m.DictionaryPageOffset)
				shift(&cc.FileOffset)
				shift(&cc.OffsetIndexOffset)
				shift(&cc.ColumnIndexOffset)
			}
		}
	})
}

// firstPages are where row group 0's column chunk leaf starts (its
// dictionary page, if any) and where its first data page starts.
func firstPages(t *testing.T, path string, leaf int) (dict, data int64) {
	t.Helper()
	f, pf, err := openParquetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md := pf.Metadata().RowGroups[0].Columns[leaf].MetaData
	return md.DictionaryPageOffset, md.DataPageOffset
}

// setValues makes a data page header (v1 or v2) claim n values (and, v2,
// n rows).
func setValues(h *pqformat.PageHeader, n int32) {
	if h.DataPageHeader.Valid {
		h.DataPageHeader.V.NumValues = n
	}
	if h.DataPageHeaderV2.Valid {
		h.DataPageHeaderV2.V.NumValues, h.DataPageHeaderV2.V.NumRows = n, n
	}
}

// TestParquetValueCountLies: the counts a Parquet file claims — a data
// page's values, a dictionary's values, a row group's rows — are checked
// against the row group and the page's bytes before parquet-go allocates
// buffers for them (a byte of levels and four of offsets a claimed value:
// a page claiming 2^30 values in a few bytes cost gigabytes). Each lie is
// an error naming the file, row group, column and page, found with little
// allocated, for data pages v1 and v2.
func TestParquetValueCountLies(t *testing.T) {
	const rows, groupRows = 3000, 1300
	for _, version := range []int{1, 2} {
		for _, tt := range []struct {
			name string
			edit func(t *testing.T, path string)
			want string
		}{
			{"data page of 2^30 values", func(t *testing.T, path string) {
				_, data := firstPages(t, path, 1)
				editPageHeader(t, path, data, func(h *pqformat.PageHeader) { setValues(h, 1<<30) })
			}, "header claims 1073741824 values, the row group has 1300 rows"},
			{"data page of fewer values", func(t *testing.T, path string) {
				_, data := firstPages(t, path, 1)
				editPageHeader(t, path, data, func(h *pqformat.PageHeader) {
					if h.DataPageHeader.Valid {
						h.DataPageHeader.V.NumValues--
					} else {
						h.DataPageHeaderV2.V.NumValues--
						h.DataPageHeaderV2.V.NumRows--
					}
				})
			}, "pages hold 1299 values for the row group's 1300 rows"},
			{"dictionary of 2^30 values", func(t *testing.T, path string) {
				dict, _ := firstPages(t, path, 0)
				if dict == 0 {
					t.Fatal("column 0 has no dictionary page")
				}
				editPageHeader(t, path, dict, func(h *pqformat.PageHeader) { h.DictionaryPageHeader.V.NumValues = 1 << 30 })
			}, "dictionary header claims 1073741824 values"},
			{"row group of 2^40 rows", func(t *testing.T, path string) {
				editFooter(t, path, func(md *pqformat.FileMetaData) { md.RowGroups[0].NumRows = 1 << 40 })
			}, "for the row group's 1099511627776 rows"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "lies.parquet")
				writeSplitFile(t, path, rows, groupRows, version)
				tt.edit(t, path)
				src, err := NewSource(connectors.Options{"path": path}, nil)
				if err != nil {
					t.Fatal(err)
				}
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				r, err := src.Open(context.Background(), mem, exec.ScanSpec{BatchSize: 1024})
				if err != nil {
					t.Fatal(err)
				}
				var rerr error
				for rerr == nil {
					var b exec.Batch
					b, rerr = r.Next(context.Background())
					if b.Record != nil {
						b.Record.Release()
					}
				}
				r.Close()
				runtime.ReadMemStats(&after)
				if errors.Is(rerr, io.EOF) {
					t.Fatalf("v%d: the file was read to its end", version)
				}
				msg := rerr.Error()
				for _, w := range []string{path, "row group 0", tt.want} {
					if !strings.Contains(msg, w) {
						t.Errorf("v%d: error %q lacks %q", version, msg, w)
					}
				}
				if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
					t.Errorf("v%d: reading a %d-row file allocated %d bytes", version, rows, got)
				}
			})
		}
	}
}

// TestParquetSplitClaims: planning morsels trusts no size the footer
// claims: a row group claiming 2^50 rows and exabytes uncompressed (about
// 2^50 morsels' worth) is cut at most at its pages, and planning returns
// at once (it looped over the claimed morsels times the pages, for
// years); reading it then fails at the row group, as the lie is found.
func TestParquetSplitClaims(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.parquet")
	writeSplitFile(t, path, 3000, 3000, 2)
	const claimed = 1 << 50
	editFooter(t, path, func(md *pqformat.FileMetaData) {
		md.RowGroups[0].NumRows = claimed
		for c := range md.RowGroups[0].Columns {
			md.RowGroups[0].Columns[c].MetaData.TotalUncompressedSize = 1 << 60
		}
	})
	src, err := NewSource(connectors.Options{"path": path, "format": "parquet"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, pf, err := openParquetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	oi := offsetIndex(pf.RowGroups()[0].ColumnChunks()[0], &pf.Metadata().RowGroups[0].Columns[0], pf.Size())
	f.Close()
	if oi == nil {
		t.Fatal("no offset index")
	}
	runs, err := src.parquetRuns(path, []int{0}, 2000, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) < 2 || len(runs) > oi.NumPages()+1 {
		t.Fatalf("%d morsels for a row group of %d pages", len(runs), oi.NumPages())
	}
	for i, r := range runs {
		if r.rowLo >= r.rowHi || (i > 0 && r.rowLo != runs[i-1].rowHi) {
			t.Fatalf("morsel %d covers rows [%d, %d) after %+v", i, r.rowLo, r.rowHi, runs[max(i-1, 0)])
		}
	}
	if runs[len(runs)-1].rowHi != claimed {
		t.Fatalf("morsels end at row %d of %d", runs[len(runs)-1].rowHi, claimed)
	}
	_, _, err = readMorsels(t, src, exec.ScanSpec{Columns: []int{0}, BatchSize: 1024, MorselBytes: 2000})
	if err == nil || !strings.Contains(err.Error(), "for the row group's 1125899906842624 rows") {
		t.Fatalf("reading the morsels: %v, want the row count refused", err)
	}
}
