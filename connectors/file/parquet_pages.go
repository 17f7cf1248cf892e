package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// maxPageBytes bounds a page's uncompressed size. Writers cut pages at
// about 1 MiB; a header claiming more than this is corrupt, and trusting
// it would make the decoder allocate that much before failing.
const maxPageBytes = 256 << 20

// maxHeaderBytes bounds a page header (its statistics hold a min and a
// max value; writers truncate them to a few KiB).
const maxHeaderBytes = 16 << 20

// checkPages walks the page headers of a column chunk before parquet-go
// reads it, refusing a page that claims more bytes than are left in the
// chunk or an absurd uncompressed size. parquet-go allocates a page's
// buffer from its header before reading it: a corrupted size of a few GB
// stalled the reader in memclr and could exhaust memory (found by
// FuzzParquet). Only headers are read: the walk seeks past page data.
func checkPages(r io.ReaderAt, fileSize int64, md *pqformat.ColumnMetaData) error {
	start := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		start = md.DictionaryPageOffset
	}
	end := start + md.TotalCompressedSize
	if start < 0 || md.TotalCompressedSize < 0 || end > fileSize || end < start {
		return fmt.Errorf("column chunk at offset %d of %d bytes lies outside the file (%d bytes)", start, md.TotalCompressedSize, fileSize)
	}
	var proto thrift.CompactProtocol
	dec := thrift.NewDecoder(proto.NewReaderFromBytes(nil))
	var buf []byte
	for pos, page := start, 0; pos < end; page++ {
		// Decode the header from bytes read into a bounded window: the
		// streaming decoder would allocate whatever length a corrupt
		// header's statistics claim.
		var h pqformat.PageHeader
		var used int64
		for window := int64(1 << 10); ; window *= 8 {
			n := min(window, end-pos, maxHeaderBytes)
			if int64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			b := buf[:n]
			if _, err := r.ReadAt(b, pos); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("page %d at offset %d: %w", page, pos, err)
			}
			br := proto.NewReaderFromBytes(b)
			dec.Reset(br)
			h = pqformat.PageHeader{}
			err := dec.Decode(&h)
			if err == nil {
				used = n - int64(br.Reader().(*bytes.Reader).Len())
				break
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) || n == end-pos || n == maxHeaderBytes {
				return fmt.Errorf("page %d at offset %d: bad header: %w", page, pos, err)
			}
		}
		pos += used
		switch {
		case h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > end-pos:
			return fmt.Errorf("page %d at offset %d: header claims %d bytes, %d are left in the column chunk", page, pos, h.CompressedPageSize, end-pos)
		case h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes:
			return fmt.Errorf("page %d at offset %d: header claims %d uncompressed bytes (at most %d)", page, pos, h.UncompressedPageSize, maxPageBytes)
		}
		pos += int64(h.CompressedPageSize)
	}
	return nil
}
