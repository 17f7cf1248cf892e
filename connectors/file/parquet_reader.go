package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// pqKind is how a Parquet leaf column converts to Arrow.
type pqKind uint8

const (
	pqInt64 pqKind = iota
	pqInt32
	pqDouble
	pqFloat
	pqBool
	pqString
	pqTimestamp
	pqDate
	pqDecimal
	pqInterval
)

// pqCol is one top-level leaf column of a Parquet file.
type pqCol struct {
	name   string
	leaf   int // leaf column index in the row groups
	kind   pqKind
	phys   parquet.Kind
	typ    arrow.DataType
	maxDef int
	tsMul  int64 // file unit → microseconds: multiply (>0) or divide (<0)
	scale  int32
	// A list column (parquet_list.go): typ is a list of the element
	// type, kind and the rest describe the element leaf; repDef is the
	// definition level of the repeated node (an element's least).
	list   bool
	repDef int
}

func openParquetFile(path string) (*os.File, *parquet.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("file connector: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("file connector: %w", err)
	}
	pf, err := openFooter(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a readable parquet file: %w", path, err)
	}
	return f, pf, nil
}

// openFooter reads the file's footer; parquet-go panics on some corrupt
// schemas (a FIXED_LEN_BYTE_ARRAY decimal without a length), which is
// an error here.
func openFooter(f *os.File, size int64) (pf *parquet.File, err error) {
	if err := checkFooter(f, size); err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			pf, err = nil, fmt.Errorf("corrupt footer: %v", p)
		}
	}()
	return parquet.OpenFile(f, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

// checkFooter checks the footer's claims against the file before
// parquet-go trusts them: it allocates the footer length the last bytes
// claim (up to 4 GiB for a file of a few bytes) and then every length and
// count inside the footer (thriftCheck).
func checkFooter(r io.ReaderAt, size int64) error {
	const magic = "PAR1"
	if size < 2*int64(len(magic))+4 {
		return fmt.Errorf("%d bytes are too few for a parquet file", size)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("reading the footer: %w", err)
	}
	if string(tail[4:]) != magic {
		return fmt.Errorf("no %s magic at the end of the file (encrypted footers are not supported)", magic)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n > size-8-int64(len(magic)) {
		return fmt.Errorf("the footer claims %d bytes, the file has %d", n, size)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return fmt.Errorf("reading the footer: %w", err)
	}
	if _, err := thriftCheck(footer); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("a length or count reaches past its end")
		}
		return fmt.Errorf("corrupt footer: %w", err)
	}
	return nil
}

// fileColumns maps the file's flat leaf columns to Arrow types; nested
// columns are left out (they are not supported yet).
func fileColumns(pf *parquet.File) []pqCol {
	// The physical types the footer declares, by leaf index: parquet-go
	// derives a column's kind from its logical type alone (a DATE is INT32
	// whatever the file says), so a corrupt footer pairing them wrongly
	// would decode the pages as the wrong type.
	var declared []parquet.Kind
	for _, e := range pf.Metadata().Schema {
		if e.Type.Valid {
			declared = append(declared, parquet.Kind(e.Type.V))
		}
	}
	var cols []pqCol
	for _, c := range pf.Root().Columns() {
		if !c.Leaf() || c.Repeated() {
			if pc, ok := listColumn(c, declared); ok {
				cols = append(cols, pc)
			}
			continue
		}
		pc := pqCol{name: c.Name(), leaf: c.Index(), maxDef: c.MaxDefinitionLevel(), phys: c.Type().Kind()}
		if leafType(&pc, c, declared) {
			cols = append(cols, pc)
		}
	}
	return cols
}

// leafType sets pc's kind and Arrow type from leaf column c's physical
// and logical types; false when sluice does not read them.
func leafType(pc *pqCol, c *parquet.Column, declared []parquet.Kind) bool {
	if pc.leaf >= len(declared) || declared[pc.leaf] != pc.phys {
		return false
	}
	lt := c.Type().LogicalType()
	var lv pqformat.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	ok := true
	switch l := lv.(type) {
	case *pqformat.TimestampType:
		pc.kind, pc.typ = pqTimestamp, format.TimestampType
		switch l.Unit.Value.(type) {
		case *pqformat.MilliSeconds:
			pc.tsMul = 1000
		case *pqformat.NanoSeconds:
			pc.tsMul = -1000
		default:
			pc.tsMul = 1
		}
	case *pqformat.DateType:
		pc.kind, pc.typ = pqDate, arrow.FixedWidthTypes.Date32
	case *pqformat.DecimalType:
		pc.kind, pc.scale = pqDecimal, l.Scale
		pc.typ = &arrow.Decimal128Type{Precision: l.Precision, Scale: l.Scale}
	default:
		switch pc.phys {
		case parquet.Int64:
			pc.kind, pc.typ = pqInt64, arrow.PrimitiveTypes.Int64
		case parquet.Int32:
			pc.kind, pc.typ = pqInt32, arrow.PrimitiveTypes.Int32
		case parquet.Double:
			pc.kind, pc.typ = pqDouble, arrow.PrimitiveTypes.Float64
		case parquet.Float:
			pc.kind, pc.typ = pqFloat, arrow.PrimitiveTypes.Float64
		case parquet.Boolean:
			pc.kind, pc.typ = pqBool, arrow.FixedWidthTypes.Boolean
		case parquet.ByteArray:
			pc.kind, pc.typ = pqString, arrow.BinaryTypes.String
		case parquet.FixedLenByteArray:
			// INTERVAL has a converted type only (no logical type).
			ct := c.Type().ConvertedType()
			ok = ct != nil && *ct == deprecated.Interval && c.Type().Length() == 12
			pc.kind, pc.typ = pqInterval, arrow.FixedWidthTypes.MonthDayNanoInterval
		default:
			ok = false
		}
	}
	// The logical type must fit the physical one: a corrupt footer may
	// pair them freely, and reading a page through the wrong typed
	// accessor panics in parquet-go.
	switch pc.kind {
	case pqDecimal:
		ok = ok && (pc.phys == parquet.Int32 || pc.phys == parquet.Int64 ||
			pc.phys == parquet.FixedLenByteArray || pc.phys == parquet.ByteArray)
	case pqTimestamp:
		ok = ok && pc.phys == parquet.Int64
	case pqDate:
		ok = ok && pc.phys == parquet.Int32
	}
	return ok
}

func inferParquet(path string) (*arrow.Schema, error) {
	f, pf, err := openParquetFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cols := fileColumns(pf)
	if len(cols) == 0 {
		return nil, fmt.Errorf("%s: no readable columns", path)
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// parquetColumns matches the schema's columns to the file's by name
// (case-insensitive); the types must agree.
func parquetColumns(path string, schema *arrow.Schema) ([]pqCol, error) {
	f, pf, err := openParquetFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return matchColumns(path, fileColumns(pf), schema)
}

func matchColumns(path string, have []pqCol, schema *arrow.Schema) ([]pqCol, error) {
	out := make([]pqCol, schema.NumFields())
	for i, fld := range schema.Fields() {
		found := false
		for _, c := range have {
			if strings.EqualFold(c.name, fld.Name) {
				if !arrow.TypeEqual(c.typ, fld.Type) {
					return nil, fmt.Errorf("%s: column %q is %s in the file, not %s", path, fld.Name, format.SQLTypeName(c.typ), format.SQLTypeName(fld.Type))
				}
				out[i], found = c, true
				break
			}
		}
		if !found {
			names := make([]string, len(have))
			for j, c := range have {
				names[j] = c.name
			}
			return nil, fmt.Errorf("%s: column %q is not in the file, whose columns are (%s)", path, fld.Name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

type parquetReader struct {
	mem     memory.Allocator
	path    string
	f       *os.File
	pf      *parquet.File
	version chunkID // the file's path, size and modification time (pageWalks)
	all     []pqCol // by schema column
	cols    []int   // schema columns to read
	out     *arrow.Schema
	filters []exec.Predicate
	batch   int
	skip    int64
	rg      int             // next row group
	rgEnd   int             // row groups from rgEnd on are not read (a morsel's end); 0: all
	rowLo   int64           // a morsel inside one row group: its rows [rowLo, rowHi) of row group rg
	rowHi   int64           // 0: whole row groups
	curs    []*colCursor    // current row group's columns, by output column
	left    int64           // rows of the current row group not returned yet
	bld     []array.Builder // by output column, reused across batches
	rows    int64           // rows consumed
	st      Stats
	dict    []bool             // by output column: keep dictionary-encoded strings
	at      int                // output column being decoded, for position; -1: none
	onError format.ErrorPolicy // for rows breaking a column's declared rule
	ruled   []int              // output columns with a declared rule; nil until the first batch

	// progress counts the rows read or skipped (exec.ProgressRows); may
	// be nil.
	progress *exec.ScanProgress

	// Late materialisation (parquet_prune.go).
	bound   *exec.TopNBound // a top-N's cut-off; nil: none
	noPrune bool            // a projected column has a declared rule
	preds   []prunePred
	pstats  [][]pageStats // by output column: page statistics, when read
	pread   []bool        // by output column: pstats read for this row group
	pos     int64         // row group row of the next row
	keep    []bool
	sel     []int32
	mixed   *arrow.Schema // the last batch schema with dictionary columns (batchSchema)
}

func openParquet(mem memory.Allocator, path string, schema *arrow.Schema, spec exec.ScanSpec, skip int64, onError format.ErrorPolicy) (*parquetReader, error) {
	f, pf, err := openParquetFile(path)
	if err != nil {
		return nil, err
	}
	all, err := matchColumns(path, fileColumns(pf), schema)
	if err != nil {
		f.Close()
		return nil, err
	}
	fields := make([]arrow.Field, len(spec.Columns))
	for i, c := range spec.Columns {
		fields[i] = schema.Field(c)
	}
	// Without a modification time the file's page walks are not shared
	// (version.mtime stays 0, which checkChunk takes as "do not cache").
	version := chunkID{path: path, size: pf.Size()}
	if st, err := f.Stat(); err == nil {
		version.mtime = st.ModTime().UnixNano()
	}
	r := &parquetReader{mem: mem, path: path, f: f, pf: pf, version: version, all: all, cols: spec.Columns,
		out: arrow.NewSchema(fields, nil), filters: spec.Filters, batch: spec.BatchSize, skip: skip, at: -1, progress: spec.Progress, onError: onError,
		bound: spec.Bound}
	for _, fld := range fields {
		if exec.Constrained(fld) {
			r.noPrune = true
		}
	}
	return r, nil
}

// next returns the next batch of the current row group, moving to the
// next row group (skipping those the statistics rule out) when it is used
// up. Batches never span row groups.
func (r *parquetReader) next(ctx context.Context) (arrow.Record, error) {
	for {
		rec, err := r.nextBatch(ctx)
		if rec != nil || err != nil {
			return rec, err
		}
	}
}

// nextBatch is next, or nil when every row it looked at was pruned.
func (r *parquetReader) nextBatch(ctx context.Context) (arrow.Record, error) {
	for r.left == 0 {
		r.closeGroup()
		groups := r.pf.RowGroups()
		if r.rg >= len(groups) || (r.rgEnd > 0 && r.rg >= r.rgEnd) {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g := groups[r.rg]
		r.rg++
		n := g.NumRows()
		if r.skip >= n {
			r.skip -= n
			r.rows += n
			continue
		}
		if r.canSkip(r.rg-1, g) {
			r.st.RowGroupsSkipped++
			r.progress.Advance(exec.ProgressRows, r.rangeRows(n))
			// A morsel counts only its own rows, so the morsels' counts
			// add up to the file's (exec.ResumableMorsel).
			r.rows += r.rangeRows(n)
			continue
		}
		if err := r.openGroup(g); err != nil {
			return nil, err
		}
		if r.rowHi > 0 {
			if err := r.limitGroup(g); err != nil {
				return nil, err
			}
		}
		r.st.RowGroupsRead++
	}
	preds := r.prunePreds()
	if d := r.deadRows(preds, r.pos, r.pos+r.left); d > 0 {
		// Rows the page statistics rule out: every column passes over
		// them, whole pages unread.
		for i, cur := range r.curs {
			r.at = i
			if err := cur.skipRows(d); err != nil {
				return nil, r.colErr(i, err)
			}
		}
		r.at = -1
		r.st.RowsPruned += d
		r.advance(d)
		return nil, nil
	}
	k := int(min(r.left, int64(r.batch)))
	rec, err := r.readBatch(ctx, k, preds)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		r.advance(int64(k))
		return nil, nil
	}
	// The rules name rows by r.rows: the batch's first row (a batch
	// with declared rules is never pruned, see prunePreds).
	if rec, err = r.checkRules(ctx, rec); err != nil {
		return nil, err
	}
	r.advance(int64(k))
	return rec, nil
}

// advance moves past n rows of the current row group.
func (r *parquetReader) advance(n int64) {
	r.left -= n
	r.rows += n
	r.pos += n
	r.progress.Advance(exec.ProgressRows, n)
}

// rangeRows is how many of a row group's n rows the reader covers: the
// morsel's row range within it, or all n.
func (r *parquetReader) rangeRows(n int64) int64 {
	if r.rowHi > 0 {
		return max(0, min(r.rowHi, n)-r.rowLo)
	}
	return n
}

// checkRules applies the columns' declared NOT NULL and UNSIGNED rules
// (exec.ConstraintChecker) to a batch starting at file row r.rows: the
// first bad row fails the scan, naming the file and row, or under
// on_error skip or null every bad row is dropped and counted.
func (r *parquetReader) checkRules(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
	if r.ruled == nil {
		r.ruled = []int{} // found once per reader: most columns carry no rule
		for i, f := range r.out.Fields() {
			if exec.Constrained(f) {
				r.ruled = append(r.ruled, i)
			}
		}
	}
	var bad []bool
	for _, i := range r.ruled {
		f, a := r.out.Field(i), rec.Column(i)
		for row, reason := exec.Violation(f, a, 0); row >= 0; row, reason = exec.Violation(f, a, row+1) {
			if r.onError == format.OnErrorFail {
				rec.Release()
				return nil, fmt.Errorf("%s: row %d: column %q %s", r.path, r.rows+int64(row)+1, f.Name, reason)
			}
			if bad == nil {
				bad = make([]bool, rec.NumRows())
			}
			bad[row] = true
		}
	}
	if bad == nil {
		return rec, nil
	}
	keep := make([]int32, 0, len(bad))
	for row, b := range bad {
		if !b {
			keep = append(keep, int32(row))
		}
	}
	r.st.Skipped += int64(len(bad) - len(keep))
	out, err := exec.TakeRecord(ctx, r.mem, rec, keep)
	rec.Release()
	return out, err
}

// openGroup starts reading the projected column chunks of a row group,
// passing over the rows still to skip.
func (r *parquetReader) openGroup(g parquet.RowGroup) error {
	chunks := g.ColumnChunks()
	r.curs = make([]*colCursor, len(r.cols))
	for i, c := range r.cols {
		pc := &r.all[c]
		locs, err := r.checkChunk(pc)
		if err != nil {
			r.curs = r.curs[:i]
			return err
		}
		keep := i < len(r.dict) && r.dict[i]
		r.curs[i] = newColCursor(chunks[pc.leaf], pc, keep)
		r.curs[i].locs = locs
		r.curs[i].md, r.curs[i].fileSize = &r.pf.Metadata().RowGroups[r.rg-1].Columns[pc.leaf], r.pf.Size()
	}
	r.pstats, r.pread, r.pos = nil, nil, 0
	r.left = g.NumRows()
	if r.skip > 0 {
		for i, cur := range r.curs {
			r.at = i
			if err := cur.skip(int(r.skip)); err != nil {
				return r.colErr(i, err)
			}
		}
		r.at = -1
		r.left -= r.skip
		r.rows += r.skip
		r.pos = r.skip
		r.skip = 0
	}
	return nil
}

// limitGroup narrows the row group just opened to the morsel's rows
// [rowLo, rowHi): each column starts at the page holding rowLo through
// the chunk's offset index when it agrees with the page headers
// (seekable), else by decoding the rows before it.
func (r *parquetReader) limitGroup(g parquet.RowGroup) error {
	lo, hi := r.rowLo, min(r.rowHi, g.NumRows())
	if lo >= hi {
		r.left = 0
		return nil
	}
	chunks := g.ColumnChunks()
	md := r.pf.Metadata().RowGroups[r.rg-1].Columns
	for i, cur := range r.curs {
		r.at = i
		leaf := cur.pc.leaf
		if err := cur.seek(lo, chunks[leaf], &md[leaf], r.pf.Size()); err != nil {
			return r.colErr(i, err)
		}
	}
	r.at = -1
	r.left = hi - lo
	r.pos = lo
	return nil
}

func (r *parquetReader) colErr(i int, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("column chunk ends before its row group's %d rows: %w", r.left, err)
	}
	r.at = i
	defer func() { r.at = -1 }()
	return fmt.Errorf("%s: %w", r.position(), err)
}

// position names the file, and while a column chunk is being decoded the
// row group (0-based, as parquet tools number them), column and page
// (1-based).
func (r *parquetReader) position() string {
	if r.at < 0 || r.at >= len(r.curs) {
		if r.curs != nil {
			return fmt.Sprintf("%s: row group %d", r.path, r.rg-1)
		}
		return r.path
	}
	c := r.curs[r.at]
	return fmt.Sprintf("%s: row group %d, column %q, page %d", r.path, r.rg-1, c.pc.name, c.pageNo)
}

// closeGroup releases the current row group's pages.
func (r *parquetReader) closeGroup() {
	for _, c := range r.curs {
		_ = c.close()
	}
	r.curs = nil
	r.left = 0
}

// checkChunk validates the page headers of the current row group's chunk
// of column pc before parquet-go trusts them (checkPages) and returns
// where its data pages are.
func (r *parquetReader) checkChunk(pc *pqCol) ([]pageLoc, error) {
	groups := r.pf.Metadata().RowGroups
	if r.rg-1 >= len(groups) || pc.leaf >= len(groups[r.rg-1].Columns) {
		return nil, fmt.Errorf("%s: row group %d has no column chunk for column %q", r.path, r.rg-1, pc.name)
	}
	g := &groups[r.rg-1]
	md := &g.Columns[pc.leaf].MetaData
	var locs []pageLoc
	var err error
	if r.version.mtime != 0 {
		id := r.version
		id.rg, id.leaf = r.rg-1, pc.leaf
		locs, err = checkPagesOnce(id, r.f, r.pf.Size(), md, g.NumRows, pc.phys, pc.list)
	} else {
		locs, err = checkPages(r.f, r.pf.Size(), md, g.NumRows, pc.phys, pc.list)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: row group %d, column %q: %w", r.path, r.rg-1, pc.name, err)
	}
	return locs, nil
}

// readBatch decodes the next k rows of every projected column. With
// predicates in force (preds), their columns are decoded first and the
// others only for the rows that may pass them: nil when none may.
func (r *parquetReader) readBatch(ctx context.Context, k int, preds []prunePred) (arrow.Record, error) {
	if r.bld == nil {
		r.bld = make([]array.Builder, len(r.cols))
		for i, c := range r.cols {
			r.bld[i] = array.NewBuilder(r.mem, r.all[c].typ)
		}
	}
	arrs := make([]arrow.Array, len(r.cols))
	defer func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}()
	var sel []int32
	all := true
	if len(preds) > 0 {
		for _, pp := range preds {
			if arrs[pp.out] == nil {
				a, err := r.decode(pp.out, k, nil)
				if err != nil {
					return nil, err
				}
				arrs[pp.out] = a
			}
		}
		sel, all = r.selectRows(arrs, preds, k)
		r.sel = sel
		if len(sel) == 0 {
			for i, cur := range r.curs {
				if arrs[i] == nil {
					r.at = i
					if err := cur.skipRows(int64(k)); err != nil {
						return nil, r.colErr(i, err)
					}
				}
			}
			r.at = -1
			r.st.RowsPruned += int64(k)
			return nil, nil
		}
		if !all {
			r.st.RowsPruned += int64(k - len(sel))
			for _, pp := range preds {
				if a := arrs[pp.out]; a.Len() == k {
					t, err := takeColumn(ctx, r, a, sel)
					if err != nil {
						return nil, err
					}
					a.Release()
					arrs[pp.out] = t
				}
			}
		} else {
			sel = nil
		}
	}
	for i := range r.curs {
		if arrs[i] == nil {
			a, err := r.decode(i, k, sel)
			if err != nil {
				return nil, err
			}
			if sel != nil && a.Len() == k {
				// A dictionary batch is built whole, then cut.
				t, err := takeColumn(ctx, r, a, sel)
				a.Release()
				if err != nil {
					return nil, err
				}
				a = t
			}
			arrs[i] = a
		}
	}
	schema := r.batchSchema(arrs)
	r.at = -1
	n := int64(k)
	if sel != nil {
		n = int64(len(sel))
	}
	return array.NewRecord(schema, arrs, n), nil
}

// decode reads the next k rows of output column i: all of them, or with
// sel those it lists (a dictionary-kept column is returned whole).
func (r *parquetReader) decode(i, k int, sel []int32) (arrow.Array, error) {
	// r.at names the column in errors and in a panic's position, so
	// it is not reset by a defer (which would run before guard's).
	r.at = i
	cur := r.curs[i]
	var a arrow.Array
	var err error
	switch {
	case cur.keep:
		a, err = cur.dictBatch(r.mem, r.bld[i].(*array.StringBuilder), k)
	case sel != nil:
		b := r.bld[i]
		b.Reserve(len(sel))
		if err = cur.appendSelected(b, k, sel); err == nil {
			a = b.NewArray()
		}
	default:
		b := r.bld[i]
		b.Reserve(k)
		if err = cur.appendRows(b, k); err == nil {
			a = b.NewArray()
		}
	}
	if err != nil {
		return nil, r.colErr(i, err)
	}
	return a, nil
}

// growBools is b resized to n, all true.
func growBools(b []bool, n int) []bool {
	if cap(b) < n {
		b = make([]bool, n)
	}
	b = b[:n]
	for i := range b {
		b[i] = true
	}
	return b
}

// batchSchema is the schema of a batch of arrs: the reader's, or with
// dictionary-encoded columns their dictionary types. The last such schema
// is kept and handed out again while the columns' types stay the same
// (every batch of a chunk kept as a dictionary), so a batch costs no new
// schema (a copy of the fields and a name index each, about 3% of a
// group-by's scan).
func (r *parquetReader) batchSchema(arrs []arrow.Array) *arrow.Schema {
	same := func(s *arrow.Schema) bool {
		for i, a := range arrs {
			// Pointer-equal types first: the reader's dictionary arrays
			// all carry dictStringType, and TypeEqual walks types.
			if t := s.Field(i).Type; a.DataType() != t && !arrow.TypeEqual(a.DataType(), t) {
				return false
			}
		}
		return true
	}
	if same(r.out) {
		return r.out
	}
	if r.mixed != nil && same(r.mixed) {
		return r.mixed
	}
	schema := r.out
	for i, a := range arrs {
		if !arrow.TypeEqual(a.DataType(), schema.Field(i).Type) {
			schema = withFieldType(schema, i, a.DataType())
		}
	}
	r.mixed = schema
	return schema
}

// withFieldType is schema with field i's type replaced.
func withFieldType(schema *arrow.Schema, i int, t arrow.DataType) *arrow.Schema {
	fields := append([]arrow.Field(nil), schema.Fields()...)
	fields[i].Type = t
	md := schema.Metadata()
	return arrow.NewSchema(fields, &md)
}

// keepDictionaries marks output columns whose dictionary-encoded string
// chunks are returned as dictionary arrays; it takes effect from the next
// row group.
func (r *parquetReader) keepDictionaries(dict []bool) { r.dict = dict }

func (r *parquetReader) consumed() int64 { return r.rows }
func (r *parquetReader) stats() Stats    { return r.st }

func (r *parquetReader) close() error {
	r.closeGroup()
	for _, b := range r.bld {
		b.Release()
	}
	r.bld = nil
	return r.f.Close()
}

// canSkip reports whether row group rg's statistics prove that no row
// can satisfy one of the pushed-down predicates. The statistics come from
// the footer, which may be corrupt: a min or max of the wrong size for its
// column, NaN, min above max, or a null count outside [0, rows] makes the
// statistics unusable, and then the row group is read (decoding them with
// parquet-go's Kind.Value would panic instead).
func (r *parquetReader) canSkip(rg int, g parquet.RowGroup) bool {
	check := func(p exec.Predicate, nullsPass bool) bool {
		if p.Column < 0 || p.Column >= len(r.all) {
			return false
		}
		pc := &r.all[p.Column]
		if pc.list {
			return false // its statistics and NULL count are its elements'
		}
		st, ok := r.chunkStats(rg, pc, g.NumRows())
		return ok && excludes(pc, st, g.NumRows(), p, nullsPass, false)
	}
	for _, p := range r.filters {
		if check(p, false) {
			return true
		}
	}
	// A top-N's cut-off: its rows would be checked against declared
	// rules otherwise, as a Filter's are not.
	p, ok := r.bound.Predicate()
	return ok && !r.noPrune && r.bound.ByStatistics() && check(p, r.bound.NullsPass())
}

// chunkStats are a column chunk's footer statistics, checked.
type chunkStats struct {
	lo, hi any   // decoded min and max (see statValue); valid when bounds
	bounds bool  // min and max are present and consistent
	nulls  int64 // NULL count, within [0, rows]
}

// chunkStats reads and checks the statistics of pc's chunk in row group
// rg; false when there are none or they are inconsistent.
func (r *parquetReader) chunkStats(rg int, pc *pqCol, rows int64) (chunkStats, bool) {
	md := r.pf.Metadata()
	if rg >= len(md.RowGroups) || pc.leaf >= len(md.RowGroups[rg].Columns) {
		return chunkStats{}, false
	}
	s := &md.RowGroups[rg].Columns[pc.leaf].MetaData.Statistics
	if s.NullCount < 0 || s.NullCount > rows {
		return chunkStats{}, false
	}
	st := chunkStats{nulls: s.NullCount}
	if s.MinValue == nil || s.MaxValue == nil {
		return st, true
	}
	lo, ok1 := statValue(pc, s.MinValue)
	hi, ok2 := statValue(pc, s.MaxValue)
	if !ok1 || !ok2 {
		return chunkStats{}, false
	}
	if c, ok := compareStat(pc, lo, hi); !ok || c > 0 {
		return chunkStats{}, false
	}
	st.lo, st.hi, st.bounds = lo, hi, true
	return st, true
}

// statValue decodes a PLAIN-encoded statistic of pc's physical type as
// int64, float64 or []byte; false when b has the wrong size or is NaN.
func statValue(pc *pqCol, b []byte) (any, bool) {
	switch pc.phys {
	case parquet.Int32:
		if len(b) == 4 {
			return int64(int32(binary.LittleEndian.Uint32(b))), true
		}
	case parquet.Int64:
		if len(b) == 8 {
			return int64(binary.LittleEndian.Uint64(b)), true
		}
	case parquet.Float:
		if len(b) == 4 {
			f := float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			return f, !math.IsNaN(f)
		}
	case parquet.Double:
		if len(b) == 8 {
			f := math.Float64frombits(binary.LittleEndian.Uint64(b))
			return f, !math.IsNaN(f)
		}
	case parquet.ByteArray:
		return b, true
	}
	return nil, false
}

// compareStat compares a decoded statistic (statValue) with a predicate
// value, or with another statistic: -1, 0 or 1, and false when they
// cannot be compared (then nothing is skipped).
func compareStat(pc *pqCol, s any, v any) (int, bool) {
	switch pc.kind {
	case pqInt64, pqInt32:
		a, ok := s.(int64)
		if !ok {
			return 0, false
		}
		switch x := v.(type) {
		case int64:
			return cmpInt(a, x), true
		case float64:
			return cmpFloat(float64(a), x), true
		}
	case pqDouble, pqFloat:
		a, ok := s.(float64)
		if !ok {
			return 0, false
		}
		switch x := v.(type) {
		case float64:
			return cmpFloat(a, x), true
		case int64:
			return cmpFloat(a, float64(x)), true
		}
	case pqString:
		a, ok := s.([]byte)
		if !ok {
			return 0, false
		}
		switch x := v.(type) {
		case string:
			return bytes.Compare(a, []byte(x)), true
		case []byte:
			return bytes.Compare(a, x), true
		}
	case pqTimestamp:
		a, ok := s.(int64)
		if !ok {
			return 0, false
		}
		switch x := v.(type) {
		case arrow.Timestamp:
			return cmpInt(tsMicros(a, pc.tsMul), int64(x)), true
		case int64: // another statistic, in the file's unit
			return cmpInt(a, x), true
		}
	case pqDate:
		a, ok := s.(int64)
		if !ok {
			return 0, false
		}
		switch x := v.(type) {
		case arrow.Date32:
			return cmpInt(a, int64(x)), true
		case int64: // another statistic
			return cmpInt(a, x), true
		}
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func tsMicros(v, mul int64) int64 {
	if mul > 0 {
		return v * mul
	}
	q := v / -mul
	if v%(-mul) < 0 {
		q--
	}
	return q
}

// decimalFromBE converts a big-endian two's complement integer.
func decimalFromBE(b []byte) decimal128.Num {
	var hi, lo uint64
	neg := len(b) > 0 && b[0]&0x80 != 0
	if neg {
		hi, lo = ^uint64(0), ^uint64(0)
	}
	for _, c := range b {
		hi = hi<<8 | lo>>56
		lo = lo<<8 | uint64(c)
	}
	return decimal128.New(int64(hi), lo)
}
