package stream

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// OverSpec describes a streaming OVER aggregate: window functions over
// PARTITION BY Partition ORDER BY the event-time column TimeCol, each
// frame ending at the current row and reaching back a bounded distance.
type OverSpec struct {
	// TimeCol is the ORDER BY column, the one the watermark tracks.
	TimeCol int
	// Partition are the PARTITION BY columns.
	Partition []int
	// Rows is the largest ROWS frame's reach (n PRECEDING), Range the
	// largest RANGE frame's (in TimeCol's units); the rows a future
	// row's frame can reach are kept, no others.
	Rows, Range int64
	// Kernel computes the window functions over a record of one or more
	// partitions' rows (in any order), returning the rows with their
	// function columns appended: the batch operator, so both modes agree.
	// The caller releases the records.
	Kernel func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error)
	// Out is the Kernel's output schema.
	Out *arrow.Schema
	// Carry are the functions whose frame starts UNBOUNDED PRECEDING:
	// the rows no bounded frame reaches are dropped all the same, folded
	// into a running value per partition (see OverCarry).
	Carry []OverCarry
	// ByMarks makes the watermark follow the input's marks (FollowMark)
	// rather than its rows' event times: over another OverAggregate's
	// output, whose rows come grouped by key, each already behind that
	// operator's watermark. Delay and IdleTimeout are then unused.
	ByMarks bool
	// Delay is the watermark delay; IdleTimeout 'watermark.idle_timeout'.
	Delay       time.Duration
	IdleTimeout time.Duration
	// Late and OnLate are the late-row policy: a row is late when its
	// event time is below the watermark as it arrives.
	Late   LatePolicy
	OnLate func(LateRow) error
	// Clock is processing time (idleness); RealClock if nil.
	Clock Clock
}

// OverAggregate runs OVER aggregates ordered by event time on an
// append-only stream, as Flink does: a row waits until the watermark
// passes its event time — then every row of its frame (peers included)
// is there — and is emitted once with its window functions' values. A
// row's frame reaches back only over rows emitted before it, so per
// partition the last Rows rows and those within Range of the watermark
// are kept, and nothing else. Not safe for concurrent use.
//
// A SUM or AVG of floats over a frame can differ from the batch result
// in its last bits: the kernel slides a running sum (add the rows that
// enter, subtract those that leave), which in batch starts at the
// partition's first row and here at the first row kept, and float
// addition is not associative. Integer and DECIMAL sums are exact, so
// equal; making floats equal needs an exact (or start-independent)
// frame sum in the batch kernel, which it does not have yet.
type OverAggregate struct {
	mem     memory.Allocator
	spec    OverSpec
	clock   Clock
	in      *arrow.Schema
	unit    int64
	tracker *WatermarkTracker
	// pending are the rows waiting for the watermark; history, per
	// partition, the emitted rows a later frame may reach, by time.
	pending [][]Value
	history map[string][][]Value
	nhist   int
	// carry is, per partition, the running values of spec.Carry over
	// the rows dropped from its history.
	carry map[string][]carryVal
	// dirty are the partition keys whose history changed since the last
	// snapshot (the next delta writes them whole): retain marks them.
	dirty    map[string]bool
	emitted  int64 // the watermark of the last emission
	late     int64
	partRows map[int32]int64
	buf      []byte
	// Running state sizes for the per-message budget check
	// (StateBytes): the waiting rows', and per partition key its
	// history's and running values' (partBytes, added up in histBytes),
	// each measured as it changes.
	pendBytes int64
	histBytes int64
	partBytes map[string]int64
	// idle orders the partitions of a RANGE frame by their newest
	// row's time, so that a key that stops receiving rows still has
	// its history trimmed once the watermark passes its frame (sweep).
	idle sweepHeap
	// held is set on an instance of a ParallelOver, which merges the
	// instances' output and routes their late rows itself.
	held *overHeld
}

// overHeld is what a ParallelOver instance holds of a call for the
// merge: its output rows, in outputLess order, and its late rows (to
// route in batch row order).
type overHeld struct {
	rows [][]Value
	late []LateRow
}

// sweepEntry is a partition's newest row time when it was last trimmed.
type sweepEntry struct {
	ts  int64
	key string
}

type sweepHeap []sweepEntry

func (h sweepHeap) Len() int           { return len(h) }
func (h sweepHeap) Less(i, k int) bool { return h[i].ts < h[k].ts }
func (h sweepHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *sweepHeap) Push(x any)        { *h = append(*h, x.(sweepEntry)) }
func (h *sweepHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

var (
	_ Operator          = (*OverAggregate)(nil)
	_ Snapshotter       = (*OverAggregate)(nil)
	_ WatermarkReporter = (*OverAggregate)(nil)
	_ EventTimer        = (*OverAggregate)(nil)
	_ PartitionAware    = (*OverAggregate)(nil)
	_ MarkFollower      = (*OverAggregate)(nil)
)

// NewOverAggregate builds the OVER aggregate of spec over an append-only
// input of schema in.
func NewOverAggregate(mem memory.Allocator, in *arrow.Schema, spec OverSpec) (*OverAggregate, error) {
	if IsChangelog(in) {
		return nil, fmt.Errorf("stream: a streaming OVER aggregate needs an append-only input")
	}
	if spec.TimeCol < 0 || spec.TimeCol >= in.NumFields() {
		return nil, fmt.Errorf("stream: OVER time column %d out of range", spec.TimeCol)
	}
	for _, c := range spec.Partition {
		if c < 0 || c >= in.NumFields() {
			return nil, fmt.Errorf("stream: OVER partition column %d out of range", c)
		}
	}
	if spec.Kernel == nil || spec.Out == nil {
		return nil, fmt.Errorf("stream: an OVER aggregate needs its kernel and output schema")
	}
	unit, err := unitNanos(in.Field(spec.TimeCol).Type)
	if err != nil {
		return nil, err
	}
	if err := checkCarries(spec, in.NumFields()); err != nil {
		return nil, err
	}
	o := &OverAggregate{mem: mem, spec: spec, clock: spec.Clock, in: in, unit: unit, history: map[string][][]Value{}, carry: map[string][]carryVal{}, dirty: map[string]bool{},
		emitted: MinWatermark, partRows: map[int32]int64{}, partBytes: map[string]int64{}}
	if o.clock == nil {
		o.clock = RealClock{}
	}
	o.tracker = NewWatermarkTracker(int64(spec.Delay)/unit, spec.IdleTimeout, unit)
	if spec.ByMarks {
		o.tracker = NewWatermarkTracker(0, 0, unit)
	}
	return o, nil
}

// Schema is the input's columns, then one per window function.
func (o *OverAggregate) Schema() *arrow.Schema { return o.spec.Out }

// SinkMode is append-only.
func (o *OverAggregate) SinkMode() exec.SinkMode { return exec.SinkMode{} }

// Late is the number of late rows dropped (or routed) so far.
func (o *OverAggregate) Late() int64 { return o.late }

// Watermark is the input's watermark: every row older was emitted.
func (o *OverAggregate) Watermark() *WatermarkTracker { return o.tracker }

// SetPartitions registers the input's partitions (see WatermarkTracker).
func (o *OverAggregate) SetPartitions(parts []int32) {
	if o.spec.ByMarks {
		return // the marks' partition alone holds the watermark
	}
	o.tracker.SetPartitions(parts, o.clock.Now())
}

// FollowMark implements MarkFollower: under ByMarks the watermark moves
// to wm and the rows it passed are emitted; otherwise marks are ignored.
func (o *OverAggregate) FollowMark(ctx context.Context, wm int64) (arrow.Record, error) {
	if !o.spec.ByMarks {
		return nil, nil
	}
	o.tracker.Arrive(markPartition, o.clock.Now())
	before := o.tracker.Watermark()
	if o.tracker.Observe(markPartition, wm) <= before {
		return nil, nil
	}
	return o.emit(ctx)
}

// Push folds a batch row by row and returns the rows the watermark let
// out, or nil. The caller keeps rec and releases the result.
func (o *OverAggregate) Push(ctx context.Context, rec arrow.Record, partition int32) (arrow.Record, error) {
	return o.push(ctx, rec, partition, nil)
}

// PushRows implements RowsPusher for a ParallelOver instance: the event
// time of every row of rec moves the watermark, row by row, exactly as
// Push does, but only the rows listed (ascending) are judged late and
// kept; the others are another instance's keys. rec is read-only.
func (o *OverAggregate) PushRows(ctx context.Context, rec arrow.Record, partition int32, rows []int32) (arrow.Record, error) {
	if rows == nil {
		rows = []int32{}
	}
	return o.push(ctx, rec, partition, rows)
}

// push is Push (own nil: every row is the operator's) or PushRows (own:
// the rows of the operator's keys).
func (o *OverAggregate) push(ctx context.Context, rec arrow.Record, partition int32, own []int32) (arrow.Record, error) {
	if o.spec.ByMarks {
		partition = markPartition
	}
	o.tracker.Arrive(partition, o.clock.Now())
	if rec.NumRows() > 0 {
		if err := sameTypes(rec.Schema(), o.in); err != nil {
			return nil, fmt.Errorf("stream: OVER input: %w", err)
		}
		at := rowIndices(own)
		rows, err := readRowsAt(rec, at)
		if err != nil {
			return nil, err
		}
		times, err := reader(rec.Column(o.spec.TimeCol))
		if err != nil {
			return nil, err
		}
		next := 0 // the next of rows, at batch row at[next]
		for i := 0; i < int(rec.NumRows()); i++ {
			ord := o.partRows[partition]
			o.partRows[partition] = ord + 1
			if own != nil && (next >= len(at) || at[next] != i) {
				// Another instance's row: only its event time counts.
				if ts := times(i); !ts.IsNull() && !o.spec.ByMarks {
					o.tracker.Observe(partition, ts.I)
				}
				continue
			}
			row := rows[next]
			next++
			ts, wm := row[o.spec.TimeCol], o.tracker.Watermark()
			lr := LateRow{Partition: partition, Row: ord, EventTime: ts.I, Watermark: wm, Record: rec, Index: i}
			switch {
			case ts.IsNull():
				lr.Reason = "NULL event time"
			case ts.I < wm:
				lr.Reason = fmt.Sprintf("event time %s < watermark %s", timeText(ts.I, o.unit), timeText(wm, o.unit))
			}
			if lr.Reason != "" {
				o.late++
				switch {
				case o.spec.Late == LateError:
					return nil, &LateRowError{Row: lr}
				case o.spec.Late == LateRoute && o.held != nil:
					o.held.late = append(o.held.late, lr)
				case o.spec.Late == LateRoute && o.spec.OnLate != nil:
					if err := o.spec.OnLate(lr); err != nil {
						return nil, fmt.Errorf("late-row sink: %w", err)
					}
				}
				if !ts.IsNull() && !o.spec.ByMarks {
					o.tracker.Observe(partition, ts.I)
				}
				continue
			}
			o.pending = append(o.pending, row)
			o.pendBytes += heldRowBytes(row)
			if !o.spec.ByMarks {
				o.tracker.Observe(partition, ts.I)
			}
		}
	}
	return o.emit(ctx)
}

// emit computes and returns the pending rows the watermark passed.
func (o *OverAggregate) emit(ctx context.Context) (arrow.Record, error) {
	wm := o.tracker.Watermark()
	var ready, wait [][]Value
	var readyBytes int64
	for _, r := range o.pending {
		if r[o.spec.TimeCol].I < wm {
			ready = append(ready, r)
			readyBytes += heldRowBytes(r)
		} else {
			wait = append(wait, r)
		}
	}
	if len(ready) == 0 {
		return nil, o.sweep(wm)
	}
	o.pending = wait
	o.pendBytes -= readyBytes
	// The ready rows with the history of their partitions: the kernel
	// sees every row their frames reach.
	byPart := map[string][][]Value{}
	var order []string
	for _, r := range ready {
		k := o.partKey(r)
		if _, ok := byPart[k]; !ok {
			order = append(order, k)
		}
		byPart[k] = append(byPart[k], r)
	}
	var rows [][]Value
	for _, k := range order {
		rows = append(append(rows, o.history[k]...), byPart[k]...)
	}
	rb := array.NewRecordBuilder(o.mem, o.in)
	defer rb.Release()
	in, err := buildRecord(rb, rows)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	outs, err := o.spec.Kernel(ctx, in)
	defer func() {
		for _, r := range outs {
			r.Release()
		}
	}()
	if err != nil {
		return nil, err
	}
	// History rows are older than the last emission's watermark, every
	// ready row is at or past it: keep the ready ones.
	var keep [][]Value
	for _, rec := range outs {
		outRows, err := readRows(rec)
		if err != nil {
			return nil, err
		}
		for _, r := range outRows {
			if r[o.spec.TimeCol].I >= o.emitted {
				if err := o.applyCarry(r); err != nil {
					return nil, err
				}
				keep = append(keep, r)
			}
		}
	}
	// The kernel answers partition by partition; the rows go out in
	// event-time order (a partition's own order kept among equal times),
	// so that a consumer tracking the watermark row by row, such as a
	// second OVER, never sees a row of one partition fall behind one of
	// another that the watermark released with it. Equal times order by
	// partition (outputLess), an order of the rows alone, which
	// ParallelOver's merge of its instances' rows reproduces.
	sortRowsStable(keep, o.outputLess)
	o.emitted = wm
	for _, k := range order {
		if err := o.retain(k, append(o.history[k], byPart[k]...), wm); err != nil {
			return nil, err
		}
	}
	if err := o.sweep(wm); err != nil {
		return nil, err
	}
	if o.held != nil {
		o.held.rows = append(o.held.rows, keep...)
		return nil, nil
	}
	ob := array.NewRecordBuilder(o.mem, o.spec.Out)
	defer ob.Release()
	return buildRecord(ob, keep)
}

// outputLess is the order of emitted rows: by event time, then by
// partition (its columns' values, NULL first, as the batch kernel sorts
// them, totally: NaN last, lists by their encoding). Rows of one
// partition at one time compare equal and keep the kernel's order.
func (o *OverAggregate) outputLess(a, b []Value) bool {
	tc := o.spec.TimeCol
	if a[tc].I != b[tc].I {
		return a[tc].I < b[tc].I
	}
	for _, c := range o.spec.Partition {
		if d := totalCompare(a[c], b[c]); d != 0 {
			return d < 0
		}
	}
	return false
}

// totalCompare is Compare made a total order that tells apart exactly
// the values appendKey does: NaN after every other float (NaNs by their
// bits), lists by their encoding.
func totalCompare(a, b Value) int {
	if a.K == b.K {
		switch a.K {
		case KFloat:
			an, bn := math.IsNaN(a.F), math.IsNaN(b.F)
			switch {
			case an && bn:
				return cmp.Compare(math.Float64bits(a.F), math.Float64bits(b.F))
			case an:
				return 1
			case bn:
				return -1
			}
		case KList:
			return strings.Compare(a.S, b.S)
		}
	}
	return Compare(a, b)
}

// retain keeps, of a partition's emitted rows, those a row at or after
// wm can reach: the last Rows, and those within Range before wm; the
// others are folded into the partition's running values (spec.Carry).
func (o *OverAggregate) retain(k string, rows [][]Value, wm int64) error {
	tc := o.spec.TimeCol
	sortRowsStable(rows, func(a, b []Value) bool { return a[tc].I < b[tc].I })
	from := len(rows)
	if int64(len(rows)) > o.spec.Rows {
		from = len(rows) - int(o.spec.Rows)
	} else {
		from = 0
	}
	if o.spec.Range > 0 {
		cut := sat(wm, -o.spec.Range)
		i := sort.Search(len(rows), func(i int) bool { return rows[i][tc].I >= cut })
		from = min(from, i)
	}
	if err := o.foldCarry(k, rows[:from]); err != nil {
		return err
	}
	o.nhist -= len(o.history[k])
	o.dirty[k] = true
	kept := append([][]Value(nil), rows[from:]...)
	o.countPart(k, kept)
	if len(kept) == 0 {
		delete(o.history, k)
		return nil
	}
	o.history[k] = kept
	o.nhist += len(kept)
	o.watch(k, wm)
	return nil
}

// countPart sets partition k's running size to its history rows (about
// to be kept) and its running values.
func (o *OverAggregate) countPart(k string, rows [][]Value) {
	var n int64
	for _, r := range rows {
		n += heldRowBytes(r)
	}
	if cs, ok := o.carry[k]; ok {
		n += carryKeyBytes(k, cs)
	}
	o.histBytes += n - o.partBytes[k]
	if n == 0 {
		delete(o.partBytes, k)
	} else {
		o.partBytes[k] = n
	}
}

// StateBytes is what the waiting rows, the kept history and the running
// values hold (StateSizer), from running counts kept as rows arrive and
// leave (Push, emit, retain), so an OVER aggregate is checked against
// the memory budget after every message as the other stateful operators
// are, not sampled. It equals Stats().Bytes.
func (o *OverAggregate) StateBytes() (int64, bool) { return o.pendBytes + o.histBytes, true }

// heldRowBytes is what a held row of Values takes (the slice header and
// each value).
func heldRowBytes(r []Value) int64 {
	n := int64(24)
	for _, v := range r {
		n += valueBytes(v)
	}
	return n
}

// watch queues partition k for a sweep when its newest row is still
// within a RANGE frame's reach of the watermark wm (older ones are the
// last Rows rows, which every later row of the key needs).
func (o *OverAggregate) watch(k string, wm int64) {
	rows := o.history[k]
	if o.spec.Range <= 0 || len(rows) == 0 {
		return
	}
	newest := rows[len(rows)-1][o.spec.TimeCol].I
	if newest >= sat(wm, -o.spec.Range) {
		heap.Push(&o.idle, sweepEntry{ts: newest, key: k})
	}
}

// sweep trims the history of the partitions whose newest row the RANGE
// frame no longer reaches from the watermark wm — keys that received no
// row since — as retain trims the partitions an emission touched: no
// later row's frame reaches a row older than wm − Range.
func (o *OverAggregate) sweep(wm int64) error {
	cut := sat(wm, -o.spec.Range)
	for len(o.idle) > 0 && o.idle[0].ts < cut {
		e := heap.Pop(&o.idle).(sweepEntry)
		rows := o.history[e.key]
		if len(rows) == 0 || rows[len(rows)-1][o.spec.TimeCol].I != e.ts {
			continue // gone, or newer rows came (queued again then)
		}
		if err := o.retain(e.key, rows, wm); err != nil {
			return err
		}
	}
	return nil
}

func (o *OverAggregate) partKey(r []Value) string {
	o.buf = o.buf[:0]
	for _, c := range o.spec.Partition {
		o.buf = appendKey(o.buf, r[c])
	}
	return string(o.buf)
}

// Tick lets an idle input stop holding the watermark back.
func (o *OverAggregate) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	if o.tracker.Tick(now) {
		return o.emit(ctx)
	}
	return nil, nil
}

// Finish is the end of a bounded input: every waiting row is emitted.
func (o *OverAggregate) Finish(ctx context.Context) (arrow.Record, error) {
	o.tracker.Finish()
	return o.emit(ctx)
}

// Stats counts the rows waiting and kept for later frames, and the
// partitions' running values.
func (o *OverAggregate) Stats() StateStats {
	s := StateStats{Groups: len(o.pending) + o.nhist + len(o.carry), Bytes: o.carryBytes()}
	add := func(rows [][]Value) {
		for _, r := range rows {
			s.Bytes += heldRowBytes(r)
		}
	}
	add(o.pending)
	for _, h := range o.history {
		add(h)
	}
	return s
}

// Close drops the state; idempotent.
func (o *OverAggregate) Close() error {
	o.pending, o.history, o.nhist, o.idle, o.dirty = nil, map[string][][]Value{}, 0, nil, map[string]bool{}
	o.carry = map[string][]carryVal{}
	o.pendBytes, o.histBytes, o.partBytes = 0, 0, map[string]int64{}
	return nil
}

// overSnap is an OverAggregate's checkpointed form.
type overSnap struct {
	Pending  [][]Value
	History  map[string][][]Value
	Carry    map[string][]carryVal
	Emitted  int64
	Late     int64
	WM       watermarkState
	PartRows map[int32]int64
}

// Snapshot encodes the waiting rows, the kept history and the watermark.
// It is the baseline of the next SnapshotDelta.
func (o *OverAggregate) Snapshot() ([]byte, error) {
	clear(o.dirty)
	return encode(overSnap{Pending: o.pending, History: o.history, Carry: o.carry, Emitted: o.emitted, Late: o.late, WM: o.tracker.snapshot(), PartRows: o.partRows})
}

// Restore replaces the state with a snapshot; call it before the first
// Push.
func (o *OverAggregate) Restore(data []byte) error {
	var s overSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	if err := o.checkSnap(s); err != nil {
		return err
	}
	o.Close()
	o.restoreSnap(s)
	return nil
}
