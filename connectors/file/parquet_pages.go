package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// maxPageBytes bounds a page's uncompressed size. Writers cut pages at
// about 1 MiB; a header claiming more than this is corrupt, and trusting
// it would make the decoder allocate that much before failing.
const maxPageBytes = 256 << 20

// maxPageValues bounds the values one page may claim. parquet-go
// allocates a page's levels (a byte a value), offsets (four bytes a
// value) and dictionary indexes from the claim before decoding, and a
// run-length encoded page can claim billions of values in a few bytes,
// so its bytes cannot bound it. 64 Mi values is pyarrow's old default of
// rows per row group (its pages were cut by size only, so an all-NULL
// column could put a whole row group in one page); writers today cut
// pages at 20,000 rows.
const maxPageValues = 64 << 20

// maxHeaderBytes bounds a page header (its statistics hold a min and a
// max value; writers truncate them to a few KiB).
const maxHeaderBytes = 16 << 20

// checkPages walks the page headers of a column chunk before parquet-go
// reads it, refusing a page that claims more bytes than are left in the
// chunk or an absurd uncompressed size, a data page claiming more values
// than its row group has rows left (a flat column has one value a row,
// NULL or not, so the data pages' values add up to the row group's rows
// exactly, rows), and a dictionary claiming more values than its bytes
// can hold (dictionaries are PLAIN: phys gives each value's least size).
// parquet-go allocates a page's buffers from its header before reading
// it: a corrupted size of a few GB stalled the reader in memclr and could
// exhaust memory (found by FuzzParquet). Only headers are read: the walk
// seeks past page data. It returns where each data page starts and how
// many rows it holds, which a reader starting inside the chunk checks the
// offset index against (seekable). A nested (list) column has a value per
// element, not per row: its pages' values are bounded by maxPageValues
// alone, and a version 1 page, whose header does not say how many rows it
// holds, is given -1 rows (never seeked into).
func checkPages(r io.ReaderAt, fileSize int64, md *pqformat.ColumnMetaData, rows int64, phys parquet.Kind, nested bool) ([]pageLoc, error) {
	start := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		start = md.DictionaryPageOffset
	}
	end := start + md.TotalCompressedSize
	if start < 0 || md.TotalCompressedSize < 0 || end > fileSize || end < start {
		return nil, fmt.Errorf("column chunk at offset %d of %d bytes lies outside the file (%d bytes)", start, md.TotalCompressedSize, fileSize)
	}
	var locs []pageLoc
	var proto thrift.CompactProtocol
	dec := thrift.NewDecoder(proto.NewReaderFromBytes(nil))
	var buf []byte
	seen := int64(0) // values of the data pages so far
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
				return nil, fmt.Errorf("page %d at offset %d: %w", page, pos, err)
			}
			// The decoder allocates what a length claims before reading
			// it: check the claims against the window first.
			_, err := thriftCheck(b)
			if err == nil {
				br := proto.NewReaderFromBytes(b)
				dec.Reset(br)
				h = pqformat.PageHeader{}
				if err = dec.Decode(&h); err == nil {
					used = n - int64(br.Reader().(*bytes.Reader).Len())
					break
				}
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) || n == end-pos || n == maxHeaderBytes {
				return nil, fmt.Errorf("page %d at offset %d: bad header: %w", page, pos, err)
			}
		}
		at := pos
		pos += used
		switch {
		case h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > end-pos:
			return nil, fmt.Errorf("page %d at offset %d: header claims %d bytes, %d are left in the column chunk", page, pos, h.CompressedPageSize, end-pos)
		case h.UncompressedPageSize < 0 || h.UncompressedPageSize > maxPageBytes:
			return nil, fmt.Errorf("page %d at offset %d: header claims %d uncompressed bytes (at most %d)", page, pos, h.UncompressedPageSize, maxPageBytes)
		}
		data := pos
		pos += int64(h.CompressedPageSize)
		// A missing data page header is parquet-go's error to report; its
		// rows are unknown (-1) here, which rules out seeking.
		n := int64(-1)
		switch h.Type {
		case pqformat.DataPage:
			// A flat column has one value per row.
			if h.DataPageHeader.Valid {
				n = int64(h.DataPageHeader.V.NumValues)
				if nested {
					if n < 0 || n > maxPageValues {
						return nil, fmt.Errorf("page %d at offset %d: header claims %d values (at most %d a page)", page, data, n, maxPageValues)
					}
					n = -1
				}
			}
		case pqformat.DataPageV2:
			if v := &h.DataPageHeaderV2.V; h.DataPageHeaderV2.Valid {
				if nested && (v.NumRows < 0 || v.NumRows > v.NumValues || v.NumValues > maxPageValues || v.NumNulls < 0 || v.NumNulls > v.NumValues) {
					return nil, fmt.Errorf("page %d at offset %d: header claims %d rows, %d values and %d NULLs (a list column has a value or more a row)", page, data, v.NumRows, v.NumValues, v.NumNulls)
				}
				if !nested && (v.NumRows != v.NumValues || v.NumNulls < 0 || v.NumNulls > v.NumValues) {
					return nil, fmt.Errorf("page %d at offset %d: header claims %d rows, %d values and %d NULLs (a flat column has a value a row)", page, data, v.NumRows, v.NumValues, v.NumNulls)
				}
				n = int64(v.NumRows)
			}
		case pqformat.DictionaryPage:
			if h.DictionaryPageHeader.Valid {
				if err := checkDictionaryClaim(int64(h.DictionaryPageHeader.V.NumValues), int64(h.UncompressedPageSize), phys); err != nil {
					return nil, fmt.Errorf("page %d at offset %d: %w", page, data, err)
				}
			}
			continue
		default:
			continue
		}
		if n > maxPageValues || n > rows-seen {
			return nil, fmt.Errorf("page %d at offset %d: header claims %d values, the row group has %d rows and earlier pages hold %d (at most %d a page)", page, data, n, rows, seen, maxPageValues)
		}
		if n > 0 {
			seen += n
		}
		locs = append(locs, pageLoc{offset: at, rows: n})
	}
	if seen != rows && allKnown(locs) {
		return nil, fmt.Errorf("the column chunk's pages hold %d values for the row group's %d rows", seen, rows)
	}
	return locs, nil
}

// chunkID names a column chunk of one version of a file: its path, size
// and modification time, row group and leaf column.
type chunkID struct {
	path        string
	size, mtime int64
	rg, leaf    int
}

// pageWalks remembers the page locations checkPages found in column
// chunks it accepted, with the footer's description of each chunk, so the walk (a read and a thrift decode per page
// header) is done once per chunk of an unchanged file, not once per
// reader: a parallel scan splits a row group among several morsels, each
// with its own reader over the same chunks (one walk per morsel cost 17%
// of a scan's CPU at 1 MB morsels), and a repeated query reads the same
// chunks again. A chunk that failed the check is not remembered, so it
// fails each time. A rewritten file has a new size or modification time
// (the sink replaces files by rename; the same assumption keys
// quoteCache), and a remembered walk is used only while the footer still
// describes the chunk alike (walkedChunk), which also covers a rewrite of
// the same size within one tick of the file system's clock.
var pageWalks = struct {
	sync.Mutex
	m map[chunkID]walkedChunk
}{m: map[chunkID]walkedChunk{}}

// walkedChunk is a remembered page walk and what the footer said of the
// chunk and its row group when it was walked.
type walkedChunk struct {
	dict, data, compressed, values, rows int64
	locs                                 []pageLoc
}

func describeChunk(md *pqformat.ColumnMetaData, rows int64) walkedChunk {
	return walkedChunk{dict: md.DictionaryPageOffset, data: md.DataPageOffset, compressed: md.TotalCompressedSize, values: md.NumValues, rows: rows}
}

// pageWalksMax bounds the remembered chunks (a few hundred bytes each):
// past it the cache starts over.
const pageWalksMax = 1 << 14

// checkPagesOnce is checkPages of chunk id, walked once and remembered
// (pageWalks). The locations returned are shared: callers only read them.
func checkPagesOnce(id chunkID, r io.ReaderAt, fileSize int64, md *pqformat.ColumnMetaData, rows int64, phys parquet.Kind, nested bool) ([]pageLoc, error) {
	desc := describeChunk(md, rows)
	pageWalks.Lock()
	w, ok := pageWalks.m[id]
	pageWalks.Unlock()
	if ok && w.sameChunk(desc) {
		return w.locs, nil
	}
	locs, err := checkPages(r, fileSize, md, rows, phys, nested)
	if err != nil {
		return nil, err
	}
	desc.locs = locs
	pageWalks.Lock()
	if len(pageWalks.m) >= pageWalksMax {
		clear(pageWalks.m)
	}
	pageWalks.m[id] = desc
	pageWalks.Unlock()
	return locs, nil
}

// sameChunk reports whether w was walked in a chunk the footer described
// as d.
func (w walkedChunk) sameChunk(d walkedChunk) bool {
	return w.dict == d.dict && w.data == d.data && w.compressed == d.compressed && w.values == d.values && w.rows == d.rows
}

// allKnown reports whether every data page's header said how many rows
// it holds (a page without one is parquet-go's error to report, at it).
func allKnown(locs []pageLoc) bool {
	for _, l := range locs {
		if l.rows < 0 {
			return false
		}
	}
	return true
}

// checkDictionaryClaim refuses a dictionary page claiming more values than
// its uncompressed bytes can hold: dictionaries are PLAIN-encoded, so each
// value takes at least its physical type's size (a length prefix of four
// bytes for a BYTE_ARRAY, a bit for a BOOLEAN, a byte for a
// FIXED_LEN_BYTE_ARRAY, whose length is not known here). parquet-go
// allocates the claimed count's offsets before decoding.
func checkDictionaryClaim(n, size int64, phys parquet.Kind) error {
	bits := int64(8)
	switch phys {
	case parquet.Boolean:
		bits = 1
	case parquet.Int32, parquet.Float, parquet.ByteArray:
		bits = 32
	case parquet.Int64, parquet.Double:
		bits = 64
	case parquet.Int96:
		bits = 96
	}
	if n < 0 || n > maxPageValues || n > size*8/bits {
		return fmt.Errorf("dictionary header claims %d values in %d bytes (at most %d)", n, size, min(size*8/bits, maxPageValues))
	}
	return nil
}

// pageLoc is where a data page of a column chunk starts and its rows.
type pageLoc struct {
	offset, rows int64
}

// offsetIndexBytes bounds a column chunk's offset index (about 20 bytes
// a page); a footer claiming more is corrupt.
const offsetIndexBytes = 16 << 20

// offsetIndex reads a column chunk's offset index when the footer places
// it inside the file with a sane length and its thrift claims fit its
// bytes (thriftCheck: parquet-go would allocate a claimed list of 2^31
// page locations); nil otherwise.
func offsetIndex(cc parquet.ColumnChunk, md *pqformat.ColumnChunk, fileSize int64) parquet.OffsetIndex {
	fc, ok := cc.(*parquet.FileColumnChunk)
	if !ok || md.OffsetIndexOffset <= 0 || md.OffsetIndexLength <= 0 || md.OffsetIndexLength > offsetIndexBytes ||
		md.OffsetIndexOffset > fileSize-int64(md.OffsetIndexLength) {
		return nil
	}
	b := make([]byte, md.OffsetIndexLength)
	if _, err := fc.File().ReadAt(b, md.OffsetIndexOffset); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	if _, err := thriftCheck(b); err != nil {
		return nil
	}
	oi, err := fc.OffsetIndex()
	if err != nil {
		return nil
	}
	return oi
}

// seekable reports whether a column chunk's offset index can be trusted
// to start reading inside the chunk (parquet-go's SeekToRow uses it): the
// footer places it inside the file with a sane length, and it lists
// exactly the data pages the header walk found (locs), at the same
// offsets and first rows. Without it, or when it disagrees, a reader
// starting at a row inside the chunk decodes its way there instead:
// slower, never wrong.
func seekable(cc parquet.ColumnChunk, md *pqformat.ColumnChunk, fileSize int64, locs []pageLoc) bool {
	oi := offsetIndex(cc, md, fileSize)
	if oi == nil || oi.NumPages() != len(locs) {
		return false
	}
	var first int64
	for i, l := range locs {
		if l.rows < 0 || oi.Offset(i) != l.offset || oi.FirstRowIndex(i) != first {
			return false
		}
		first += l.rows
	}
	return true
}
