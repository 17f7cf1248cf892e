package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/dustin/go-humanize"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// ErrRowTooLong reports a record (a CSV record, a JSON line) longer than
// the max.row.size option; readers wrap it with the file and line.
var ErrRowTooLong = errors.New("row too long")

// rowTooLong is the error for a row past max bytes.
func rowTooLong(max int) error {
	return fmt.Errorf("%w: a row is longer than max.row.size = %s (%d bytes); raise 'max.row.size' to read it",
		ErrRowTooLong, humanize.IBytes(uint64(max)), max)
}

// chunkBuf reads a file in large chunks; records are parsed straight out
// of the buffer, so no line is copied. The buffer grows only while one
// record does not fit, and never past max+1 bytes: a longer record is
// ErrRowTooLong, so a file with a 1 GB line costs at most about twice the
// limit in memory, not the line's size several times over.
type chunkBuf struct {
	f    *os.File
	r    io.Reader // f, or a section of it (a morsel's byte range)
	buf  []byte
	pos  int // start of unread data
	end  int // end of valid data
	eof  bool
	line int64 // 1-based line number of buf[pos]
	max  int   // longest record allowed, in bytes
	// progress counts the bytes read (exec.ProgressBytes); may be nil.
	progress *exec.ScanProgress
}

const chunkSize = 4 << 20

func newChunkBuf(path string, maxRow int) (*chunkBuf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file connector: %w", err)
	}
	// A small file needs no 4 MB buffer (a glob of many small files
	// would allocate one per file).
	size := min(chunkSize, maxRow+1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() < int64(size) {
		size = int(st.Size()) + 1
	}
	return &chunkBuf{f: f, r: f, buf: getChunk(size), line: 1, max: maxRow}, nil
}

// limit makes c read only bytes [start, end) of the file (a morsel); line
// numbers then count from the range's start (see csvReader.lineBase).
func (c *chunkBuf) limit(start, end int64) {
	c.r = io.NewSectionReader(c.f, start, end-start)
	if n := end - start + 1; n < int64(len(c.buf)) {
		c.buf = make([]byte, n)
	}
}

// data is the unread part of the buffer.
func (c *chunkBuf) data() []byte { return c.buf[c.pos:c.end] }

// fill reads more input after moving unread data to the front, growing
// the buffer when one record fills it. Callers call it only when the
// unread data holds no complete record, so unread data longer than the
// limit is a record that is too long.
func (c *chunkBuf) fill() error {
	if c.eof {
		return io.EOF
	}
	if c.end-c.pos > c.max {
		return rowTooLong(c.max)
	}
	if c.pos > 0 {
		copy(c.buf, c.buf[c.pos:c.end])
		c.end -= c.pos
		c.pos = 0
	}
	if c.end == len(c.buf) {
		nb := make([]byte, min(2*len(c.buf), c.max+1))
		copy(nb, c.buf[:c.end])
		c.buf = nb
	}
	n, err := c.r.Read(c.buf[c.end:])
	c.end += n
	c.progress.Advance(exec.ProgressBytes, int64(n))
	if errors.Is(err, io.EOF) || (err == nil && n == 0) {
		c.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("file connector: %w", err)
	}
	return nil
}

func (c *chunkBuf) close() error {
	putChunk(c.buf)
	c.buf = nil
	return c.f.Close()
}

// chunkPool recycles full-size read buffers: a parallel scan opens one
// reader per morsel, and a fresh 4 MB buffer each time costs more to
// zero than the morsel's read syscalls. Nothing outlives a buffer's
// reader: decoders copy values out of it.
var chunkPool sync.Pool

func getChunk(size int) []byte {
	if size == chunkSize {
		if b, ok := chunkPool.Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, size)
}

func putChunk(b []byte) {
	if len(b) == chunkSize {
		chunkPool.Put(&b)
	}
}

type csvReader struct {
	path    string
	cb      *chunkBuf
	dec     *format.CSVDecoder
	split   *format.CSVSplitter
	batch   int
	skip    int64 // records to pass over (resume)
	records int64 // data records consumed
	header  bool  // header record still to read
	done    bool
	rng     *textRange // the morsel's byte range; nil: the whole file
	// schema and declared decide what a header that lacks a column means:
	// an error naming it when the columns were declared, reading by
	// position when they were inferred (see Options.declared).
	schema   *arrow.Schema
	declared bool
}

// mapHeader maps the decoder's columns by the header's names, found at
// line of the file. A declared column missing from it fails the scan with
// the file, line and the header's names; under an inferred schema the
// columns stay positional.
func (r *csvReader) mapHeader(header [][]byte, line int64) error {
	if r.dec.MapHeader(header) == nil || !r.declared {
		return nil
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = string(h)
	}
	return headerMissing(fmt.Sprintf("%s:%d", r.path, line), names, r.schema)
}

func openCSV(mem memory.Allocator, path string, schema *arrow.Schema, o Options, spec exec.ScanSpec, skip int64, rng *textRange) (*csvReader, error) {
	cb, err := newChunkBuf(path, o.MaxRowSize)
	if err != nil {
		return nil, err
	}
	if rng != nil {
		cb.limit(rng.start, rng.end)
	}
	cb.progress = spec.Progress
	dec, err := format.NewCSVDecoder(mem, schema, o.CSV)
	if err != nil {
		cb.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := dec.SetColumns(spec.Columns); err != nil {
		dec.Release()
		cb.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dec.SetOnError(o.OnError)
	r := &csvReader{path: path, cb: cb, dec: dec, split: format.NewCSVSplitter(byte(o.CSV.Delimiter)),
		batch: spec.BatchSize, skip: skip, header: o.CSV.Header, rng: rng, schema: schema, declared: o.declared}
	if rng != nil && rng.start > 0 && r.header {
		// The header line belongs to the first morsel; later ones map
		// the columns by the copy taken when the file was split.
		r.header = false
		if err := r.mapHeader(rng.header, 1); err != nil {
			dec.Release()
			cb.close()
			return nil, err
		}
	}
	return r, nil
}

func (r *csvReader) next(ctx context.Context) (arrow.Record, error) {
	if r.done {
		return nil, io.EOF
	}
	checked := 0
	for r.dec.Len() < r.batch {
		data := r.cb.data()
		if !r.header && r.records >= r.skip {
			// Plain records in bulk; the rest (quotes, bad values, the
			// last line without a newline) one at a time below.
			if n, recs := r.dec.AppendSimple(data, r.batch-r.dec.Len()); recs > 0 {
				r.cb.pos += n
				r.cb.line += int64(recs)
				r.records += int64(recs)
				continue
			}
		}
		fields, quoted, n, lines, ok, err := r.split.Split(data, r.cb.eof)
		if err != nil {
			return nil, r.fail(err)
		}
		if !ok {
			if r.cb.eof && len(data) == 0 {
				r.done = true
				break
			}
			if err := r.cb.fill(); err != nil {
				return nil, r.fail(err)
			}
			if checked++; checked&15 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			continue
		}
		line := r.cb.line
		r.cb.pos += n
		r.cb.line += int64(lines)
		if len(fields) == 1 && len(fields[0]) == 0 && !quoted[0] {
			continue // blank line
		}
		if r.header {
			r.header = false
			// Map declared columns by the header's names when they are all
			// there; otherwise the columns are positional.
			hdr := make([][]byte, len(fields))
			for i, f := range fields {
				hdr[i] = append([]byte(nil), f...)
			}
			if err := r.mapHeader(hdr, r.rng.lineBase(line)); err != nil {
				return nil, err
			}
			continue
		}
		r.records++
		if r.records <= r.skip {
			continue
		}
		if err := r.dec.AppendFields(fields, quoted); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", r.path, r.rng.lineBase(line), err)
		}
	}
	return r.dec.NewRecord(), nil
}

func (r *csvReader) fail(err error) error {
	return fmt.Errorf("%s:%d: %w", r.path, r.rng.lineBase(r.cb.line), err)
}

// keepDictionaries asks the decoder for the marked string output columns
// dictionary-encoded (format.CSVDecoder.KeepDictionaries); it applies
// between batches, and columns of other types stay as they are.
func (r *csvReader) keepDictionaries(dict []bool) error {
	var cols []int
	for i, ok := range dict {
		if ok && r.dec.Schema().Field(i).Type.ID() == arrow.STRING {
			cols = append(cols, i)
		}
	}
	if len(cols) == 0 || r.dec.Len() > 0 {
		return nil
	}
	if err := r.dec.KeepDictionaries(cols); err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	return nil
}

func (r *csvReader) consumed() int64 { return r.records }

func (r *csvReader) position() string { return fmt.Sprintf("%s:%d", r.path, r.rng.lineBase(r.cb.line)) }

func (r *csvReader) stats() Stats {
	return Stats{Skipped: r.dec.Skipped(), Nulled: r.dec.Nulled()}
}

func (r *csvReader) close() error {
	r.dec.Release()
	return r.cb.close()
}

type jsonReader struct {
	path    string
	cb      *chunkBuf
	dec     lineDecoder
	batch   int
	skip    int64
	records int64
	done    bool
	rng     *textRange
}

func openJSON(mem memory.Allocator, path string, schema *arrow.Schema, o Options, spec exec.ScanSpec, skip int64, rng *textRange) (*jsonReader, error) {
	cb, err := newChunkBuf(path, o.MaxRowSize)
	if err != nil {
		return nil, err
	}
	if rng != nil {
		cb.limit(rng.start, rng.end)
	}
	cb.progress = spec.Progress
	dec, err := newLineDecoder(mem, schema, o, spec.Columns)
	if err != nil {
		cb.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &jsonReader{path: path, cb: cb, dec: dec, batch: spec.BatchSize, skip: skip, rng: rng}, nil
}

func (r *jsonReader) next(ctx context.Context) (arrow.Record, error) {
	if r.done {
		return nil, io.EOF
	}
	for r.dec.Len() < r.batch {
		data := r.cb.data()
		nl := bytes.IndexByte(data, '\n')
		var line []byte
		n := nl + 1
		switch {
		case nl >= 0:
			line = data[:nl]
		case r.cb.eof:
			if len(data) == 0 {
				r.done = true
				return r.dec.NewRecord(), nil
			}
			line, n = data, len(data)
		default:
			if err := r.cb.fill(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", r.path, r.rng.lineBase(r.cb.line), err)
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			continue
		}
		lineNo := r.cb.line
		r.cb.pos += n
		r.cb.line++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r.records++
		if r.records <= r.skip {
			continue
		}
		if err := r.dec.Append(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", r.path, r.rng.lineBase(lineNo), err)
		}
	}
	return r.dec.NewRecord(), nil
}

func (r *jsonReader) consumed() int64 { return r.records }

func (r *jsonReader) position() string {
	return fmt.Sprintf("%s:%d", r.path, r.rng.lineBase(r.cb.line))
}

func (r *jsonReader) stats() Stats {
	return Stats{Skipped: r.dec.Skipped(), Nulled: r.dec.Nulled()}
}

func (r *jsonReader) close() error {
	r.dec.Release()
	return r.cb.close()
}

// inferSampleBytes is about how much of a CSV or JSON file inference
// reads: up to format.InferSampleRows records, but no more than this many
// bytes past the records it needs at least (the header and one row), which
// it reads whole however long they are, up to max.row.size.
const inferSampleBytes = 1 << 20

// sampleLines reads the first lines of a JSON-lines file for inference,
// blank ones included so that positions in errors are file lines.
func sampleLines(path string, maxRow int) ([][]byte, error) {
	cb, err := newChunkBuf(path, maxRow)
	if err != nil {
		return nil, err
	}
	defer cb.close()
	var lines [][]byte
	read, nonBlank := 0, 0
	for nonBlank < format.InferSampleRows && (read < inferSampleBytes || nonBlank == 0) {
		data := cb.data()
		nl := bytes.IndexByte(data, '\n')
		var line []byte
		switch {
		case nl >= 0:
			line = data[:nl]
			cb.pos += nl + 1
		case cb.eof:
			if len(data) == 0 {
				return lines, nil
			}
			line = data
			cb.pos += len(data)
		default:
			if err := cb.fill(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, cb.line, err)
			}
			continue
		}
		cb.line++
		read += len(line) + 1
		if len(bytes.TrimSpace(line)) > 0 {
			nonBlank++
		}
		lines = append(lines, append([]byte(nil), line...))
	}
	return lines, nil
}

// sampleCSV reads the first records of a CSV file for inference (the
// header first when there is one); blank lines are passed over as the
// reader does.
func sampleCSV(path string, o Options) ([][]string, error) {
	cb, err := newChunkBuf(path, o.MaxRowSize)
	if err != nil {
		return nil, err
	}
	defer cb.close()
	sp := format.NewCSVSplitter(byte(o.CSV.Delimiter))
	want, least := format.InferSampleRows, 1
	if o.CSV.Header {
		want, least = want+1, 2
	}
	var records [][]string
	read := 0
	for len(records) < want && (read < inferSampleBytes || len(records) < least) {
		fields, quoted, n, lines, ok, err := sp.Split(cb.data(), cb.eof)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, cb.line, err)
		}
		if !ok {
			if cb.eof {
				break
			}
			if err := cb.fill(); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, cb.line, err)
			}
			continue
		}
		cb.pos += n
		cb.line += int64(lines)
		read += n
		if len(fields) == 1 && len(fields[0]) == 0 && !quoted[0] {
			continue
		}
		rec := make([]string, len(fields))
		for i, f := range fields {
			rec[i] = string(f)
		}
		records = append(records, rec)
	}
	return records, nil
}

// lineDecoder decodes JSON lines: rows (format.JSONDecoder) or change
// events (format.DebeziumDecoder, whose records have op first).
type lineDecoder interface {
	Append(line []byte) error
	Len() int
	NewRecord() arrow.Record
	Skipped() int64
	Nulled() int64
	Release()
}

// debeziumLines is a DebeziumDecoder as a lineDecoder. A line that is
// no change event at all (not JSON, no op, an unknown op) is a bad row
// like any other: under 'on_error' = 'skip' or 'null' it is dropped and
// counted (there is no value to set to NULL), under 'fail' the scan
// stops at it, naming the file and line.
type debeziumLines struct {
	*format.DebeziumDecoder
	policy  format.ErrorPolicy
	skipped int64 // lines that were not change events, dropped
}

func (d *debeziumLines) Append(line []byte) error {
	_, err := d.DebeziumDecoder.Append(line)
	var re *format.RowError
	if err != nil && d.policy != format.OnErrorFail && errors.As(err, &re) {
		d.skipped++
		return nil
	}
	return err
}

// Skipped counts the events dropped: bad images and lines that were no
// events.
func (d *debeziumLines) Skipped() int64 { return d.DebeziumDecoder.Skipped() + d.skipped }

func newLineDecoder(mem memory.Allocator, schema *arrow.Schema, o Options, cols []int) (lineDecoder, error) {
	if o.Format == FormatDebezium {
		d, err := format.NewDebeziumDecoder(mem, schema, cols)
		if err != nil {
			return nil, err
		}
		d.SetOnError(o.OnError)
		return &debeziumLines{DebeziumDecoder: d, policy: o.OnError}, nil
	}
	d, err := format.NewJSONDecoder(mem, schema)
	if err != nil {
		return nil, err
	}
	if err := d.SetColumns(cols); err != nil {
		d.Release()
		return nil, err
	}
	d.SetOnError(o.OnError)
	return d, nil
}

// nonBlank drops the blank lines of a sample.
func nonBlank(lines [][]byte) [][]byte {
	var out [][]byte
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}
