// Package file is the 'file' connector: CSV, JSON lines and Parquet
// sources over one file, a glob or a directory, and an atomic file sink.
//
// Source options: path (a file, a glob such as 'data/*.csv', or a
// directory meaning all files in it with the format's extension, sorted),
// format = csv | json | parquet (default from the extension), and for CSV
// delimiter (default ','), null (the NULL marker, default empty), header
// (default true), plus on_error = fail | skip | null (default fail) and,
// for CSV and JSON, 'max.row.size' (default 64MiB): the longest record
// read, so a file with a runaway line fails with an error naming the file
// and line instead of exhausting memory.
//
// Bad rows: with on_error = fail a bad value stops the scan with
// `sales.csv:123: column "value": cannot parse "abc" as BIGINT` (the line
// number is 1-based and counts the header line); skip drops the row, null
// sets the bad value to NULL. The counts are in Reader.Stats, which the
// CLI prints on stderr (assert the SourceReader to StatsReader).
package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/dustin/go-humanize"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/connectors/sandbox"
	"github.com/sluicesql/sluice/exec"
)

func init() {
	connectors.RegisterSource("file", SourceOptions, func(env connectors.Env, opts connectors.Options, declared *arrow.Schema) (exec.Source, error) {
		return newSource(env.Files, opts, declared)
	})
	connectors.RegisterSink("file", SinkOptions, func(env connectors.Env, opts connectors.Options) (exec.Sink, error) {
		// Before NewSink looks at the path at all.
		if err := env.Files.Check("path", opts["path"]); err != nil {
			return nil, fmt.Errorf("file connector: %w", err)
		}
		return NewSink(opts)
	})
}

// SourceOptions are the file source's WITH options.
var SourceOptions = []connectors.Option{
	{Name: "path", Type: "string", Doc: "a file, a glob such as 'data/*.csv', or a directory (all its files with the format's extension)"},
	{Name: "paths", Type: "string", Doc: "several paths read as one source, in their order, as a JSON array ('[\"a.csv\", \"b.csv\"]'; read_csv(['a.csv', 'b.csv']) sets it), instead of path; each as path, one schema for all"},
	{Name: "format", Type: "enum", Default: "from the extension", Values: []string{"csv", "json", "jsonl", "ndjson", "parquet", FormatDebezium}, Doc: "the files' format (debezium-json: JSON lines of Debezium change events, read as a changelog)"},
	{Name: "delimiter", Type: "string", Default: ",", Doc: "CSV field separator, one byte ('\\t' or 'tab' for a tab)"},
	{Name: "header", Type: "bool", Default: "true", Doc: "CSV files start with a header line"},
	{Name: "null", Type: "string", Doc: "the CSV text that means NULL (default: an empty field)"},
	{Name: "on_error", Type: "enum", Default: "fail", Values: []string{"fail", "skip", "null"}, Doc: "a value that does not parse fails the scan (naming file:line), skips the row, or becomes NULL"},
	{Name: "max.row.size", Type: "size", Default: "64MB", Doc: "the longest CSV record or JSON line read"},
}

// SinkOptions are the file sink's WITH options.
var SinkOptions = []connectors.Option{
	{Name: "path", Type: "string", Doc: "a file, or a directory (ends in '/' or exists) that gets one part file per commit"},
	{Name: "format", Type: "enum", Default: "from the extension; csv for a directory", Values: []string{"csv", "json", "jsonl", "ndjson", "parquet"}, Doc: "the output format"},
	{Name: "mode", Type: "enum", Default: ModeError, Values: []string{ModeError, ModeOverwrite, ModeAppend}, Doc: "existing data at path: refuse to write (error), replace it atomically (overwrite), or add new part files beside it (append)"},
	{Name: "delimiter", Type: "string", Default: ",", Doc: "CSV field separator, one byte"},
	{Name: "header", Type: "bool", Default: "true", Doc: "CSV output starts with a header line"},
	{Name: "row_group_rows", Type: "integer", Default: "1048576", Doc: "Parquet rows per row group"},
	{Name: "compression", Type: "enum", Default: "uncompressed", Values: parquetCodecNames, Doc: "Parquet page compression (Parquet only)"},
}

// Format names.
const (
	FormatCSV     = "csv"
	FormatJSON    = "json"
	FormatParquet = "parquet"
	// FormatDebezium is JSON lines of Debezium change events, read as a
	// changelog (exec.ChangelogSource).
	FormatDebezium = "debezium-json"
)

// Options are the parsed source options.
type Options struct {
	Path string
	// Paths, when set ('paths'), are several paths read as one source in
	// their order, each a file, a glob or a directory; Path is the first.
	Paths   []string
	Format  string
	CSV     format.CSVOptions
	OnError format.ErrorPolicy
	// MaxRowSize is the longest CSV record or JSON line in bytes
	// ('max.row.size'); a longer one is ErrRowTooLong.
	MaxRowSize int
	// declared is true when CREATE SOURCE listed the columns: each CSV
	// file's header must then name them all. An inferred schema's names may
	// be made up (c3, a_1) and are read by position.
	declared bool
}

// all is the paths the options name: Paths, or Path alone.
func (o Options) all() []string {
	if len(o.Paths) > 0 {
		return o.Paths
	}
	return []string{o.Path}
}

// DefaultMaxRowSize is the default of 'max.row.size': far above any
// sensible record, far below what would exhaust a machine's memory.
const DefaultMaxRowSize = 64 << 20

// ParseOptions reads the WITH options of a file source or sink.
func ParseOptions(opts connectors.Options) (Options, error) {
	o := Options{Path: opts["path"], Format: strings.ToLower(opts["format"])}
	if ps, ok := opts["paths"]; ok {
		if o.Path != "" {
			return o, &connectors.OptionError{Option: "paths", Msg: "file connector: set path or paths, not both"}
		}
		if err := json.Unmarshal([]byte(ps), &o.Paths); err != nil || len(o.Paths) == 0 || slices.Contains(o.Paths, "") {
			return o, &connectors.OptionError{Option: "paths", Msg: fmt.Sprintf("file connector: 'paths' must be a JSON array of one or more paths, not %q", ps)}
		}
		o.Path = o.Paths[0]
	}
	if o.Path == "" {
		return o, fmt.Errorf("file connector: the path option is required")
	}
	if o.Format == "" {
		o.Format = formatFromExt(o.Path)
		if o.Format == "" {
			return o, fmt.Errorf("file connector: cannot tell the format of %q; set format = 'csv', 'json' or 'parquet'", o.Path)
		}
	}
	switch o.Format {
	case FormatCSV, FormatJSON, FormatParquet, FormatDebezium:
	case "jsonl", "ndjson":
		o.Format = FormatJSON
	default:
		return o, fmt.Errorf("file connector: unknown format %q (want csv, json or parquet)", o.Format)
	}
	o.CSV = format.CSVOptions{Delimiter: ',', Header: true, Null: opts["null"]}
	if d, ok := opts["delimiter"]; ok {
		if d == `\t` || d == "tab" {
			d = "\t"
		}
		if len(d) != 1 {
			return o, fmt.Errorf("file connector: delimiter must be one byte, not %q", d)
		}
		o.CSV.Delimiter = rune(d[0])
	}
	if h, ok := opts["header"]; ok {
		b, err := strconv.ParseBool(h)
		if err != nil {
			return o, fmt.Errorf("file connector: header must be true or false, not %q", h)
		}
		o.CSV.Header = b
	}
	p, err := format.ParseErrorPolicy(opts["on_error"])
	if err != nil {
		return o, fmt.Errorf("file connector: %w", err)
	}
	o.OnError = p
	o.MaxRowSize = DefaultMaxRowSize
	if v, ok := opts["max.row.size"]; ok {
		n, err := humanize.ParseBytes(v)
		if err != nil || n == 0 || n > math.MaxInt32 {
			return o, fmt.Errorf("file connector: 'max.row.size' must be a size between 1 byte and 2GB such as '64MB', not %q", v)
		}
		o.MaxRowSize = int(n)
	}
	return o, nil
}

func formatFromExt(path string) string {
	p := strings.TrimSuffix(strings.ToLower(path), "/")
	switch {
	case strings.HasSuffix(p, ".csv"), strings.HasSuffix(p, ".tsv"), strings.HasSuffix(p, ".csv*"):
		return FormatCSV
	case strings.HasSuffix(p, ".json"), strings.HasSuffix(p, ".jsonl"), strings.HasSuffix(p, ".ndjson"):
		return FormatJSON
	case strings.HasSuffix(p, ".parquet"), strings.HasSuffix(p, ".pq"):
		return FormatParquet
	}
	return ""
}

func extsOf(f string) []string {
	switch f {
	case FormatCSV:
		return []string{".csv", ".tsv"}
	case FormatJSON, FormatDebezium:
		return []string{".json", ".jsonl", ".ndjson"}
	}
	return []string{".parquet", ".pq"}
}

// expand lists the files a path option names, sorted.
func expand(path, fmtName string) ([]string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		// A directory a sink writes lists its committed files in a
		// manifest: exactly those are read, in commit order.
		if listed, ok, err := readManifest(path); err != nil {
			return nil, err
		} else if ok {
			if len(listed) == 0 {
				return nil, noData(fmt.Errorf("file connector: directory %s has no committed files (its %s lists none)", path, ManifestName))
			}
			files := make([]string, len(listed))
			for i, f := range listed {
				files[i] = filepath.Join(path, f)
				if _, err := os.Stat(files[i]); err != nil {
					return nil, fmt.Errorf("file connector: %s lists %s as committed, but it is gone: %w", filepath.Join(path, ManifestName), f, err)
				}
			}
			return files, nil
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("file connector: %w", err)
		}
		var files []string
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			for _, x := range extsOf(fmtName) {
				if strings.HasSuffix(strings.ToLower(e.Name()), x) {
					files = append(files, filepath.Join(path, e.Name()))
					break
				}
			}
		}
		if len(files) == 0 {
			return nil, noData(fmt.Errorf("file connector: no %s files in directory %s", fmtName, path))
		}
		return files, nil
	}
	if strings.ContainsAny(path, "*?[") {
		files, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("file connector: bad glob %q: %w", path, err)
		}
		if len(files) == 0 {
			return nil, noData(fmt.Errorf("file connector: no files match %s", path))
		}
		sort.Strings(files)
		return files, nil
	}
	if _, err := os.Stat(path); err != nil {
		err = fmt.Errorf("file connector: %w", err)
		if errors.Is(err, os.ErrNotExist) {
			err = noData(err)
		}
		return nil, err
	}
	return []string{path}, nil
}

// ErrNoData is what NewSource's error wraps (test it with errors.Is) when
// its path holds nothing to read yet: it does not exist, it is a
// directory without committed files of the format (its manifest lists
// none, or without one no visible file has the format's extension), or a
// glob that matches no file. A directory the file sink would write into
// without refusing existing data is exactly one that gives ErrNoData, so
// a caller that may use the path either way (a Flink connector table,
// which is a source or a sink) can tell an output not written yet from
// data it cannot read.
var ErrNoData = errors.New("file connector: no data at the path")

// noDataError keeps the message of the error it wraps and is ErrNoData
// to errors.Is.
type noDataError struct{ err error }

func noData(err error) error { return &noDataError{err} }

func (e *noDataError) Error() string        { return e.err.Error() }
func (e *noDataError) Unwrap() error        { return e.err }
func (e *noDataError) Is(target error) bool { return target == ErrNoData }

// Source is a file source. Files are listed when the source is made, so
// the schema is known before the query is planned, and listed again when
// a scan starts: a folder a sink has since overwritten or appended to is
// read by its current manifest, not the files that were there at CREATE.
type Source struct {
	opts   Options
	root   *sandbox.Root
	files  []string
	schema *arrow.Schema
}

var _ exec.Source = (*Source)(nil)

// NewSource opens a file source; declared is the CREATE SOURCE schema or
// nil to infer it from the first file. It reads any path: the registered
// 'file' connector confines paths to the session's sandbox.
func NewSource(opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	return newSource(nil, opts, declared)
}

// newSource is NewSource confined to root: the path (a glob by the
// directory before its wildcards) before anything is listed, then every
// file it expands to before any is read, since a file in a directory or
// a glob's match may be a link out of the sandbox.
func newSource(root *sandbox.Root, opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	if p := opts["path"]; p != "" && opts["format"] == "" && formatFromExt(p) == "" && !strings.ContainsAny(p, "*?[") {
		// Say first that the path is not there, not that its format is
		// unknown.
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return nil, noData(&connectors.OptionError{Option: "path", Msg: fmt.Sprintf("file connector: %s does not exist ('path')", p)})
		}
	}
	o, err := ParseOptions(opts)
	if err != nil {
		return nil, err
	}
	for _, p := range o.all() {
		if err := root.Check("path", p); err != nil {
			return nil, fmt.Errorf("file connector: %w", err)
		}
	}
	o.declared = declared != nil
	s := &Source{opts: o, root: root, schema: declared}
	files, err := s.list()
	if err != nil {
		return nil, err
	}
	s.files = files
	at := func() string { return files[0] }
	if s.schema == nil {
		if err := guard(at, func() (err error) { s.schema, err = s.infer(files[0]); return err }); err != nil {
			return nil, err
		}
	} else if o.Format == FormatParquet {
		// Fail early when a declared column is not in the file.
		if err := guard(at, func() error { _, err := parquetColumns(files[0], declared); return err }); err != nil {
			return nil, err
		}
	} else if o.Format == FormatCSV && o.CSV.Header {
		if err := guard(at, func() error { return checkCSVHeader(files[0], o, declared) }); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// checkCSVHeader fails CREATE SOURCE when a declared column is not in the
// header of path, naming the missing columns and the header's. Columns are
// matched by name, never by position: a declared list that merely has the
// header's length would otherwise read a misnamed column's neighbour
// silently. (To give a column another name, alias it in the query.)
func checkCSVHeader(path string, o Options, declared *arrow.Schema) error {
	records, err := sampleCSV(path, o)
	if err != nil || len(records) == 0 {
		return nil // an empty or unreadable file: the scan reports it, at its line
	}
	return headerMissing(path, records[0], declared)
}

// headerMissing is the error for declared columns absent from a CSV header,
// or nil when every one is there (in any order, case-insensitive).
func headerMissing(path string, header []string, declared *arrow.Schema) error {
	have := map[string]bool{}
	for _, h := range header {
		have[strings.ToLower(strings.TrimSpace(h))] = true
	}
	var missing []string
	for _, f := range declared.Fields() {
		if !have[strings.ToLower(f.Name)] {
			missing = append(missing, fmt.Sprintf("%q", f.Name))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	noun := "column"
	if len(missing) > 1 {
		noun = "columns"
	}
	return fmt.Errorf("%s: declared %s %s not in the CSV header (%s); declare the header's names (rename with AS in a query), or set header = 'false' for a file without one",
		path, noun, strings.Join(missing, ", "), strings.Join(header, ", "))
}

// list expands the path option to the files it names now, each checked
// against the sandbox, since a file in a directory or a glob's match may
// be a link out of it.
func (s *Source) list() ([]string, error) {
	var files []string
	for _, p := range s.opts.all() {
		fs, err := expand(p, s.opts.Format)
		if err != nil {
			return nil, err
		}
		files = append(files, fs...)
	}
	for _, f := range files {
		if err := s.root.Check("path", f); err != nil {
			return nil, fmt.Errorf("file connector: %w", err)
		}
	}
	return files, nil
}

func (s *Source) infer(path string) (*arrow.Schema, error) {
	switch s.opts.Format {
	case FormatCSV:
		records, err := sampleCSV(path, s.opts)
		if err != nil {
			return nil, err
		}
		sch, err := format.InferCSVRecords(records, s.opts.CSV)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return sch, nil
	case FormatJSON, FormatDebezium:
		lines, err := sampleLines(path, s.opts.MaxRowSize)
		if err != nil {
			return nil, err
		}
		infer := format.InferJSON
		if s.opts.Format == FormatDebezium {
			infer = format.InferDebezium
			lines = nonBlank(lines)
		}
		sch, err := infer(lines)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return sch, nil
	}
	return inferParquet(path)
}

// Schema is the declared or inferred schema.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Bounded is true: a scan ends at the end of the last file.
func (s *Source) Bounded() bool { return true }

// Files lists the files the source read when it was made, in order.
func (s *Source) Files() []string { return s.files }

// Open starts a scan of every file the path names now, in order.
func (s *Source) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	files, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, path := range files {
		if err := s.expectProgress(spec.Progress, path); err != nil {
			return nil, err
		}
	}
	return s.open(mem, spec, files)
}

// open starts a scan of files (nil for a morsel's reader, which reads
// its morsel's one file).
func (s *Source) open(mem memory.Allocator, spec exec.ScanSpec, files []string) (*Reader, error) {
	if spec.BatchSize <= 0 {
		spec.BatchSize = exec.DefaultBatchSize
	}
	cols := spec.Columns
	if cols == nil {
		cols = make([]int, s.schema.NumFields())
		for i := range cols {
			cols[i] = i
		}
	}
	for _, c := range cols {
		if c < 0 || c >= s.schema.NumFields() {
			return nil, fmt.Errorf("file connector: column index %d out of range", c)
		}
	}
	spec.Columns = cols
	return &Reader{src: s, mem: mem, spec: spec, offsets: exec.Offsets{}, list: files}, nil
}

// Stats are a scan's counters, for the CLI's stderr summary and EXPLAIN
// ANALYZE.
type Stats struct {
	Rows             int64 // rows returned
	Skipped          int64 // bad rows dropped (on_error = skip)
	Nulled           int64 // bad values set to NULL (on_error = null)
	RowGroupsRead    int64 // Parquet row groups decoded
	RowGroupsSkipped int64 // Parquet row groups skipped by statistics
	// RowsPruned are Parquet rows dropped unread, or with only their
	// predicate columns decoded, by pushed-down filters and a top-N's
	// cut-off (page statistics and row checks; skipped row groups aside).
	RowsPruned int64
}

// StatsReader is implemented by readers that count bad rows and skipped
// data; the CLI asserts a SourceReader to it.
type StatsReader interface {
	Stats() Stats
}

// fileReader reads one file; next returns io.EOF at its end.
type fileReader interface {
	next(ctx context.Context) (arrow.Record, error)
	consumed() int64 // data records consumed so far, bad ones included
	stats() Stats
	close() error
	// position names the file and where in it the reader is, as errors
	// show it: "sales.csv:123" or `t.parquet: row group 2, column "v", page 3`.
	position() string
}

// guard runs fn and turns a panic inside it into an error naming the
// place: the last line of defence of a reader against a corrupt file that
// a decoder (ours or parquet-go's) did not expect. The decoders check what
// they read and the fuzzers look for what they miss; a panic that still
// gets here fails the query, never the process.
func guard(where func() string, fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{msg: fmt.Sprintf("%s: cannot decode the file, it may be corrupt: %v", where(), p), stack: debug.Stack()}
		}
	}()
	return fn()
}

// panicError is a panic guard caught; the reader that panicked is not
// used again. stack is where it happened (for the fuzzers).
type panicError struct {
	msg   string
	stack []byte
}

func (e *panicError) Error() string { return e.msg }

// Reader reads a file source's files one after the other.
type Reader struct {
	src     *Source
	mem     memory.Allocator
	spec    exec.ScanSpec
	fi      int
	cur     fileReader
	offsets exec.Offsets
	done    Stats // stats of finished files
	closed  bool
	dict    []bool   // by output column; see KeepDictionaries
	failed  error    // a decoder panicked: the scan cannot go on
	morsel  *morsel  // the one piece this reader reads; nil: every file
	list    []string // the files of a whole scan, listed when it opened
}

var (
	_ exec.SourceReader     = (*Reader)(nil)
	_ StatsReader           = (*Reader)(nil)
	_ exec.DictionaryReader = (*Reader)(nil)
)

func (r *Reader) openFile(path string) (fileReader, error) {
	skip := r.spec.From["file:"+path]
	switch r.src.opts.Format {
	case FormatCSV:
		cr, err := openCSV(r.mem, path, r.src.schema, r.src.opts, r.spec, skip, r.morsel.textRange())
		if err != nil {
			return nil, err
		}
		if err := cr.keepDictionaries(r.dict); err != nil {
			cr.close()
			return nil, err
		}
		return cr, nil
	case FormatJSON, FormatDebezium:
		return openJSON(r.mem, path, r.src.schema, r.src.opts, r.spec, skip, r.morsel.textRange())
	}
	pr, err := openParquet(r.mem, path, r.src.schema, r.spec, skip, r.src.opts.OnError)
	if err != nil {
		return nil, err
	}
	r.morsel.limitParquet(pr)
	pr.keepDictionaries(r.dict)
	return pr, nil
}

// KeepDictionaries implements exec.DictionaryReader: string columns among
// cols (output column indices) come back as dictionary arrays (int32
// indices over string values), so a grouping consumer never materialises
// a string per row — for Parquet while a column chunk's pages index its
// dictionary page, for CSV through a dictionary the decoder builds as it
// reads (up to format.MaxCSVDictionary distinct values). JSON ignores it.
func (r *Reader) KeepDictionaries(cols []int) {
	dict := make([]bool, len(r.spec.Columns))
	for _, c := range cols {
		if c >= 0 && c < len(dict) {
			dict[c] = true
		}
	}
	r.dict = dict
	switch cur := r.cur.(type) {
	case *parquetReader:
		cur.keepDictionaries(dict)
	case *csvReader:
		_ = cur.keepDictionaries(dict) // only string columns are asked for
	}
}

// Next returns the next batch, io.EOF after the last file.
func (r *Reader) Next(ctx context.Context) (exec.Batch, error) {
	for {
		if r.closed {
			return exec.Batch{}, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return exec.Batch{}, err
		}
		if r.failed != nil {
			return exec.Batch{}, r.failed
		}
		path := ""
		if r.fi < len(r.files()) {
			path = r.files()[r.fi]
		}
		if r.cur == nil {
			if r.fi >= len(r.files()) {
				return exec.Batch{}, io.EOF
			}
			var fr fileReader
			if err := guard(func() string { return path }, func() (err error) { fr, err = r.openFile(path); return err }); err != nil {
				return exec.Batch{}, err
			}
			r.cur = fr
		}
		var rec arrow.Record
		err := guard(r.cur.position, func() (err error) { rec, err = r.cur.next(ctx); return err })
		if err != nil && rec != nil {
			rec.Release()
		}
		var pe *panicError
		if errors.As(err, &pe) {
			// A reader that panicked is in no known state: the scan
			// stops here for good.
			r.failed = err
		}
		r.offsets["file:"+path] = r.cur.consumed()
		if errors.Is(err, io.EOF) {
			r.finishFile()
			continue
		}
		if err != nil {
			return exec.Batch{}, err
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		r.done.Rows += rec.NumRows()
		return exec.Batch{Record: rec}, nil
	}
}

func (r *Reader) finishFile() {
	s := r.cur.stats()
	r.done.Skipped += s.Skipped
	r.done.Nulled += s.Nulled
	r.done.RowGroupsRead += s.RowGroupsRead
	r.done.RowGroupsSkipped += s.RowGroupsSkipped
	r.done.RowsPruned += s.RowsPruned
	_ = guard(r.cur.position, r.cur.close)
	r.cur = nil
	r.fi++
}

// Stats returns the scan's counters so far.
func (r *Reader) Stats() Stats {
	s := r.done
	if r.cur != nil {
		c := r.cur.stats()
		s.Skipped += c.Skipped
		s.Nulled += c.Nulled
		s.RowGroupsRead += c.RowGroupsRead
		s.RowGroupsSkipped += c.RowGroupsSkipped
		s.RowsPruned += c.RowsPruned
	}
	return s
}

// Skipped is the number of bad rows dropped under on_error = skip.
func (r *Reader) Skipped() int64 { return r.Stats().Skipped }

// Offsets maps "file:<path>" to the data rows consumed from that file.
// A morsel's reader counts the rows consumed from its piece (from the
// file's start for a whole file resumed with ScanSpec.From), so the
// morsels' counts add up to the whole scan's (exec.ResumableMorsel).
func (r *Reader) Offsets() exec.Offsets {
	out := make(exec.Offsets, len(r.offsets))
	for k, v := range r.offsets {
		out[k] = v
	}
	return out
}

// Partitions is [0]: files are read in order as one partition.
func (r *Reader) Partitions() []int32 { return []int32{0} }

// Close stops the scan; idempotent.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cur != nil {
		err := guard(r.cur.position, r.cur.close)
		r.cur = nil
		return err
	}
	return nil
}
