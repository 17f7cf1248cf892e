package stream

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// SortKey is one ORDER BY column of a top-N: an index into the input
// record's columns (op column included when the input is a changelog).
type SortKey struct {
	Col  int
	Desc bool
}

// TopN maintains ORDER BY … LIMIT N over an append-only or updating input
// and emits the changelog of the top-N set: -D for rows that left it and
// +I for rows that entered it, compacted per batch. Over an append-only
// input it keeps only N rows; over a changelog it keeps every row, because
// a retraction from the top can bring back any row below it. Ties are
// broken by the whole row so the set is deterministic.
type TopN struct {
	mem       memory.Allocator
	keys      []SortKey
	n         int
	changelog bool
	schema    *arrow.Schema
	rows      []*topRow // sorted
	// byKey finds a held row by its key (rowKey of its values); made
	// on the first row, kept in step by applyRow and dropped.
	byKey map[string]*topRow
	buf   []byte
	// bytes is what the held rows cost (topRowBytes), kept as they come
	// and go: the graph checks it against the memory budget after every
	// message (StateSizer) without walking the rows.
	bytes int64
	// gone are the keys of rows the last snapshot held that left since
	// (the next delta's deletions).
	gone []string
	// Ignored counts retractions of rows not held.
	Ignored int64
	// rowsRead counts the input rows read into Values (the others were
	// skipped by the cut-off), for tests.
	rowsRead int64
}

type topRow struct {
	vals []Value // value columns (op excluded)
	key  string
	n    int64
	// snapped says the last snapshot (or restore) held the row, with
	// count snapN: a delta writes the row when its count changed.
	snapped bool
	snapN   int64
}

// topRowBytes is what a held row costs in Stats.
func topRowBytes(r *topRow) int64 {
	n := int64(len(r.key)) + 48
	for _, v := range r.vals {
		n += valueBytes(v)
	}
	return n
}

var (
	_ Operator   = (*TopN)(nil)
	_ StateSizer = (*TopN)(nil)
)

// NewTopN returns the incremental top-n of input ordered by keys.
func NewTopN(mem memory.Allocator, input *arrow.Schema, keys []SortKey, n int) (*TopN, error) {
	if n <= 0 {
		return nil, fmt.Errorf("stream: top-N limit must be positive, got %d", n)
	}
	t := &TopN{mem: mem, keys: keys, n: n, changelog: IsChangelog(input)}
	fields := input.Fields()
	if t.changelog {
		fields = fields[1:]
	}
	for _, k := range keys {
		if k.Col < 0 || k.Col >= input.NumFields() || (t.changelog && k.Col == 0) {
			return nil, fmt.Errorf("stream: top-N sort column %d out of range", k.Col)
		}
	}
	t.schema = arrow.NewSchema(append([]arrow.Field{opField}, fields...), nil)
	return t, nil
}

// Schema is op followed by the input's value columns.
func (t *TopN) Schema() *arrow.Schema { return t.schema }

// SinkMode is a changelog identified by whole rows (nil Keys).
func (t *TopN) SinkMode() exec.SinkMode { return exec.SinkMode{Changelog: true} }

func (t *TopN) less(a, b []Value) bool {
	off := 0
	if t.changelog {
		off = 1
	}
	for _, k := range t.keys {
		c := Compare(a[k.Col-off], b[k.Col-off])
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	for i := range a {
		if c := Compare(a[i], b[i]); c != 0 {
			return c < 0
		}
	}
	return false
}

// topSet is the first n rows: keys in order and their values and counts.
type topSet struct {
	order []string
	m     map[string]topCount
}

type topCount struct {
	vals []Value
	n    int64
}

// top returns the current top-n set.
func (t *TopN) top() topSet {
	s := topSet{m: map[string]topCount{}}
	left := int64(t.n)
	for _, r := range t.rows {
		if left == 0 {
			break
		}
		take := min(r.n, left)
		s.order = append(s.order, r.key)
		s.m[r.key] = topCount{r.vals, take}
		left -= take
	}
	return s
}

// Push folds a batch and returns the top-N changes it caused. Over an
// append-only input, once n rows are held, a row whose sort keys order
// it strictly after the n-th is skipped before it is read (cutoff); the
// n-th row is looked at again after every row that entered.
func (t *TopN) Push(_ context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	n := int(rec.NumRows())
	if n == 0 {
		return nil, nil
	}
	var cut *cutoff
	var last *topRow // the n-th row held; nil while fewer are
	if !t.changelog {
		c, err := t.newCutoff(rec)
		if err != nil {
			return nil, err
		}
		cut, last = c, t.nth()
	}
	var readers []func(int) Value
	var before topSet
	for i := 0; i < n; i++ {
		if last != nil && cut.after(i, last.vals) {
			continue
		}
		if readers == nil {
			var err error
			if readers, err = rowReaders(rec); err != nil {
				return nil, err
			}
			before = t.top()
		}
		row := make([]Value, len(readers))
		for c, r := range readers {
			row[c] = r(i)
		}
		t.rowsRead++
		if t.applyRow(row) && !t.changelog {
			last = t.nth()
		}
	}
	if readers == nil {
		return nil, nil
	}
	return t.diff(before)
}

// nth is the row holding the n-th place over an append-only input (the
// last one held: trim keeps no more), nil while fewer than n are held.
func (t *TopN) nth() *topRow {
	left := int64(t.n)
	for _, r := range t.rows {
		if left -= r.n; left <= 0 {
			return r
		}
	}
	return nil
}

// apply folds input rows (op first over a changelog) into the held rows.
func (t *TopN) apply(rows [][]Value) {
	for _, row := range rows {
		t.applyRow(row)
	}
}

// applyRow folds one input row (op first over a changelog) into the held
// rows and reports whether the held rows changed.
func (t *TopN) applyRow(row []Value) bool {
	if t.byKey == nil {
		t.byKey = make(map[string]*topRow, len(t.rows))
		for _, r := range t.rows {
			t.byKey[r.key] = r
		}
	}
	sign := int64(1)
	vals := row
	if t.changelog {
		vals = row[1:]
		if op := exec.Op(row[0].I); op == exec.OpUpdateBefore || op == exec.OpDelete {
			sign = -1
		}
	}
	t.buf = rowKey(t.buf[:0], vals)
	if r, ok := t.byKey[string(t.buf)]; ok {
		if sign > 0 && !t.changelog && r == t.nth() {
			// One more copy of the n-th row cannot enter: it would
			// be trimmed at once.
			return false
		}
		r.n += sign
		if r.n <= 0 {
			t.remove(r)
		}
		if !t.changelog {
			t.trim()
		}
		return true
	}
	if sign < 0 {
		t.Ignored++
		return false
	}
	i := sort.Search(len(t.rows), func(i int) bool { return t.less(vals, t.rows[i].vals) })
	if !t.changelog && i >= t.n {
		return false // can never enter the top n of an append-only input
	}
	r := &topRow{vals: vals, key: string(t.buf), n: 1}
	t.rows = append(t.rows, nil)
	copy(t.rows[i+1:], t.rows[i:])
	t.rows[i] = r
	t.bytes += topRowBytes(r)
	t.byKey[r.key] = r
	if !t.changelog {
		t.trim()
	}
	return true
}

// remove drops held row r, found by binary search (the order is total:
// ties are broken by the whole row, so r's place is unique).
func (t *TopN) remove(r *topRow) {
	i := sort.Search(len(t.rows), func(i int) bool { return !t.less(t.rows[i].vals, r.vals) })
	if i >= len(t.rows) || t.rows[i] != r {
		i = slices.Index(t.rows, r)
	}
	if i < 0 {
		return
	}
	t.rows = slices.Delete(t.rows, i, i+1)
	t.dropped(r)
}

// truncate drops the rows from i on.
func (t *TopN) truncate(i int) {
	for _, d := range t.rows[i:] {
		t.dropped(d)
	}
	clear(t.rows[i:])
	t.rows = t.rows[:i]
}

// dropped accounts for a row that left the state.
func (t *TopN) dropped(r *topRow) {
	t.bytes -= topRowBytes(r)
	if t.byKey != nil {
		delete(t.byKey, r.key)
	}
	if r.snapped {
		t.gone = append(t.gone, r.key)
	}
}

// trim drops rows beyond the first n (append-only input only).
func (t *TopN) trim() {
	left := int64(t.n)
	for i, r := range t.rows {
		if left <= 0 {
			t.truncate(i)
			return
		}
		if r.n > left {
			r.n = left
		}
		left -= r.n
	}
}

// diff emits -D for rows that left the top and +I for rows that entered,
// each in sort order.
func (t *TopN) diff(before topSet) (arrow.Record, error) {
	after := t.top()
	var out [][]Value
	emit := func(op exec.Op, vals []Value, n int64) {
		for ; n > 0; n-- {
			out = append(out, append([]Value{Int(int64(op))}, vals...))
		}
	}
	for _, k := range before.order {
		if b, a := before.m[k], after.m[k]; a.n < b.n {
			emit(exec.OpDelete, b.vals, b.n-a.n)
		}
	}
	for _, k := range after.order {
		if a, b := after.m[k], before.m[k]; a.n > b.n {
			emit(exec.OpInsert, a.vals, a.n-b.n)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	rb := array.NewRecordBuilder(t.mem, t.schema)
	defer rb.Release()
	return buildRecord(rb, out)
}

// Tick does nothing: top-N does not wait for time.
func (t *TopN) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }

// Finish does nothing: every change was already emitted.
func (t *TopN) Finish(context.Context) (arrow.Record, error) { return nil, nil }

// Stats counts the distinct rows held.
func (t *TopN) Stats() StateStats {
	return StateStats{Groups: len(t.rows), Bytes: t.bytes}
}

// StateBytes is Stats().Bytes from a running count (StateSizer).
func (t *TopN) StateBytes() (int64, bool) { return t.bytes, true }

// Close drops the state.
func (t *TopN) Close() error {
	t.rows, t.bytes, t.gone, t.byKey = nil, 0, nil, nil
	return nil
}
