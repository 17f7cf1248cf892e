package stream

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// RankTopN is the per-key top-N of `ROW_NUMBER() OVER (PARTITION BY k
// ORDER BY v) AS rn … WHERE rn <= N`, deduplication (N = 1) included. Each
// partition key holds a TopN of its own rows, so retractions work as in
// TopN (over a changelog every live row is kept, over an append-only
// input only the first N per key). Its output is a changelog of the
// input's value columns plus the row number: a row whose number changes
// is retracted with the old one and inserted with the new one, compacted
// per batch (-D before +I within a key).
type RankTopN struct {
	mem       memory.Allocator
	input     *arrow.Schema
	part      []int // partition columns (indices into the input record)
	keys      []SortKey
	n         int
	changelog bool
	perWindow bool
	// proto is a TopN of the input and keys, checked once: each key's
	// TopN shares its schema (newTop).
	proto *TopN
	// fn is the numbering: RowNumber, Rank or DenseRank.
	fn     RankFunc
	schema *arrow.Schema
	parts  map[string]*TopN
	buf    []byte
	// bytes is what the keys' rows cost (their TopNs' running counts
	// plus rankKeyBytes a key), kept as batches change them
	// (StateSizer).
	bytes int64
	// dirty are the keys changed since the last snapshot (the next
	// delta writes them whole, or as gone when they left).
	dirty map[string]bool
	// held is set on an instance of a ParallelRankTopN, which merges the
	// instances' output itself (see rankHeld).
	held *rankHeld
}

// rankHeld is what a ParallelRankTopN instance holds of a batch for the
// merge: its output rows and, for each, the batch row where the row's
// partition key first appears, the order one operator emits keys in.
type rankHeld struct {
	rows [][]Value
	ords []int32
}

// rankKeyBytes is what holding a key costs beside its rows.
func rankKeyBytes(k string) int64 { return int64(len(k)) + 48 }

// RankFunc is how a per-key top-N numbers its rows.
type RankFunc int

// Rank functions.
const (
	// RowNumber numbers rows 1, 2, 3, … (peers in arrival order).
	RowNumber RankFunc = iota
	// Rank gives peers (rows with equal sort keys) the same number and
	// skips as many after them: 1, 1, 3.
	Rank
	// DenseRank gives peers the same number without gaps: 1, 1, 2.
	DenseRank
)

var (
	_ Operator    = (*RankTopN)(nil)
	_ Snapshotter = (*RankTopN)(nil)
	_ StateSizer  = (*RankTopN)(nil)
	_ RowsPusher  = (*RankTopN)(nil)
)

// NewRankTopN returns the incremental top-n per value of the partition
// columns part, ordered by keys; the row number column is named rank.
func NewRankTopN(mem memory.Allocator, input *arrow.Schema, part []int, keys []SortKey, n int, rank string) (*RankTopN, error) {
	return newRankTopN(mem, input, part, keys, n, rank, false)
}

// SetRankFunc makes the top-N number its rows by fn (RowNumber by
// default): under Rank or DenseRank every row numbered at most n is kept,
// peers included, so a key may emit more than n rows. Call it before the
// first Push.
func (r *RankTopN) SetRankFunc(fn RankFunc) { r.fn = fn }

// NewWindowRankTopN returns the top-n per key of an append-only input in
// which each key's rows all arrive in one batch (each window of a
// windowed aggregate as it closes, the key holding the window): it emits
// each key's top rows once, without an op column, and keeps no state.
func NewWindowRankTopN(mem memory.Allocator, input *arrow.Schema, part []int, keys []SortKey, n int, rank string) (*RankTopN, error) {
	if IsChangelog(input) {
		return nil, fmt.Errorf("stream: a per-window top-N needs an append-only input")
	}
	return newRankTopN(mem, input, part, keys, n, rank, true)
}

func newRankTopN(mem memory.Allocator, input *arrow.Schema, part []int, keys []SortKey, n int, rank string, perWindow bool) (*RankTopN, error) {
	if n <= 0 {
		return nil, fmt.Errorf("stream: per-key top-N limit must be positive, got %d", n)
	}
	r := &RankTopN{mem: mem, input: input, part: part, keys: keys, n: n, changelog: IsChangelog(input), perWindow: perWindow, parts: map[string]*TopN{}, dirty: map[string]bool{}}
	for _, c := range part {
		if c < 0 || c >= input.NumFields() || (r.changelog && c == 0) {
			return nil, fmt.Errorf("stream: per-key top-N partition column %d out of range", c)
		}
	}
	proto, err := NewTopN(mem, input, keys, n) // checks the keys
	if err != nil {
		return nil, err
	}
	r.proto = proto
	fields := input.Fields()
	if r.changelog {
		fields = fields[1:]
	}
	fields = append(append([]arrow.Field(nil), fields...), arrow.Field{Name: rank, Type: arrow.PrimitiveTypes.Int64})
	if !perWindow {
		fields = append([]arrow.Field{opField}, fields...)
	}
	r.schema = arrow.NewSchema(fields, nil)
	return r, nil
}

// Schema is op, the input's value columns, then the row number.
func (r *RankTopN) Schema() *arrow.Schema { return r.schema }

// SinkMode is a changelog identified by whole rows (append-only per
// window).
func (r *RankTopN) SinkMode() exec.SinkMode { return exec.SinkMode{Changelog: !r.perWindow} }

// ranked is one held row with its row number.
type ranked struct {
	vals []Value
	key  string // the row's identity and number
	num  int64
}

// rankedBy lists t's rows numbered at most t's limit by fn, with their
// numbers; for Rank and DenseRank it first frees, over an append-only
// input, the rows numbered past the limit (an insert only pushes a row's
// number up, so they never come back).
func (r *RankTopN) rankedBy(t *TopN) []ranked {
	if r.fn == RowNumber {
		return t.ranked()
	}
	limit := int64(r.n)
	var out []ranked
	var num, seen, groups int64
	for i, row := range t.rows {
		if i == 0 || !t.peers(t.rows[i-1].vals, row.vals) {
			groups++
			num = seen + 1
			if r.fn == DenseRank {
				num = groups
			}
		}
		if num > limit {
			if !t.changelog {
				t.truncate(i)
			}
			break
		}
		for c := int64(0); c < row.n; c++ {
			out = append(out, ranked{vals: row.vals, key: row.key + "#" + strconv.FormatInt(num, 10) + "#" + strconv.FormatInt(c, 10), num: num})
		}
		seen += row.n
	}
	return out
}

// peers reports whether rows a and b (value columns) have equal sort
// keys.
func (t *TopN) peers(a, b []Value) bool {
	off := 0
	if t.changelog {
		off = 1
	}
	for _, k := range t.keys {
		if Compare(a[k.Col-off], b[k.Col-off]) != 0 {
			return false
		}
	}
	return true
}

// ranked lists the top n rows of t with their numbers 1..n.
func (t *TopN) ranked() []ranked {
	var out []ranked
	for _, r := range t.rows {
		for c := int64(0); c < r.n && len(out) < t.n; c++ {
			out = append(out, ranked{vals: r.vals, key: r.key + "#" + strconv.Itoa(len(out)+1), num: int64(len(out) + 1)})
		}
		if len(out) == t.n {
			break
		}
	}
	return out
}

// Push folds a batch and returns the changes to every touched key's top n.
func (r *RankTopN) Push(_ context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	if rec.NumRows() == 0 {
		return nil, nil
	}
	return r.push(rec, nil)
}

// PushRows implements RowsPusher: Push of the listed rows of rec only
// (an instance of a ParallelRankTopN folds the rows of its keys).
func (r *RankTopN) PushRows(_ context.Context, rec arrow.Record, _ int32, rows []int32) (arrow.Record, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	return r.push(rec, rows)
}

// push folds the rows of rec listed in rows (nil: all of them) and
// returns the changes, or holds them (held) for the ParallelRankTopN.
func (r *RankTopN) push(rec arrow.Record, rows []int32) (arrow.Record, error) {
	order, firsts, byPart, err := r.candidates(rec, rows)
	if err != nil {
		return nil, err
	}
	var out [][]Value
	var ords []int32
	for ki, k := range order {
		t := r.parts[k]
		if t == nil {
			if t, err = r.newTop(); err != nil {
				return nil, err
			}
			r.parts[k] = t
			r.bytes += rankKeyBytes(k)
		}
		r.bytes -= t.bytes
		before := r.rankedBy(t)
		t.apply(byPart[k])
		after := r.rankedBy(t)
		r.bytes += t.bytes
		if r.perWindow || (len(t.rows) == 0 && t.Ignored == 0) {
			delete(r.parts, k) // a closed window's key never comes back
			r.bytes -= t.bytes + rankKeyBytes(k)
		}
		if !r.perWindow {
			r.dirty[k] = true
		}
		out = appendRankDiff(out, before, after)
		if r.held != nil {
			for len(ords) < len(out) {
				ords = append(ords, firsts[ki])
			}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if r.perWindow {
		for i, row := range out {
			if exec.Op(row[0].I) != exec.OpInsert {
				return nil, fmt.Errorf("stream: per-window top-N saw a key again after its window closed")
			}
			out[i] = row[1:]
		}
	}
	if r.held != nil {
		r.held.rows, r.held.ords = append(r.held.rows, out...), append(r.held.ords, ords...)
		return nil, nil
	}
	rb := array.NewRecordBuilder(r.mem, r.schema)
	defer rb.Release()
	return buildRecord(rb, out)
}

// candidates reads the rows of rec listed in at (nil: every row) that
// may change their key's top n, grouped by key (byPart), and the keys in
// the order they first appear in rec, with the row of rec where each
// first appears (firsts).
//
// Over an append-only input a row ranks past n, now and forever, once n
// rows of its key order strictly before it: rows only arrive, and each
// arrival only pushes the others down. Under ROW_NUMBER its number is
// then past n whatever breaks ties, under RANK it is 1 + the rows
// before it. So a row strictly after the n-th best of the rows known so
// far (its key's held rows, then the batch's rows before it) is skipped
// before being read: only its partition and sort columns are looked at.
// For the winning bid of each auction most bids are skipped. A key keeps
// its place in order even when its first rows were skipped, so the
// output is the one without skipping.
func (r *RankTopN) candidates(rec arrow.Record, at []int32) (order []string, firsts []int32, byPart map[string][][]Value, err error) {
	n := int(rec.NumRows())
	if at != nil {
		n = len(at)
	}
	// row is the row of rec the k-th row read is.
	row := func(k int) int {
		if at != nil {
			return int(at[k])
		}
		return k
	}
	byPart = map[string][][]Value{}
	var rows [][]Value
	if r.changelog || r.perWindow || r.fn == DenseRank {
		var idx []int
		if at != nil {
			idx = make([]int, n)
			for k := range idx {
				idx[k] = row(k)
			}
		}
		if rows, err = readRowsAt(rec, idx); err != nil {
			return nil, nil, nil, err
		}
		pv := make([]Value, len(r.part))
		for k, vals := range rows {
			for i, c := range r.part {
				pv[i] = vals[c]
			}
			r.buf = rowKey(r.buf[:0], pv)
			key := string(r.buf)
			if _, ok := byPart[key]; !ok {
				order, firsts = append(order, key), append(firsts, int32(row(k)))
			}
			byPart[key] = append(byPart[key], vals)
		}
		return order, firsts, byPart, nil
	}
	partOf, err := viewReaders(rec, r.part)
	if err != nil {
		return nil, nil, nil, err
	}
	cols := make([]int, len(r.keys))
	for i, k := range r.keys {
		cols[i] = k.Col
	}
	sortOf, err := viewReaders(rec, cols)
	if err != nil {
		return nil, nil, nil, err
	}
	var keep []int
	var keyOf []*string
	known := map[string]*bestKnown{}
	for k := range n {
		i := row(k)
		r.buf = r.buf[:0]
		for _, f := range partOf {
			r.buf = appendKey(r.buf, f(i))
		}
		b := known[string(r.buf)]
		if b == nil {
			b = r.newBestKnown(string(r.buf))
			known[b.key] = b
			order, firsts = append(order, b.key), append(firsts, int32(i))
		}
		sk := make([]Value, len(sortOf))
		for c, f := range sortOf {
			sk[c] = f(i)
		}
		if !b.admit(sk) {
			continue
		}
		keep = append(keep, i)
		keyOf = append(keyOf, &b.key)
	}
	if len(keep) == 0 {
		return nil, nil, byPart, nil
	}
	if rows, err = readRowsAt(rec, keep); err != nil {
		return nil, nil, nil, err
	}
	for i, vals := range rows {
		byPart[*keyOf[i]] = append(byPart[*keyOf[i]], vals)
	}
	kept, keptFirsts := order[:0], firsts[:0]
	for i, k := range order {
		if byPart[k] != nil {
			kept, keptFirsts = append(kept, k), append(keptFirsts, firsts[i])
		}
	}
	return kept, keptFirsts, byPart, nil
}

// bestKnown is, while candidates reads a batch, the sort keys of a
// partition key's n best rows known so far (in order, one entry per
// copy): its held rows, then the batch's rows admitted.
type bestKnown struct {
	key  string
	n    int
	keys []SortKey
	best [][]Value
}

// newBestKnown starts key's bestKnown from its held rows.
func (r *RankTopN) newBestKnown(key string) *bestKnown {
	b := &bestKnown{key: key, n: r.n, keys: r.keys}
	if t := r.parts[key]; t != nil {
		for _, row := range t.rows {
			sk := make([]Value, len(r.keys))
			for c, k := range r.keys {
				sk[c] = row.vals[k.Col]
			}
			for range row.n {
				if len(b.best) == b.n {
					return b
				}
				b.best = append(b.best, sk)
			}
		}
	}
	return b
}

// cmp orders sort keys a and b as the top-N does (DESC keys reversed).
func (b *bestKnown) cmp(x, y []Value) int {
	for c, k := range b.keys {
		v := Compare(x[c], y[c])
		if k.Desc {
			v = -v
		}
		if v != 0 {
			return v
		}
	}
	return 0
}

// admit reports whether a row with sort keys sk may rank within n: not
// when n known rows order strictly before it. An admitted row becomes
// known.
func (b *bestKnown) admit(sk []Value) bool {
	if len(b.best) == b.n && b.cmp(b.best[b.n-1], sk) < 0 {
		return false
	}
	at, _ := slices.BinarySearchFunc(b.best, sk, b.cmp)
	if len(b.best) < b.n {
		b.best = append(b.best, nil)
	}
	copy(b.best[at+1:], b.best[at:])
	b.best[at] = sk
	return true
}

// viewReaders are viewReader over columns cols of rec.
func viewReaders(rec arrow.Record, cols []int) ([]func(int) Value, error) {
	out := make([]func(int) Value, len(cols))
	for i, c := range cols {
		f, err := viewReader(rec.Column(c))
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", rec.ColumnName(c), err)
		}
		out[i] = f
	}
	return out, nil
}

// appendRankDiff appends -D for numbered rows that left and +I for those
// that entered, each in rank order.
func appendRankDiff(out [][]Value, before, after []ranked) [][]Value {
	in := func(list []ranked) map[string]bool {
		m := make(map[string]bool, len(list))
		for _, e := range list {
			m[e.key] = true
		}
		return m
	}
	had, has := in(before), in(after)
	emit := func(op exec.Op, e ranked) {
		row := make([]Value, 0, len(e.vals)+2)
		row = append(append(append(row, Int(int64(op))), e.vals...), Int(e.num))
		out = append(out, row)
	}
	for _, e := range before {
		if !has[e.key] {
			emit(exec.OpDelete, e)
		}
	}
	for _, e := range after {
		if !had[e.key] {
			emit(exec.OpInsert, e)
		}
	}
	return out
}

// newTop is one key's TopN. Numbered by Rank or DenseRank, peers past
// the n-th row may still be kept, so it holds rows without a limit of its
// own (rankedBy frees the ones past the limit).
func (r *RankTopN) newTop() (*TopN, error) {
	// A copy of the checked prototype: NewTopN per key built a schema
	// per key (12% of the winning-bid query's CPU).
	t := &TopN{mem: r.mem, keys: r.keys, n: r.n, changelog: r.proto.changelog, schema: r.proto.schema}
	if r.fn != RowNumber {
		t.n = math.MaxInt32
	}
	return t, nil
}

// Tick does nothing: a top-N does not wait for time.
func (r *RankTopN) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }

// Finish does nothing: every change was already emitted.
func (r *RankTopN) Finish(context.Context) (arrow.Record, error) { return nil, nil }

// Stats counts the rows held over every key.
func (r *RankTopN) Stats() StateStats {
	s := StateStats{Bytes: r.bytes}
	for _, t := range r.parts {
		s.Groups += len(t.rows)
	}
	return s
}

// StateBytes is Stats().Bytes from a running count (StateSizer).
func (r *RankTopN) StateBytes() (int64, bool) { return r.bytes, true }

// Ignored counts retractions of rows not held, over every key.
func (r *RankTopN) Ignored() int64 {
	var n int64
	for _, t := range r.parts {
		n += t.Ignored
	}
	return n
}

// Close drops the state.
func (r *RankTopN) Close() error {
	r.parts, r.bytes, r.dirty = map[string]*TopN{}, 0, map[string]bool{}
	return nil
}
