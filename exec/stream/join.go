package stream

import (
	"container/heap"
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// JoinKind is which unmatched rows a join keeps, null-padded.
type JoinKind int

// Join kinds.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
)

// JoinTiming is what bounds a streaming join's state and when it emits.
type JoinTiming int

// Join timings.
const (
	// RegularJoin keeps every row of both inputs (or until 'state.ttl'):
	// each row joins the rows that arrived before it on the other side,
	// an outer row that finds its first match later retracts its
	// null-padded row, and retractions of the inputs flow through.
	RegularJoin JoinTiming = iota
	// IntervalJoin joins rows whose event times are within bounds
	// (Lower ≤ right.ts − left.ts ≤ Upper): a row is freed once the
	// other side's watermark passes the last time a partner could have,
	// and an unmatched outer row is emitted null-padded then. Output is
	// append-only over append-only inputs. An inner join may also read a
	// changelog whose changes its watermark bounds (a ByMarks input: no
	// change of a row older than the input's marks comes, as a windowed
	// aggregate's updates of a window stop once its watermark passes the
	// window's end): such a row is freed once its own input's marks pass
	// its time too (no retraction of it can come), and the output is a
	// changelog.
	IntervalJoin
	// WindowJoin joins rows of equal windows (the keys include
	// window_start and window_end): each window's joined rows, and its
	// unmatched outer rows null-padded, are emitted once, when both
	// inputs' watermarks pass the window's end; then its state is freed.
	WindowJoin
	// LookupJoin joins a stream with a bounded table loaded first
	// (LoadTable): stream rows are not kept, since the table never
	// changes; output is append-only over an append-only stream, and
	// the stream's retractions flow through.
	LookupJoin
)

// JoinSpec describes a streaming equi-join of two inputs.
type JoinSpec struct {
	Kind   JoinKind
	Timing JoinTiming
	// LeftKeys[i] = RightKeys[i] are the equality keys, each over its
	// side's records (op column included for a changelog input). A NULL
	// key never matches.
	LeftKeys, RightKeys []Expr
	// Residual, if set, must hold for a pair to match. It is over the
	// joined row: the left value columns, then the right ones (op
	// columns excluded).
	Residual Expr
	// LeftTime and RightTime are the event-time columns each input's
	// watermark tracks (IntervalJoin, WindowJoin), counting the op column
	// of a changelog input as the keys do.
	LeftTime, RightTime int
	// Lower and Upper bound right.ts − left.ts (IntervalJoin); they
	// free the state, the Residual decides the matches. NoBound (or
	// -NoBound) is no bound on that side: the rows it would free are
	// held (unless Until frees them).
	Lower, Upper time.Duration
	// Until[s], when set (IntervalJoin), is a column of input s whose
	// value (plus Off) the other input's time must not pass for a row of
	// s to match (a conjunct other.ts <= s.col + Off of the Residual):
	// a row of s is freed once the other input's watermark passes it, or
	// its interval bound, whichever comes first. Nexmark's auctions
	// (bid.dateTime <= auction.expires) are freed so.
	Until [2]*UntilBound
	// LeftEnd and RightEnd are the window_end columns (WindowJoin).
	LeftEnd, RightEnd int
	// LeftDelay and RightDelay are each input's watermark delay.
	LeftDelay, RightDelay time.Duration
	// LeftByMarks and RightByMarks (WindowJoin, IntervalJoin) say that
	// the input's watermark is the one its caller reports (AdvanceSide),
	// not tracked from its rows. A windowed aggregate emitting closed
	// windows is such an input: its rows of a window arrive before the
	// watermark that closed it. So is each instance of a ParallelJoin,
	// whose gate tracks the watermarks row by row over all the rows.
	LeftByMarks, RightByMarks bool
	// IdleTimeout is 'watermark.idle_timeout' (0: never idle).
	IdleTimeout time.Duration
	// Late and OnLate are the late-row policy (IntervalJoin, WindowJoin):
	// a row is late when its event time (window end for WindowJoin) is
	// below its own input's watermark as it arrives.
	Late   LatePolicy
	OnLate func(LateRow) error
	// TableSide is the table of a LookupJoin (0 left, 1 right); the
	// join may not keep the table's unmatched rows.
	TableSide int
	// TTL, when positive (RegularJoin), forgets a row once it has not
	// been inserted or matched for TTL of processing time: the result
	// is then approximate ('state.ttl').
	TTL time.Duration
	// Clock is processing time (idleness, TTL); RealClock if nil.
	Clock Clock
}

// inputNames name the inputs in late rows' reasons.
var inputNames = [2]string{"join input 1", "join input 2"}

// NoBound is an interval join's missing bound (JoinSpec.Lower = -NoBound,
// Upper = NoBound): the time of the other side's rows is not bounded
// that way.
const NoBound = time.Duration(math.MaxInt64)

// UntilBound is a column of a join input bounding the other input's
// time (JoinSpec.Until).
type UntilBound struct {
	Col int
	Off time.Duration
}

// Join is the streaming join of two inputs (see JoinTiming). Batches of
// input side s arrive through PushSide, or through Push from the
// partitions UnionPartition(s, …) of a tagged UnionReader. Output is
// [op,] the left value columns, then the right ones; the op column is
// there when the output is a changelog (see SinkMode). Not safe for
// concurrent use.
type Join struct {
	mem    memory.Allocator
	spec   JoinSpec
	clock  Clock
	sides  [2]*joinSide
	schema *arrow.Schema
	pair   *arrow.Schema // left values then right values: the residual's input
	nvals  [2]int
	update bool // output is a changelog
	unit   int64

	expq    [2]expiryQueue // by input side
	seq     uint64
	pending map[int64][][]Value // WindowJoin: joined rows by window expiry
	// pendingBytes is what pending holds (pendingRowBytes), kept as rows
	// come and go so StateBytes need not walk it.
	pendingBytes int64
	// gone are the rows the last snapshot held that were dropped since
	// (the next delta's deletions).
	gone  []joinRowRef
	pendq int64Heap
	ttlq  []ttlEntry
	out   []joinOut
	buf   []byte
	// keyBuf and matchBuf hold a batch's join keys and partners
	// (batchMatches), reused.
	keyBuf   []byte
	matchBuf []int32
	// reads are the joined row's columns the residual reads (nil: all),
	// once readsKnown (residualReads).
	reads      []bool
	readsKnown bool
	// rowMarks, during a pushMarked, is the input's watermark after each
	// row of the batch (a ParallelJoin instance's).
	rowMarks []int64
	// look is a lookup join's table in columns (join_lookup.go), built on
	// the first stream batch after LoadTable; the index scratch is reused.
	look                                   *lookupIndex
	probeIdx, buildIdx, outProbe, outBuild []int32
	// Ignored counts retractions of rows the join no longer holds
	// (forgotten by 'state.ttl').
	Ignored int64
}

type joinSide struct {
	keys      []Expr
	byMarks   bool // the watermark comes from AdvanceSide
	changelog bool
	schema    *arrow.Schema
	st        *joinStore // the rows held (join_store.go)
	tracker   *WatermarkTracker
	partRows  map[int32]int64
	late      int64
}

var (
	_ Operator          = (*Join)(nil)
	_ Snapshotter       = (*Join)(nil)
	_ PartitionAware    = (*Join)(nil)
	_ WatermarkReporter = (*Join)(nil)
	_ StateSizer        = (*Join)(nil)
)

// JoinOutput is the output of the join spec over inputs left and right,
// and whether it is a changelog: a regular join is one unless it is
// inner over two append-only inputs; a lookup join is one when its
// stream is, an interval join when either input is; window joins are
// append-only.
func JoinOutput(left, right *arrow.Schema, spec JoinSpec) (*arrow.Schema, bool) {
	lf, rf := DropOp(left).Fields(), DropOp(right).Fields()
	kind := spec.Kind
	var update bool
	switch spec.Timing {
	case RegularJoin:
		update = kind != InnerJoin || IsChangelog(left) || IsChangelog(right)
	case LookupJoin:
		update = IsChangelog([]*arrow.Schema{left, right}[1-spec.TableSide])
	case IntervalJoin:
		update = IsChangelog(left) || IsChangelog(right)
	}
	var fields []arrow.Field
	if update {
		fields = append(fields, opField)
	}
	for i, f := range lf {
		f.Nullable = f.Nullable || kind == RightJoin || kind == FullJoin
		lf[i] = f
	}
	for i, f := range rf {
		f.Nullable = f.Nullable || kind == LeftJoin || kind == FullJoin
		rf[i] = f
	}
	fields = append(append(fields, lf...), rf...)
	return arrow.NewSchema(fields, nil), update
}

// NewJoin builds the join of inputs left and right described by spec.
func NewJoin(mem memory.Allocator, left, right *arrow.Schema, spec JoinSpec) (*Join, error) {
	if len(spec.LeftKeys) != len(spec.RightKeys) {
		return nil, fmt.Errorf("stream: join has %d left keys and %d right keys", len(spec.LeftKeys), len(spec.RightKeys))
	}
	j := &Join{mem: mem, spec: spec, clock: spec.Clock, pending: map[int64][][]Value{}}
	seed := maphash.MakeSeed()
	if j.clock == nil {
		j.clock = RealClock{}
	}
	j.schema, j.update = JoinOutput(left, right, spec)
	fields := j.schema.Fields()
	if j.update {
		fields = fields[1:]
	}
	j.pair = arrow.NewSchema(fields, nil)
	for s, in := range []*arrow.Schema{left, right} {
		keys := spec.LeftKeys
		if s == 1 {
			keys = spec.RightKeys
		}
		st, err := newJoinStore(DropOp(in).Fields(), seed)
		if err != nil {
			return nil, err
		}
		side := &joinSide{keys: keys, changelog: IsChangelog(in), schema: in, st: st, partRows: map[int32]int64{}}
		j.nvals[s] = DropOp(in).NumFields()
		j.sides[s] = side
	}
	if spec.Timing == LookupJoin {
		t := spec.TableSide
		if t < 0 || t > 1 || j.sides[t].changelog || j.outer(t) {
			return nil, fmt.Errorf("stream: a lookup join's table must be an append-only side whose unmatched rows are not kept")
		}
	}
	if spec.Timing == IntervalJoin || spec.Timing == WindowJoin {
		for s, by := range []bool{spec.LeftByMarks, spec.RightByMarks} {
			if !j.sides[s].changelog {
				continue
			}
			// An interval join reads a changelog only when the marks
			// bound its changes, and retractions of matched rows need
			// no null-padded rows withdrawn.
			if spec.Timing != IntervalJoin || !by || spec.Kind != InnerJoin || spec.Until[s] != nil {
				return nil, fmt.Errorf("stream: an interval or window join needs append-only inputs (an inner interval join reads a changelog only when its marks bound the changes, without an Until bound)")
			}
		}
		cols := [2]int{spec.LeftTime, spec.RightTime}
		for s, c := range cols {
			in := j.sides[s].schema
			if c < 0 || c >= in.NumFields() {
				return nil, fmt.Errorf("stream: join event-time column %d out of range", c)
			}
			unit, err := unitNanos(in.Field(c).Type)
			if err != nil {
				return nil, err
			}
			if s == 1 && unit != j.unit {
				return nil, fmt.Errorf("stream: the join's event-time columns have different units")
			}
			j.unit = unit
		}
		if spec.Timing == WindowJoin {
			for s, c := range []int{spec.LeftEnd, spec.RightEnd} {
				in := j.sides[s].schema
				if c < 0 || c >= in.NumFields() || in.Field(c).Type.ID() != in.Field(cols[s]).Type.ID() {
					return nil, fmt.Errorf("stream: window join window_end column %d is not a time column like the event time", c)
				}
			}
		}
		j.sides[0].tracker = NewWatermarkTracker(int64(spec.LeftDelay)/j.unit, spec.IdleTimeout, j.unit)
		j.sides[1].tracker = NewWatermarkTracker(int64(spec.RightDelay)/j.unit, spec.IdleTimeout, j.unit)
		for s, by := range []bool{spec.LeftByMarks, spec.RightByMarks} {
			if !by {
				continue
			}
			if spec.Timing != WindowJoin && spec.Timing != IntervalJoin {
				return nil, fmt.Errorf("stream: only a window or interval join takes an input's watermark from its marks")
			}
			// One stand-in partition carries the marks: no delay (the
			// operator applied its own), never idle by itself.
			j.sides[s].byMarks = true
			j.sides[s].tracker = NewWatermarkTracker(0, 0, j.unit)
		}
	}
	return j, nil
}

// Schema is [op,] the left value columns, then the right ones.
func (j *Join) Schema() *arrow.Schema { return j.schema }

// SinkMode is a changelog identified by whole rows, or append-only.
func (j *Join) SinkMode() exec.SinkMode { return exec.SinkMode{Changelog: j.update} }

// LoadTable stores the rows of a lookup join's table; call it with the
// whole table before the first Push. The caller keeps rec.
func (j *Join) LoadTable(ctx context.Context, rec arrow.Record) error {
	if j.spec.Timing != LookupJoin {
		return fmt.Errorf("stream: LoadTable on a join that is not a lookup join")
	}
	j.dropLookup()
	if err := j.fold(ctx, j.spec.TableSide, rec, UnionPartition(j.spec.TableSide, 0), j.clock.Now()); err != nil {
		return err
	}
	j.recycle()
	return nil
}

// Late is the number of late rows dropped (or routed) so far.
func (j *Join) Late() int64 {
	return j.sides[0].late + j.sides[1].late
}

// Watermark is the tracker of the input whose watermark is behind (nil
// for a regular join, which tracks none).
func (j *Join) Watermark() *WatermarkTracker {
	l, r := j.sides[0].tracker, j.sides[1].tracker
	if l == nil || r == nil {
		return nil
	}
	if r.Watermark() < l.Watermark() {
		return r
	}
	return l
}

// SetPartitions gives each input's tracker the partitions of its input
// (UnionInputOf(p) is the side).
func (j *Join) SetPartitions(parts []int32) {
	var split [2][]int32
	for _, p := range parts {
		if s := UnionInputOf(p); s == 0 || s == 1 {
			split[s] = append(split[s], p)
		}
	}
	for s := range split {
		j.SetInputPartitions(s, split[s])
	}
}

// SetInputPartitions registers the partitions input side reads, so that
// each holds that input's watermark back until it sends data or goes
// idle.
func (j *Join) SetInputPartitions(side int, parts []int32) {
	if t := j.sides[side].tracker; t != nil {
		t.SetPartitions(parts, j.clock.Now())
	}
}

// AdvanceSide moves the watermark of an input whose watermark comes from
// its marks (LeftByMarks, RightByMarks) to wm, in the event-time
// column's unit, and returns the output that caused (windows both
// watermarks passed). For other inputs it does nothing: their watermark
// follows their rows.
func (j *Join) AdvanceSide(_ context.Context, side int, wm int64) (arrow.Record, error) {
	sd := j.sides[side]
	if !sd.byMarks {
		return nil, nil
	}
	sd.tracker.Arrive(markPartition, j.clock.Now())
	before := sd.tracker.Watermark()
	if sd.tracker.Observe(markPartition, wm) > before {
		j.expire()
	}
	return j.flush()
}

// markPartition is the stand-in partition of an input's marks.
const markPartition int32 = 0

// FinishSide is the end of one bounded input: its watermark becomes +∞.
// It returns the output that caused (rows and windows the other input's
// watermark already passed).
func (j *Join) FinishSide(_ context.Context, side int) (arrow.Record, error) {
	if t := j.sides[side].tracker; t != nil {
		t.Finish()
		j.expire()
	}
	return j.flush()
}

// Push folds a batch from partition, whose input is UnionInputOf(partition).
func (j *Join) Push(ctx context.Context, rec arrow.Record, partition int32) (arrow.Record, error) {
	s := UnionInputOf(partition)
	if s != 0 && s != 1 {
		return nil, fmt.Errorf("stream: join got a batch from input %d, want 0 or 1", s)
	}
	return j.PushSide(ctx, s, rec, partition)
}

// PushSide folds a batch of input side (0 left, 1 right) from partition
// and returns the output it caused, or nil. The caller keeps rec and
// releases the result.
func (j *Join) PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error) {
	sd := j.sides[side]
	now := j.clock.Now()
	if sd.tracker != nil && !sd.byMarks {
		sd.tracker.Arrive(partition, now)
	}
	if j.spec.Timing == LookupJoin && side != j.spec.TableSide && len(j.out) == 0 {
		return j.probeLookup(ctx, side, rec)
	}
	if hasDictionary(rec) {
		// Only a lookup join's probe reads dictionaries (DictionaryKey).
		cols, err := j.plainColumns(ctx, rec)
		if err != nil {
			return nil, err
		}
		rec = array.NewRecord(sd.schema, cols, rec.NumRows())
		releaseArrays(cols)
		defer rec.Release()
	}
	if rec.NumRows() > 0 {
		if err := j.fold(ctx, side, rec, partition, now); err != nil {
			j.recycle()
			return nil, err
		}
	}
	return j.flush()
}

// fold joins and stores the rows of one batch, row by row. Each row is
// written to a slot of its side's store first (joinStore's tentative
// row): the output and the stored row read it from there.
func (j *Join) fold(ctx context.Context, side int, rec arrow.Record, partition int32, now time.Time) error {
	sd := j.sides[side]
	if err := sameTypes(rec.Schema(), sd.schema); err != nil {
		return fmt.Errorf("stream: join input %d: %w", side+1, err)
	}
	var arrays []arrow.Array
	defer func() {
		for _, a := range arrays {
			a.Release()
		}
	}()
	keyOf := make([]func(int) Value, len(sd.keys))
	for i, k := range sd.keys {
		arr, err := k.Eval(ctx, j.mem, rec)
		if err != nil {
			return fmt.Errorf("evaluating join key %s: %w", k, err)
		}
		arrays = append(arrays, arr)
		if keyOf[i], err = reader(arr); err != nil {
			return err
		}
	}
	first := 0
	if sd.changelog {
		first = 1
	}
	st := sd.st
	writers := make([]storeWriter, int(rec.NumCols())-first)
	defer st.endBatch()
	for c := range writers {
		w, err := newStoreWriter(st, c, rec.Column(first+c))
		if err != nil {
			return fmt.Errorf("column %q: %w", rec.ColumnName(first+c), err)
		}
		writers[c] = w
	}
	var opOf, tsOf, endOf, untilOf func(int) Value
	var err error
	until := j.spec.Until[side]
	if until != nil && j.spec.Timing == IntervalJoin {
		if untilOf, err = reader(rec.Column(first + until.Col)); err != nil {
			return err
		}
	}
	if sd.changelog {
		if opOf, err = reader(rec.Column(0)); err != nil {
			return err
		}
	}
	if sd.tracker != nil {
		if tsOf, err = reader(rec.Column(j.timeCol(side))); err != nil {
			return err
		}
		if j.spec.Timing == WindowJoin {
			if endOf, err = reader(rec.Column(j.endCol(side))); err != nil {
				return err
			}
		}
	}
	m, err := j.matchBatch(ctx, side, rec, keyOf, tsOf)
	if err != nil {
		return err
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		sign, op := int64(1), exec.OpInsert
		if sd.changelog {
			op = exec.Op(opOf(i).I)
			if op == exec.OpUpdateBefore || op == exec.OpDelete {
				sign = -1
			}
		}
		var exp int64
		var ts Value
		if sd.tracker != nil {
			ord := sd.partRows[partition]
			sd.partRows[partition] = ord + 1
			wm := sd.tracker.Watermark()
			ts = tsOf(i)
			var end Value
			if endOf != nil {
				end = endOf(i)
			}
			lr := LateRow{Partition: partition, Row: ord, EventTime: ts.I, Watermark: wm, Record: rec, Index: i}
			if sign > 0 {
				// A retraction is never late: it withdraws a row
				// taken on time (a changelog input's marks bound its
				// changes, so the row is still held).
				lr.Reason = j.lateRule().reason(ts, end, wm, j.unit, inputNames[side])
			}
			switch {
			case sign < 0:
			case lr.Reason != "":
			case j.spec.Timing == WindowJoin:
				exp = end.I - 1
			case side == 0:
				exp = sat(ts.I, int64(j.spec.Upper)/j.unit)
			default:
				exp = sat(ts.I, -int64(j.spec.Lower)/j.unit)
			}
			if untilOf != nil && lr.Reason == "" {
				// A NULL bound compares true with no time: the row
				// never matches a later one.
				u := untilOf(i)
				if u.IsNull() {
					exp = MinWatermark
				} else {
					exp = min(exp, sat(u.I, int64(until.Off)/j.unit))
				}
			}
			if lr.Reason != "" {
				if err := j.lateRow(side, lr); err != nil {
					return err
				}
				if !ts.IsNull() && !sd.byMarks {
					j.observe(side, partition, ts.I)
				}
				continue
			}
		}
		slot := st.newSlot()
		for _, w := range writers {
			if err := w(slot, i); err != nil {
				st.release(slot)
				return err
			}
		}
		key, nullKey, ps := m.key(i), m.null[i], m.partners(i)
		if sign > 0 {
			err = j.insert(side, op, key, nullKey, slot, ps, exp, now)
		} else {
			err = j.retract(side, op, key, nullKey, slot, ps, now)
		}
		if err != nil {
			return err
		}
		switch {
		case sd.tracker != nil && !sd.byMarks:
			j.observe(side, partition, ts.I)
		case j.rowMarks != nil:
			j.observe(side, markPartition, j.rowMarks[i])
		}
	}
	return nil
}

// sameTypes checks that records of schema got can be read as want: the
// same column types in order (names and nullability may differ).
func sameTypes(got, want *arrow.Schema) error {
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("%d columns, want %d", got.NumFields(), want.NumFields())
	}
	for i, f := range got.Fields() {
		if !arrow.TypeEqual(f.Type, want.Field(i).Type) {
			return fmt.Errorf("column %d (%s) is %s, want %s", i+1, f.Name, f.Type, want.Field(i).Type)
		}
	}
	return nil
}

func (j *Join) timeCol(side int) int {
	if side == 0 {
		return j.spec.LeftTime
	}
	return j.spec.RightTime
}

func (j *Join) endCol(side int) int {
	if side == 0 {
		return j.spec.LeftEnd
	}
	return j.spec.RightEnd
}

// observe advances side's watermark past one row and frees what the
// combined watermark passed.
func (j *Join) observe(side int, partition int32, ts int64) {
	before := j.sides[side].tracker.Watermark()
	if j.sides[side].tracker.Observe(partition, ts) > before {
		j.expire()
	}
}

// cleanupWatermark is the minimum of the inputs' watermarks: no non-late
// row of either input is older.
func (j *Join) cleanupWatermark() int64 {
	return min(j.sides[0].tracker.Watermark(), j.sides[1].tracker.Watermark())
}

func (j *Join) lateRow(side int, r LateRow) error {
	j.sides[side].late++
	return routeLate(j.mem, j.spec.Late, j.spec.OnLate, j.pair, j.nvals[0], side, r)
}

// lateRule is how the join judges its rows late (JoinTiming).
func (j *Join) lateRule() lateRule {
	switch j.spec.Timing {
	case IntervalJoin:
		return lateEventTime
	case WindowJoin:
		return lateWindowEnd
	}
	return lateNever
}

// outer reports whether side keeps its unmatched rows.
func (j *Join) outer(side int) bool {
	switch j.spec.Kind {
	case FullJoin:
		return true
	case LeftJoin:
		return side == 0
	case RightJoin:
		return side == 1
	}
	return false
}

// joinOut is one output row: its op and the left and right halves.
type joinOut struct {
	op   exec.Op
	l, r joinHalf
}

// joinHalf is one input's part of an output row: a slot of that input's
// store (read when flush builds the columns: slots are not reused before
// then), or Values (a pending window row's), or NULLs.
type joinHalf struct {
	slot int32 // -1: vals
	vals []Value
}

// nullHalf is the NULL-padded half of an unmatched outer row.
var nullHalf = joinHalf{slot: -1}

// held is the half of slot r.
func held(r int32) joinHalf { return joinHalf{slot: r} }

// joined is the output row of side's row mine and the other side's row
// theirs.
func (j *Join) joined(op exec.Op, side int, mine, theirs joinHalf) joinOut {
	if side == 1 {
		return joinOut{op: op, l: theirs, r: mine}
	}
	return joinOut{op: op, l: mine, r: theirs}
}

// flat is row as a pending window row: [op,] left values, right values,
// copied out of the stores.
func (j *Join) flat(row joinOut) []Value {
	out := make([]Value, 0, 1+j.nvals[0]+j.nvals[1])
	if j.update {
		out = append(out, Int(int64(row.op)))
	}
	for s, half := range [2]joinHalf{row.l, row.r} {
		switch {
		case half.slot >= 0:
			out = append(out, j.sides[s].st.ownValues(half.slot)...)
		case half.vals == nil:
			out = append(out, make([]Value, j.nvals[s])...)
		default:
			out = append(out, half.vals...)
		}
	}
	return out
}

// unflat is the output row of a pending window row (flat's inverse).
func (j *Join) unflat(row []Value) joinOut {
	op := exec.OpInsert
	if j.update {
		op, row = exec.Op(row[0].I), row[1:]
	}
	return joinOut{op: op, l: joinHalf{slot: -1, vals: row[:j.nvals[0]]}, r: joinHalf{slot: -1, vals: row[j.nvals[0]:]}}
}

// emit appends n copies of row to the output (or, for a window join, to
// the window's pending rows).
func (j *Join) emit(row joinOut, n int64, exp int64) {
	if j.spec.Timing == WindowJoin {
		flat := j.flat(row)
		for ; n > 0; n-- {
			if _, ok := j.pending[exp]; !ok {
				heap.Push(&j.pendq, exp)
			}
			j.pending[exp] = append(j.pending[exp], flat)
			j.pendingBytes += pendingRowBytes(flat)
		}
		return
	}
	for ; n > 0; n-- {
		j.out = append(j.out, row)
	}
}

// evalResidual evaluates a join's residual predicate over joined rows
// (of schema pair), one keep flag per row; NULL keeps nothing. Every
// streaming join (regular, interval, window, temporal) filters its
// candidate matches through it.
func evalResidual(ctx context.Context, mem memory.Allocator, pair *arrow.Schema, residual Expr, rows [][]Value) ([]bool, error) {
	rb := array.NewRecordBuilder(mem, pair)
	defer rb.Release()
	rec, err := buildRecord(rb, rows)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	arr, err := residual.Eval(ctx, mem, rec)
	if err != nil {
		return nil, fmt.Errorf("evaluating join condition %s: %w", residual, err)
	}
	defer arr.Release()
	b, ok := arr.(*array.Boolean)
	if !ok {
		return nil, fmt.Errorf("stream: join condition %s is %s, not BOOLEAN", residual, arr.DataType())
	}
	keep := make([]bool, len(rows))
	for i := range keep {
		keep[i] = b.IsValid(i) && b.Value(i)
	}
	return keep, nil
}

// insert joins one arriving row (side's tentative slot r) with the
// other side and stores it.
func (j *Join) insert(side int, op exec.Op, key []byte, nullKey bool, r int32, ps []int32, exp int64, now time.Time) error {
	other := j.sides[1-side].st
	var matches int64
	for _, p := range ps {
		mp := other.m(p)
		pn := mp.n
		matches += pn
		if j.spec.Timing == RegularJoin && mp.matches == 0 && j.outer(1-side) {
			// Its first partner: the null-padded row is withdrawn.
			j.emit(j.joined(exec.OpDelete, 1-side, held(p), nullHalf), pn, 0)
		}
		mp.matches++
		j.touch(1-side, p, now)
		emitExp := exp
		if j.spec.Timing == WindowJoin {
			emitExp = min(exp, mp.exp)
		}
		j.emit(j.joined(op, side, held(r), held(p)), pn, emitExp)
	}
	if (j.spec.Timing == RegularJoin || j.spec.Timing == LookupJoin) && matches == 0 && j.outer(side) {
		j.emit(j.joined(exec.OpInsert, side, held(r), nullHalf), 1, 0)
	}
	st := j.sides[side].st
	if j.spec.Timing == LookupJoin && side != j.spec.TableSide {
		st.release(r) // the table never changes: a stream row need not be kept
		return nil
	}
	if nullKey && !j.outer(side) {
		st.release(r) // it never matches and is never emitted: nothing to keep
		return nil
	}
	j.store(side, key, r, matches, exp, now)
	return nil
}

// store adds one copy of the row in side's tentative slot r to the
// state and returns the slot holding it: r, or the held equal row whose
// multiplicity it raised (r is then given back).
func (j *Join) store(side int, key []byte, r int32, matches, exp int64, now time.Time) int32 {
	st := j.sides[side].st
	h := st.hashSlot(r)
	b := st.bucketFor(key)
	if o := st.find(b, r, h); o >= 0 {
		st.m(o).n++
		j.touch(side, o, now)
		st.release(r)
		return o
	}
	mr := st.m(r)
	mr.h, mr.n, mr.matches, mr.exp = h, 1, matches, exp
	st.add(b, r)
	j.touch(side, r, now)
	if j.sides[0].tracker != nil {
		j.seq++
		st.m(r).seq = j.seq
		j.expq[side].push(expEntry{exp: exp, seq: j.seq, row: r})
	}
	return r
}

// touch records that side's row r was used at now, for 'state.ttl'.
func (j *Join) touch(side int, r int32, now time.Time) {
	if j.spec.TTL <= 0 {
		return
	}
	j.sides[side].st.m(r).seen = now.UnixNano()
	j.ttlq = append(j.ttlq, ttlEntry{at: now, side: side, row: r})
}

// retract removes one copy of the row in side's tentative slot r and
// withdraws its output.
func (j *Join) retract(side int, op exec.Op, key []byte, nullKey bool, r int32, ps []int32, now time.Time) error {
	st, other := j.sides[side].st, j.sides[1-side].st
	heldAt := st.find(st.findBucket(key), r, st.hashSlot(r))
	lookup := j.spec.Timing == LookupJoin && side != j.spec.TableSide
	if heldAt < 0 && !lookup {
		if nullKey && !j.outer(side) {
			st.release(r)
			return nil // never stored: it joined nothing
		}
		if j.spec.TTL > 0 {
			st.release(r)
			j.Ignored++
			return nil
		}
		vals := st.ownValues(r)
		st.release(r)
		return fmt.Errorf("stream: join input %d retracts a row it never inserted: %v", side+1, vals)
	}
	for _, p := range ps {
		mp := other.m(p)
		pn := mp.n
		mp.matches--
		j.touch(1-side, p, now)
		j.emit(j.joined(op, side, held(r), held(p)), pn, 0)
		if mp.matches == 0 && j.outer(1-side) {
			j.emit(j.joined(exec.OpInsert, 1-side, held(p), nullHalf), pn, 0)
		}
	}
	if len(ps) == 0 && j.outer(side) {
		j.emit(j.joined(exec.OpDelete, side, held(r), nullHalf), 1, 0)
	}
	st.release(r)
	if lookup {
		return nil
	}
	mh := st.m(heldAt)
	mh.n--
	if mh.n == 0 {
		j.drop(side, heldAt)
	}
	return nil
}

// drop removes side's row r from the state.
func (j *Join) drop(side int, r int32) {
	st := j.sides[side].st
	if !st.m(r).live {
		return
	}
	var ref *joinRowRef
	if st.m(r).snapped {
		ref = &joinRowRef{Side: side, Key: st.keyOf(st.m(r).bucket), ID: string(rowKey(nil, st.values(r)))}
	}
	if st.remove(r) && ref != nil {
		j.gone = append(j.gone, *ref)
	}
}

// expire frees the rows of each input the other input's watermark
// passed, emitting unmatched outer rows null-padded, and the windows the
// cleanup watermark (both inputs') passed, emitting their rows.
func (j *Join) expire() {
	for s := range j.expq {
		// A row matches only rows of the other input: once that input's
		// watermark passes the row's exp, every partner still to come
		// is late. Waiting for both watermarks (the minimum) held the
		// rows of the input ahead for as long as the other lagged.
		wm, q, st := j.sides[1-s].tracker.Watermark(), &j.expq[s], j.sides[s].st
		if j.sides[s].changelog {
			wm = min(wm, j.changesPassed(s))
		}
		for {
			if e, ok := q.peek(); !ok || e.exp >= wm {
				break
			}
			e := q.pop()
			r := e.row
			if mr := st.m(r); !mr.live || mr.seq != e.seq {
				continue // dropped before (its slot may hold a later row)
			} else if mr.matches == 0 && j.outer(s) {
				j.emit(j.joined(exec.OpInsert, s, held(r), nullHalf), mr.n, mr.exp)
			}
			j.drop(s, r)
		}
	}
	wm := j.cleanupWatermark()
	for len(j.pendq) > 0 && j.pendq[0] < wm {
		exp := heap.Pop(&j.pendq).(int64)
		for _, row := range j.pending[exp] {
			j.pendingBytes -= pendingRowBytes(row)
			j.out = append(j.out, j.unflat(row))
		}
		delete(j.pending, exp)
	}
}

// changesPassed is, for a changelog input s of an interval join, the
// expiry below which its rows can change no more: a row's exp is its
// time plus the bound (Upper for the left input, −Lower for the right),
// and once its own input's marks pass its time no retraction of it can
// come, so a row is freed only when both watermarks allow it (the other
// input's alone would let a later retraction find nothing to withdraw).
func (j *Join) changesPassed(s int) int64 {
	wm := j.sides[s].tracker.Watermark()
	if wm == MinWatermark || wm == MaxWatermark {
		return wm
	}
	if s == 0 {
		return sat(wm, int64(j.spec.Upper)/j.unit)
	}
	return sat(wm, -int64(j.spec.Lower)/j.unit)
}

// maxKeptOut is the largest output slice a join keeps between batches.
const maxKeptOut = 1 << 16

// flush builds the output rows gathered so far into a record; then the
// slots given back meanwhile are reusable (recycle).
func (j *Join) flush() (arrow.Record, error) {
	defer j.recycle()
	if len(j.out) == 0 {
		return nil, nil
	}
	rows := j.out
	rb := array.NewRecordBuilder(j.mem, j.schema)
	defer rb.Release()
	f := 0
	if j.update {
		ob := rb.Field(0).(*array.Int8Builder)
		ob.Reserve(len(rows))
		for _, row := range rows {
			ob.UnsafeAppend(int8(row.op))
		}
		f = 1
	}
	for s := range 2 {
		st := j.sides[s].st
		for c := range j.nvals[s] {
			b := rb.Field(f)
			f++
			b.Reserve(len(rows))
			fromSlot := newSlotAppender(b, &st.cols[c])
			for _, row := range rows {
				half := row.l
				if s == 1 {
					half = row.r
				}
				switch {
				case half.slot >= 0:
					if err := fromSlot(half.slot); err != nil {
						return nil, err
					}
				case half.vals == nil:
					b.AppendNull()
				default:
					if err := appendValue(b, half.vals[c]); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	return rb.NewRecord(), nil
}

// recycle ends the output of one call: the output rows are dropped (the
// slice kept for the next call unless a burst made it large: growing it
// again per batch was 13% of q4's CPU) and the slots given back since
// the last call become reusable.
func (j *Join) recycle() {
	clear(j.out)
	if cap(j.out) <= maxKeptOut {
		j.out = j.out[:0]
	} else {
		j.out = nil
	}
	j.sides[0].st.recycle()
	j.sides[1].st.recycle()
}

// Tick lets processing time act: idle inputs stop holding the watermark
// back, and rows unused for 'state.ttl' are forgotten.
func (j *Join) Tick(_ context.Context, now time.Time) (arrow.Record, error) {
	if j.sides[0].tracker != nil {
		a, b := j.sides[0].tracker.Tick(now), j.sides[1].tracker.Tick(now)
		if a || b {
			j.expire()
		}
	}
	if j.spec.TTL > 0 {
		cut := now.Add(-j.spec.TTL)
		i := 0
		for ; i < len(j.ttlq) && j.ttlq[i].at.Before(cut); i++ {
			e := j.ttlq[i]
			// A slot used again since holds a later row: seen tells.
			if mr := j.sides[e.side].st.m(e.row); mr.live && mr.seen == e.at.UnixNano() {
				j.drop(e.side, e.row)
			}
		}
		j.ttlq = append(j.ttlq[:0], j.ttlq[i:]...)
	}
	return j.flush()
}

// Finish is the end of bounded inputs: both watermarks become +∞, every
// row is freed and every window closes.
func (j *Join) Finish(context.Context) (arrow.Record, error) {
	if j.sides[0].tracker != nil {
		j.sides[0].tracker.Finish()
		j.sides[1].tracker.Finish()
		j.expire()
	}
	return j.flush()
}

// Stats counts the distinct rows held on both sides.
func (j *Join) Stats() StateStats {
	b, _ := j.StateBytes()
	return StateStats{Groups: j.sides[0].st.rows + j.sides[1].st.rows, Bytes: b}
}

// StateBytes is Stats().Bytes from running counts (StateSizer).
func (j *Join) StateBytes() (int64, bool) {
	return j.sides[0].st.bytes + j.sides[1].st.bytes + j.pendingBytes, true
}

// pendingRowBytes is what a pending joined row costs in Stats.
func pendingRowBytes(row []Value) int64 {
	n := int64(24)
	for _, v := range row {
		n += valueBytes(v)
	}
	return n
}

// Close drops the state; idempotent.
func (j *Join) Close() error {
	j.dropLookup()
	for _, sd := range j.sides {
		sd.st.reset()
	}
	j.expq, j.pendq, j.ttlq, j.out = [2]expiryQueue{}, nil, nil, nil
	j.pending, j.pendingBytes, j.gone = map[int64][][]Value{}, 0, nil
	return nil
}

func timeText(v, unit int64) string {
	switch v {
	case MinWatermark:
		return "-inf"
	case MaxWatermark:
		return "+inf"
	}
	return time.Unix(0, v*unit).UTC().Format("2006-01-02 15:04:05.999999999")
}

type int64Heap []int64

func (h int64Heap) Len() int           { return len(h) }
func (h int64Heap) Less(i, k int) bool { return h[i] < h[k] }
func (h int64Heap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *int64Heap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *int64Heap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type ttlEntry struct {
	at   time.Time
	side int
	row  int32
}
