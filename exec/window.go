package exec

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// WindowKind is the kind of time window WindowAssign computes.
type WindowKind int

// Window kinds.
const (
	WindowTumble WindowKind = iota // fixed, non-overlapping windows of size
	WindowHop                      // windows of size starting every slide
)

// Window bound column names, as Flink's windowing table functions name
// them.
const (
	WindowStartColumn = "window_start"
	WindowEndColumn   = "window_end"
)

var windowBoundType = &arrow.TimestampType{Unit: arrow.Microsecond}

// windowSchema appends the window bound columns to s.
func windowSchema(s *arrow.Schema) *arrow.Schema {
	fields := append(append([]arrow.Field(nil), s.Fields()...),
		arrow.Field{Name: WindowStartColumn, Type: windowBoundType},
		arrow.Field{Name: WindowEndColumn, Type: windowBoundType})
	return arrow.NewSchema(fields, nil)
}

// timeMicros returns a function reading row i of a timestamp column in
// microseconds since the epoch (floor for nanoseconds).
func timeMicros(arr arrow.Array) (func(i int) int64, error) {
	ts, ok := arr.DataType().(*arrow.TimestampType)
	if !ok {
		return nil, fmt.Errorf("window time column is %s, not a timestamp", arr.DataType())
	}
	v := arrow.GetValues[int64](arr.Data(), 1)
	switch ts.Unit {
	case arrow.Second:
		return func(i int) int64 { return v[i] * 1e6 }, nil
	case arrow.Millisecond:
		return func(i int) int64 { return v[i] * 1e3 }, nil
	case arrow.Nanosecond:
		return func(i int) int64 { return floorDiv(v[i], 1e3) }, nil
	}
	return func(i int) int64 { return v[i] }, nil
}

// WindowStarts appends to dst the starts of the windows of size that
// start every slide and contain ts, oldest first: windows are [start,
// start+size) with start a multiple of slide since the epoch (rounded
// toward −∞ before it). TUMBLE is slide = size (one window); a HOP with
// slide > size leaves gaps, and a time in a gap is in no window. ts, size
// and slide share one unit, whatever it is.
//
// It is the one window-assignment kernel: the batch WindowAssign and the
// streaming WindowAggregate both call it, so a row lands in the same
// windows in every mode.
func WindowStarts(dst []int64, ts, size, slide int64) []int64 {
	last := FloorDiv(ts, slide) * slide
	if last <= ts-size {
		return dst // slide > size: ts falls in the gap after a window
	}
	first := last
	if k := (last - (ts - size) - 1) / slide; k > 0 {
		first -= k * slide // the oldest start still > ts-size
	}
	for s := first; s <= last; s += slide {
		dst = append(dst, s)
	}
	return dst
}

// FloorDiv divides rounding toward −∞, so windows before the epoch align.
func FloorDiv(a, b int64) int64 { return floorDiv(a, b) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// WindowAssign assigns rows to TUMBLE or HOP windows, appending
// window_start and window_end (TIMESTAMP µs). Windows are [start,
// start+size) with start a multiple of slide since the epoch; HOP copies a
// row into every window containing it. Rows with a NULL time are dropped.
type WindowAssign struct {
	mem         memory.Allocator
	input       Operator
	kind        WindowKind
	timeCol     int
	size, slide int64 // µs
	schema      *arrow.Schema
	once        lifecycle
}

var _ Operator = (*WindowAssign)(nil)

// NewWindowAssign returns input with window bounds appended. For
// WindowTumble slide is ignored (it equals size).
func NewWindowAssign(mem memory.Allocator, input Operator, kind WindowKind, timeCol int, size, slide time.Duration) (*WindowAssign, error) {
	in := input.Schema()
	if timeCol < 0 || timeCol >= in.NumFields() {
		return nil, fmt.Errorf("window: time column %d out of range", timeCol)
	}
	if in.Field(timeCol).Type.ID() != arrow.TIMESTAMP {
		return nil, fmt.Errorf("window: time column %q is %s, not a timestamp", in.Field(timeCol).Name, in.Field(timeCol).Type)
	}
	if kind == WindowTumble {
		slide = size
	}
	if size.Microseconds() <= 0 || slide.Microseconds() <= 0 {
		return nil, fmt.Errorf("window: size %s and slide %s must be at least 1µs", size, slide)
	}
	if kind != WindowTumble && kind != WindowHop {
		return nil, fmt.Errorf("window: bad kind %d", kind)
	}
	return &WindowAssign{mem: mem, input: input, kind: kind, timeCol: timeCol,
		size: size.Microseconds(), slide: slide.Microseconds(), schema: windowSchema(in)}, nil
}

// Schema is the input's columns, then window_start and window_end.
func (w *WindowAssign) Schema() *arrow.Schema { return w.schema }

// Open opens the input once.
func (w *WindowAssign) Open(ctx context.Context) error {
	return w.once.open(func() error { return w.input.Open(ctx) })
}

// Next returns the next batch with window bounds.
func (w *WindowAssign) Next(ctx context.Context) (arrow.Record, error) {
	for {
		rec, err := w.input.Next(ctx)
		if err != nil {
			return nil, err
		}
		out, err := w.assign(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("window: %w", err)
		}
		if out != nil {
			return out, nil
		}
	}
}

func (w *WindowAssign) assign(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
	tcol := rec.Column(w.timeCol)
	at, err := timeMicros(tcol)
	if err != nil {
		return nil, err
	}
	n := int(rec.NumRows())
	idx := make([]int32, 0, n)
	starts := make([]int64, 0, n)
	var buf []int64
	for i := 0; i < n; i++ {
		if tcol.IsNull(i) {
			continue
		}
		buf = WindowStarts(buf[:0], at(i), w.size, w.slide)
		for _, s := range buf {
			idx = append(idx, int32(i))
			starts = append(starts, s)
		}
	}
	if len(idx) == 0 {
		return nil, nil
	}
	var cols []arrow.Array
	if len(idx) == n { // every row in exactly one window: reuse the columns
		for _, c := range rec.Columns() {
			c.Retain()
			cols = append(cols, c)
		}
	} else {
		cols, err = takeColumns(ctx, w.mem, rec.Columns(), idx)
		if err != nil {
			return nil, err
		}
	}
	return appendBounds(w.mem, w.schema, cols, starts, w.size), nil
}

// appendBounds builds a record of cols (owned, released here) plus window
// start/end columns.
func appendBounds(mem memory.Allocator, schema *arrow.Schema, cols []arrow.Array, starts []int64, size int64) arrow.Record {
	ends := make([]int64, len(starts))
	for i, s := range starts {
		ends[i] = s + size
	}
	return appendBoundCols(mem, schema, cols, starts, ends)
}

func appendBoundCols(mem memory.Allocator, schema *arrow.Schema, cols []arrow.Array, starts, ends []int64) arrow.Record {
	cols = append(cols,
		newFixedArray(mem, windowBoundType, starts, nil),
		newFixedArray(mem, windowBoundType, ends, nil))
	defer releaseArrays(cols)
	return array.NewRecord(schema, cols, int64(len(starts)))
}

// Close closes the input; idempotent.
func (w *WindowAssign) Close() error { return w.once.close(w.input.Close) }

// SessionWindow assigns session windows over the whole input (batch
// mode): rows are ordered by time and a new session starts when the gap
// to the previous row exceeds gap. Sessions that merely touch merge, as
// Flink merges a row's window [t, t+gap) with any window it intersects, so
// batch and streaming sessions agree. window_start is the session's
// first time, window_end its last time plus gap. Rows with NULL time are
// dropped. It blocks until the input ends.
//
// Sessions are per key: with keys (the GROUP BY keys of the aggregate
// above, less the window columns) each key's rows form their own
// sessions, as the streaming WindowAggregate builds them, so batch and
// EMIT FINAL agree. Rows come out grouped by key, each key in time order.
//
// With workers (SetWorkers) the sort, the search for session breaks, the
// session bounds and the output columns are computed on all of them;
// sessions never span a break, so the result is the serial one.
type SessionWindow struct {
	mem     memory.Allocator
	input   Operator
	timeCol int
	gap     int64
	keys    []expr.Expr
	schema  *arrow.Schema
	all     arrow.Record
	outs    []arrow.Record // the result in batches, built by consume
	done    bool
	once    lifecycle
	par     int // goroutines (SetWorkers); 0 or 1: one
}

var _ Operator = (*SessionWindow)(nil)

// NewSessionWindow returns input with session window bounds appended;
// keys (may be empty) partition the rows into independent sessions.
func NewSessionWindow(mem memory.Allocator, input Operator, timeCol int, gap time.Duration, keys ...expr.Expr) (*SessionWindow, error) {
	in := input.Schema()
	if timeCol < 0 || timeCol >= in.NumFields() || in.Field(timeCol).Type.ID() != arrow.TIMESTAMP {
		return nil, fmt.Errorf("session window: column %d is not a timestamp column", timeCol)
	}
	if gap.Microseconds() <= 0 {
		return nil, fmt.Errorf("session window: gap %s must be at least 1µs", gap)
	}
	return &SessionWindow{mem: mem, input: input, timeCol: timeCol, gap: gap.Microseconds(), keys: keys, schema: windowSchema(in)}, nil
}

// SetWorkers sorts rows into (key, time) order, finds the sessions and
// builds the output on up to n goroutines; the sessions and the row order
// are the same at any n (see sortStable).
func (s *SessionWindow) SetWorkers(n int) { s.par = n }

// Schema is the input's columns, then window_start and window_end.
func (s *SessionWindow) Schema() *arrow.Schema { return s.schema }

// Open opens the input once.
func (s *SessionWindow) Open(ctx context.Context) error {
	return s.once.open(func() error { return s.input.Open(ctx) })
}

// Next sorts and assigns on the first call, then returns rows in time
// order.
func (s *SessionWindow) Next(ctx context.Context) (arrow.Record, error) {
	if !s.done {
		s.done = true
		if err := s.consume(ctx); err != nil {
			return nil, fmt.Errorf("session window: %w", err)
		}
	}
	if len(s.outs) == 0 {
		return nil, io.EOF
	}
	rec := s.outs[0]
	s.outs[0] = nil
	s.outs = s.outs[1:]
	return rec, nil
}

// consume reads the whole input, assigns every row with a time to its
// session and builds the output batches.
func (s *SessionWindow) consume(ctx context.Context) error {
	all, err := drainConcat(ctx, s.mem, s.input, nil)
	if err != nil || all == nil {
		return err
	}
	s.all = all
	tcol := all.Column(s.timeCol)
	at, err := timeMicros(tcol)
	if err != nil {
		return err
	}
	gids, err := s.keyGroups(ctx, all)
	if err != nil {
		return err
	}
	gid := func(r int32) uint32 {
		if gids == nil {
			return 0
		}
		return gids[r]
	}
	perm := make([]int32, 0, int(all.NumRows())-tcol.NullN())
	for i := 0; i < int(all.NumRows()); i++ {
		if tcol.IsValid(i) {
			perm = append(perm, int32(i))
		}
	}
	sortStable(perm, s.par, func(a, b int32) int {
		if ga, gb := gid(a), gid(b); ga != gb {
			return cmp.Compare(ga, gb)
		}
		return cmp.Compare(at(int(a)), at(int(b)))
	})
	n := len(perm)
	workers := 1
	if s.par > 1 && n >= minParallelEval {
		workers = s.par
	}
	// A session ends where the key changes or the gap to the next row
	// exceeds the window's gap: the same cut partitionBounds makes
	// between partitions.
	sessions := partitionBounds(perm, workers, func(a, b int) int {
		if gid(int32(a)) != gid(int32(b)) || at(b)-at(a) > s.gap {
			return 1
		}
		return 0
	})
	starts, ends := make([]int64, n), make([]int64, n)
	runs := cutRuns(sessions, n, workers)
	if err := eachRun(len(runs), func(r int) error {
		for _, ss := range sessions[runs[r][0]:runs[r][1]] {
			start, end := at(int(perm[ss[0]])), at(int(perm[ss[1]-1]))+s.gap
			for k := ss[0]; k < ss[1]; k++ {
				starts[k], ends[k] = start, end
			}
		}
		return nil
	}); err != nil {
		return err
	}
	// The output batches, DefaultBatchSize rows each, taken on every
	// worker.
	batches := (n + DefaultBatchSize - 1) / DefaultBatchSize
	s.outs = make([]arrow.Record, batches)
	per := (batches + workers - 1) / max(workers, 1)
	defer func() { s.all.Release(); s.all = nil }() // the batches hold what they need
	return eachRun(min(workers, max(batches, 1)), func(r int) error {
		for b := r * per; b < min((r+1)*per, batches); b++ {
			lo, hi := b*DefaultBatchSize, min((b+1)*DefaultBatchSize, n)
			cols, err := takeColumns(ctx, s.mem, all.Columns(), perm[lo:hi])
			if err != nil {
				return err
			}
			s.outs[b] = appendBoundCols(s.mem, s.schema, cols, starts[lo:hi], ends[lo:hi])
		}
		return nil
	})
}

// keyGroups numbers the distinct key tuples of all's rows (nil without
// keys); NULL is one key, as in GROUP BY.
func (s *SessionWindow) keyGroups(ctx context.Context, all arrow.Record) ([]uint32, error) {
	if len(s.keys) == 0 {
		return nil, nil
	}
	cols := make([]arrow.Array, 0, len(s.keys))
	defer func() { releaseArrays(cols) }()
	types := make([]arrow.DataType, len(s.keys))
	for i, k := range s.keys {
		a, err := k.Eval(ctx, s.mem, all)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", k, err)
		}
		cols = append(cols, a)
		types[i] = a.DataType()
	}
	t, err := NewGroupTable(types)
	if err != nil {
		return nil, err
	}
	gids := make([]uint32, all.NumRows())
	newKeys, err := t.Assign(ctx, s.mem, cols, gids, true)
	releaseArrays(newKeys)
	return gids, err
}

// Close releases the buffered rows and closes the input; idempotent.
func (s *SessionWindow) Close() error {
	return s.once.close(func() error {
		if s.all != nil {
			s.all.Release()
			s.all = nil
		}
		for _, r := range s.outs {
			if r != nil {
				r.Release()
			}
		}
		s.outs = nil
		return s.input.Close()
	})
}
