package stream

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// WindowAggregate is the windowed aggregation behind EMIT FINAL: it keeps
// per-(window, group) accumulators and emits each window's rows once, when
// the watermark passes the window's end, freeing that window's state.
// Output is append-only: window_start, window_end, the keys, the aggregates.
//
// The watermark advances row by row (see WatermarkTracker) and windows
// close row by row too, so a row is late exactly when one of the rows
// before it moved the watermark to or past its window's end — whatever the
// batch sizes. A row is late when all of its windows are closed; a HOP row
// whose oldest windows closed still counts in the open ones. As one of a
// ParallelWindow's instances (PushRows) it folds only its keys' rows but
// still tracks the watermark over every row, so the rule, and which rows
// are late, do not depend on the parallelism either.
//
// State lives in the one aggregation core: each open TUMBLE/HOP window has
// its own exec.GroupTable and exec.Accumulators (freed whole when it
// closes). A batch is grouped once by key (batch key ids; a dictionary key
// maps each dictionary entry once), the row loop only assigns rows to
// windows and tracks the watermark, and each window then maps the batch's
// distinct keys it saw into its table and folds its rows in one
// vectorised pass per aggregate over a slice of the batch (rows of other
// windows weigh 0): no row is copied out. Sessions keep their
// accumulators in group slots of one set of accumulators.
type WindowAggregate struct {
	mem      memory.Allocator
	spec     WindowSpec
	opts     WindowOptions
	keys     []GroupKey
	keyTypes []arrow.DataType
	core     *aggCore
	schema   *arrow.Schema
	tracker  *WatermarkTracker
	clock    Clock

	size, slide, gap int64 // in event-time units
	unit             int64 // nanoseconds per event-time unit

	windows map[winKey]*winState
	heap    winHeap
	// goneWins are the windows the last snapshot held that closed since
	// (the next delta's deletions).
	goneWins []winKey
	// recent are the windows rows found last, by window start (each
	// slot the windows of one start modulo len): a TUMBLE row's window is
	// usually the previous row's, and a HOP row's size/slide windows
	// are the previous row's too, so the map is asked only when a window
	// opens (it was a tenth of Nexmark q5's CPU, five lookups a row).
	recent [8]*winState
	rows   valueRows // the output rows' Values

	sessions map[string][]*session
	sheap    sessHeap
	nsess    int
	// sessBytes is what the open sessions' keys cost (countSession).
	sessBytes int64
	sess      sessSlots

	partRows map[int32]int64
	pending  [][]Value
	late     int64
	buf      []byte
	winBuf   []winKey
	startBuf []int64 // exec.WindowStarts' scratch

	// The batch being folded (nil between Pushes).
	cur *winBatch
	// curRows are the rows of the batch being folded that this operator
	// folds (PushRows), nil when it folds all of them (Push): the
	// current batch's row r is the pushed record's row curRows[r].
	curRows []int32
	// seen counts the rows pushed so far (every row of every batch,
	// folded or not): a group's stamp is the one of the row that made it.
	seen int64
	// held is set on an instance of a ParallelWindow, which merges the
	// instances' output and late rows itself (see heldOutput).
	held *heldOutput
	// marks, set on an instance of a ParallelWindow during a batch with
	// rows, are the watermarks it computed for the batch's rows: the
	// instance judges and closes by them instead of observing the rows.
	marks *rowMarks
	// Updates mode: the groups the batch touched.
	touched []winTouch
}

// winState is one open TUMBLE/HOP window: its groups in its own table.
type winState struct {
	k     winKey
	table *exec.GroupTable // nil without GROUP BY keys
	accs  []*exec.Accumulator
	keys  []Value // group g's key is keys[g*nk : (g+1)*nk]
	n     int     // groups
	sel   []int32 // rows of the current batch in this window, in row order
	dead  bool
	// snapped says the last snapshot (or restore) held the window; dirty
	// marks its groups changed since, for the next delta.
	snapped bool
	dirty   []bool
	// keyBytes is what keys[:measured] cost: StateBytes measures each
	// group's key once, as the group is added.
	keyBytes int64
	measured int
	// stamps[g] is group g's stamp (held output only; see stampOf).
	stamps []int64
}

// stampOf is the stamp of group g of ws: the number of rows pushed before
// the one that made the group, so within one window the groups of every
// instance of a ParallelWindow sort by it into the order one operator
// makes them in. Groups restored from a checkpoint (and made before the
// operator's output was held) have none recorded: they sort before every
// newer group, among themselves by group number.
func (ws *winState) stampOf(g int) int64 {
	if g < len(ws.stamps) {
		return ws.stamps[g]
	}
	return restoredStamp + int64(g)
}

// restoredStamp is the stamp base of groups without a recorded stamp.
const restoredStamp = math.MinInt64 / 2

// markDirty records that group g of ws changed since the last snapshot.
func (ws *winState) markDirty(g uint32) {
	if int(g) >= len(ws.dirty) {
		ws.dirty = append(ws.dirty, make([]bool, int(g)+1-len(ws.dirty))...)
	}
	ws.dirty[g] = true
}

// winBatch is one batch's evaluated columns and batch key ids.
type winBatch struct {
	rec      arrow.Record
	args     []arrow.Array // nil entry for COUNT(*)
	keyRead  []func(int) Value
	bks      []uint32      // row → batch key id
	distinct []arrow.Array // distinct key values by batch key id
	nbk      int
	arrays   []arrow.Array
	wins     []*winState // windows that got rows
	// Scratch.
	mark    []uint32
	stamp   uint32
	loc     []uint32
	present []int32
	first   []int32
	gids    []uint32
	signs   []int8
	ids     []uint32
	sessRow []uint32 // sessions: row → session slot; noSlot = not folded
	sessLo  int      // sessions: first row not folded yet
	row     int      // the row the loop is at
}

func (b *winBatch) release() {
	for _, a := range b.arrays {
		a.Release()
	}
}

// sessSlots is the group slots of the session accumulators.
type sessSlots struct {
	accs []*exec.Accumulator
	n    int
	free []uint32
}

func (s *sessSlots) alloc() uint32 {
	if k := len(s.free); k > 0 {
		id := s.free[k-1]
		s.free = s.free[:k-1]
		return id
	}
	id := uint32(s.n)
	s.n++
	for _, a := range s.accs {
		a.Grow(s.n)
	}
	return id
}

func (s *sessSlots) release(id uint32) {
	for _, a := range s.accs {
		a.Reset(id)
	}
	s.free = append(s.free, id)
}

const noSlot = ^uint32(0)

// NewWindowAggregate builds an EMIT FINAL aggregation of input (append-only)
// over the windows of spec.
func NewWindowAggregate(mem memory.Allocator, input *arrow.Schema, spec WindowSpec, keys []GroupKey, aggs []AggSpec, opts WindowOptions) (*WindowAggregate, error) {
	if IsChangelog(input) {
		return nil, fmt.Errorf("stream: EMIT FINAL needs an append-only input, got a changelog")
	}
	if spec.TimeCol < 0 || spec.TimeCol >= input.NumFields() {
		return nil, fmt.Errorf("stream: event-time column %d out of range", spec.TimeCol)
	}
	tsType := input.Field(spec.TimeCol).Type
	unit, err := unitNanos(tsType)
	if err != nil {
		return nil, err
	}
	outTS := tsType
	if tsType.ID() == arrow.INT64 {
		outTS = arrow.FixedWidthTypes.Timestamp_ms
	}
	w := &WindowAggregate{mem: mem, spec: spec, opts: opts, keys: keys,
		windows: map[winKey]*winState{}, sessions: map[string][]*session{}, partRows: map[int32]int64{}}
	w.unit = unit
	w.size, w.slide, w.gap = int64(spec.Size)/unit, int64(spec.Slide)/unit, int64(spec.Gap)/unit
	switch spec.Kind {
	case Tumble:
		if w.size <= 0 {
			return nil, fmt.Errorf("stream: TUMBLE size must be positive")
		}
	case Hop:
		if w.size <= 0 || w.slide <= 0 {
			return nil, fmt.Errorf("stream: HOP size and slide must be positive")
		}
	case Session:
		if w.gap <= 0 {
			return nil, fmt.Errorf("stream: SESSION gap must be positive")
		}
	case Assigned:
		for _, c := range []int{spec.StartCol, spec.EndCol} {
			if c < 0 || c >= input.NumFields() {
				return nil, fmt.Errorf("stream: window column %d out of range", c)
			}
		}
		outTS = input.Field(spec.StartCol).Type
	default:
		return nil, fmt.Errorf("stream: unknown window kind %d", spec.Kind)
	}
	if opts.Updates && spec.Kind != Tumble && spec.Kind != Hop {
		return nil, fmt.Errorf("stream: updating window aggregation needs TUMBLE or HOP windows")
	}
	w.clock = opts.Clock
	if w.clock == nil {
		w.clock = RealClock{}
	}
	w.tracker = NewWatermarkTracker(int64(opts.Delay)/unit, opts.IdleTimeout, unit)
	if opts.ByMarks {
		w.tracker = NewWatermarkTracker(0, 0, unit)
	}
	if len(opts.InputDelays) > 0 && !opts.ByMarks {
		delays := make([]int64, len(opts.InputDelays))
		for i, d := range opts.InputDelays {
			delays[i] = int64(d) / unit
		}
		w.tracker.SetInputDelays(delays)
	}
	var fields []arrow.Field
	if opts.Updates {
		fields = append(fields, opField)
	}
	fields = append(fields, arrow.Field{Name: "window_start", Type: outTS}, arrow.Field{Name: "window_end", Type: outTS})
	for _, k := range keys {
		w.keyTypes = append(w.keyTypes, k.Expr.DataType())
		fields = append(fields, arrow.Field{Name: k.Name, Type: k.Expr.DataType(), Nullable: true})
	}
	core, err := newAggCore(mem, aggs, exec.AggOptions{Streaming: true})
	if err != nil {
		return nil, err
	}
	w.core = core
	for j, s := range aggs {
		fields = append(fields, arrow.Field{Name: s.Name, Type: core.types[j], Nullable: true})
	}
	w.schema = arrow.NewSchema(fields, nil)
	w.sess = sessSlots{accs: core.accumulators()}
	return w, nil
}

// Schema is the output schema: append-only, or a changelog (op column
// first) under Updates.
func (w *WindowAggregate) Schema() *arrow.Schema { return w.schema }

// SinkMode is append-only (each window's rows are final when emitted), or
// under Updates a changelog keyed by window_start, window_end and the keys.
func (w *WindowAggregate) SinkMode() exec.SinkMode {
	if !w.opts.Updates {
		return exec.SinkMode{}
	}
	keys := make([]int, 2+len(w.keys))
	for i := range keys {
		keys[i] = i + 1
	}
	return exec.SinkMode{Changelog: true, Keys: keys}
}

// Watermark exposes the tracker (current watermark, partitions).
func (w *WindowAggregate) Watermark() *WatermarkTracker { return w.tracker }

// Late is the number of late rows dropped (or routed) so far.
func (w *WindowAggregate) Late() int64 { return w.late }

// SetPartitions registers the source's partitions so that each holds the
// watermark back until it produces data or goes idle.
func (w *WindowAggregate) SetPartitions(parts []int32) {
	if w.opts.ByMarks {
		return // the marks' partition alone holds the watermark
	}
	w.tracker.SetPartitions(parts, w.clock.Now())
}

// FollowMark implements MarkFollower: under ByMarks the watermark moves
// to wm and the windows it passed close; otherwise marks are ignored
// (the rows' event times drive the watermark).
func (w *WindowAggregate) FollowMark(ctx context.Context, wm int64) (arrow.Record, error) {
	if !w.opts.ByMarks {
		return nil, nil
	}
	w.tracker.Arrive(markPartition, w.clock.Now())
	before := w.tracker.Watermark()
	if w.tracker.Observe(markPartition, wm) > before {
		if err := w.closeUpTo(ctx, w.tracker.Watermark()); err != nil {
			return nil, err
		}
	}
	return w.flush()
}

// Push folds a batch from partition into the windows and returns the rows
// of the windows the watermark closed meanwhile (nil if none). The caller
// keeps rec and releases the result.
func (w *WindowAggregate) Push(ctx context.Context, rec arrow.Record, partition int32) (arrow.Record, error) {
	return w.push(ctx, rec, partition, nil, true)
}

// PushRows is Push of the rows of rec listed in rows (ascending) only,
// while the watermark still follows every row of rec: an instance of a
// ParallelWindow folds the rows of its keys, and since every instance
// tracks the whole input's event time row by row, each judges its rows
// late against the same watermark one operator would and closes its
// windows as that one would. rec is shared with other goroutines:
// read-only.
func (w *WindowAggregate) PushRows(ctx context.Context, rec arrow.Record, partition int32, rows []int32) (arrow.Record, error) {
	return w.push(ctx, rec, partition, rows, false)
}

// push is Push (all) or PushRows (rows).
func (w *WindowAggregate) push(ctx context.Context, rec arrow.Record, partition int32, rows []int32, all bool) (arrow.Record, error) {
	if !w.opts.ByMarks {
		w.tracker.Arrive(partition, w.clock.Now())
	}
	wm := w.tracker.Watermark()
	if w.marks != nil && rec.NumRows() > 0 {
		wm = w.marks.at[0] // the tracker may have observed the batch already
	}
	if err := w.closeUpTo(ctx, wm); err != nil {
		return nil, err
	}
	w.touched = w.touched[:0]
	if rec.NumRows() > 0 {
		w.curRows = rows
		if all {
			w.curRows = nil
		}
		err := w.fold(ctx, rec, partition, rows, all)
		w.seen += rec.NumRows()
		if err != nil {
			w.curRows = nil
			return nil, err
		}
	}
	w.emitUpdates()
	w.curRows = nil
	return w.flush()
}

// pushedRow is the pushed record's row of the current batch's row r.
func (w *WindowAggregate) pushedRow(r int32) int32 {
	if w.curRows == nil {
		return r
	}
	return w.curRows[r]
}

// evalBatch evaluates the batch's keys and arguments and groups it by key.
func (w *WindowAggregate) evalBatch(ctx context.Context, rec arrow.Record) (*winBatch, error) {
	b := &winBatch{rec: rec}
	n := int(rec.NumRows())
	eval := func(e Expr) (arrow.Array, error) {
		arr, err := e.Eval(ctx, w.mem, rec)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", e, err)
		}
		b.arrays = append(b.arrays, arr)
		return arr, nil
	}
	var keyCols []arrow.Array
	for k, key := range w.keys {
		arr, err := eval(key.Expr)
		if err == nil && !arrow.TypeEqual(arr.DataType(), w.keyTypes[k]) {
			err = fmt.Errorf("stream: group key %s evaluated to %s, declared %s", key.Expr, arr.DataType(), w.keyTypes[k])
		}
		if err != nil {
			b.release()
			return nil, err
		}
		keyCols = append(keyCols, arr)
	}
	for _, a := range w.core.calls {
		if a.Arg == nil {
			b.args = append(b.args, nil)
			continue
		}
		arr, err := eval(a.Arg)
		if err != nil {
			b.release()
			return nil, err
		}
		b.args = append(b.args, arr)
	}
	b.bks = make([]uint32, n)
	if len(keyCols) == 0 {
		b.nbk = 1
		return b, nil
	}
	t, err := exec.NewGroupTable(w.keyTypes)
	if err != nil {
		b.release()
		return nil, fmt.Errorf("stream: group keys: %w", err)
	}
	distinct, err := t.Assign(ctx, w.mem, keyCols, b.bks, true)
	if err != nil {
		b.release()
		return nil, fmt.Errorf("stream: grouping: %w", err)
	}
	b.distinct, b.nbk = distinct, t.NumGroups()
	b.arrays = append(b.arrays, distinct...)
	for _, d := range distinct {
		rd, err := reader(d)
		if err != nil {
			b.release()
			return nil, err
		}
		b.keyRead = append(b.keyRead, rd)
	}
	b.mark = make([]uint32, b.nbk)
	b.loc = make([]uint32, b.nbk)
	return b, nil
}

// fold folds the rows of rec listed in rows (all of them when all) into
// the windows, tracking the watermark over every row of rec.
func (w *WindowAggregate) fold(ctx context.Context, rec arrow.Record, partition int32, rows []int32, all bool) error {
	n := int(rec.NumRows())
	if !all && len(rows) == n {
		all = true
	}
	var b *winBatch
	if all || len(rows) > 0 {
		own := rec
		if !all {
			part, err := exec.TakeRecord(ctx, w.mem, rec, rows)
			if err != nil {
				return err
			}
			defer part.Release()
			own = part
		}
		var err error
		if b, err = w.evalBatch(ctx, own); err != nil {
			return err
		}
		defer b.release()
		w.cur = b
		defer func() { w.cur = nil }()
	}
	tsCol := rec.Column(w.spec.TimeCol)
	tsOf, err := reader(tsCol)
	if err != nil {
		return err
	}
	// A TIMESTAMP or BIGINT time column is read straight from its values
	// (a Value a row was a tenth of a TUMBLE … EMIT FINAL's CPU).
	tsVals, tsNulls := int64Values(tsCol), tsCol.NullN() > 0
	var startOf, endOf func(int) Value
	if w.spec.Kind == Assigned && b != nil {
		if startOf, err = reader(b.rec.Column(w.spec.StartCol)); err != nil {
			return err
		}
		if endOf, err = reader(b.rec.Column(w.spec.EndCol)); err != nil {
			return err
		}
	}
	if w.spec.Kind == Session && b != nil {
		b.sessRow = make([]uint32, b.rec.NumRows())
		for i := range b.sessRow {
			b.sessRow[i] = noSlot
		}
	}
	first := w.partRows[partition]
	w.partRows[partition] = first + int64(n)
	// With marks (an instance of a ParallelWindow), row i is judged
	// against marks.at[i] and the windows it passed close before it,
	// attributed to the row before (b.row), as observing the rows would
	// close them; closed is the watermark closed up to so far.
	marks := w.marks
	var closed int64
	if marks != nil {
		closed = marks.at[0]
	}
	// j counts the rows folded so far: row i of rec is the batch's row j
	// when it is one of them.
	j := 0
	for i := 0; i < n; i++ {
		ord := first + int64(i)
		wm := w.tracker.Watermark()
		if marks != nil {
			if wm = marks.at[i]; wm > closed {
				if b != nil {
					b.row = j - 1
				}
				if err := w.closeUpTo(ctx, wm); err != nil {
					return err
				}
				closed = wm
			}
		}
		var ts int64
		var null bool
		if tsVals != nil {
			ts, null = tsVals[i], tsNulls && tsCol.IsNull(i)
		} else {
			tv := tsOf(i)
			ts, null = tv.I, tv.IsNull()
		}
		mine := all || (j < len(rows) && int(rows[j]) == i)
		if !mine {
			// Rows i up to the next of this operator's (another
			// instance's keys) only move the watermark, and sessions
			// closing meanwhile hold the rows before them. The tracker
			// keeps a maximum and the windows close in end order, so
			// observing the run's latest event time once closes what
			// observing each row would: each instance of a
			// ParallelWindow passes over every row, and this keeps
			// that pass to a scan of the time column.
			if b != nil {
				b.row = j - 1
			}
			end := n
			if j < len(rows) {
				end = int(rows[j])
			}
			if w.opts.ByMarks || marks != nil {
				i = end - 1
				continue
			}
			top, any, err := MaxEventTime(tsCol, i, end)
			if err != nil {
				return err
			}
			i = end - 1
			if any {
				if nw := w.tracker.Observe(partition, top); nw > wm {
					if err := w.closeUpTo(ctx, nw); err != nil {
						return err
					}
				}
			}
			continue
		}
		r := j
		j++
		b.row = r
		if null {
			if err := w.lateRow(LateRow{Partition: partition, Row: ord, Watermark: wm, Reason: "NULL event time", Record: rec, Index: i}); err != nil {
				return err
			}
			continue
		}
		var added bool
		var lastEnd int64
		switch w.spec.Kind {
		case Session:
			lastEnd = ts + w.gap
			if lastEnd > wm {
				if err := w.addSession(ctx, ts, r); err != nil {
					return err
				}
				added = true
			}
		default:
			w.winBuf = w.winBuf[:0]
			if w.spec.Kind == Assigned {
				s, e := startOf(r), endOf(r)
				if s.IsNull() || e.IsNull() {
					return fmt.Errorf("stream: NULL window bounds at partition %d row %d", partition, ord)
				}
				w.winBuf = append(w.winBuf, winKey{s.I, e.I})
			} else {
				slide := w.slide
				if w.spec.Kind == Tumble {
					slide = w.size
				}
				w.startBuf = exec.WindowStarts(w.startBuf[:0], ts, w.size, slide)
				// A HOP with slide > size has gaps: a row in one is in
				// no window (as in batch), not late.
				added = len(w.startBuf) == 0
				for _, st := range w.startBuf {
					w.winBuf = append(w.winBuf, winKey{st, st + w.size})
				}
			}
			for _, k := range w.winBuf {
				lastEnd = max(lastEnd, k.end)
				if k.end <= wm {
					continue
				}
				ws := w.window(k)
				if len(ws.sel) == 0 {
					b.wins = append(b.wins, ws)
				}
				ws.sel = append(ws.sel, int32(r))
				added = true
			}
		}
		if !added {
			reason := fmt.Sprintf("window end %s <= watermark %s", w.timeText(lastEnd), w.timeText(wm))
			if err := w.lateRow(LateRow{Partition: partition, Row: ord, EventTime: ts, Watermark: wm, Reason: reason, Record: rec, Index: i}); err != nil {
				return err
			}
		}
		if w.opts.ByMarks || marks != nil {
			continue
		}
		if nw := w.tracker.Observe(partition, ts); nw > wm {
			if err := w.closeUpTo(ctx, nw); err != nil {
				return err
			}
		}
	}
	if marks != nil {
		// The rows after this operator's last, and its tracker, which
		// takes the batch's latest event time as observing each row would.
		if marks.ok {
			w.tracker.Observe(partition, marks.top)
		}
		if wm := marks.at[n]; wm > closed {
			if b != nil {
				b.row = j - 1
			}
			if err := w.closeUpTo(ctx, wm); err != nil {
				return err
			}
		}
	}
	if b == nil {
		return nil
	}
	for _, ws := range b.wins {
		if !ws.dead {
			if err := w.foldWindow(ctx, ws); err != nil {
				return err
			}
		}
	}
	if w.spec.Kind == Session {
		return w.flushSessions(ctx, int(b.rec.NumRows()))
	}
	return nil
}

func (w *WindowAggregate) lateRow(r LateRow) error {
	w.late++
	switch w.opts.Late {
	case LateError:
		return &LateRowError{Row: r}
	case LateRoute:
		if w.held != nil {
			// The ParallelWindow routes every instance's late rows in
			// the pushed record's row order.
			w.held.late = append(w.held.late, r)
			return nil
		}
		if w.opts.OnLate != nil {
			if err := w.opts.OnLate(r); err != nil {
				return fmt.Errorf("late-row sink: %w", err)
			}
		}
	}
	return nil
}

// window returns the open window k, creating it.
func (w *WindowAggregate) window(k winKey) *winState {
	slot := &w.recent[0]
	step := w.slide
	if w.spec.Kind == Tumble {
		step = w.size
	}
	if step > 0 && w.spec.Kind != Assigned {
		slot = &w.recent[uint64(k.start/step)%uint64(len(w.recent))]
	}
	if ws := *slot; ws != nil && ws.k == k && !ws.dead {
		return ws
	}
	ws, ok := w.windows[k]
	if !ok {
		ws = w.newWindow(k)
	}
	*slot = ws
	return ws
}

// forgetRecent empties the recent windows (their states were replaced).
func (w *WindowAggregate) forgetRecent() { w.recent = [len(w.recent)]*winState{} }

func (w *WindowAggregate) newWindow(k winKey) *winState {
	ws := &winState{k: k, accs: w.core.accumulators()}
	if len(w.keys) > 0 {
		t, err := exec.NewGroupTable(w.keyTypes)
		if err != nil {
			// The same types built the batch's table already.
			panic(fmt.Sprintf("stream: window group table: %v", err))
		}
		ws.table = t
	}
	w.windows[k] = ws
	pushWin(&w.heap, k)
	return ws
}

// foldWindow folds the rows of the current batch that ws collected: the
// batch's distinct keys among them go into the window's table (in order of
// first appearance in the window), then each aggregate folds the slice of
// the batch from the first to the last such row, the others weighing 0.
func (w *WindowAggregate) foldWindow(ctx context.Context, ws *winState) error {
	b := w.cur
	sel := ws.sel
	ws.sel = ws.sel[:0]
	if len(sel) == 0 {
		return nil
	}
	lo, hi := int(sel[0]), int(sel[len(sel)-1])+1
	nk := len(w.keys)
	before := ws.n
	// The window's groups of the batch keys it saw.
	b.present, b.first = b.present[:0], b.first[:0]
	if ws.table == nil {
		b.present, b.first = append(b.present, 0), append(b.first, sel[0])
		if ws.n == 0 {
			ws.n = 1
		}
	} else {
		b.stamp++
		for _, r := range sel {
			if bk := b.bks[r]; b.mark[bk] != b.stamp {
				b.mark[bk] = b.stamp
				b.present = append(b.present, int32(bk))
				b.first = append(b.first, r)
			}
		}
		keys := b.distinct
		var taken []arrow.Array
		if len(b.present) < b.nbk || !isIdentity(b.present) {
			var err error
			if taken, err = exec.TakeColumns(ctx, w.mem, b.distinct, b.present); err != nil {
				return err
			}
			defer func() {
				for _, a := range taken {
					a.Release()
				}
			}()
			keys = taken
		}
		b.ids = resize(b.ids, len(b.present))
		newKeys, err := ws.table.Assign(ctx, w.mem, keys, b.ids, true)
		if err != nil {
			return fmt.Errorf("stream: grouping: %w", err)
		}
		for _, a := range newKeys {
			if a != nil {
				a.Release()
			}
		}
		for i, bk := range b.present {
			b.loc[bk] = b.ids[i]
			if int(b.ids[i]) >= ws.n { // a new group: keep its key
				for k := 0; k < nk; k++ {
					ws.keys = append(ws.keys, b.keyRead[k](int(bk)))
				}
				if w.held != nil {
					for len(ws.stamps) < ws.n {
						ws.stamps = append(ws.stamps, ws.stampOf(len(ws.stamps)))
					}
					ws.stamps = append(ws.stamps, w.stamp(b.first[i]))
				}
				ws.n++
			}
		}
	}
	for _, a := range ws.accs {
		a.Grow(ws.n)
	}
	// Updates mode: the groups' rows before the batch.
	var old []Value
	var err error
	if w.opts.Updates {
		b.ids = b.ids[:0]
		for _, bk := range b.present {
			if g := w.localOf(ws, bk); int(g) < before {
				b.ids = append(b.ids, g)
			}
		}
		if old, err = w.core.results(ws.accs, b.ids, nil); err != nil {
			return err
		}
	}
	b.gids = resize(b.gids, hi-lo)
	var signs []int8
	if len(sel) < hi-lo {
		b.signs = resize(b.signs, hi-lo)
		clear(b.signs)
		clear(b.gids)
		signs = b.signs
	}
	for _, r := range sel {
		b.gids[int(r)-lo] = w.localOf(ws, int32(b.bks[r]))
		if signs != nil {
			signs[int(r)-lo] = 1
		}
	}
	for _, bk := range b.present {
		ws.markDirty(w.localOf(ws, bk))
	}
	if err := w.updateSlice(ctx, ws.accs, lo, hi, b.gids, signs); err != nil {
		return err
	}
	if w.opts.Updates {
		return w.touch(ws, before, old)
	}
	return nil
}

// localOf is batch key bk's group in ws (after foldWindow mapped it).
func (w *WindowAggregate) localOf(ws *winState, bk int32) uint32 {
	if ws.table == nil {
		return 0
	}
	return w.cur.loc[bk]
}

// updateSlice folds rows [lo, hi) of the current batch into accs.
func (w *WindowAggregate) updateSlice(ctx context.Context, accs []*exec.Accumulator, lo, hi int, gids []uint32, signs []int8) error {
	b := w.cur
	args := make([]arrow.Array, len(b.args))
	for j, a := range b.args {
		if a == nil {
			continue
		}
		if lo == 0 && hi == a.Len() {
			args[j] = a
			continue
		}
		args[j] = array.NewSlice(a, int64(lo), int64(hi))
		defer args[j].Release()
	}
	return w.core.update(ctx, accs, gids, args, signs)
}

// touch records, under Updates, the groups of ws the batch changed with
// their rows before (old, for those below before) and after it.
func (w *WindowAggregate) touch(ws *winState, before int, old []Value) error {
	b := w.cur
	na := len(w.core.calls)
	b.ids = b.ids[:0]
	for _, bk := range b.present {
		b.ids = append(b.ids, w.localOf(ws, bk))
	}
	nv, err := w.core.results(ws.accs, b.ids, nil)
	if err != nil {
		return err
	}
	k := 0
	for i, g := range b.ids {
		t := winTouch{k: ws.k, key: ws.keys[int(g)*len(w.keys) : (int(g)+1)*len(w.keys)], first: b.first[i],
			now: nv[i*na : (i+1)*na]}
		if int(g) < before {
			t.existed, t.old = true, old[k*na:(k+1)*na]
			k++
		}
		w.touched = append(w.touched, t)
	}
	return nil
}

func isIdentity(ids []int32) bool {
	for i, v := range ids {
		if int(v) != i {
			return false
		}
	}
	return true
}

// addSession puts row i's session [ts, ts+gap) into its key's sessions,
// merging every open session it touches (Flink's intersects: bounds may
// meet). A row that touches one session extends it; one that bridges
// several merges them into the first.
func (w *WindowAggregate) addSession(ctx context.Context, ts int64, i int) error {
	b := w.cur
	w.buf = w.buf[:0]
	key := make([]Value, len(w.keys))
	bk := b.bks[i]
	for j := range w.keys {
		key[j] = b.keyRead[j](int(bk))
		w.buf = appendKey(w.buf, key[j])
	}
	ks := string(w.buf)
	list := w.sessions[ks]
	start, end := ts, ts+w.gap
	var into *session
	kept := list[:0]
	for _, o := range list {
		if o.start <= end && start <= o.end {
			start, end = min(start, o.start), max(end, o.end)
			if into == nil {
				into = o
				kept = append(kept, o)
				continue
			}
			// A bridge: fold the rows so far, then merge o into into.
			if err := w.flushSessions(ctx, i); err != nil {
				return err
			}
			for _, a := range w.sess.accs {
				if err := a.Merge(into.slot, o.slot); err != nil {
					return err
				}
			}
			w.sess.release(o.slot)
			o.dead = true
			w.countSession(o, -1)
			continue
		}
		kept = append(kept, o)
	}
	if into == nil {
		into = &session{slot: w.sess.alloc(), key: key, keyStr: ks, stamp: w.stamp(int32(i))}
		kept = append(kept, into)
		w.countSession(into, 1)
	}
	into.start, into.end = start, end
	w.sessions[ks] = kept
	pushSess(&w.sheap, sessEntry{end: into.end, sess: into})
	b.sessRow[i] = into.slot
	return nil
}

// flushSessions folds the current batch's session rows in [sessLo, hi).
func (w *WindowAggregate) flushSessions(ctx context.Context, hi int) error {
	b := w.cur
	if b == nil || hi <= b.sessLo {
		return nil
	}
	lo := b.sessLo
	b.sessLo = hi
	b.gids = resize(b.gids, hi-lo)
	b.signs = resize(b.signs, hi-lo)
	any := false
	for r := lo; r < hi; r++ {
		s := b.sessRow[r]
		if s == noSlot {
			b.gids[r-lo], b.signs[r-lo] = 0, 0
			continue
		}
		b.gids[r-lo], b.signs[r-lo] = s, 1
		any = true
	}
	if !any {
		return nil
	}
	return w.updateSlice(ctx, w.sess.accs, lo, hi, b.gids, b.signs)
}

// closeUpTo moves every window ending at or before wm to the output.
func (w *WindowAggregate) closeUpTo(ctx context.Context, wm int64) error {
	for len(w.heap) > 0 && w.heap[0].end <= wm {
		k := popWin(&w.heap)
		ws := w.windows[k]
		delete(w.windows, k)
		if ws.snapped {
			w.goneWins = append(w.goneWins, k)
		}
		if w.cur != nil && len(ws.sel) > 0 {
			if err := w.foldWindow(ctx, ws); err != nil {
				return err
			}
		}
		ws.dead = true
		for i, r := range w.recent {
			if r == ws {
				w.recent[i] = nil
			}
		}
		if w.opts.Updates {
			continue // its rows were emitted as it changed
		}
		if err := w.emitWindow(ws); err != nil {
			return err
		}
	}
	if len(w.sheap) > 0 && w.sheap[0].end <= wm && w.cur != nil && w.cur.sessRow != nil {
		// Sessions about to close must hold the batch's rows so far.
		if err := w.flushSessions(ctx, w.cur.row+1); err != nil {
			return err
		}
	}
	for len(w.sheap) > 0 && w.sheap[0].end <= wm {
		e := popSess(&w.sheap)
		if e.sess.dead || e.sess.end != e.end {
			continue
		}
		s := e.sess
		s.dead = true
		w.countSession(s, -1)
		list := w.sessions[s.keyStr]
		for j, o := range list {
			if o == s {
				list = append(list[:j], list[j+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(w.sessions, s.keyStr)
		} else {
			w.sessions[s.keyStr] = list
		}
		vals, err := w.core.results(w.sess.accs, []uint32{s.slot}, nil)
		if err != nil {
			return err
		}
		w.sess.release(s.slot)
		w.pending = append(w.pending, w.outRow(s.start, s.end, s.key, vals))
		w.held.order(winOrder{s.end, s.start, s.stamp})
	}
	return nil
}

// emitWindow appends the rows of a closed window to the output.
func (w *WindowAggregate) emitWindow(ws *winState) error {
	if ws.n == 0 {
		return nil
	}
	ids := make([]uint32, ws.n)
	for g := range ids {
		ids[g] = uint32(g)
	}
	vals, err := w.core.results(ws.accs, ids, nil)
	if err != nil {
		return err
	}
	na, nk := len(w.core.calls), len(w.keys)
	for g := 0; g < ws.n; g++ {
		w.pending = append(w.pending, w.outRow(ws.k.start, ws.k.end, ws.keys[g*nk:(g+1)*nk], vals[g*na:(g+1)*na]))
		w.held.order(winOrder{ws.k.end, ws.k.start, ws.stampOf(g)})
	}
	return nil
}

func (w *WindowAggregate) outRow(start, end int64, key, vals []Value) []Value {
	r := w.rows.row(2 + len(key) + len(vals))
	r = append(r, Int(start), Int(end))
	r = append(r, key...)
	return append(r, vals...)
}

func (w *WindowAggregate) flush() (arrow.Record, error) {
	if len(w.pending) == 0 || w.held != nil {
		return nil, nil // held: the ParallelWindow takes them
	}
	rb := array.NewRecordBuilder(w.mem, w.schema)
	defer rb.Release()
	rec, err := buildRecord(rb, w.pending)
	w.pending = w.pending[:0]
	return rec, err
}

// Tick lets idleness advance the watermark at processing time now and
// returns the windows that closed.
func (w *WindowAggregate) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	if w.tracker.Tick(now) {
		if err := w.closeUpTo(ctx, w.tracker.Watermark()); err != nil {
			return nil, err
		}
	}
	return w.flush()
}

// Finish is the end of a bounded input: the watermark becomes +∞ and every
// open window is emitted.
func (w *WindowAggregate) Finish(ctx context.Context) (arrow.Record, error) {
	w.tracker.Finish()
	if err := w.closeUpTo(ctx, MaxWatermark); err != nil {
		return nil, err
	}
	return w.flush()
}

// Stats counts open (window, group) pairs, or open sessions.
func (w *WindowAggregate) Stats() StateStats {
	s := StateStats{Groups: w.nsess}
	for _, ws := range w.windows {
		s.Groups += ws.n
	}
	s.Bytes, _ = w.StateBytes()
	return s
}

// Close drops the state.
func (w *WindowAggregate) Close() error {
	w.windows, w.heap, w.goneWins = map[winKey]*winState{}, nil, nil
	w.forgetRecent()
	w.sessions, w.sheap, w.nsess, w.sessBytes = map[string][]*session{}, nil, 0, 0
	w.sess = sessSlots{accs: w.core.accumulators()}
	return nil
}

// stamp is the stamp of the current batch's row r: the rows pushed
// before it.
func (w *WindowAggregate) stamp(r int32) int64 { return w.seen + int64(w.pushedRow(r)) }

// timeText renders an event time (in the time column's unit) for messages.
func (w *WindowAggregate) timeText(v int64) string {
	t := time.Unix(0, v*w.unit).UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.999999999")
}
