package file

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/dustin/go-humanize"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// ErrAppendOnly is returned when an updating (changelog) result is sent
// to a file sink.
var ErrAppendOnly = errors.New("file sink is append-only")

// Write modes ('mode'), as Spark's save modes: what a sink does with data
// already at its path when a query starts writing.
const (
	// ModeError refuses to write when the path holds data (the default),
	// so no run ever clobbers or mixes into earlier output by accident.
	ModeError = "error"
	// ModeOverwrite replaces what is at the path, atomically: readers see
	// the old data until the first commit, then only the new.
	ModeOverwrite = "overwrite"
	// ModeAppend adds to the path: new part files beside the old ones (a
	// directory), or rows at the end of a single file.
	ModeAppend = "append"
)

// Sink writes query results to files. A path ending in '/' or naming an
// existing directory gets one part file per commit (part-00000.csv, …,
// numbered after the highest existing part); any other path is one file,
// published by the first commit (CSV and JSON files grow by later
// commits; a Parquet file takes one commit — use a directory for
// streaming). Files are written under a hidden temporary name in the
// same directory and renamed on Commit, so readers never see a partial
// file and a failed query leaves nothing behind. With a checkpoint
// directory the writer takes part in the checkpoints by two-phase commit
// (SinkWriter): a query killed at any point and restarted neither loses
// nor duplicates rows, and a single file keeps growing across restarts
// of the same query. Two queries must not write the same path at once.
type Sink struct {
	opts         Options
	dir          bool
	rowGroupRows int64
	codec        compress.Codec // Parquet page compression; nil: uncompressed
	mode         string         // ModeError, ModeOverwrite or ModeAppend
}

var _ exec.Sink = (*Sink)(nil)

// NewSink makes a file sink from its options: path, format (default from
// the extension, or csv for a directory), delimiter and header for CSV,
// row_group_rows and compression for Parquet (rows per row group, default
// 1M; page codec, default uncompressed).
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
	if po.Format == FormatDebezium {
		return nil, &connectors.OptionError{Option: "format", Msg: "file sink: format 'debezium-json' is read-only here: files are append-only, so a file sink writes rows (csv, json or parquet)"}
	}
	s := &Sink{opts: po, dir: dir, rowGroupRows: 1 << 20, mode: ModeError}
	switch m := strings.ToLower(strings.TrimSpace(opts["mode"])); m {
	case "":
	case ModeError, ModeOverwrite, ModeAppend:
		s.mode = m
	default:
		return nil, &connectors.OptionError{Option: "mode", Msg: fmt.Sprintf("file sink: 'mode' must be 'error', 'overwrite' or 'append', not %q", opts["mode"])}
	}
	if s.mode == ModeAppend && !dir && po.Format == FormatParquet {
		return nil, &connectors.OptionError{Option: "mode", Msg: fmt.Sprintf("file sink: %s: a Parquet file cannot be appended to; 'mode' = 'append' needs a directory path ('%s/')", po.Path, strings.TrimSuffix(po.Path, ".parquet"))}
	}
	if v := opts["row_group_rows"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("file sink: row_group_rows must be a positive integer, not %q", v)
		}
		s.rowGroupRows = n
	}
	if v, ok := opts["compression"]; ok {
		c, known := parquetCodecs[strings.ToLower(strings.TrimSpace(v))]
		switch {
		case po.Format != FormatParquet:
			return nil, &connectors.OptionError{Option: "compression", Msg: fmt.Sprintf("file sink: 'compression' applies to Parquet only, not %s", po.Format)}
		case !known:
			return nil, &connectors.OptionError{Option: "compression", Msg: fmt.Sprintf("file sink: 'compression' must be one of %s, not %q", strings.Join(parquetCodecNames, ", "), v)}
		}
		s.codec = c
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
			return nil, fmt.Errorf("file sink: cannot create the directory for %s: %w", s.opts.Path, err)
		}
	} else if d := filepath.Dir(s.opts.Path); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("file sink: cannot create the directory for %s: %w", s.opts.Path, err)
		}
	}
	w := &SinkWriter{sink: s, schema: schema, size: -1, run: newRunID()}
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

// SinkWriter is one query's output into a file sink. It is an
// exec.TwoPhaseWriter: PreCommit seals what was written into a complete,
// fsynced file under a hidden pending name (".part-00007.csv.tmp-…",
// which file sources ignore, as every name starting with '.'), and
// CommitPending renames it to its final name. A single-file sink seals
// the published file followed by the new rows, so each commit replaces
// the file atomically by a longer one, and a query restarted from its
// checkpoint keeps appending to what it had committed.
type SinkWriter struct {
	sink      *Sink
	schema    *arrow.Schema
	part      int
	tmp       *os.File
	buf       *bufio.Writer
	enc       encoder
	rows      int64 // rows in the open temp file
	published bool  // single-file mode: the target exists from a commit
	size      int64 // single-file mode: the target's size when published
	closed    bool
	// run names this query's part files (part-<run>-00000.csv), so runs
	// appending to one directory never collide and Recover removes only
	// its own run's files; a resumed query keeps its run from the handle.
	run string
	// started is set once the write mode was applied to what the path
	// held: by Recover, or by the first Write or commit of a writer that
	// is never recovered (a batch query).
	started bool
}

var (
	_ exec.SinkWriter     = (*SinkWriter)(nil)
	_ exec.TwoPhaseWriter = (*SinkWriter)(nil)
)

// handle is a pre-commit handle: the sealed files to rename, and what the
// sink holds once they are.
type handle struct {
	// Pending maps sealed files to their final names, both relative to
	// the sink's directory.
	Pending []pendingFile `json:"pending,omitempty"`
	// NextPart (directory sinks) is the first part number this
	// checkpoint did not commit.
	NextPart int `json:"next_part"`
	// Size (single-file sinks) is the file's size once committed, -1 if
	// it is not created yet.
	Size int64 `json:"size"`
	// Run (directory sinks) is the run the part files are named by;
	// empty in handles of older versions (part-00000.csv names).
	Run string `json:"run,omitempty"`
}

type pendingFile struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// dirOf is the directory holding the sink's files.
func (w *SinkWriter) dirOf() string {
	if w.sink.dir {
		return w.sink.opts.Path
	}
	return filepath.Dir(w.sink.opts.Path)
}

func (w *SinkWriter) target() string {
	if w.sink.dir {
		return filepath.Join(w.sink.opts.Path, partName(w.run, w.part, ext(w.sink.opts.Format)))
	}
	return w.sink.opts.Path
}

// partName is the final name of part n of a run.
func partName(run string, n int, ext string) string {
	if run == "" {
		return fmt.Sprintf("part-%05d.%s", n, ext)
	}
	return fmt.Sprintf("part-%s-%05d.%s", run, n, ext)
}

// newRunID names a run: its start time (so a directory's parts sort by
// run) and random bits (so two runs started in the same second differ).
func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102t150405") + hex.EncodeToString(b[:])
}

// start applies the write mode to what the path holds before this
// query's first output: ModeError refuses existing data, ModeAppend
// continues a single file. A resumed query (Recover with a handle)
// skips it: the data there is its own.
func (w *SinkWriter) start() error {
	if w.started {
		return nil
	}
	w.started = true
	p := w.sink.opts.Path
	if w.sink.dir {
		if w.sink.mode != ModeError {
			return nil
		}
		files, err := committedFiles(p, w.sink.opts.Format)
		if err != nil {
			return err
		}
		if len(files) > 0 {
			return w.existsErr(fmt.Sprintf("directory %s already holds %d file(s) (%s…)", p, len(files), files[0]))
		}
		return nil
	}
	st, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return w.fail(err)
	}
	switch w.sink.mode {
	case ModeError:
		return w.existsErr(fmt.Sprintf("%s already exists (%s)", p, humanize.IBytes(uint64(st.Size()))))
	case ModeAppend:
		w.published, w.size = true, st.Size()
	}
	return nil
}

func (w *SinkWriter) existsErr(what string) error {
	return &connectors.OptionError{Option: "mode", Msg: fmt.Sprintf("file sink: %s; nothing was written: set 'mode' = 'overwrite' to replace it or 'mode' = 'append' to add to it", what)}
}

// tmpPrefix starts the temporary name of target: hidden, and recognisable
// as this sink's by Recover.
func tmpPrefix(target string) string { return "." + filepath.Base(target) + ".tmp-" }

// begin opens a temp file and its encoder.
func (w *SinkWriter) begin() error {
	t := w.target()
	f, err := createTemp(filepath.Dir(t), tmpPrefix(t))
	if err != nil {
		return w.fail(err)
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
		pe, err := newParquetEncoder(w.buf, w.schema, w.sink.rowGroupRows, w.sink.codec)
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
	if err := w.start(); err != nil {
		return err
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
	h, err := w.PreCommit(ctx, 0, upTo)
	if err != nil {
		return err
	}
	return w.CommitPending(ctx, h)
}

// PreCommit seals what was written since the last commit into a
// complete, fsynced file under its pending name; nothing is visible
// until CommitPending (see exec.TwoPhaseWriter).
func (w *SinkWriter) PreCommit(ctx context.Context, _ exec.CheckpointID, _ exec.Offsets) ([]byte, error) {
	if w.closed {
		return nil, errors.New("file sink: commit after close")
	}
	if err := w.start(); err != nil {
		return nil, err
	}
	h := handle{Size: -1, Run: w.run}
	if w.published {
		h.Size = w.size
	}
	if w.tmp == nil && (w.sink.dir || w.published) {
		h.NextPart = w.part
		return json.Marshal(h)
	}
	to := w.target()
	tmpName, size, err := w.seal()
	if err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(to)); err != nil {
		os.Remove(tmpName)
		return nil, w.fail(err)
	}
	h.Pending = []pendingFile{{From: filepath.Base(tmpName), To: filepath.Base(to)}}
	if w.sink.dir {
		w.part++
	} else {
		h.Size = size
	}
	h.NextPart = w.part
	return json.Marshal(h)
}

// seal finishes the open temp file (creating it with only a header for
// the first commit of a single file), fsyncs and closes it, and returns
// its name and size.
func (w *SinkWriter) seal() (string, int64, error) {
	if w.tmp == nil {
		if err := w.begin(); err != nil {
			return "", 0, err
		}
		if csv, ok := w.enc.(*csvEncoder); ok && csv.header {
			if err := format.WriteCSVHeader(w.buf, w.schema, csv.delim); err != nil {
				w.abort()
				return "", 0, err
			}
		}
	}
	if err := w.enc.finish(); err != nil {
		w.abort()
		return "", 0, err
	}
	if err := w.buf.Flush(); err != nil {
		w.abort()
		return "", 0, w.fail(err)
	}
	if !w.sink.dir && w.published {
		// Grow the published file: published content + the new rows into
		// a fresh temp, renamed over the target.
		if err := w.appendPublished(); err != nil {
			w.abort()
			return "", 0, err
		}
	}
	tmpName := w.tmp.Name()
	if err := w.tmp.Sync(); err != nil {
		w.abort()
		return "", 0, w.fail(err)
	}
	st, err := w.tmp.Stat()
	if err != nil {
		w.abort()
		return "", 0, w.fail(err)
	}
	if err := w.tmp.Close(); err != nil {
		os.Remove(tmpName)
		w.tmp = nil
		return "", 0, w.fail(err)
	}
	w.tmp = nil
	return tmpName, st.Size(), nil
}

// CommitPending renames the files a PreCommit sealed to their final
// names. A file already renamed is skipped, so a handle can be committed
// again after a restart.
func (w *SinkWriter) CommitPending(ctx context.Context, hb []byte) error {
	var h handle
	if err := json.Unmarshal(hb, &h); err != nil {
		return fmt.Errorf("file sink: reading the commit handle of %s: %w", w.sink.opts.Path, err)
	}
	dir := w.dirOf()
	for _, p := range h.Pending {
		if filepath.Base(p.From) != p.From || filepath.Base(p.To) != p.To {
			return fmt.Errorf("file sink: commit handle names %q → %q outside %s", p.From, p.To, dir)
		}
		from, to := filepath.Join(dir, p.From), filepath.Join(dir, p.To)
		err := os.Rename(from, to)
		if errors.Is(err, os.ErrNotExist) {
			// Renamed before a crash? Then the final file is there (with
			// at least the committed size, for a single file: a later
			// commit may have grown it).
			st, serr := os.Stat(to)
			if serr == nil && (w.sink.dir || st.Size() >= h.Size) {
				continue
			}
			return fmt.Errorf("file sink: %s: the pending file %s of a checkpoint is gone, its output is lost", to, from)
		}
		if err != nil {
			return w.fail(err)
		}
	}
	if len(h.Pending) > 0 {
		if err := syncDir(dir); err != nil {
			return w.fail(err)
		}
	}
	if w.sink.dir && (len(h.Pending) > 0 || w.sink.mode == ModeOverwrite) {
		// Overwrite replaces the directory's contents with this run's at
		// its first commit, even an empty one.
		var add []string
		for _, p := range h.Pending {
			add = append(add, p.To)
		}
		if err := w.updateManifest(h.Run, add, nil); err != nil {
			return err
		}
	}
	if !w.sink.dir && h.Size >= 0 {
		w.published, w.size = true, h.Size
	}
	return nil
}

// Recover finishes the checkpoint the query resumes from and drops what
// no checkpoint covers (see exec.TwoPhaseWriter): the handle's pending
// files are renamed, every other pending file of this sink is deleted,
// and output committed after that checkpoint — part files numbered from
// its NextPart, or a single file's bytes past its Size — is removed, as
// the restarted query writes it again. Without a handle (a fresh start)
// only the pending files are deleted, and a single file is replaced by
// the first commit, as for any new query.
func (w *SinkWriter) Recover(ctx context.Context, hb []byte) error {
	if w.closed {
		return errors.New("file sink: recover after close")
	}
	var h *handle
	if hb != nil {
		h = &handle{}
		if err := json.Unmarshal(hb, h); err != nil {
			return fmt.Errorf("file sink: reading the commit handle of %s: %w", w.sink.opts.Path, err)
		}
		// The resumed query is the same run: its files keep their names
		// and the data at the path is its own, whatever the mode.
		w.run, w.started = h.Run, true
		if err := w.CommitPending(ctx, hb); err != nil {
			return err
		}
	}
	dir := w.dirOf()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return w.fail(err)
	}
	single := "." + filepath.Base(w.sink.opts.Path) + ".tmp-"
	var dropped []string
	for _, e := range ents {
		n := e.Name()
		var drop bool
		if w.sink.dir {
			run, num, ok := partInfo(n)
			drop = strings.HasPrefix(n, ".part-") && strings.Contains(n, ".tmp-") ||
				ok && h != nil && run == h.Run && num >= h.NextPart
		} else {
			drop = strings.HasPrefix(n, single)
		}
		if drop && !e.IsDir() {
			if err := os.Remove(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("file sink: removing uncommitted %s: %w", filepath.Join(dir, n), err)
			}
			if !strings.HasPrefix(n, ".") {
				dropped = append(dropped, n)
			}
		}
	}
	if w.sink.dir {
		w.part = 0
		if h != nil {
			w.part = h.NextPart
		}
		if len(dropped) > 0 {
			if err := w.updateManifest(w.run, nil, dropped); err != nil {
				return err
			}
		}
		if h == nil {
			return w.start()
		}
		return nil
	}
	w.published, w.size = false, -1
	if h == nil {
		return w.start()
	}
	if h.Size < 0 {
		return nil
	}
	st, err := os.Stat(w.sink.opts.Path)
	if err != nil {
		return fmt.Errorf("file sink: %s, committed by the checkpoint, is gone: %w", w.sink.opts.Path, err)
	}
	if st.Size() < h.Size {
		return fmt.Errorf("file sink: %s has %d bytes, fewer than the %d its checkpoint committed", w.sink.opts.Path, st.Size(), h.Size)
	}
	if st.Size() > h.Size {
		if err := w.truncatePublished(h.Size); err != nil {
			return err
		}
	}
	w.published, w.size = true, h.Size
	return nil
}

// truncatePublished replaces the single file by its first n bytes,
// atomically.
func (w *SinkWriter) truncatePublished(n int64) error {
	t := w.sink.opts.Path
	src, err := os.Open(t)
	if err != nil {
		return w.fail(err)
	}
	defer src.Close()
	nf, err := createTemp(filepath.Dir(t), tmpPrefix(t))
	if err != nil {
		return w.fail(err)
	}
	_, cerr := io.CopyN(nf, src, n)
	serr := nf.Sync()
	clerr := nf.Close()
	if err := errors.Join(cerr, serr, clerr); err != nil {
		os.Remove(nf.Name())
		return w.fail(err)
	}
	if err := os.Rename(nf.Name(), t); err != nil {
		os.Remove(nf.Name())
		return w.fail(err)
	}
	return syncDir(filepath.Dir(t))
}

// partInfo parses a final part file name: "part-<run>-00012.csv", or
// "part-00012.csv" as older versions named them (run "").
func partInfo(name string) (run string, num int, ok bool) {
	if !strings.HasPrefix(name, "part-") {
		return "", 0, false
	}
	rest := strings.TrimPrefix(name, "part-")
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		run, rest = rest[:i], rest[i+1:]
	}
	k, err := strconv.Atoi(rest)
	return run, k, err == nil
}

// syncDir fsyncs a directory, so renames and creations in it survive a
// crash of the machine.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

// appendPublished replaces w.tmp by a temp file holding the published
// target followed by w.tmp's contents.
func (w *SinkWriter) appendPublished() error {
	t := w.target()
	nf, err := createTemp(filepath.Dir(t), tmpPrefix(t))
	if err != nil {
		return w.fail(err)
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
		return w.fail(err)
	}
	return nil
}

// fail is an I/O error about the user's path: the hidden temporary or
// pending file it happened on is an implementation detail, so the message
// names the sink's path and says what went wrong there.
func (w *SinkWriter) fail(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && strings.HasPrefix(filepath.Base(pe.Path), ".") {
		return fmt.Errorf("file sink: cannot write %s: %w (%s a temporary file in %s)", w.sink.opts.Path, pe.Err, pe.Op, filepath.Dir(pe.Path))
	}
	return fmt.Errorf("file sink: %s: %w", w.sink.opts.Path, err)
}

func (w *SinkWriter) abort() {
	if w.tmp != nil {
		name := w.tmp.Name()
		w.tmp.Close()
		os.Remove(name)
		w.tmp = nil
	}
}

// Close discards what was written but not pre-committed; idempotent.
// Pre-committed files stay for Recover: a checkpoint may name them.
func (w *SinkWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.abort()
	return nil
}
