package stream

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Changelog passthrough: a changelog record is an ordinary record whose
// column 0 is the int8 op column (exec.OpColumn). Stateless operators need
// no changelog awareness: exec.Filter keeps or drops whole rows, op
// included, and a projection carries the op through when the planner puts
// expr.Column(0) named "op" first in its expression list. Filtering a -U
// and keeping its +U (or the reverse) is still correct for consumers that
// fold by key, because the predicate sees the same key columns on both.

// ResultTable is the materialised result of a changelog: the rows the
// changelog folds to, each with a multiplicity. It backs FoldChangelog and
// the micro-batch driver (update mode and FULL). Rows are identified by
// key columns (an updating result's group key) or, with nil keys, by all
// columns (a multiset, e.g. top-N rows or append-only streams).
type ResultTable struct {
	keys    []int // indices into value columns (op excluded)
	allCols bool
	rows    map[string]*tableRow
	seq     uint64
	buf     []byte
	zero    []string // rows retracted to 0 in the current record; swept after it
}

type tableRow struct {
	key  string  // its key in rows
	vals []Value // rewritten in place by later inserts: copy to keep
	n    int64
	seq  uint64
}

// NewResultTable returns an empty table keyed by keys, column indices of
// the changelog schema (op at 0, so value column j is key j+1 there, as
// exec.SinkMode.Keys gives them). nil keys identify rows by all columns;
// an empty non-nil slice makes the whole result one row (global aggregate).
func NewResultTable(keys []int) *ResultTable {
	t := &ResultTable{rows: map[string]*tableRow{}, allCols: keys == nil}
	for _, k := range keys {
		t.keys = append(t.keys, k-1)
	}
	return t
}

// Apply folds a changelog record (op column first) into the table.
func (t *ResultTable) Apply(rec arrow.Record) error {
	_, err := t.applyRecord(rec, nil)
	return err
}

// applyRecord folds a changelog record row by row, column-wise: the key
// of each row is encoded straight from its arrays (no Values for a
// retraction), and an insert writes its values into the row's slots in
// place, copying a string only when it changed. touched gets the key of
// every row.
func (t *ResultTable) applyRecord(rec arrow.Record, touched func(string)) (int, error) {
	if !IsChangelog(rec.Schema()) {
		return 0, fmt.Errorf("stream: record has no %q column", exec.OpColumn)
	}
	ops, ok := rec.Column(0).(*array.Int8)
	if !ok {
		return 0, fmt.Errorf("stream: %q column is %s, not TINYINT", exec.OpColumn, rec.Column(0).DataType())
	}
	cols := rec.Columns()[1:]
	keyCols := t.keys
	if t.allCols {
		keyCols = make([]int, len(cols))
		for c := range keyCols {
			keyCols[c] = c
		}
	}
	keys := make([]keyAppender, len(keyCols))
	for i, c := range keyCols {
		if c < 0 || c >= len(cols) {
			return 0, fmt.Errorf("stream: changelog key column %d out of range for %d columns", c+1, len(cols))
		}
		a, err := newKeyAppender(cols[c])
		if err != nil {
			return 0, err
		}
		keys[i] = a
	}
	sets := make([]valueSetter, len(cols))
	for c, col := range cols {
		set, err := newValueSetter(col)
		if err != nil {
			return 0, err
		}
		sets[c] = set
	}
	defer t.sweep()
	n := int(rec.NumRows())
	for i := range n {
		t.buf = t.buf[:0]
		for _, k := range keys {
			t.buf, _ = k(t.buf, i)
		}
		r := t.rows[string(t.buf)]
		switch op := exec.Op(ops.Value(i)); op {
		case exec.OpInsert, exec.OpUpdateAfter:
			if r == nil {
				k := string(t.buf)
				t.seq++
				r = &tableRow{key: k, seq: t.seq, vals: make([]Value, len(cols))}
				t.rows[k] = r
			}
			for c, set := range sets {
				set(&r.vals[c], i)
			}
			r.n++
			if !t.allCols && r.n > 1 {
				r.n = 1 // an upsert replaces the keyed row
			}
		case exec.OpUpdateBefore, exec.OpDelete:
			if r == nil || r.n <= 0 {
				vals := make([]Value, len(cols))
				for c, set := range sets {
					set(&vals[c], i)
				}
				return 0, fmt.Errorf("stream: changelog %s of a row not in the result: %v", op, vals)
			}
			r.n--
			if r.n == 0 {
				// Kept until the record ends so that a -U/+U pair keeps the
				// row's position.
				t.zero = append(t.zero, r.key)
			}
		default:
			return 0, fmt.Errorf("stream: unknown changelog op %d", op)
		}
		if touched != nil {
			touched(r.key)
		}
	}
	return n, nil
}

// valueSetter stores row i of an array into *dst, reusing dst's string
// when it holds the same text (a row's slots are rewritten in place).
type valueSetter func(dst *Value, i int)

func newValueSetter(arr arrow.Array) (valueSetter, error) {
	str := func(get func(int) string) valueSetter {
		return func(dst *Value, i int) {
			if arr.IsNull(i) {
				*dst = Value{}
				return
			}
			if s := get(i); dst.K != KString || dst.S != s {
				*dst = Str(strings.Clone(s))
			}
		}
	}
	switch a := arr.(type) {
	case *array.String:
		return str(a.Value), nil
	case *array.LargeString:
		return str(a.Value), nil
	case *array.Binary:
		return str(a.ValueString), nil
	}
	rd, err := reader(arr)
	if err != nil {
		return nil, err
	}
	return func(dst *Value, i int) { *dst = rd(i) }, nil
}

// sweep deletes the rows retracted to zero.
func (t *ResultTable) sweep() {
	for _, k := range t.zero {
		if r := t.rows[k]; r != nil && r.n <= 0 {
			delete(t.rows, k)
		}
	}
	t.zero = t.zero[:0]
}

// Len is the number of rows, multiplicities included.
func (t *ResultTable) Len() int {
	n := 0
	for _, r := range t.rows {
		n += int(r.n)
	}
	return n
}

// Rows returns the table's rows in first-insertion order.
func (t *ResultTable) Rows() [][]Value {
	ordered := make([]*tableRow, 0, len(t.rows))
	for _, r := range t.rows {
		ordered = append(ordered, r)
	}
	sort.Slice(ordered, func(i, j int) bool { return ordered[i].seq < ordered[j].seq })
	var out [][]Value
	for _, r := range ordered {
		for i := int64(0); i < r.n; i++ {
			out = append(out, r.vals)
		}
	}
	return out
}

// Record builds the table as a record of schema (the changelog schema
// without its op column); the caller releases it.
func (t *ResultTable) Record(mem memory.Allocator, schema *arrow.Schema) (arrow.Record, error) {
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	return buildRecord(rb, t.Rows())
}

// Stats reports the table's size.
func (t *ResultTable) Stats() StateStats {
	s := StateStats{Groups: len(t.rows)}
	for k, r := range t.rows {
		s.Bytes += int64(len(k)) + 48
		for _, v := range r.vals {
			s.Bytes += valueBytes(v)
		}
	}
	return s
}

// DropOp returns schema without its leading op column.
func DropOp(schema *arrow.Schema) *arrow.Schema {
	if !IsChangelog(schema) {
		return schema
	}
	return arrow.NewSchema(schema.Fields()[1:], nil)
}

// FoldChangelog folds changelog records (op column first, schema their
// common schema) into the final table they describe, as a record without
// the op column; the caller releases it. Rows are identified by all
// columns, so it checks that every retraction matches an earlier row.
func FoldChangelog(mem memory.Allocator, schema *arrow.Schema, recs []arrow.Record) (arrow.Record, error) {
	t := NewResultTable(nil)
	for _, r := range recs {
		if err := t.Apply(r); err != nil {
			return nil, err
		}
	}
	return t.Record(mem, DropOp(schema))
}

// updateTracker turns an operator's changelog into micro-batch output:
// Spark's update mode (the new row of every key that changed since the
// last trigger, plus deletions) or, with full, the whole result table.
type updateTracker struct {
	mem     memory.Allocator
	schema  *arrow.Schema // changelog schema
	current *ResultTable  // result as of now
	emitted map[string]tableRow
	changed []string
	isChg   map[string]bool
	// undo, when set (rollback), holds each key's emitted image as of
	// the last commit, taken before its first emission since (nil: the
	// key had none).
	undo map[string]*tableRow
}

// committed records that the output emitted so far is committed: there
// is nothing to roll back to before it.
func (u *updateTracker) committed() {
	if u.undo != nil {
		clear(u.undo)
	}
}

// rollback returns the tracker to the last commit, the output since
// having been discarded (its transaction aborted) with the operator
// state that produced it: the current and the emitted result are again
// what that commit covered, and no change waits. Changes emitted since
// would otherwise count as emitted (an update read again after the
// restore compares equal and is never emitted again: lost), and changes
// waiting would be emitted though their input is read again (twice).
func (u *updateTracker) rollback() {
	if u.undo == nil {
		return
	}
	restore := func(k string, img *tableRow) {
		if img == nil {
			delete(u.emitted, k)
			delete(u.current.rows, k)
			return
		}
		u.emitted[k] = tableRow{key: k, vals: append([]Value(nil), img.vals...), n: img.n}
		var seq uint64
		if r := u.current.rows[k]; r != nil {
			seq = r.seq // keeps its place in the result
		} else {
			u.current.seq++
			seq = u.current.seq
		}
		u.current.rows[k] = &tableRow{key: k, vals: append([]Value(nil), img.vals...), n: img.n, seq: seq}
	}
	for k, img := range u.undo {
		restore(k, img)
	}
	for _, k := range u.changed {
		if _, done := u.undo[k]; done {
			continue
		}
		if e, ok := u.emitted[k]; ok {
			restore(k, &e)
		} else {
			restore(k, nil)
		}
	}
	clear(u.undo)
	u.changed = u.changed[:0]
	clear(u.isChg)
}

func newUpdateTracker(mem memory.Allocator, schema *arrow.Schema, keys []int) *updateTracker {
	return &updateTracker{mem: mem, schema: schema, current: NewResultTable(keys),
		emitted: map[string]tableRow{}, isChg: map[string]bool{}}
}

func (u *updateTracker) apply(rec arrow.Record) error {
	_, err := u.current.applyRecord(rec, func(k string) {
		if !u.isChg[k] {
			u.isChg[k] = true
			u.changed = append(u.changed, k)
		}
	})
	return err
}

// updates returns the update-mode changelog since the last call (nil if
// nothing changed): +I for new rows, +U for changed ones, -D for removed.
func (u *updateTracker) updates() (arrow.Record, error) {
	var rows [][]Value
	add := func(op exec.Op, vals []Value, n int64) {
		for i := int64(0); i < n; i++ {
			rows = append(rows, append([]Value{Int(int64(op))}, vals...))
		}
	}
	for _, k := range u.changed {
		cur, now := u.current.rows[k]
		old, had := u.emitted[k]
		if _, saved := u.undo[k]; u.undo != nil && !saved {
			if had {
				img := old
				img.vals = append([]Value(nil), old.vals...)
				u.undo[k] = &img
			} else {
				u.undo[k] = nil
			}
		}
		switch {
		case now && !had:
			add(exec.OpInsert, cur.vals, cur.n)
		case !now && had:
			add(exec.OpDelete, old.vals, old.n)
		case now && had:
			switch {
			case !sameRow(cur.vals, old.vals):
				add(exec.OpUpdateAfter, cur.vals, 1)
			case cur.n > old.n:
				add(exec.OpInsert, cur.vals, cur.n-old.n)
			case cur.n < old.n:
				add(exec.OpDelete, cur.vals, old.n-cur.n)
			}
		}
		if now {
			// The row's slots are rewritten in place by later inserts: the
			// emitted image keeps its own copy.
			e := u.emitted[k]
			e.vals, e.n = append(e.vals[:0], cur.vals...), cur.n
			u.emitted[k] = e
		} else {
			delete(u.emitted, k)
		}
		delete(u.isChg, k)
	}
	u.changed = u.changed[:0]
	if len(rows) == 0 {
		return nil, nil
	}
	rb := array.NewRecordBuilder(u.mem, u.schema)
	defer rb.Release()
	return buildRecord(rb, rows)
}

// full returns the whole current table without the op column.
func (u *updateTracker) full() (arrow.Record, error) {
	u.changed = u.changed[:0]
	clear(u.isChg)
	return u.current.Record(u.mem, DropOp(u.schema))
}

// FoldLines is FoldChangelog's rule over a changelog rendered one row per
// line, "op<TAB>cells" (+I, -U, +U, -D, as exec.Op prints them): the
// sorted multiset of rows it leaves. A retraction removes one copy of the
// identical row; one of a row not present is an error, as is an unknown
// op. Tests and benchmarks that compare rendered output fold with it.
func FoldLines(lines []string) ([]string, error) {
	count := map[string]int{}
	for _, l := range lines {
		op, row, _ := strings.Cut(l, "\t")
		switch op {
		case exec.OpInsert.String(), exec.OpUpdateAfter.String():
			count[row]++
		case exec.OpUpdateBefore.String(), exec.OpDelete.String():
			if count[row] == 0 {
				return nil, fmt.Errorf("changelog retracts a row it never emitted: %s", l)
			}
			count[row]--
		default:
			return nil, fmt.Errorf("bad op in changelog line %q", l)
		}
	}
	var out []string
	for row, n := range count {
		for ; n > 0; n-- {
			out = append(out, row)
		}
	}
	sort.Strings(out)
	return out, nil
}
