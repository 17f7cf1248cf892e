package file

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// TestParquetPageSizeLies: a page header claiming more bytes than its
// column chunk holds, or an absurd uncompressed size, is an error naming
// the file, row group, column and page, found before parquet-go
// allocates the claimed size (a 1.9 GB claim stalled the reader for a
// minute; FuzzParquet found it).
func TestParquetPageSizeLies(t *testing.T) {
	good := fuzzParquetSeed(t, 20, 7)
	for _, tt := range []struct {
		name string
		edit func(h *pqformat.PageHeader)
		want string
	}{
		{"compressed", func(h *pqformat.PageHeader) { h.CompressedPageSize = 0x6f4f199a }, "left in the column chunk"},
		{"uncompressed", func(h *pqformat.PageHeader) { h.UncompressedPageSize = 0x7f000000 }, "uncompressed bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The first column chunk's first page header starts after
			// the "PAR1" magic.
			var proto thrift.CompactProtocol
			br := proto.NewReaderFromBytes(good[4:])
			var h pqformat.PageHeader
			if err := thrift.NewDecoder(br).Decode(&h); err != nil {
				t.Fatal(err)
			}
			rest := good[len(good)-br.Reader().(*bytes.Reader).Len():]
			tt.edit(&h)
			var hb bytes.Buffer
			if err := thrift.NewEncoder(proto.NewWriter(&hb)).Encode(&h); err != nil {
				t.Fatal(err)
			}
			bad := append(append(append([]byte(nil), good[:4]...), hb.Bytes()...), rest...)
			path := filepath.Join(t.TempDir(), "lies.parquet")
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			src, err := NewSource(connectors.Options{"path": path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			r, err := src.Open(context.Background(), mem, exec.ScanSpec{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var rerr error
			for rerr == nil {
				var b exec.Batch
				b, rerr = r.Next(context.Background())
				if b.Record != nil {
					b.Record.Release()
				}
			}
			msg := rerr.Error()
			for _, w := range []string{path, "row group 0", "page 0", tt.want} {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}
