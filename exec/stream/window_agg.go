package stream

import (
	"context"
	"fmt"
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
// whose oldest windows closed still counts in the open ones.
type WindowAggregate struct {
	mem     memory.Allocator
	spec    WindowSpec
	opts    WindowOptions
	keys    []GroupKey
	aggs    []aggFn
	schema  *arrow.Schema
	tracker *WatermarkTracker
	clock   Clock

	size, slide, gap int64 // in event-time units
	unit             int64 // nanoseconds per event-time unit

	windows map[winKey]*windowState
	heap    winHeap

	sessions map[string][]*session
	sheap    sessHeap
	nsess    int

	partRows map[int32]int64
	pending  [][]Value
	late     int64
	buf      []byte
	winBuf   []winKey

	// Updates mode: the batch's epoch and the groups it touched.
	epoch   uint64
	touched []winTouch
}

type windowState struct {
	groups map[string]*group
	order  []*group
}

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
		windows: map[winKey]*windowState{}, sessions: map[string][]*session{}, partRows: map[int32]int64{}}
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
	if len(opts.InputDelays) > 0 {
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
		fields = append(fields, arrow.Field{Name: k.Name, Type: k.Expr.DataType(), Nullable: true})
	}
	for _, s := range aggs {
		f, err := resolveAgg(s, false)
		if err != nil {
			return nil, err
		}
		w.aggs = append(w.aggs, f)
		fields = append(fields, arrow.Field{Name: s.Name, Type: f.out, Nullable: true})
	}
	w.schema = arrow.NewSchema(fields, nil)
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
	w.tracker.SetPartitions(parts, w.clock.Now())
}

// Push folds a batch from partition into the windows and returns the rows
// of the windows the watermark closed meanwhile (nil if none). The caller
// keeps rec and releases the result.
func (w *WindowAggregate) Push(ctx context.Context, rec arrow.Record, partition int32) (arrow.Record, error) {
	w.tracker.Arrive(partition, w.clock.Now())
	w.closeUpTo(w.tracker.Watermark())
	w.epoch++
	w.touched = w.touched[:0]
	if rec.NumRows() > 0 {
		if err := w.fold(ctx, rec, partition); err != nil {
			return nil, err
		}
	}
	w.emitUpdates()
	return w.flush()
}

func (w *WindowAggregate) fold(ctx context.Context, rec arrow.Record, partition int32) error {
	b, err := evalBatch(ctx, w.mem, rec, w.keys, w.aggs, false)
	if err != nil {
		return err
	}
	defer b.release()
	tsOf, err := reader(rec.Column(w.spec.TimeCol))
	if err != nil {
		return err
	}
	var startOf, endOf func(int) Value
	if w.spec.Kind == Assigned {
		if startOf, err = reader(rec.Column(w.spec.StartCol)); err != nil {
			return err
		}
		if endOf, err = reader(rec.Column(w.spec.EndCol)); err != nil {
			return err
		}
	}
	key := make([]Value, len(w.keys))
	for i := 0; i < int(rec.NumRows()); i++ {
		ord := w.partRows[partition]
		w.partRows[partition] = ord + 1
		wm := w.tracker.Watermark()
		tv := tsOf(i)
		if tv.IsNull() {
			if err := w.lateRow(LateRow{Partition: partition, Row: ord, Watermark: wm, Reason: "NULL event time", Record: rec, Index: i}); err != nil {
				return err
			}
			continue
		}
		ts := tv.I
		w.buf = w.buf[:0]
		for j, r := range b.keys {
			key[j] = r(i)
			w.buf = appendKey(w.buf, key[j])
		}
		var added bool
		var lastEnd int64
		switch w.spec.Kind {
		case Session:
			lastEnd = ts + w.gap
			if lastEnd > wm {
				w.addSession(key, ts, b, i)
				added = true
			}
		default:
			w.winBuf = w.winBuf[:0]
			if w.spec.Kind == Assigned {
				s, e := startOf(i), endOf(i)
				if s.IsNull() || e.IsNull() {
					return fmt.Errorf("stream: NULL window bounds at partition %d row %d", partition, ord)
				}
				w.winBuf = append(w.winBuf, winKey{s.I, e.I})
			} else {
				w.winBuf = w.spec.assign(w.winBuf, ts, w.size, w.slide)
			}
			for _, k := range w.winBuf {
				lastEnd = max(lastEnd, k.end)
				if k.end <= wm {
					continue
				}
				w.addWindow(k, key, b, i)
				added = true
			}
		}
		if !added {
			reason := fmt.Sprintf("window end %s <= watermark %s", w.timeText(lastEnd), w.timeText(wm))
			if err := w.lateRow(LateRow{Partition: partition, Row: ord, EventTime: ts, Watermark: wm, Reason: reason, Record: rec, Index: i}); err != nil {
				return err
			}
		}
		if nw := w.tracker.Observe(partition, ts); nw > wm {
			w.closeUpTo(nw)
		}
	}
	return checkErr(w.aggs)
}

func (w *WindowAggregate) lateRow(r LateRow) error {
	w.late++
	switch w.opts.Late {
	case LateError:
		return &LateRowError{Row: r}
	case LateRoute:
		if w.opts.OnLate != nil {
			if err := w.opts.OnLate(r); err != nil {
				return fmt.Errorf("late-row sink: %w", err)
			}
		}
	}
	return nil
}

func (w *WindowAggregate) addWindow(k winKey, key []Value, b *batchEval, i int) {
	ws, ok := w.windows[k]
	if !ok {
		ws = &windowState{groups: map[string]*group{}}
		w.windows[k] = ws
		pushWin(&w.heap, k)
	}
	g, ok := ws.groups[string(w.buf)]
	if !ok {
		g = &group{key: append([]Value(nil), key...), accs: make([]acc, len(w.aggs))}
		ws.groups[string(w.buf)] = g
		ws.order = append(ws.order, g)
	}
	if w.opts.Updates && g.epoch != w.epoch {
		g.epoch = w.epoch
		t := winTouch{k: k, g: g, existed: ok}
		if ok {
			t.old = g.results(w.aggs, nil)
		}
		w.touched = append(w.touched, t)
	}
	g.fold(w.aggs, b, i, 1)
}

// addSession puts the row's session [ts, ts+gap) into its key's sessions,
// merging every open session it touches (Flink's intersects: bounds may
// meet).
func (w *WindowAggregate) addSession(key []Value, ts int64, b *batchEval, i int) {
	ks := string(w.buf)
	list := w.sessions[ks]
	s := &session{start: ts, end: ts + w.gap, keyStr: ks,
		g: &group{key: append([]Value(nil), key...), accs: make([]acc, len(w.aggs))}}
	s.g.fold(w.aggs, b, i, 1)
	kept := list[:0]
	for _, o := range list {
		if o.start <= s.end && s.start <= o.end {
			s.start, s.end = min(s.start, o.start), max(s.end, o.end)
			s.g.rows += o.g.rows
			for j := range w.aggs {
				w.aggs[j].merge(&s.g.accs[j], &o.g.accs[j])
			}
			o.dead = true
			w.nsess--
			continue
		}
		kept = append(kept, o)
	}
	w.sessions[ks] = append(kept, s)
	w.nsess++
	pushSess(&w.sheap, sessEntry{end: s.end, sess: s})
}

// closeUpTo moves every window ending at or before wm to the output.
func (w *WindowAggregate) closeUpTo(wm int64) {
	for len(w.heap) > 0 && w.heap[0].end <= wm {
		k := popWin(&w.heap)
		ws := w.windows[k]
		delete(w.windows, k)
		if w.opts.Updates {
			continue // its rows were emitted as it changed
		}
		for _, g := range ws.order {
			w.pending = append(w.pending, w.outRow(k.start, k.end, g))
		}
	}
	for len(w.sheap) > 0 && w.sheap[0].end <= wm {
		e := popSess(&w.sheap)
		if e.sess.dead || e.sess.end != e.end {
			continue
		}
		s := e.sess
		s.dead = true
		w.nsess--
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
		w.pending = append(w.pending, w.outRow(s.start, s.end, s.g))
	}
}

func (w *WindowAggregate) outRow(start, end int64, g *group) []Value {
	r := make([]Value, 0, 2+len(g.key)+len(w.aggs))
	r = append(r, Int(start), Int(end))
	r = append(r, g.key...)
	return g.results(w.aggs, r)
}

func (w *WindowAggregate) flush() (arrow.Record, error) {
	if len(w.pending) == 0 {
		return nil, nil
	}
	rb := array.NewRecordBuilder(w.mem, w.schema)
	defer rb.Release()
	rec, err := buildRecord(rb, w.pending)
	w.pending = w.pending[:0]
	return rec, err
}

// Tick lets idleness advance the watermark at processing time now and
// returns the windows that closed.
func (w *WindowAggregate) Tick(_ context.Context, now time.Time) (arrow.Record, error) {
	if w.tracker.Tick(now) {
		w.closeUpTo(w.tracker.Watermark())
	}
	return w.flush()
}

// Finish is the end of a bounded input: the watermark becomes +∞ and every
// open window is emitted.
func (w *WindowAggregate) Finish(context.Context) (arrow.Record, error) {
	w.tracker.Finish()
	w.closeUpTo(MaxWatermark)
	return w.flush()
}

// Stats counts open (window, group) pairs, or open sessions.
func (w *WindowAggregate) Stats() StateStats {
	var s StateStats
	for _, ws := range w.windows {
		s.Groups += len(ws.order)
		for k, g := range ws.groups {
			s.Bytes += int64(len(k)) + groupBytes(g)
		}
	}
	s.Groups += w.nsess
	for _, list := range w.sessions {
		for _, ss := range list {
			s.Bytes += int64(len(ss.keyStr)) + 32 + groupBytes(ss.g)
		}
	}
	s.Bytes += int64(len(w.heap))*16 + int64(len(w.sheap))*16
	return s
}

// Close drops the state.
func (w *WindowAggregate) Close() error {
	w.windows, w.heap = map[winKey]*windowState{}, nil
	w.sessions, w.sheap, w.nsess = map[string][]*session{}, nil, 0
	return nil
}

// timeText renders an event time (in the time column's unit) for messages.
func (w *WindowAggregate) timeText(v int64) string {
	t := time.Unix(0, v*w.unit).UTC()
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.999999999")
}
