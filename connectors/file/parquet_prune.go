package file

import (
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/exec"
)

// Late materialisation. The pushed-down predicates (ScanSpec.Filters)
// and a top-N's running cut-off (ScanSpec.Bound) prune at three levels:
// row groups (footer statistics, canSkip), pages (the chunk's column
// index: pages whose values all fail are passed over unread through the
// offset index) and rows (the predicate columns of a batch are decoded
// first; the other columns are decoded only for the rows that may pass).
// A predicate only ever drops rows that certainly fail it — the Filter or
// TopN above still decides — so a value it cannot judge (NaN, a type
// pair it does not compare) passes.

// prunePred is a predicate the reader prunes with, on output column out.
type prunePred struct {
	p         exec.Predicate
	out       int  // output column
	nullsPass bool // rows with a NULL key pass (a top-N whose NULLs sort first)
	rowsOnly  bool // statistics may not prune (TopNBound.ByStatistics)
}

// prunePreds are the predicates in force now: the filters on projected
// columns and the top-N's cut-off when it is set. None when a projected
// column has a declared rule: those rows must be checked even when a
// filter would drop them.
func (r *parquetReader) prunePreds() []prunePred {
	if r.noPrune {
		return nil
	}
	r.preds = r.preds[:0]
	add := func(p exec.Predicate, nullsPass, rowsOnly bool) {
		if p.Column >= 0 && p.Column < len(r.all) && r.all[p.Column].list {
			return // a list's statistics and NULL counts are its elements'
		}
		for i, c := range r.cols {
			if c == p.Column {
				r.preds = append(r.preds, prunePred{p: p, out: i, nullsPass: nullsPass, rowsOnly: rowsOnly})
				return
			}
		}
	}
	for _, p := range r.filters {
		add(p, false, false)
	}
	if p, ok := r.bound.Predicate(); ok {
		add(p, r.bound.NullsPass(), !r.bound.ByStatistics())
	}
	return r.preds
}

// excludes reports whether statistics st of rows rows prove that no row
// satisfies p (a NULL passing when nullsPass); allNull says the rows are
// all NULL (a column index's null page).
func excludes(pc *pqCol, st chunkStats, rows int64, p exec.Predicate, nullsPass, allNull bool) bool {
	switch p.Op {
	case "is_null":
		return st.nulls == 0 && st.bounds
	case "is_not_null":
		return allNull || (st.bounds && st.nulls == rows)
	}
	if nullsPass && st.nulls != 0 {
		return false
	}
	if allNull {
		return true // only NULLs, which no comparison keeps
	}
	if !st.bounds || p.Value == nil {
		return false
	}
	if (pc.kind == pqDouble || pc.kind == pqFloat) && (p.Op == "gt" || p.Op == "ge" || p.Op == "ne") {
		// A NaN is above every number (the engine's order, DuckDB's) and
		// writers leave it out of min/max, so no bound proves that no row
		// passes a greater-than or a not-equal.
		return false
	}
	cmpLo, ok1 := compareStat(pc, st.lo, p.Value)
	cmpHi, ok2 := compareStat(pc, st.hi, p.Value)
	if !ok1 || !ok2 {
		return false
	}
	switch p.Op {
	case "eq":
		return cmpLo > 0 || cmpHi < 0
	case "lt":
		return cmpLo >= 0
	case "le":
		return cmpLo > 0
	case "gt":
		return cmpHi <= 0
	case "ge":
		return cmpHi < 0
	case "ne":
		return cmpLo == 0 && cmpHi == 0 && st.nulls == 0
	}
	return false
}

// pageStats are one page's column-index statistics.
type pageStats struct {
	first, rows int64
	st          chunkStats
	allNull     bool
}

// columnIndexBytes bounds a chunk's column index; a footer claiming
// more is corrupt.
const columnIndexBytes = 64 << 20

// pageIndex reads the column index of cursor c's chunk and pairs it with
// the data pages the header walk found; nil when there is none or it is
// unusable (then nothing is pruned by page).
func (r *parquetReader) pageIndex(c *colCursor) []pageStats {
	md := c.md
	if md == nil || md.ColumnIndexOffset <= 0 || md.ColumnIndexLength <= 0 || md.ColumnIndexLength > columnIndexBytes ||
		md.ColumnIndexOffset > r.pf.Size()-int64(md.ColumnIndexLength) {
		return nil
	}
	b := make([]byte, md.ColumnIndexLength)
	if _, err := r.f.ReadAt(b, md.ColumnIndexOffset); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	if _, err := thriftCheck(b); err != nil {
		return nil
	}
	var proto thrift.CompactProtocol
	var ci pqformat.ColumnIndex
	if err := thrift.NewDecoder(proto.NewReaderFromBytes(b)).Decode(&ci); err != nil {
		return nil
	}
	n := len(c.locs)
	if len(ci.NullPages) != n || len(ci.MinValues) != n || len(ci.MaxValues) != n || (len(ci.NullCounts) != 0 && len(ci.NullCounts) != n) {
		return nil
	}
	out := make([]pageStats, n)
	var first int64
	for i, l := range c.locs {
		if l.rows < 0 {
			return nil
		}
		ps := pageStats{first: first, rows: l.rows, st: chunkStats{nulls: -1}}
		if len(ci.NullCounts) == n && ci.NullCounts[i] >= 0 && ci.NullCounts[i] <= l.rows {
			ps.st.nulls = ci.NullCounts[i]
		}
		if ci.NullPages[i] {
			ps.st.nulls, ps.allNull = l.rows, true
		} else if lo, ok1 := statValue(c.pc, ci.MinValues[i]); ok1 {
			if hi, ok2 := statValue(c.pc, ci.MaxValues[i]); ok2 {
				if cmp, ok := compareStat(c.pc, lo, hi); ok && cmp <= 0 {
					ps.st.lo, ps.st.hi, ps.st.bounds = lo, hi, true
				}
			}
		}
		out[i] = ps
		first += l.rows
	}
	return out
}

// deadRows is how many rows from row group row pos on the page
// statistics prove fail a predicate in force.
func (r *parquetReader) deadRows(preds []prunePred, pos, end int64) int64 {
	if len(preds) == 0 {
		return 0
	}
	at := pos
	for moved := true; moved && at < end; {
		moved = false
		for _, pp := range preds {
			if pp.rowsOnly {
				continue
			}
			pages := r.pageStatsOf(pp.out)
			for _, ps := range pages {
				if ps.first+ps.rows <= at || ps.first > at {
					continue
				}
				if excludes(r.curs[pp.out].pc, ps.st, ps.rows, pp.p, pp.nullsPass, ps.allNull) {
					at, moved = ps.first+ps.rows, true
				}
				break
			}
		}
	}
	return min(at, end) - pos
}

// pageStatsOf returns the page statistics of output column i's chunk,
// read once per row group.
func (r *parquetReader) pageStatsOf(i int) []pageStats {
	if r.pstats == nil {
		r.pstats = make([][]pageStats, len(r.curs))
		r.pread = make([]bool, len(r.curs))
	}
	if !r.pread[i] {
		r.pread[i] = true
		r.pstats[i] = r.pageIndex(r.curs[i])
	}
	return r.pstats[i]
}

// keepRows clears keep[i] for the rows of a that certainly fail pp.
func keepRows(a arrow.Array, pp prunePred, keep []bool) {
	p := pp.p
	nullOK := pp.nullsPass
	switch p.Op {
	case "is_null":
		for i := range keep {
			if a.IsValid(i) {
				keep[i] = false
			}
		}
		return
	case "is_not_null":
		nullOK = false
		for i := range keep {
			if a.IsNull(i) {
				keep[i] = false
			}
		}
		return
	}
	fails := opFails(p.Op)
	if fails == nil || !judgeable(a, p.Value) {
		// A value the column cannot be compared with judges no row, not
		// even a NULL one: rows are dropped alike whether a string column
		// is read plain or as a dictionary (FuzzParquet found a dictionary
		// batch dropping the NULLs a plain one kept).
		return
	}
	if d, ok := a.(*array.Dictionary); ok {
		// Judge each dictionary entry once, then every row by its index.
		ix := d.Indices().(*array.Int32)
		dk := make([]bool, d.Dictionary().Len())
		for i := range dk {
			dk[i] = true
		}
		keepRows(d.Dictionary(), prunePred{p: p, nullsPass: nullOK}, dk)
		for i, j := range ix.Int32Values() {
			if d.IsNull(i) {
				keep[i] = keep[i] && nullOK
			} else if j >= 0 && int(j) < len(dk) && !dk[j] {
				keep[i] = false
			}
		}
		return
	}
	switch x := a.(type) {
	case *array.Int64:
		clearFailing(x, x.Int64Values(), p.Value.(int64), p.Op, nullOK, keep)
	case *array.Int32:
		clearFailing(x, x.Int32Values(), p.Value.(int64), p.Op, nullOK, keep)
	case *array.Float64:
		clearFailing(x, x.Float64Values(), p.Value.(float64), p.Op, nullOK, keep)
	case *array.Timestamp:
		clearFailing(x, x.TimestampValues(), int64(p.Value.(arrow.Timestamp)), p.Op, nullOK, keep)
	case *array.Date32:
		clearFailing(x, x.Date32Values(), int64(p.Value.(arrow.Date32)), p.Op, nullOK, keep)
	case *array.String:
		fails := opFails(p.Op)
		v := p.Value.(string)
		for i := range keep {
			if x.IsNull(i) {
				keep[i] = keep[i] && nullOK
				continue
			}
			if fails(strings.Compare(x.Value(i), v)) {
				keep[i] = false
			}
		}
	}
}

// clearFailing clears keep[i] for the rows of a (whose values are vals)
// that certainly fail "value op v", and for NULL rows unless nullOK. The
// comparison is written once per operator as the condition under which a
// row fails, so the loop over a batch is one typed compare per row, not a
// call through a comparator (this loop is most of a selective scan's
// filtering work). A NaN compares false with everything, so it never
// fails here: its order is the operator's to judge.
func clearFailing[T ~int32 | ~int64 | ~float64, V int64 | float64](a arrow.Array, vals []T, v V, op string, nullOK bool, keep []bool) {
	vals = vals[:len(keep)]
	var saved []bool
	if a.NullN() > 0 {
		// NULL slots hold arbitrary values: judge every slot, then set
		// the NULL rows from what keep said before.
		saved = append(saved, keep...)
	}
	switch op {
	case "eq":
		for i, y := range vals {
			if V(y) < v || V(y) > v {
				keep[i] = false
			}
		}
	case "ne":
		for i, y := range vals {
			if V(y) == v {
				keep[i] = false
			}
		}
	case "lt":
		for i, y := range vals {
			if V(y) >= v {
				keep[i] = false
			}
		}
	case "le":
		for i, y := range vals {
			if V(y) > v {
				keep[i] = false
			}
		}
	case "gt":
		for i, y := range vals {
			if V(y) <= v {
				keep[i] = false
			}
		}
	case "ge":
		for i, y := range vals {
			if V(y) < v {
				keep[i] = false
			}
		}
	}
	if saved != nil {
		for i := range keep {
			if a.IsNull(i) {
				keep[i] = saved[i] && nullOK
			}
		}
	}
}

// judgeable reports whether keepRows can compare the values of a with v:
// v is of the column's kind (see exec.Predicate) and not NaN, and a
// timestamp column is in microseconds.
func judgeable(a arrow.Array, v any) bool {
	switch x := a.(type) {
	case *array.Dictionary:
		_, ok := x.Indices().(*array.Int32)
		return ok && judgeable(x.Dictionary(), v)
	case *array.Int64, *array.Int32:
		_, ok := v.(int64)
		return ok
	case *array.Float64:
		f, ok := v.(float64)
		return ok && !math.IsNaN(f)
	case *array.Timestamp:
		_, ok := v.(arrow.Timestamp)
		return ok && x.DataType().(*arrow.TimestampType).Unit == arrow.Microsecond
	case *array.Date32:
		_, ok := v.(arrow.Date32)
		return ok
	case *array.String:
		_, ok := v.(string)
		return ok
	}
	return false
}

// opFails returns, for a comparison operator, whether a value comparing
// c (-1, 0, 1) with the predicate's value fails it.
func opFails(op string) func(c int) bool {
	switch op {
	case "eq":
		return func(c int) bool { return c != 0 }
	case "ne":
		return func(c int) bool { return c == 0 }
	case "lt":
		return func(c int) bool { return c >= 0 }
	case "le":
		return func(c int) bool { return c > 0 }
	case "gt":
		return func(c int) bool { return c <= 0 }
	case "ge":
		return func(c int) bool { return c < 0 }
	}
	return nil
}

// selectRows returns the offsets of the k rows of a batch that may pass
// every predicate, whose columns are decoded in arrs; all reports that
// every row may. A comparison on an integer, timestamp or date column
// without NULLs (the common pushed-down filter) is judged straight into
// the offsets, one range test a row (intRange, selectInRange), the first
// over every row and the next ones over the rows still kept; the others
// go through keepRows, a flag a row, first.
func (r *parquetReader) selectRows(arrs []arrow.Array, preds []prunePred, k int) (sel []int32, all bool) {
	sel = r.sel[:0]
	var ranged []int // preds judged by range
	flagged := false
	for i, pp := range preds {
		if _, _, _, ok := intRange(arrs[pp.out], pp.p); ok {
			ranged = append(ranged, i)
			continue
		}
		if !flagged {
			r.keep, flagged = growBools(r.keep, k), true
		}
		keepRows(arrs[pp.out], pp, r.keep)
	}
	every := true // sel stands for every row
	if flagged {
		if sel, all = selection(r.keep, sel); !all {
			every = false
		}
	}
	for _, i := range ranged {
		pp := preds[i]
		lo, hi, out, _ := intRange(arrs[pp.out], pp.p)
		sel = selectInRange(arrs[pp.out], lo, hi, out, every, sel, k)
		every = false
	}
	if every {
		// No predicate was judged (none in force): every row passes.
		sel = sel[:0]
		for i := range k {
			sel = append(sel, int32(i))
		}
	}
	return sel, len(sel) == k
}

// intRange turns a comparison with an integer, timestamp or date column
// that has no NULLs into the closed range [lo, hi] its passing values
// fill, or with out the range they avoid ("ne"); false for any other
// predicate or column, or when a has NULLs.
func intRange(a arrow.Array, p exec.Predicate) (lo, hi int64, out, ok bool) {
	if a.NullN() > 0 {
		return 0, 0, false, false
	}
	var v int64
	switch a.(type) {
	case *array.Int64, *array.Int32:
		x, isInt := p.Value.(int64)
		if !isInt {
			return 0, 0, false, false
		}
		v = x
	case *array.Timestamp:
		x, isTS := p.Value.(arrow.Timestamp)
		if !isTS || !judgeable(a, p.Value) {
			return 0, 0, false, false
		}
		v = int64(x)
	case *array.Date32:
		x, isDate := p.Value.(arrow.Date32)
		if !isDate {
			return 0, 0, false, false
		}
		v = int64(x)
	default:
		return 0, 0, false, false
	}
	lo, hi = math.MinInt64, math.MaxInt64
	switch p.Op {
	case "eq":
		lo, hi = v, v
	case "ne":
		return v, v, true, true
	case "lt":
		if v == math.MinInt64 {
			return 1, 0, false, true // empty
		}
		hi = v - 1
	case "le":
		hi = v
	case "gt":
		if v == math.MaxInt64 {
			return 1, 0, false, true
		}
		lo = v + 1
	case "ge":
		lo = v
	default:
		return 0, 0, false, false
	}
	return lo, hi, false, true
}

// selectInRange keeps, of the rows listed in sel (every one of the k
// rows when every), those whose value in a (an integer, timestamp or
// date column without NULLs) lies in [lo, hi], or outside it with out.
func selectInRange(a arrow.Array, lo, hi int64, out, every bool, sel []int32, k int) []int32 {
	switch x := a.(type) {
	case *array.Int64:
		return inRange(x.Int64Values()[:k], lo, hi, out, every, sel)
	case *array.Int32:
		return inRange(x.Int32Values()[:k], lo, hi, out, every, sel)
	case *array.Timestamp:
		return inRange(x.TimestampValues()[:k], lo, hi, out, every, sel)
	case *array.Date32:
		return inRange(x.Date32Values()[:k], lo, hi, out, every, sel)
	}
	panic("selectInRange: not an integer column") // intRange admitted it
}

// inRange is selectInRange over typed values. Each row is written to the
// next slot and kept by advancing past it, so the loop has no branch on
// the data (a filter keeping half the rows would mispredict every other).
func inRange[T ~int32 | ~int64](vals []T, lo, hi int64, out, every bool, sel []int32) []int32 {
	// uint64(x-lo) <= uint64(hi-lo) is lo <= x <= hi in one compare.
	width := uint64(hi - lo)
	empty := lo > hi
	if every {
		sel = slices.Grow(sel[:0], len(vals))[:len(vals)]
		n := 0
		for i, y := range vals {
			sel[n] = int32(i)
			in := !empty && uint64(int64(y)-lo) <= width
			if in != out {
				n++
			}
		}
		return sel[:n]
	}
	n := 0
	for _, i := range sel {
		sel[n] = i
		in := !empty && uint64(int64(vals[i])-lo) <= width
		if in != out {
			n++
		}
	}
	return sel[:n]
}

// selection turns keep into the kept row offsets; all reports that
// every row is kept.
func selection(keep []bool, sel []int32) (out []int32, all bool) {
	out = sel[:0]
	for i, k := range keep {
		if k {
			out = append(out, int32(i))
		}
	}
	return out, len(out) == len(keep)
}

// takeColumn is column a cut to the rows sel lists.
func takeColumn(ctx context.Context, r *parquetReader, a arrow.Array, sel []int32) (arrow.Array, error) {
	rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "c", Type: a.DataType(), Nullable: true}}, nil), []arrow.Array{a}, int64(a.Len()))
	defer rec.Release()
	out, err := exec.TakeRecord(ctx, r.mem, rec, sel)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	c := out.Column(0)
	c.Retain()
	return c, nil
}
