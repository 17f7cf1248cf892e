package file

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors"
)

// TestThriftCheck: a real footer and page header pass and take exactly
// their bytes; every truncation, and every length or count claiming more
// than is there, is io.ErrUnexpectedEOF; nesting past maxThriftDepth is
// refused.
func TestThriftCheck(t *testing.T) {
	data := writeHostileParquet(t, 30, 10)
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	footer := data[len(data)-8-n : len(data)-8]
	v := int32(7)
	header, err := thrift.Marshal(new(thrift.CompactProtocol), &pqformat.PageHeader{
		Type: pqformat.DataPage, UncompressedPageSize: 100, CompressedPageSize: 90,
		DataPageHeader: thrift.New(pqformat.DataPageHeader{NumValues: 10, Statistics: pqformat.Statistics{
			MinValue: []byte("aaaa"), MaxValue: []byte("zzzz"), NullCount: int64(v)}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"footer": footer, "page header": header} {
		got, err := thriftCheck(append(append([]byte(nil), b...), 0xde, 0xad))
		if err != nil || got != len(b) {
			t.Fatalf("%s: %d, %v; want %d, nil", name, got, err, len(b))
		}
		for i := range b {
			if _, err := thriftCheck(b[:i]); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut to %d of %d bytes: %v", name, i, len(b), err)
			}
		}
	}
	deep := []byte{}
	for range maxThriftDepth + 2 {
		deep = append(deep, 0x1c) // field 1, a struct
	}
	deep = append(deep, make([]byte, maxThriftDepth+3)...)
	for _, tt := range []struct {
		name string
		b    []byte
		want error
	}{
		// field 1 (i32) = 2, field 2: a list of 2^31-1 structs.
		{"list count", []byte{0x15, 0x04, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00}, io.ErrUnexpectedEOF},
		// field 6: a string of 1 GiB.
		{"string length", []byte{0x68, 0x80, 0x80, 0x80, 0x80, 0x04, 'x', 0x00}, io.ErrUnexpectedEOF},
		// field 1: a map of 2^20 entries.
		{"map count", []byte{0x1b, 0x80, 0x80, 0x40, 0x55, 0x00, 0x00}, io.ErrUnexpectedEOF},
		{"nesting", deep, errThriftDepth},
	} {
		if _, err := thriftCheck(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := thriftCheck([]byte{0x1e, 0x00}); err == nil || !strings.Contains(err.Error(), "unknown thrift type 14") {
		t.Errorf("type 14: %v", err)
	}
}

// TestParquetFooterClaims: a file whose last bytes claim a footer longer
// than the file, or whose footer claims a list or a string longer than
// the footer, is an error naming the file, found before anything the
// claim asks for is allocated: parquet-go allocated a tiny file's claimed
// 2.8 GB footer (and the gigabytes of a claimed 2^31-element schema) and
// stalled FuzzParquet's worker past Go's 10 s per input.
func TestParquetFooterClaims(t *testing.T) {
	good := writeHostileParquet(t, 30, 10)
	n := int(binary.LittleEndian.Uint32(good[len(good)-8:]))
	body := good[:len(good)-8-n]
	withFooter := func(footer []byte) []byte {
		out := append(append([]byte(nil), body...), footer...)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(footer)))
		return append(out, "PAR1"...)
	}
	longer := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(longer[len(longer)-8:], uint32(len(good)-8))
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"magic only", []byte("PAR1PAR1"), "too few"},
		{"footer of 404 MB", []byte("PAR1\x15\x04\x15\x18\x15\x18PAR1"), "footer claims 404035605 bytes"},
		{"footer past the start", longer, "footer claims"},
		{"no magic", append(append([]byte(nil), good[:len(good)-4]...), "PARE"...), "no PAR1 magic"},
		{"schema of 2^31 elements", withFooter([]byte{0x15, 0x04, 0x19, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00, 0x00}), "corrupt footer"},
		{"created_by of 1 GiB", withFooter([]byte{0x15, 0x04, 0x68, 0x80, 0x80, 0x80, 0x80, 0x04, 'x', 0x00}), "corrupt footer"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "claims.parquet")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := NewSource(connectors.Options{"path": path}, nil)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Fatal("a corrupt file opened")
			}
			for _, w := range []string{path, tt.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
				t.Errorf("opening a %d-byte file allocated %d bytes", len(tt.data), got)
			}
		})
	}
}

// TestParquetOffsetIndexClaims: an offset index whose page list claims
// 2^31-1 entries is not trusted, and is refused before parquet-go
// allocates the list (48 GB: the process would die of it).
func TestParquetOffsetIndexClaims(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.parquet")
	writeSplitFile(t, path, 2000, 2000, 2)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, pf, err := openParquetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	md := pf.Metadata().RowGroups[0].Columns[0]
	intact := offsetIndex(pf.RowGroups()[0].ColumnChunks()[0], &md, pf.Size())
	f.Close()
	if intact == nil {
		t.Fatal("an intact offset index was refused")
	}
	// OffsetIndex field 1, a list of PageLocation structs: make its count
	// 2^31-1 in place.
	at := md.OffsetIndexOffset
	if data[at] != 0x19 || md.OffsetIndexLength < 8 {
		t.Fatalf("offset index starts % x, %d bytes", data[at:at+2], md.OffsetIndexLength)
	}
	copy(data[at+1:], []byte{0xfc, 0xff, 0xff, 0xff, 0xff, 0x07})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, pf, err = openParquetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	oi := offsetIndex(pf.RowGroups()[0].ColumnChunks()[0], &pf.Metadata().RowGroups[0].Columns[0], pf.Size())
	runtime.ReadMemStats(&after)
	if oi != nil {
		t.Error("an offset index claiming 2^31-1 pages was trusted")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("reading a %d-byte offset index allocated %d bytes", md.OffsetIndexLength, got)
	}
}
