package file

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// colCursor streams the pages of one column chunk, a batch of rows at a
// time: only the current page is decoded, and each batch is built
// straight from it into batch-sized Arrow buffers, so a row group never
// has to be materialised whole (which cost fresh multi-megabyte buffers
// per column and row group, and cache misses on every copy). Pages are
// handed back to parquet-go's buffer pool once consumed, so decompression
// reuses its buffers instead of allocating a page's worth each time. It
// works on whole pages of typed values (page.Data()), never on
// parquet.Value rows, so the cost per value is a copy or a conversion.
type colCursor struct {
	pc      *pqCol
	pages   parquet.Pages
	page    parquet.Page // current page; nil before the first and at the end
	n       int          // rows in the current page
	row     int          // next row of the current page
	dense   int          // next non-NULL value of the current page
	valid   []bool       // by page row; nil when the page has no NULLs
	idx     []int32      // dictionary indexes by non-NULL value, when indexed
	indexed bool         // the current page indexes dict
	data    encoding.Values
	dict    parquet.Dictionary // dictionary of the current page, if any
	dictV   encoding.Values    // dict's values
	vbuf    []bool
	reps    []byte    // a list column's repetition levels of the current page
	defs    []byte    // and definition levels (listRows)
	pageNo  int       // 1-based number of the current page in the chunk, for errors
	locs    []pageLoc // the chunk's data pages, from the header walk
	cc      parquet.ColumnChunk
	at      int64 // rows of the chunk consumed (the row group row of the next one)
	// For jumping over pages (skipRows): the chunk's footer entry and
	// the file size; jump is 0 until checked, then 1 when the offset
	// index can be trusted (seekable), -1 when not.
	md       *pqformat.ColumnChunk
	fileSize int64
	jump     int8

	// Dictionary mode (keep): see parquet_dict.go.
	keep  bool
	plain bool // the chunk left its dictionary: plain strings from here
	kdict parquet.Dictionary
	kvals *array.String // kdict's values (retained)
	ib    *array.Int32Builder
}

func newColCursor(cc parquet.ColumnChunk, pc *pqCol, keep bool) *colCursor {
	return &colCursor{pc: pc, cc: cc, pages: cc.Pages(), keep: keep && pc.kind == pqString && !pc.list}
}

// seek moves a cursor that has read nothing yet to row lo of its chunk:
// straight to the page holding it when the offset index can be trusted
// (seekable), and by decoding the rows before it otherwise. pageNo then
// counts from the page it started at, which errors report as such.
func (c *colCursor) seek(lo int64, cc parquet.ColumnChunk, md *pqformat.ColumnChunk, fileSize int64) error {
	if lo == 0 {
		return nil
	}
	if c.pc.list {
		return c.skip(int(lo)) // list pages are not seeked into (listRows)
	}
	if seekable(cc, md, fileSize, c.locs) {
		// To the start of the page holding lo, then decoding: see
		// skipRows for why not into the page.
		pageNo, first := 0, int64(0)
		for pageNo < len(c.locs) && first+c.locs[pageNo].rows <= lo {
			first += c.locs[pageNo].rows
			pageNo++
		}
		if err := c.pages.SeekToRow(first); err == nil {
			c.pageNo, c.at = pageNo, first
			return c.skip(int(lo - first))
		}
		// A failed seek leaves the pages anywhere: start over.
		_ = c.pages.Close()
		c.pages = cc.Pages()
	}
	return c.skip(int(lo))
}

// close releases the current page, the kept dictionary and the pages.
func (c *colCursor) close() error {
	c.releasePage()
	if c.kvals != nil {
		c.kvals.Release()
		c.kvals = nil
	}
	if c.ib != nil {
		c.ib.Release()
		c.ib = nil
	}
	if c.pages == nil {
		return nil
	}
	err := c.pages.Close()
	c.pages = nil
	return err
}

func (c *colCursor) releasePage() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
}

// load makes the next page current; io.ErrUnexpectedEOF when the chunk
// has no more pages.
func (c *colCursor) load() error {
	c.releasePage()
	for {
		c.pageNo++
		p, err := c.pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return fmt.Errorf("read page: %w", err)
		}
		n := int(p.NumValues())
		if n == 0 {
			parquet.Release(p)
			continue
		}
		c.page, c.n, c.row, c.dense = p, n, 0, 0
		break
	}
	p := c.page
	c.valid = nil
	if c.pc.list {
		if err := c.loadLevels(p); err != nil {
			return err
		}
	}
	if defs := p.DefinitionLevels(); defs != nil && (p.NumNulls() > 0 || c.pc.list) {
		if len(defs) < c.n {
			return fmt.Errorf("page has %d definition levels for %d values", len(defs), c.n)
		}
		if cap(c.vbuf) < c.n {
			c.vbuf = make([]bool, c.n)
		}
		c.valid = c.vbuf[:c.n]
		maxDef := byte(c.pc.maxDef)
		for i := range c.valid {
			c.valid[i] = defs[i] == maxDef
		}
	}
	c.data, c.idx, c.indexed = p.Data(), nil, false
	if dict := p.Dictionary(); dict != nil {
		if dict != c.dict {
			c.dict, c.dictV = dict, dict.Page().Data()
		}
		c.idx, c.indexed = c.data.Int32(), true
		c.data = c.dictV
	}
	return nil
}

// take consumes up to k rows of the current page (loading the next page
// when the current one is used up) and returns the page row range and the
// matching non-NULL value range.
func (c *colCursor) take(k int) (from, to, dFrom, dTo int, err error) {
	if c.page == nil || c.row >= c.n {
		if err := c.load(); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	from, to = c.row, min(c.row+k, c.n)
	dFrom, dTo = c.dense, c.dense+(to-from)
	if c.valid != nil {
		dTo = c.dense
		for _, ok := range c.valid[from:to] {
			if ok {
				dTo++
			}
		}
	}
	c.row, c.dense = to, dTo
	c.at += int64(to - from)
	return from, to, dFrom, dTo, nil
}

// skipRows passes over k rows like skip, but jumps over whole pages
// through the offset index when it can be trusted (seekable), so their
// data is neither read nor decompressed.
func (c *colCursor) skipRows(k int64) error {
	if k <= 0 {
		return nil
	}
	if c.pc.list {
		return c.skip(int(k))
	}
	if c.page != nil && int64(c.n-c.row) >= k {
		return c.skip(int(k))
	}
	if c.jump == 0 {
		c.jump = -1
		if c.md != nil && seekable(c.cc, c.md, c.fileSize, c.locs) {
			c.jump = 1
		}
	}
	target := c.at + k
	if c.jump > 0 {
		// Seek to the start of the page holding target and decode from
		// there: parquet-go's slice of a page (a seek inside it) keeps a
		// bit offset that a boolean page's Data() does not apply.
		pageNo, first := 0, int64(0)
		for pageNo < len(c.locs) && first+c.locs[pageNo].rows <= target {
			first += c.locs[pageNo].rows
			pageNo++
		}
		if first <= c.at {
			return c.skip(int(k)) // target is in the current page
		}
		c.releasePage()
		if err := c.pages.SeekToRow(first); err == nil {
			c.pageNo, c.at = pageNo, first
			return c.skip(int(target - first))
		}
		// A failed seek leaves the pages anywhere: start over.
		c.jump = -1
		_ = c.pages.Close()
		c.pages, c.at, c.pageNo = c.cc.Pages(), 0, 0
		return c.skip(int(target))
	}
	return c.skip(int(k))
}

// appendSelected appends to b the rows of the next k listed in sel
// (ascending offsets in [0, k)) and consumes all k.
func (c *colCursor) appendSelected(b array.Builder, k int, sel []int32) error {
	if c.pc.list {
		return c.listRows(b.(*array.ListBuilder), k, sel)
	}
	j := 0
	for base := 0; base < k; {
		from, to, dFrom, _, err := c.take(k - base)
		if err != nil {
			return err
		}
		n := to - from
		row, dense := from, dFrom // dense is the non-NULL value at page row row
		for j < len(sel) && int(sel[j]) < base+n {
			s := int(sel[j])
			e := s + 1
			for j++; j < len(sel) && int(sel[j]) == e && e < base+n; j++ {
				e++
			}
			rf, rt := from+s-base, from+e-base
			dense += c.validIn(row, rf)
			dt := dense + c.validIn(rf, rt)
			if err := c.appendRange(b, rf, rt, dense, dt); err != nil {
				return err
			}
			row, dense = rt, dt
		}
		base += n
	}
	return nil
}

// validIn counts the non-NULL rows among page rows [from, to).
func (c *colCursor) validIn(from, to int) int {
	if c.valid == nil {
		return to - from
	}
	n := 0
	for _, ok := range c.valid[from:to] {
		if ok {
			n++
		}
	}
	return n
}

// skip passes over k rows.
func (c *colCursor) skip(k int) error {
	if c.pc.list {
		return c.listRows(nil, k, nil)
	}
	for k > 0 {
		from, to, _, _, err := c.take(k)
		if err != nil {
			return err
		}
		k -= to - from
	}
	return nil
}

// appendRows appends the next k rows of the chunk to b.
func (c *colCursor) appendRows(b array.Builder, k int) error {
	if c.pc.list {
		return c.listRows(b.(*array.ListBuilder), k, nil)
	}
	for k > 0 {
		from, to, dFrom, dTo, err := c.take(k)
		if err != nil {
			return err
		}
		if err := c.appendRange(b, from, to, dFrom, dTo); err != nil {
			return err
		}
		k -= to - from
	}
	return nil
}

// appendRange appends page rows [from, to), whose non-NULL values are
// [dFrom, dTo), to b.
func (c *colCursor) appendRange(b array.Builder, from, to, dFrom, dTo int) error {
	var valid []bool
	if c.valid != nil {
		valid = c.valid[from:to]
	}
	var idx []int32
	if c.indexed {
		if dTo > len(c.idx) {
			return fmt.Errorf("page has %d dictionary indexes for %d values", len(c.idx), dTo)
		}
		idx = c.idx[dFrom:dTo:dTo]
		if idx == nil {
			idx = []int32{}
		}
		dFrom, dTo = 0, dTo-dFrom
	}
	data := c.data
	pc := c.pc
	switch pc.kind {
	case pqInt64:
		vals, err := gather(data.Int64(), idx, dFrom, dTo)
		if err != nil {
			return err
		}
		b.(*array.Int64Builder).AppendValues(expandNulls(vals, valid), valid)
	case pqInt32:
		vals, err := gather(data.Int32(), idx, dFrom, dTo)
		if err != nil {
			return err
		}
		b.(*array.Int32Builder).AppendValues(expandNulls(vals, valid), valid)
	case pqDate:
		vals, err := gather(data.Int32(), idx, dFrom, dTo)
		if err != nil {
			return err
		}
		vals = expandNulls(vals, valid)
		dates := unsafe.Slice((*arrow.Date32)(unsafe.Pointer(unsafe.SliceData(vals))), len(vals))
		b.(*array.Date32Builder).AppendValues(dates, valid)
	case pqDouble:
		vals, err := gather(data.Double(), idx, dFrom, dTo)
		if err != nil {
			return err
		}
		b.(*array.Float64Builder).AppendValues(expandNulls(vals, valid), valid)
	case pqFloat:
		vals, err := gather(data.Float(), idx, dFrom, dTo)
		if err != nil {
			return err
		}
		f := make([]float64, len(vals))
		for i, v := range vals {
			f[i] = float64(v)
		}
		b.(*array.Float64Builder).AppendValues(expandNulls(f, valid), valid)
	case pqTimestamp:
		vals, err := gather(data.Int64(), idx, dFrom, dTo)
		if err != nil {
			return err
		}
		ts := make([]arrow.Timestamp, len(vals))
		for i, v := range vals {
			ts[i] = arrow.Timestamp(tsMicros(v, pc.tsMul))
		}
		b.(*array.TimestampBuilder).AppendValues(expandNulls(ts, valid), valid)
	case pqBool:
		bits := data.Boolean()
		bb := b.(*array.BooleanBuilder)
		j := dFrom
		for i := 0; i < to-from; i++ {
			if valid != nil && !valid[i] {
				bb.AppendNull()
				continue
			}
			k := j
			if idx != nil {
				k = int(idx[j])
			}
			if k < 0 || k>>3 >= len(bits) {
				return fmt.Errorf("boolean value %d out of range", k)
			}
			bb.Append(bits[k>>3]>>(k&7)&1 == 1)
			j++
		}
	case pqString:
		return appendStrings(b.(*array.StringBuilder), data, idx, valid, dFrom, dTo)
	case pqDecimal:
		return c.appendDecimals(b.(*array.Decimal128Builder), idx, valid, dFrom, to-from)
	case pqInterval:
		return appendIntervals(b.(*array.MonthDayNanoIntervalBuilder), data, idx, valid, dFrom, to-from)
	default:
		return fmt.Errorf("unsupported parquet column kind %d", pc.kind)
	}
	return nil
}

// appendStrings appends byte-array values [dFrom, dTo) of data (or those
// idx points at) spread over valid.
func appendStrings(sb *array.StringBuilder, data encoding.Values, idx []int32, valid []bool, dFrom, dTo int) error {
	buf, offs := data.ByteArray()
	nvals := len(offs) - 1
	if idx == nil {
		if dTo > nvals {
			return fmt.Errorf("page has %d values, want %d", nvals, dTo)
		}
		// Reserve the range's bytes at once: appending grows the data
		// buffer geometrically otherwise.
		sb.ReserveData(int(offs[dTo] - offs[dFrom]))
	}
	n := dTo - dFrom
	if valid != nil {
		n = len(valid)
	}
	sb.Reserve(n)
	j := dFrom
	for i := 0; i < n; i++ {
		if valid != nil && !valid[i] {
			sb.AppendNull()
			continue
		}
		k := j
		if idx != nil {
			k = int(idx[j])
			if k < 0 || k >= nvals {
				return fmt.Errorf("dictionary index %d out of range (%d values)", k, nvals)
			}
		}
		sb.BinaryBuilder.Append(buf[offs[k]:offs[k+1]])
		j++
	}
	return nil
}

func (c *colCursor) appendDecimals(db *array.Decimal128Builder, idx []int32, valid []bool, dFrom, n int) error {
	data := c.data
	j := dFrom
	for i := 0; i < n; i++ {
		if valid != nil && !valid[i] {
			db.AppendNull()
			continue
		}
		k := j
		if idx != nil {
			k = int(idx[j])
		}
		j++
		if k < 0 {
			return fmt.Errorf("decimal value %d out of range", k)
		}
		switch c.pc.phys {
		case parquet.Int32:
			v := data.Int32()
			if k >= len(v) {
				return fmt.Errorf("decimal value %d out of range", k)
			}
			db.Append(decimal128.FromI64(int64(v[k])))
		case parquet.Int64:
			v := data.Int64()
			if k >= len(v) {
				return fmt.Errorf("decimal value %d out of range", k)
			}
			db.Append(decimal128.FromI64(v[k]))
		case parquet.FixedLenByteArray:
			buf, size := data.FixedLenByteArray()
			if (k+1)*size > len(buf) {
				return fmt.Errorf("decimal value %d out of range", k)
			}
			db.Append(decimalFromBE(buf[k*size : (k+1)*size]))
		default:
			buf, offs := data.ByteArray()
			if k+1 >= len(offs) {
				return fmt.Errorf("decimal value %d out of range", k)
			}
			db.Append(decimalFromBE(buf[offs[k]:offs[k+1]]))
		}
	}
	return nil
}

// gather returns values [from, to) of vals, or with idx the values idx
// points at (idx already cut to the range).
func gather[T any](vals []T, idx []int32, from, to int) ([]T, error) {
	if idx == nil {
		if to > len(vals) {
			return nil, fmt.Errorf("page has %d values, want %d", len(vals), to)
		}
		return vals[from:to], nil
	}
	out := make([]T, len(idx))
	for i, k := range idx {
		if uint(k) >= uint(len(vals)) {
			return nil, fmt.Errorf("dictionary index %d out of range (%d values)", k, len(vals))
		}
		out[i] = vals[k]
	}
	return out, nil
}

// expandNulls spreads dense non-null values over the page's rows, leaving
// zero values where valid is false; with valid nil it returns dense.
func expandNulls[T any](dense []T, valid []bool) []T {
	if valid == nil {
		return dense
	}
	out := make([]T, len(valid))
	j := 0
	for i, ok := range valid {
		if ok {
			out[i] = dense[j]
			j++
		}
	}
	return out
}
