package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// ErrAppendOnly is returned when an updating (changelog) result is sent
// to a file sink.
var ErrAppendOnly = errors.New("file sink is append-only")

// Sink writes query results to files. A path ending in '/' or naming an
// existing directory gets one part file per commit (part-00000.csv, …,
// numbered after the highest existing part); any other path is one file,
// published by the first commit (CSV and JSON files grow by later
// commits; a Parquet file takes one commit — use a directory for
// streaming). Files are written under a hidden temporary name in the
// same directory and renamed on Commit, so readers never see a partial
// file and a failed query leaves nothing behind.
type Sink struct {
	opts         Options
	dir          bool
	rowGroupRows int64
}

var _ exec.Sink = (*Sink)(nil)

// NewSink makes a file sink from its options: path, format (default from
// the extension, or csv for a directory), delimiter and header for CSV,
// row_group_rows for Parquet (rows per row group, default 1M).
func NewSink(opts connectors.Options) (*Sink, error) {
	o := opts
	p := opts["path"]
	dir := strings.HasSuffix(p, "/") || strings.HasSuffix(p, string(os.PathSeparator))
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		dir = true
	}
	if dir && opts["format"] == "" {
		o = connectors.Options{}
		for k, v := range opts {
			o[k] = v
		}
		o["format"] = FormatCSV
	}
	po, err := ParseOptions(o)
	if err != nil {
		return nil, err
	}
	s := &Sink{opts: po, dir: dir, rowGroupRows: 1 << 20}
	if v := opts["row_group_rows"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("file sink: row_group_rows must be a positive integer, not %q", v)
		}
		s.rowGroupRows = n
	}
	return s, nil
}

// Open starts writing; a changelog is refused with ErrAppendOnly.
func (s *Sink) Open(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, mode exec.SinkMode) (exec.SinkWriter, error) {
	if mode.Changelog {
		return nil, ErrAppendOnly
	}
	if s.opts.Format == FormatParquet {
		if _, err := parquetSchema(schema); err != nil {
			return nil, err
		}
	}
	if s.dir {
		if err := os.MkdirAll(s.opts.Path, 0o755); err != nil {
			return nil, fmt.Errorf("file sink: %w", err)
		}
	} else if d := filepath.Dir(s.opts.Path); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("file sink: %w", err)
		}
	}
	w := &SinkWriter{sink: s, schema: schema}
	if s.dir {
		w.part = nextPart(s.opts.Path)
	}
	return w, nil
}

func ext(f string) string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatParquet:
		return "parquet"
	}
	return "csv"
}

// nextPart is one past the highest part number in dir, so a new query
// never overwrites earlier output.
func nextPart(dir string) int {
	ents, _ := os.ReadDir(dir)
	n := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, "part-") {
			continue
		}
		num := strings.TrimPrefix(name, "part-")
		if i := strings.IndexByte(num, '.'); i >= 0 {
			num = num[:i]
		}
		if k, err := strconv.Atoi(num); err == nil && k+1 > n {
			n = k + 1
		}
	}
	return n
}

// encoder writes one format into a file.
type encoder interface {
	write(rec arrow.Record) error
	finish() error
}

type csvEncoder struct {
	w      io.Writer
	header bool
	delim  byte
}

func (e *csvEncoder) write(rec arrow.Record) error {
	err := format.WriteCSVDelim(e.w, rec, e.header, e.delim)
	e.header = false
	return err
}
func (e *csvEncoder) finish() error { return nil }

type jsonEncoder struct{ w io.Writer }

func (e *jsonEncoder) write(rec arrow.Record) error { return format.WriteJSONLines(e.w, rec) }
func (e *jsonEncoder) finish() error                { return nil }

// SinkWriter is one query's output into a file sink.
type SinkWriter struct {
	sink      *Sink
	schema    *arrow.Schema
	part      int
	tmp       *os.File
	buf       *bufio.Writer
	enc       encoder
	rows      int64 // rows in the open temp file
	published bool  // single-file mode: the target exists from a commit
	closed    bool
}

var _ exec.SinkWriter = (*SinkWriter)(nil)

func (w *SinkWriter) target() string {
	if w.sink.dir {
		return filepath.Join(w.sink.opts.Path, fmt.Sprintf("part-%05d.%s", w.part, ext(w.sink.opts.Format)))
	}
	return w.sink.opts.Path
}

// begin opens a temp file and its encoder.
func (w *SinkWriter) begin() error {
	t := w.target()
	f, err := createTemp(filepath.Dir(t), "."+filepath.Base(t)+".tmp-")
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	w.tmp, w.buf, w.rows = f, bufio.NewWriterSize(f, 1<<20), 0
	switch w.sink.opts.Format {
	case FormatCSV:
		// A single file that already has a header gets none again; each part
		// file of a directory is a complete CSV file with its own header.
		w.enc = &csvEncoder{w: w.buf, header: w.sink.opts.CSV.Header && (w.sink.dir || !w.published), delim: byte(w.sink.opts.CSV.Delimiter)}
	case FormatJSON:
		w.enc = &jsonEncoder{w: w.buf}
	default:
		if w.published && !w.sink.dir {
			w.abort()
			return fmt.Errorf("file sink: %s: a parquet file takes a single commit; write to a directory path ('%s/') for streaming output", t, strings.TrimSuffix(t, ".parquet"))
		}
		pe, err := newParquetEncoder(w.buf, w.schema, w.sink.rowGroupRows)
		if err != nil {
			w.abort()
			return err
		}
		w.enc = pe
	}
	return nil
}

// Write appends rec to the open temp file.
func (w *SinkWriter) Write(ctx context.Context, rec arrow.Record) error {
	if w.closed {
		return errors.New("file sink: write after close")
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if w.tmp == nil {
		if err := w.begin(); err != nil {
			return err
		}
	}
	if err := w.enc.write(rec); err != nil {
		return fmt.Errorf("file sink: %s: %w", w.target(), err)
	}
	w.rows += rec.NumRows()
	return nil
}

// Commit publishes what was written since the last commit: a new part
// file, or (single file) the file itself. A commit with nothing new
// writes nothing, except that the first commit of a single-file sink
// always creates the file (with a header, or an empty Parquet file).
func (w *SinkWriter) Commit(ctx context.Context, upTo exec.Offsets) error {
	if w.closed {
		return errors.New("file sink: commit after close")
	}
	if w.tmp == nil {
		if w.sink.dir || w.published {
			return nil
		}
		if err := w.begin(); err != nil {
			return err
		}
		if csv, ok := w.enc.(*csvEncoder); ok && csv.header {
			if err := format.WriteCSVHeader(w.buf, w.schema, csv.delim); err != nil {
				w.abort()
				return err
			}
		}
	}
	if err := w.enc.finish(); err != nil {
		w.abort()
		return err
	}
	if err := w.buf.Flush(); err != nil {
		w.abort()
		return fmt.Errorf("file sink: %w", err)
	}
	tmpName := w.tmp.Name()
	if !w.sink.dir && w.published {
		// Grow the published file: published content + the new rows into
		// a fresh temp, renamed over the target.
		if err := w.appendPublished(); err != nil {
			w.abort()
			return err
		}
		tmpName = w.tmp.Name()
	}
	if err := w.tmp.Sync(); err != nil {
		w.abort()
		return fmt.Errorf("file sink: %w", err)
	}
	if err := w.tmp.Close(); err != nil {
		os.Remove(tmpName)
		w.tmp = nil
		return fmt.Errorf("file sink: %w", err)
	}
	w.tmp = nil
	if err := os.Rename(tmpName, w.target()); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("file sink: %w", err)
	}
	w.published = true
	if w.sink.dir {
		w.part++
	}
	return nil
}

// appendPublished replaces w.tmp by a temp file holding the published
// target followed by w.tmp's contents.
func (w *SinkWriter) appendPublished() error {
	t := w.target()
	nf, err := createTemp(filepath.Dir(t), "."+filepath.Base(t)+".tmp-")
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	old, err := os.Open(t)
	if err == nil {
		_, err = io.Copy(nf, old)
		old.Close()
	}
	if err == nil {
		_, err = w.tmp.Seek(0, io.SeekStart)
	}
	if err == nil {
		_, err = io.Copy(nf, w.tmp)
	}
	w.tmp.Close()
	os.Remove(w.tmp.Name())
	w.tmp = nf
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return nil
}

func (w *SinkWriter) abort() {
	if w.tmp != nil {
		name := w.tmp.Name()
		w.tmp.Close()
		os.Remove(name)
		w.tmp = nil
	}
}

// Close discards anything not committed; idempotent.
func (w *SinkWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.abort()
	return nil
}
