package stream

import (
	"container/heap"
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// TemporalSpec describes an event-time temporal join: each row of the
// left input (a stream) joins the version of the right input (a versioned
// table: rows of (key, …, valid_from)) whose valid_from is the greatest
// at or before the left row's event time.
//
// The versioned table is append-only (each row a new version of its key)
// or a changelog keyed by the primary key (an upsert or Debezium source):
// +I and +U are new versions valid from their event time; -U is the old
// image of the +U that follows it and changes nothing; -D ends the key's
// versions: from the later of its own event time and the versioned
// input's watermark as it arrives, the key has no version (a left row of
// that time or later is unmatched) until a later +I. The -D row's own
// time is the deleted row's (its valid_from, in an upsert topic), not the
// time of the delete, which no connector knows: the watermark is the
// latest time the join can be sure the delete did not precede. Neither
// -U nor -D is judged late or moves the watermark (their time is an old
// row's).
type TemporalSpec struct {
	// Left is LeftJoin to keep unmatched left rows null-padded; InnerJoin
	// drops them. Other kinds are refused.
	Kind JoinKind
	// LeftKeys[i] = RightKeys[i] are the equality keys; the right keys
	// are the versioned table's primary key. A NULL key matches nothing.
	LeftKeys, RightKeys []Expr
	// Residual, if set, must hold for the left row and its version (over
	// the left columns then the right ones); when it does not, the row is
	// unmatched.
	Residual Expr
	// LeftTime is the left's event-time column, RightTime the right's
	// valid_from column; each input's watermark tracks its own.
	LeftTime, RightTime int
	// LeftDelay and RightDelay are each input's watermark delay.
	LeftDelay, RightDelay time.Duration
	// IdleTimeout is 'watermark.idle_timeout' (0: never idle).
	IdleTimeout time.Duration
	// Late and OnLate are the late-row policy: a row is late when its
	// event time (valid_from on the right) is below its own input's
	// watermark as it arrives.
	Late   LatePolicy
	OnLate func(LateRow) error
	// Clock is processing time (idleness); RealClock if nil.
	Clock Clock
	// ByMarks says that both inputs' watermarks come from the caller
	// (AdvanceSide), not from the rows: each instance of a ParallelJoin
	// runs so, its gate tracking the watermarks over all the rows.
	ByMarks bool
	// LeftByMarks says that the stream's watermark is the caller's
	// (AdvanceSide): the stream is another temporal join's output, whose
	// rows are never behind the watermark it announced before them.
	LeftByMarks bool
}

// TemporalJoin is the event-time temporal join of TemporalSpec. A left
// row waits until the right input's watermark passes its event time —
// then no version at or before it can still arrive — and is emitted
// joined with its version (or null-padded for a LEFT join, never
// retracted): the output is append-only. State: the left rows waiting,
// and per key the versions a waiting or future left row may still need
// (the latest at or before the left watermark and the newer ones); older
// versions are freed as the watermarks pass. Batches arrive through
// PushSide; not safe for concurrent use.
type TemporalJoin struct {
	mem    memory.Allocator
	spec   TemporalSpec
	clock  Clock
	schema *arrow.Schema
	pair   *arrow.Schema
	nvals  [2]int
	unit   int64
	// ops says the right input is a changelog: its column 0 is the op,
	// and a version's values are the columns after it.
	ops   bool
	sides [2]*temporalSide

	// versions holds each key's versions, sorted by valid_from.
	versions map[string][]temporalVersion
	nver     int
	bytes    int64
	waitB    int64 // the waiting rows' bytes (waitingBytes), for StateBytes
	// dirty are the keys whose versions changed since the last snapshot
	// (the next delta writes their versions whole).
	dirty map[string]bool
	// waiting are the left rows not emitted yet, by event time.
	waiting temporalHeap
	seq     uint64
	out     [][]Value
	buf     []byte
	// rowMarks, during a pushMarked, is the input's watermark after each
	// row of the batch (a ParallelJoin instance's).
	rowMarks []int64
}

type temporalSide struct {
	keys     []Expr
	schema   *arrow.Schema
	tracker  *WatermarkTracker
	partRows map[int32]int64
	late     int64
}

// temporalVersion is one version of a key: its valid_from and values;
// nil Vals is a delete (the key has no version from From on).
type temporalVersion struct {
	From int64
	Vals []Value
}

// temporalRow is a left row waiting for the right watermark.
type temporalRow struct {
	TS   int64
	Seq  uint64
	Key  string
	Null bool // its key has a NULL: it matches nothing
	Vals []Value
}

var (
	_ Snapshotter       = (*TemporalJoin)(nil)
	_ WatermarkReporter = (*TemporalJoin)(nil)
	_ EventTimer        = (*TemporalJoin)(nil)
)

// NewTemporalJoin builds the temporal join of left (the stream, append-
// only) and right (the versioned table: append-only or a changelog keyed
// by its primary key, see TemporalSpec). Column indexes of the right side
// (RightKeys, RightTime) count its op column when it has one.
func NewTemporalJoin(mem memory.Allocator, left, right *arrow.Schema, spec TemporalSpec) (*TemporalJoin, error) {
	if len(spec.LeftKeys) != len(spec.RightKeys) || len(spec.LeftKeys) == 0 {
		return nil, fmt.Errorf("stream: a temporal join needs as many left keys as right keys, at least one")
	}
	if spec.Kind != InnerJoin && spec.Kind != LeftJoin {
		return nil, fmt.Errorf("stream: a temporal join is an inner or a left join")
	}
	if IsChangelog(left) {
		return nil, fmt.Errorf("stream: a temporal join needs an append-only stream")
	}
	t := &TemporalJoin{mem: mem, spec: spec, clock: spec.Clock, versions: map[string][]temporalVersion{}, dirty: map[string]bool{}, ops: IsChangelog(right)}
	if t.ops && spec.RightTime == 0 {
		return nil, fmt.Errorf("stream: the temporal join's right time column is its op column")
	}
	if t.clock == nil {
		t.clock = RealClock{}
	}
	// Append-only output (an interval join's over append-only inputs): the
	// versioned table's changes pick versions, they are not emitted.
	t.schema, _ = JoinOutput(left, DropOp(right), JoinSpec{Kind: spec.Kind, Timing: IntervalJoin})
	t.pair = t.schema
	cols := [2]int{spec.LeftTime, spec.RightTime}
	delays := [2]time.Duration{spec.LeftDelay, spec.RightDelay}
	for s, in := range []*arrow.Schema{left, right} {
		c := cols[s]
		if c < 0 || c >= in.NumFields() {
			return nil, fmt.Errorf("stream: temporal join time column %d out of range", c)
		}
		unit, err := unitNanos(in.Field(c).Type)
		if err != nil {
			return nil, err
		}
		if s == 1 && unit != t.unit {
			return nil, fmt.Errorf("stream: the temporal join's time columns have different units")
		}
		t.unit = unit
		keys := spec.LeftKeys
		if s == 1 {
			keys = spec.RightKeys
		}
		t.nvals[s] = in.NumFields()
		if s == 1 && t.ops {
			t.nvals[s]--
		}
		t.sides[s] = &temporalSide{keys: keys, schema: in, partRows: map[int32]int64{}}
	}
	for s := range t.sides {
		t.sides[s].tracker = NewWatermarkTracker(int64(delays[s])/t.unit, spec.IdleTimeout, t.unit)
		if t.byMarks(s) {
			// One stand-in partition carries the caller's marks: no
			// delay (the caller applied it), never idle by itself.
			t.sides[s].tracker = NewWatermarkTracker(0, 0, t.unit)
		}
	}
	return t, nil
}

// byMarks says that input side's watermark is the caller's.
func (t *TemporalJoin) byMarks(side int) bool {
	return t.spec.ByMarks || (side == 0 && t.spec.LeftByMarks)
}

// Schema is the left columns, then the right ones (nullable for a LEFT
// join).
func (t *TemporalJoin) Schema() *arrow.Schema { return t.schema }

// SinkMode is append-only.
func (t *TemporalJoin) SinkMode() exec.SinkMode { return exec.SinkMode{} }

// Late is the number of late rows dropped (or routed) so far.
func (t *TemporalJoin) Late() int64 { return t.sides[0].late + t.sides[1].late }

// VersionsLate is the number of the versioned table's rows dropped (or
// routed) as late so far: versions the join never used.
func (t *TemporalJoin) VersionsLate() int64 { return t.sides[1].late }

// Watermark is the tracker of the input whose watermark is behind: no
// row the join emits later is older.
func (t *TemporalJoin) Watermark() *WatermarkTracker {
	l, r := t.sides[0].tracker, t.sides[1].tracker
	if r.Watermark() < l.Watermark() {
		return r
	}
	return l
}

// SetInputPartitions registers the partitions input side reads, so that
// each holds that input's watermark back until it sends data or goes
// idle.
func (t *TemporalJoin) SetInputPartitions(side int, parts []int32) {
	t.sides[side].tracker.SetPartitions(parts, t.clock.Now())
}

// PushSide folds a batch of input side (0 the stream, 1 the versioned
// table) from partition and returns the rows it let out, or nil. The
// caller keeps rec and releases the result.
func (t *TemporalJoin) PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error) {
	if side != 0 && side != 1 {
		return nil, fmt.Errorf("stream: temporal join got a batch on input %d", side)
	}
	sd := t.sides[side]
	if !t.byMarks(side) {
		sd.tracker.Arrive(partition, t.clock.Now())
	}
	if rec.NumRows() > 0 {
		if err := t.fold(ctx, side, rec, partition); err != nil {
			t.out = t.out[:0]
			return nil, err
		}
	}
	return t.flush(ctx)
}

// fold stores the rows of one batch, row by row, advancing the input's
// watermark past each.
func (t *TemporalJoin) fold(ctx context.Context, side int, rec arrow.Record, partition int32) error {
	sd := t.sides[side]
	if err := sameTypes(rec.Schema(), sd.schema); err != nil {
		return fmt.Errorf("stream: temporal join input %d: %w", side+1, err)
	}
	keyOf := make([]func(int) Value, len(sd.keys))
	for i, k := range sd.keys {
		arr, err := k.Eval(ctx, t.mem, rec)
		if err != nil {
			return fmt.Errorf("evaluating join key %s: %w", k, err)
		}
		defer arr.Release()
		if keyOf[i], err = reader(arr); err != nil {
			return err
		}
	}
	cols := make([]func(int) Value, rec.NumCols())
	for c := range cols {
		r, err := reader(rec.Column(c))
		if err != nil {
			return fmt.Errorf("column %q: %w", rec.ColumnName(c), err)
		}
		cols[c] = r
	}
	tcol, first := t.spec.LeftTime, 0
	var ops *array.Int8
	if side == 1 {
		tcol = t.spec.RightTime
		if t.ops {
			first = 1
			if ops, _ = rec.Column(0).(*array.Int8); ops == nil {
				return fmt.Errorf("stream: temporal join input 2: column 0 is not the op")
			}
		}
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		ord := sd.partRows[partition]
		sd.partRows[partition] = ord + 1
		wm := sd.tracker.Watermark()
		ts := cols[tcol](i)
		if ops != nil && exec.Op(ops.Value(i)) == exec.OpUpdateBefore {
			continue // the old image of the +U that follows
		}
		if ops != nil && exec.Op(ops.Value(i)) == exec.OpDelete {
			if t.rowMarks != nil {
				wm = t.rowMarks[i] // the gate's: this row did not move it
			}
			if err := t.deleteRow(ctx, rec, keyOf, i, ts, wm); err != nil {
				return err
			}
			continue
		}
		lr := LateRow{Partition: partition, Row: ord, EventTime: ts.I, Watermark: wm, Record: rec, Index: i,
			Reason: lateEventTime.reason(ts, Value{}, wm, t.unit, fmt.Sprintf("temporal join input %d", side+1))}
		if lr.Reason != "" {
			t.sides[side].late++
			if err := routeLate(t.mem, t.spec.Late, t.spec.OnLate, t.schema, t.nvals[0], side, lr); err != nil {
				return err
			}
			if !ts.IsNull() && !t.byMarks(side) {
				t.observe(side, partition, ts.I)
			}
			continue
		}
		vals := make([]Value, len(cols)-first)
		for c := range vals {
			vals[c] = cols[first+c](i)
		}
		t.buf = t.buf[:0]
		null := false
		for _, k := range keyOf {
			v := k(i)
			null = null || v.IsNull()
			t.buf = appendKey(t.buf, v)
		}
		key := string(t.buf)
		if side == 0 {
			t.seq++
			r := temporalRow{TS: ts.I, Seq: t.seq, Key: key, Null: null, Vals: vals}
			t.waitB += waitingBytes(r)
			heap.Push(&t.waiting, r)
		} else if !null {
			t.addVersion(key, temporalVersion{From: ts.I, Vals: vals})
		}
		switch {
		case !t.byMarks(side):
			t.observe(side, partition, ts.I)
		case t.rowMarks != nil:
			t.observe(side, markPartition, t.rowMarks[i])
		}
	}
	return nil
}

// deleteRow ends the versions of row i's key (a -D of the versioned
// table) from the later of its event time ts and the watermark wm.
func (t *TemporalJoin) deleteRow(ctx context.Context, rec arrow.Record, keyOf []func(int) Value, i int, ts Value, wm int64) error {
	t.buf = t.buf[:0]
	for _, k := range keyOf {
		v := k(i)
		if v.IsNull() {
			return nil // its key matches nothing
		}
		t.buf = appendKey(t.buf, v)
	}
	at := wm
	if !ts.IsNull() && ts.I > at {
		at = ts.I
	}
	key := string(t.buf)
	if _, ok := t.versions[key]; !ok {
		return nil // nothing to end
	}
	t.addVersion(key, temporalVersion{From: at})
	return nil
}

// observe advances side's watermark past one row; a right watermark that
// moved lets out the left rows it passed.
func (t *TemporalJoin) observe(side int, partition int32, ts int64) {
	before := t.sides[side].tracker.Watermark()
	if t.sides[side].tracker.Observe(partition, ts) > before {
		t.advance()
	}
}

// addVersion inserts a version in valid_from order (a second version with
// the same valid_from replaces the first: the later row wins).
func (t *TemporalJoin) addVersion(key string, v temporalVersion) {
	vs := t.versions[key]
	i := sort.Search(len(vs), func(i int) bool { return vs[i].From >= v.From })
	if i < len(vs) && vs[i].From == v.From {
		t.bytes += versionBytes(v) - versionBytes(vs[i])
		vs[i] = v
		t.dirty[key] = true
		return
	}
	vs = append(vs, temporalVersion{})
	copy(vs[i+1:], vs[i:])
	vs[i] = v
	t.versions[key] = vs
	t.dirty[key] = true
	t.nver++
	t.bytes += versionBytes(v)
	t.trim(key)
}

func versionBytes(v temporalVersion) int64 {
	n := int64(48)
	for _, x := range v.Vals {
		n += valueBytes(x)
	}
	return n
}

// horizon is the oldest event time a left row still to be emitted can
// have: the oldest waiting row's, or the left watermark (no later row is
// older, or it is late).
func (t *TemporalJoin) horizon() int64 {
	h := t.sides[0].tracker.Watermark()
	if len(t.waiting) > 0 && t.waiting[0].TS < h {
		h = t.waiting[0].TS
	}
	return h
}

// trim frees the versions of key that no left row can need any more:
// those older than the latest one at or before the horizon, and that one
// too when it is a delete (the key then has no version until a newer one;
// a key with none left is forgotten).
func (t *TemporalJoin) trim(key string) {
	vs := t.versions[key]
	h := t.horizon()
	// Index of the latest version at or before h.
	i := sort.Search(len(vs), func(i int) bool { return vs[i].From > h }) - 1
	if i >= 0 && vs[i].Vals == nil {
		i++
	}
	if i <= 0 {
		return
	}
	for _, v := range vs[:i] {
		t.bytes -= versionBytes(v)
	}
	t.nver -= i
	t.dirty[key] = true
	if i == len(vs) {
		delete(t.versions, key)
		return
	}
	vs = append(vs[:0:0], vs[i:]...)
	t.versions[key] = vs
}

// advance emits the waiting left rows the right watermark passed, each
// with its version.
func (t *TemporalJoin) advance() {
	wm := t.sides[1].tracker.Watermark()
	for len(t.waiting) > 0 && t.waiting[0].TS < wm {
		r := heap.Pop(&t.waiting).(temporalRow)
		t.waitB -= waitingBytes(r)
		var match []Value
		if !r.Null {
			vs := t.versions[r.Key]
			if i := sort.Search(len(vs), func(i int) bool { return vs[i].From > r.TS }) - 1; i >= 0 {
				match = vs[i].Vals
			}
			t.trim(r.Key)
		}
		t.out = append(t.out, t.row(r.Vals, match))
	}
}

// row is the output row of a left row and its version (nil: none yet
// known to match).
func (t *TemporalJoin) row(l, r []Value) []Value {
	row := make([]Value, 0, t.nvals[0]+t.nvals[1])
	row = append(row, l...)
	if r == nil {
		return append(row, make([]Value, t.nvals[1])...)
	}
	return append(row, r...)
}

// flush applies the residual to the rows let out (an unmatched row is
// dropped by an inner join, null-padded by a left join) and builds them
// into a record.
func (t *TemporalJoin) flush(ctx context.Context) (arrow.Record, error) {
	if len(t.out) == 0 {
		return nil, nil
	}
	rows := t.out
	t.out = t.out[:0:0]
	matched := make([]bool, len(rows))
	rt := t.spec.RightTime
	if t.ops {
		rt--
	}
	for i, r := range rows {
		matched[i] = !r[t.nvals[0]+rt].IsNull()
	}
	if t.spec.Residual != nil {
		keep, err := evalResidual(ctx, t.mem, t.pair, t.spec.Residual, rows)
		if err != nil {
			return nil, err
		}
		for i := range matched {
			matched[i] = matched[i] && keep[i]
		}
	}
	kept := rows[:0]
	for i, r := range rows {
		switch {
		case matched[i]:
			kept = append(kept, r)
		case t.spec.Kind == LeftJoin:
			kept = append(kept, t.row(r[:t.nvals[0]], nil))
		}
	}
	if len(kept) == 0 {
		return nil, nil
	}
	rb := array.NewRecordBuilder(t.mem, t.schema)
	defer rb.Release()
	return buildRecord(rb, kept)
}

// AdvanceSide moves input side's watermark to wm when the watermarks
// come from the caller (ByMarks) and returns the rows that let out; else
// it does nothing: both inputs' watermarks follow their rows.
func (t *TemporalJoin) AdvanceSide(ctx context.Context, side int, wm int64) (arrow.Record, error) {
	if side < 0 || side > 1 || !t.byMarks(side) {
		return nil, nil
	}
	tr := t.sides[side].tracker
	tr.Arrive(markPartition, t.clock.Now())
	before := tr.Watermark()
	if tr.Observe(markPartition, wm) > before {
		t.advance()
	}
	return t.flush(ctx)
}

// FinishSide is the end of one bounded input: its watermark becomes +∞.
func (t *TemporalJoin) FinishSide(ctx context.Context, side int) (arrow.Record, error) {
	t.sides[side].tracker.Finish()
	t.advance()
	return t.flush(ctx)
}

// Finish is the end of both inputs: every waiting row is let out.
func (t *TemporalJoin) Finish(ctx context.Context) (arrow.Record, error) {
	t.sides[0].tracker.Finish()
	t.sides[1].tracker.Finish()
	t.advance()
	return t.flush(ctx)
}

// Tick lets idle inputs stop holding the watermarks back.
func (t *TemporalJoin) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	a, b := t.sides[0].tracker.Tick(now), t.sides[1].tracker.Tick(now)
	if a || b {
		t.advance()
	}
	return t.flush(ctx)
}

// Stats counts the versions and the waiting rows held.
func (t *TemporalJoin) Stats() StateStats {
	b, _ := t.StateBytes()
	return StateStats{Groups: t.nver + len(t.waiting), Bytes: b}
}

// Close drops the state; idempotent.
func (t *TemporalJoin) Close() error {
	t.versions, t.waiting, t.out, t.dirty = map[string][]temporalVersion{}, nil, nil, map[string]bool{}
	t.nver, t.bytes, t.waitB = 0, 0, 0
	return nil
}

// temporalSnap is a TemporalJoin's checkpointed form.
type temporalSnap struct {
	Versions map[string][]temporalVersion
	Waiting  []temporalRow
	Seq      uint64
	WM       [2]watermarkState
	Late     [2]int64
	Part     [2]map[int32]int64
}

// Snapshot encodes the versions, the waiting rows and the watermarks. It
// is the baseline of the next SnapshotDelta.
func (t *TemporalJoin) Snapshot() ([]byte, error) {
	s := temporalSnap{Versions: t.versions, Waiting: t.waiting, Seq: t.seq}
	clear(t.dirty)
	for i, sd := range t.sides {
		s.WM[i], s.Late[i], s.Part[i] = sd.tracker.snapshot(), sd.late, sd.partRows
	}
	return encode(s)
}

// Restore replaces the state with a snapshot; call it before the first
// Push.
func (t *TemporalJoin) Restore(data []byte) error {
	var s temporalSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	if err := t.checkSnap(s); err != nil {
		return err
	}
	t.Close()
	t.restoreSnap(s)
	return nil
}

// temporalHeap orders waiting rows by event time, then arrival.
type temporalHeap []temporalRow

func (h temporalHeap) Len() int { return len(h) }
func (h temporalHeap) Less(i, k int) bool {
	if h[i].TS != h[k].TS {
		return h[i].TS < h[k].TS
	}
	return h[i].Seq < h[k].Seq
}
func (h temporalHeap) Swap(i, k int) { h[i], h[k] = h[k], h[i] }
func (h *temporalHeap) Push(x any)   { *h = append(*h, x.(temporalRow)) }
func (h *temporalHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
