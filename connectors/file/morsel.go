package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

var (
	_ exec.MorselSource    = (*Source)(nil)
	_ exec.ResumableMorsel = (*morsel)(nil)
)

// morsel is one piece of a file source's scan: a file, a run of Parquet
// row groups, or a byte range of a CSV or JSON-lines file.
type morsel struct {
	src        *Source
	spec       exec.ScanSpec
	path       string
	rgLo, rgHi int        // Parquet: row groups [rgLo, rgHi); rgHi 0: all
	rowLo      int64      // Parquet: rows [rowLo, rowHi) of row group rgLo alone
	rowHi      int64      // 0: whole row groups
	text       *textRange // CSV/JSON: the byte range; nil: the whole file
}

// textRange is bytes [start, end) of a text file, starting at a record.
type textRange struct {
	path       string
	start, end int64
	header     [][]byte // the CSV header's fields, for a range after the first
	once       sync.Once
	lines      int64 // newlines before start, counted on the first error
}

// lineBase turns line l, counted from the range's start (1-based), into
// the file's line number. Counting the newlines before the range costs a
// read of them, so it is done only when an error needs it.
func (t *textRange) lineBase(l int64) int64 {
	if t == nil || t.start == 0 {
		return l
	}
	t.once.Do(func() { t.lines = countNewlines(t.path, t.start) })
	return l + t.lines
}

func countNewlines(path string, upTo int64) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	r := io.LimitReader(f, upTo)
	for {
		k, err := r.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err != nil {
			return n
		}
	}
}

func (m *morsel) textRange() *textRange {
	if m == nil {
		return nil
	}
	return m.text
}

// limitParquet makes a Parquet reader read only the morsel's row groups.
func (m *morsel) limitParquet(pr *parquetReader) {
	if m == nil || m.rgHi == 0 {
		return
	}
	pr.rg, pr.rgEnd = m.rgLo, m.rgHi
	pr.rowLo, pr.rowHi = m.rowLo, m.rowHi
}

// String names the piece in errors.
func (m *morsel) String() string {
	switch {
	case m.text != nil:
		return fmt.Sprintf("%s bytes %d-%d", m.path, m.text.start, m.text.end)
	case m.rowHi > 0:
		return fmt.Sprintf("%s row group %d rows %d-%d", m.path, m.rgLo, m.rowLo, m.rowHi-1)
	case m.rgHi > 0:
		return fmt.Sprintf("%s row groups %d-%d", m.path, m.rgLo, m.rgHi-1)
	}
	return m.path
}

// RelativeOffsets implements exec.ResumableMorsel: the piece's reader
// counts the data rows of its file it consumed, bad ones included, from
// the piece's start; Parquet runs and text ranges split at record
// boundaries, so the pieces' counts add up to a sequential scan's.
func (*morsel) RelativeOffsets() {}

// Open reads the piece as a Reader over its one file.
func (m *morsel) Open(ctx context.Context, mem memory.Allocator) (exec.SourceReader, error) {
	rd, err := m.src.open(mem, m.spec, nil)
	if err != nil {
		return nil, err
	}
	rd.morsel = m
	return rd, nil
}

// files lists the files the reader reads: the morsel's one, or all.
func (r *Reader) files() []string {
	if r.morsel != nil {
		return []string{r.morsel.path}
	}
	return r.list
}

// Morsels implements exec.MorselSource: every file of the source in
// order, split further into runs of Parquet row groups of about
// spec.MorselBytes (uncompressed bytes of the columns read, as the footer
// reports them), a large row group into ranges of its rows (see
// parquetRuns), and into byte ranges of about spec.MorselBytes for CSV and JSON lines, each
// ending just after a newline. The scan's tail is cut finer (tailPiece):
// workers take morsels in order as they come free, so they finish
// within one morsel of each other, and small last morsels make that
// little (a 10-row-group file read by two workers left one idle for
// half a row group: 1.9× at most). A scan resuming from offsets
// (spec.From) is split only by file.
//
// A CSV file that contains a quote character anywhere is one morsel: a
// quoted field may hold newlines, and telling a newline inside quotes
// from a record's end takes a sequential pass over everything before it,
// which would cost about what a parallel parse saves. Without any quote
// every newline ends a record, so any newline is a safe boundary. JSON
// lines cannot hold a raw newline inside a value, so they always split.
func (s *Source) Morsels(ctx context.Context, spec exec.ScanSpec) ([]exec.Morsel, error) {
	target := spec.MorselBytes
	if target <= 0 {
		target = exec.DefaultMorselBytes
	}
	var out []exec.Morsel
	add := func(m *morsel) { m.src, m.spec = s, spec; out = append(out, m) }
	files, err := s.list()
	if err != nil {
		return nil, err
	}
	for fi, path := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		last := fi == len(files)-1
		// A file's morsels cover all of it, however it is split.
		if err := s.expectProgress(spec.Progress, path); err != nil {
			return nil, err
		}
		if spec.From != nil {
			add(&morsel{path: path})
			continue
		}
		switch s.opts.Format {
		case FormatParquet:
			runs, err := s.parquetRuns(path, spec.Columns, target, last)
			if err != nil {
				return nil, err
			}
			for _, r := range runs {
				add(&morsel{path: path, rgLo: r.rgLo, rgHi: r.rgHi, rowLo: r.rowLo, rowHi: r.rowHi})
			}
		default:
			ranges, err := s.textRanges(path, target, last)
			if err != nil {
				return nil, err
			}
			if ranges == nil {
				add(&morsel{path: path})
			}
			for _, r := range ranges {
				add(&morsel{path: path, text: r})
			}
		}
	}
	return out, nil
}

// pqRun is one Parquet morsel: row groups [rgLo, rgHi), or rows [rowLo,
// rowHi) of row group rgLo (then rgHi = rgLo+1).
type pqRun struct {
	rgLo, rgHi   int
	rowLo, rowHi int64
}

// parquetRuns splits a file into morsels of about target bytes of the
// columns read (cols, schema indices; nil: all), uncompressed as the
// footer reports them. Consecutive small row groups join one run. A row
// group of more than 1.5 × target whose read columns all carry an offset
// index splits into about size/target ranges of its rows, cut at page
// starts of its largest read column, so each worker starts its columns at
// a page (seekable) instead of decoding its way there; a writer's row
// group is often far larger than a morsel (Spark: 128 MB, the sink and
// parquet-go: 1M rows), and a file of a few row groups would otherwise
// keep some cores idle. Only the footer and the offset index of one
// column per split row group are read.
func (s *Source) parquetRuns(path string, cols []int, target int64, tail bool) ([]pqRun, error) {
	f, pf, err := openParquetFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var leaves []int
	if all, err := matchColumns(path, fileColumns(pf), s.schema); err == nil {
		if cols == nil {
			for i := range all {
				leaves = append(leaves, all[i].leaf)
			}
		}
		for _, c := range cols {
			if c >= 0 && c < len(all) {
				leaves = append(leaves, all[c].leaf)
			}
		}
	}
	var runs []pqRun
	lo, size := 0, int64(0)
	md := pf.Metadata()
	groups := pf.RowGroups()
	// The bytes read of each row group, and of the row groups after it.
	type groupSize struct {
		size, after int64
		heaviest    int
		indexed     bool
	}
	sizes := make([]groupSize, len(md.RowGroups))
	for i, g := range md.RowGroups {
		gsize, heaviest, indexed := g.TotalByteSize, -1, len(leaves) > 0
		if len(leaves) > 0 {
			gsize = 0
			for _, leaf := range leaves {
				if leaf >= len(g.Columns) {
					indexed = false
					continue
				}
				cm := &g.Columns[leaf]
				gsize += cm.MetaData.TotalUncompressedSize
				if heaviest < 0 || cm.MetaData.TotalUncompressedSize > g.Columns[heaviest].MetaData.TotalUncompressedSize {
					heaviest = leaf
				}
				indexed = indexed && cm.OffsetIndexOffset > 0
			}
		}
		sizes[i] = groupSize{size: gsize, heaviest: heaviest, indexed: indexed}
	}
	for i := len(sizes) - 2; i >= 0; i-- {
		sizes[i].after = addClaims(sizes[i+1].after, sizes[i+1].size)
	}
	for i, g := range md.RowGroups {
		gsize, heaviest, indexed := sizes[i].size, sizes[i].heaviest, sizes[i].indexed
		piece := target
		if tail {
			piece = tailPiece(target, addClaims(sizes[i].after, gsize))
		}
		if indexed && heaviest >= 0 && gsize > piece+piece/2 && g.NumRows > 1 && i < len(groups) {
			if cuts := rowCuts(groups[i], &g.Columns[heaviest], heaviest, g.NumRows, int(min(gsize/piece, g.NumRows)), pf.Size()); len(cuts) > 0 {
				if size > 0 {
					runs = append(runs, pqRun{rgLo: lo, rgHi: i})
				}
				prev := int64(0)
				for _, c := range append(cuts, g.NumRows) {
					runs = append(runs, pqRun{rgLo: i, rgHi: i + 1, rowLo: prev, rowHi: c})
					prev = c
				}
				lo, size = i+1, 0
				continue
			}
		}
		size += gsize
		if size >= piece || i == len(md.RowGroups)-1 {
			runs = append(runs, pqRun{rgLo: lo, rgHi: i + 1})
			lo, size = i+1, 0
		}
	}
	if len(runs) == 0 { // no row groups: one morsel reads nothing
		runs = append(runs, pqRun{})
	}
	return runs, nil
}

// rowCuts returns the inner boundaries (strictly increasing, inside (0,
// rows)) that cut a row group of rows into k ranges of about equal rows,
// each moved to the nearest page start of column leaf as its offset index
// gives them; nil when the index cannot be read or no cut is left.
func rowCuts(g parquet.RowGroup, md *pqformat.ColumnChunk, leaf int, rows int64, k int, fileSize int64) []int64 {
	chunks := g.ColumnChunks()
	if k < 2 || leaf >= len(chunks) {
		return nil
	}
	oi := offsetIndex(chunks[leaf], md, fileSize)
	if oi == nil || oi.NumPages() < 2 {
		return nil
	}
	// The footer's sizes and row count are claims: k, derived from them,
	// is bounded by the pages there are to cut at, and each cut is found
	// by a binary search among the sorted page starts, so a corrupt
	// footer claiming exabytes costs no more than the index it has
	// (a loop over k × pages ran for hours).
	var starts []int64
	for p := range oi.NumPages() {
		if r := oi.FirstRowIndex(p); r > 0 && r < rows {
			starts = append(starts, r)
		}
	}
	slices.Sort(starts)
	starts = slices.Compact(starts)
	k = min(k, len(starts)+1)
	var cuts []int64
	for j := 1; j < k; j++ {
		// rows·j/k in 128 bits: a claimed rows near 2^63 overflows int64
		// (j < k keeps the quotient below rows).
		hi, lo := bits.Mul64(uint64(rows), uint64(j))
		q, _ := bits.Div64(hi, lo, uint64(k))
		want := int64(q)
		i, _ := slices.BinarySearch(starts, want)
		best := int64(-1)
		for _, c := range []int{i - 1, i} {
			if c >= 0 && c < len(starts) && (best < 0 || abs64(starts[c]-want) < abs64(best-want)) {
				best = starts[c]
			}
		}
		if best > 0 && (len(cuts) == 0 || best > cuts[len(cuts)-1]) {
			cuts = append(cuts, best)
		}
	}
	return cuts
}

// tailPiece is the morsel size for a part of a scan that starts left
// bytes before the scan's end: target, but half of it within the last
// two targets and a quarter within the last one, so the last morsels the
// workers take are small and they finish close together. It depends on
// the data and target alone, never on the workers (exec.MorselSource).
func tailPiece(target, left int64) int64 {
	switch {
	case left < target:
		return max(target/4, 1)
	case left < 2*target:
		return max(target/2, 1)
	}
	return target
}

// addClaims adds two sizes a footer claims, negative ones as 0,
// saturating instead of overflowing (a corrupt footer may claim 2^63).
func addClaims(a, b int64) int64 {
	a, b = max(a, 0), max(b, 0)
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// textRanges splits a CSV or JSON-lines file into ranges of about target
// bytes at newlines, the last file of a scan (tail) finer at its end
// (tailPiece); nil means read it whole.
func (s *Source) textRanges(path string, target int64, tail bool) ([]*textRange, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("file connector: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("file connector: %w", err)
	}
	size := st.Size()
	if size <= target || !st.Mode().IsRegular() {
		return nil, nil
	}
	csv := s.opts.Format == FormatCSV
	if csv {
		quoted, err := hasQuote(f, st)
		if err != nil {
			return nil, fmt.Errorf("file connector: %s: %w", path, err)
		}
		if quoted {
			return nil, nil
		}
	}
	var header [][]byte
	if csv && s.opts.CSV.Header {
		if header, err = csvHeader(f, byte(s.opts.CSV.Delimiter)); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	var out []*textRange
	start := int64(0)
	buf := make([]byte, 64<<10)
	for start < size {
		end, step := size, target
		if tail {
			step = tailPiece(target, size-start)
		}
		if pos := start + step; pos < size {
			nl, err := nextNewline(f, pos, buf)
			if err != nil {
				return nil, fmt.Errorf("file connector: %s: %w", path, err)
			}
			if nl >= 0 {
				end = nl + 1
			}
		}
		out = append(out, &textRange{path: path, start: start, end: end, header: header})
		start = end
	}
	return out, nil
}

// nextNewline returns the offset of the first '\n' at or after pos, or -1.
func nextNewline(f *os.File, pos int64, buf []byte) (int64, error) {
	for {
		n, err := f.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i), nil
		}
		pos += int64(n)
		if errors.Is(err, io.EOF) {
			return -1, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// csvHeader reads the fields of the file's first record (which has no
// quotes: the caller checked the whole file).
func csvHeader(f *os.File, delim byte) ([][]byte, error) {
	buf := make([]byte, 64<<10)
	nl, err := nextNewline(f, 0, buf)
	if err != nil {
		return nil, err
	}
	if nl < 0 {
		return nil, fmt.Errorf("header line has no end")
	}
	line := make([]byte, nl+1)
	if _, err := f.ReadAt(line, 0); err != nil {
		return nil, err
	}
	fields, _, _, _, _, err := format.NewCSVSplitter(delim).Split(line, true)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(fields))
	for i, fl := range fields {
		out[i] = append([]byte(nil), fl...)
	}
	return out, nil
}

// quoteCache remembers whether a CSV file holds a quote, by path, size
// and modification time, so repeated queries over an unchanged file do
// not read it twice each.
var quoteCache sync.Map // quoteKey → bool

type quoteKey struct {
	path  string
	size  int64
	mtime int64
}

func hasQuote(f *os.File, st os.FileInfo) (bool, error) {
	key := quoteKey{f.Name(), st.Size(), st.ModTime().UnixNano()}
	if q, ok := quoteCache.Load(key); ok {
		return q.(bool), nil
	}
	q, err := containsByte(f, st.Size(), '"')
	if err == nil {
		quoteCache.Store(key, q)
	}
	return q, err
}

// containsByte reports whether the file holds b, reading it with one
// goroutine per available core so the check costs little wall time next
// to the parallel parse it enables.
func containsByte(f *os.File, size int64, b byte) (bool, error) {
	workers := max(min(runtime.GOMAXPROCS(0), int(size>>20)), 1)
	per := (size + int64(workers) - 1) / int64(workers)
	var found atomic.Bool
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for pos, end := int64(w)*per, min(int64(w+1)*per, size); pos < end && !found.Load(); {
				n, err := f.ReadAt(buf[:min(int64(len(buf)), end-pos)], pos)
				if bytes.IndexByte(buf[:n], b) >= 0 {
					found.Store(true)
					return
				}
				pos += int64(n)
				if err != nil && !errors.Is(err, io.EOF) {
					errs[w] = err
					return
				}
				if n == 0 {
					return
				}
			}
		}()
	}
	wg.Wait()
	return found.Load(), errors.Join(errs...)
}
