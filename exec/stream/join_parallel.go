package stream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/zeebo/xxh3"

	"github.com/sluicesql/sluice/exec"
)

// ParallelJoin runs a streaming join (a Join of any JoinTiming, or a
// TemporalJoin) as N instances, each with its own state and checkpoint
// part, each folding its rows on its own goroutine: the rows of both
// inputs are cut by a hash of their join key, so a pair of matching rows
// always meets in one instance and the folded output equals one join's
// at any N (for a lookup join each instance holds only the table rows of
// its keys).
//
// Event time stays exact although no instance sees every row: a gate on
// the caller's goroutine tracks each input's watermark row by row over
// all its rows, exactly as the one-instance join does, judges each row
// late or not against it (lateRule: the same rule, so the same rows are
// dropped, counted and routed), and passes only the rows on time to the
// instances, whose watermarks come from the gate (ByMarks) after each
// batch. An instance's watermark therefore lags the gate's within a
// batch, which changes only when it frees state and lets out rows, never
// which rows match: a row freed later than it could be has no partner
// left among the rows on time, and a row the gate let in is on time for
// the instance too (its watermark is never ahead of the gate's).
//
// Every call returns when all the instances it reached are done, so
// between calls the instances are idle and a checkpoint is a barrier
// aligned across them. Output of a call is the instances' outputs in
// instance order. Not safe for concurrent use.
type ParallelJoin struct {
	mem   memory.Allocator
	keys  [2][]Expr
	insts []joinInstance
	// joins are the instances as Joins (nil for temporal joins): a
	// lookup join's table is loaded into them.
	joins  []*Join
	table  int // the lookup join's table side, or -1
	gates  [2]*joinGate
	rule   lateRule
	what   string // the inputs' name in late-row messages
	unit   int64
	late   LatePolicy
	onLate func(LateRow) error
	// latePair and lateLeft are the join's row shape (values, no op)
	// and its left input's column count: a routed late row's shape.
	latePair *arrow.Schema
	lateLeft int
	clock    Clock

	buf  []byte
	rows [][]int32 // instance i's rows of the batch being pushed
	// marks[r] is the pushed input's watermark after batch row r (timed
	// inputs); parts[i] is instance i's share of them.
	marks []int64
	parts [][]int64

	work    []chan joinJob
	results chan parallelResult
	wg      sync.WaitGroup
	closed  bool
}

// joinInstance is one instance of a ParallelJoin: a Join or a
// TemporalJoin whose timed inputs take their watermark from AdvanceSide.
type joinInstance interface {
	Schema() *arrow.Schema
	SinkMode() exec.SinkMode
	PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error)
	AdvanceSide(ctx context.Context, side int, wm int64) (arrow.Record, error)
	FinishSide(ctx context.Context, side int) (arrow.Record, error)
	Finish(ctx context.Context) (arrow.Record, error)
	Tick(ctx context.Context, now time.Time) (arrow.Record, error)
	Snapshot() ([]byte, error)
	Restore([]byte) error
	Stats() StateStats
	Close() error
	// pushMarked is PushSide of a batch whose input watermark after
	// each row is marks[row] (the gate's, over all the input's rows):
	// the instance frees state and lets rows out row by row as the
	// serial join does, not only after the batch.
	pushMarked(ctx context.Context, side int, rec arrow.Record, partition int32, marks []int64) (arrow.Record, error)
}

// pushMarked implements joinInstance.
func (j *Join) pushMarked(ctx context.Context, side int, rec arrow.Record, partition int32, marks []int64) (arrow.Record, error) {
	j.rowMarks = marks
	defer func() { j.rowMarks = nil }()
	return j.PushSide(ctx, side, rec, partition)
}

// pushMarked implements joinInstance.
func (t *TemporalJoin) pushMarked(ctx context.Context, side int, rec arrow.Record, partition int32, marks []int64) (arrow.Record, error) {
	t.rowMarks = marks
	defer func() { t.rowMarks = nil }()
	return t.PushSide(ctx, side, rec, partition)
}

// joinGate is one timed input's event time as the gate tracks it.
type joinGate struct {
	tracker *WatermarkTracker
	byMarks bool // the watermark is the caller's (AdvanceSide)
	timeCol int
	endCol  int // window_end (lateWindowEnd), else -1
	// ops: the input is a changelog (a temporal join's versioned
	// table, an interval join's input whose marks bound its changes)
	// whose -U and -D rows are never late and do not move the watermark
	// (their time is an old row's).
	ops      bool
	partRows map[int32]int64
	late     int64
}

// joinJob is one call for one instance.
type joinJob func(inst joinInstance) (arrow.Record, error)

var (
	_ joinInstance      = (*Join)(nil)
	_ joinInstance      = (*TemporalJoin)(nil)
	_ EventTimer        = (*ParallelJoin)(nil)
	_ PartedSnapshotter = (*ParallelJoin)(nil)
	_ Snapshotter       = (*ParallelJoin)(nil)
	_ StateSizer        = (*ParallelJoin)(nil)
)

// NewParallelJoin builds the join of spec over inputs left and right as n
// instances partitioned by the join keys.
func NewParallelJoin(mem memory.Allocator, left, right *arrow.Schema, spec JoinSpec, n int) (*ParallelJoin, error) {
	if len(spec.LeftKeys) == 0 {
		return nil, fmt.Errorf("stream: a partitioned join needs an equality key")
	}
	timed := spec.Timing == IntervalJoin || spec.Timing == WindowJoin
	ispec := spec
	if timed {
		// The gate judges lateness and hands each instance its
		// watermarks; the instances never see a late row.
		ispec.LeftByMarks, ispec.RightByMarks = true, true
		ispec.IdleTimeout = 0
	}
	p := newParallelJoin(mem, [2][]Expr{spec.LeftKeys, spec.RightKeys}, spec.Late, spec.OnLate, spec.Clock)
	p.what = "join input"
	p.table = -1
	if spec.Timing == LookupJoin {
		p.table = spec.TableSide
	}
	for i := 0; i < n; i++ {
		j, err := NewJoin(mem, left, right, ispec)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.insts = append(p.insts, j)
		p.joins = append(p.joins, j)
	}
	p.latePair, p.lateLeft = p.joins[0].pair, p.joins[0].nvals[0]
	if timed {
		p.unit = p.joins[0].unit
		p.rule = p.joins[0].lateRule()
		ends := [2]int{-1, -1}
		if spec.Timing == WindowJoin {
			ends = [2]int{spec.LeftEnd, spec.RightEnd}
		}
		p.gates[0] = newJoinGate(spec.LeftTime, ends[0], spec.LeftDelay, spec.LeftByMarks, spec.IdleTimeout, p.unit)
		p.gates[1] = newJoinGate(spec.RightTime, ends[1], spec.RightDelay, spec.RightByMarks, spec.IdleTimeout, p.unit)
		// An interval join's changelog input (its changes bounded by
		// its marks): retractions are never late, as in the join.
		p.gates[0].ops, p.gates[1].ops = IsChangelog(left), IsChangelog(right)
	}
	p.start()
	return p, nil
}

// NewParallelTemporalJoin builds the temporal join of spec as n instances
// partitioned by the join keys (the versioned table's primary key).
func NewParallelTemporalJoin(mem memory.Allocator, left, right *arrow.Schema, spec TemporalSpec, n int) (*ParallelJoin, error) {
	ispec := spec
	ispec.ByMarks, ispec.IdleTimeout = true, 0
	p := newParallelJoin(mem, [2][]Expr{spec.LeftKeys, spec.RightKeys}, spec.Late, spec.OnLate, spec.Clock)
	p.what, p.table, p.rule = "temporal join input", -1, lateEventTime
	for i := 0; i < n; i++ {
		t, err := NewTemporalJoin(mem, left, right, ispec)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.insts = append(p.insts, t)
	}
	t0 := p.insts[0].(*TemporalJoin)
	p.unit, p.latePair, p.lateLeft = t0.unit, t0.schema, t0.nvals[0]
	p.gates[0] = newJoinGate(spec.LeftTime, -1, spec.LeftDelay, spec.LeftByMarks, spec.IdleTimeout, p.unit)
	p.gates[1] = newJoinGate(spec.RightTime, -1, spec.RightDelay, false, spec.IdleTimeout, p.unit)
	p.gates[1].ops = IsChangelog(right)
	p.start()
	return p, nil
}

func newParallelJoin(mem memory.Allocator, keys [2][]Expr, late LatePolicy, onLate func(LateRow) error, clock Clock) *ParallelJoin {
	if clock == nil {
		clock = RealClock{}
	}
	return &ParallelJoin{mem: mem, keys: keys, late: late, onLate: onLate, clock: clock}
}

func newJoinGate(timeCol, endCol int, delay time.Duration, byMarks bool, idle time.Duration, unit int64) *joinGate {
	g := &joinGate{timeCol: timeCol, endCol: endCol, byMarks: byMarks, partRows: map[int32]int64{}}
	if byMarks {
		g.tracker = NewWatermarkTracker(0, 0, unit)
	} else {
		g.tracker = NewWatermarkTracker(int64(delay)/unit, idle, unit)
	}
	return g
}

// start runs one goroutine per instance.
func (p *ParallelJoin) start() {
	p.rows = make([][]int32, len(p.insts))
	p.parts = make([][]int64, len(p.insts))
	p.results = make(chan parallelResult, len(p.insts))
	for i := range p.insts {
		ch := make(chan joinJob, 1)
		p.work = append(p.work, ch)
		p.wg.Add(1)
		go func(i int) {
			defer p.wg.Done()
			for job := range ch {
				rec, err := job(p.insts[i])
				p.results <- parallelResult{inst: i, rec: rec, err: err}
			}
		}(i)
	}
}

// Instances is the number of instances.
func (p *ParallelJoin) Instances() int { return len(p.insts) }

// Schema is the join's output schema.
func (p *ParallelJoin) Schema() *arrow.Schema { return p.insts[0].Schema() }

// SinkMode is the join's changelog mode.
func (p *ParallelJoin) SinkMode() exec.SinkMode { return p.insts[0].SinkMode() }

// run gives job(i) to every instance i for which to(i) holds, waits for
// them and returns their outputs joined in instance order.
func (p *ParallelJoin) run(to func(i int) bool, job func(i int) joinJob) (arrow.Record, error) {
	sent := 0
	for i, w := range p.work {
		if to(i) {
			w <- job(i)
			sent++
		}
	}
	outs := make([]arrow.Record, len(p.insts))
	var first error
	for range sent {
		res := <-p.results
		outs[res.inst] = res.rec
		if res.err != nil && first == nil {
			first = res.err
		}
	}
	if first != nil {
		releaseAll(outs)
		return nil, first
	}
	return joinRecords(p.mem, outs)
}

func every(int) bool { return true }

// joinRecords concatenates recs (nil and empty ones skipped), releasing
// them.
func joinRecords(mem memory.Allocator, recs []arrow.Record) (arrow.Record, error) {
	var keep []arrow.Record
	for _, r := range recs {
		switch {
		case r == nil:
		case r.NumRows() == 0:
			r.Release()
		default:
			keep = append(keep, r)
		}
	}
	switch len(keep) {
	case 0:
		return nil, nil
	case 1:
		return keep[0], nil
	}
	defer releaseAll(keep)
	return concatRecords(mem, keep)
}

// split sets p.rows to each instance's rows of rec among those keep
// allows (nil: all), by the hash of the join key of side as the join
// encodes it to match: rows with equal keys (whatever the two sides' key
// column types) always go to the same instance.
func (p *ParallelJoin) split(ctx context.Context, side int, rec arrow.Record, keep []bool) error {
	for i := range p.rows {
		p.rows[i] = p.rows[i][:0]
	}
	keyOf := make([]func(int) Value, len(p.keys[side]))
	for k, e := range p.keys[side] {
		arr, err := e.Eval(ctx, p.mem, rec)
		if err != nil {
			return fmt.Errorf("evaluating join key %s: %w", e, err)
		}
		defer arr.Release()
		if keyOf[k], err = reader(arr); err != nil {
			return err
		}
	}
	n := len(p.insts)
	for r := 0; r < int(rec.NumRows()); r++ {
		if keep != nil && !keep[r] {
			continue
		}
		p.buf = p.buf[:0]
		for _, k := range keyOf {
			p.buf = appendKey(p.buf, k(r))
		}
		q := exec.PartitionOf(xxh3.Hash(p.buf), n)
		p.rows[q] = append(p.rows[q], int32(r))
	}
	for _, c := range rec.Columns() {
		cacheNulls(c) // read by several instances' goroutines at once
	}
	return nil
}

// part is instance i's rows of rec (rec itself when it has them all);
// the caller releases it.
func (p *ParallelJoin) part(ctx context.Context, i int, rec arrow.Record) (arrow.Record, error) {
	idx := p.rows[i]
	if len(idx) == int(rec.NumRows()) {
		rec.Retain()
		return rec, nil
	}
	return exec.TakeRecord(ctx, p.mem, rec, idx)
}

// admit runs the gate over one batch of a timed input: row by row, each
// row is judged against the input's watermark left by the rows before it
// and then advances it. It returns which rows are on time (nil: all).
func (p *ParallelJoin) admit(side int, rec arrow.Record, partition int32) ([]bool, error) {
	g := p.gates[side]
	ts, err := reader(rec.Column(g.timeCol))
	if err != nil {
		return nil, err
	}
	var end func(int) Value
	if g.endCol >= 0 {
		if end, err = reader(rec.Column(g.endCol)); err != nil {
			return nil, err
		}
	}
	var ops *array.Int8
	if g.ops {
		ops, _ = rec.Column(0).(*array.Int8)
	}
	var keep []bool
	p.marks = p.marks[:0]
	what := fmt.Sprintf("%s %d", p.what, side+1)
	for i := 0; i < int(rec.NumRows()); i++ {
		ord := g.partRows[partition]
		g.partRows[partition] = ord + 1
		wm := g.tracker.Watermark()
		if ops != nil && (exec.Op(ops.Value(i)) == exec.OpUpdateBefore || exec.Op(ops.Value(i)) == exec.OpDelete) {
			if keep != nil {
				keep[i] = true
			}
			p.marks = append(p.marks, wm)
			continue
		}
		t := ts(i)
		var e Value
		if end != nil {
			e = end(i)
		}
		if why := p.rule.reason(t, e, wm, p.unit, what); why != "" {
			if keep == nil {
				keep = make([]bool, rec.NumRows())
				for k := 0; k < i; k++ {
					keep[k] = true
				}
			}
			g.late++
			if err := routeLate(p.mem, p.late, p.onLate, p.latePair, p.lateLeft, side, LateRow{Partition: partition, Row: ord, EventTime: t.I, Watermark: wm, Reason: why, Record: rec, Index: i}); err != nil {
				return nil, err
			}
		} else if keep != nil {
			keep[i] = true
		}
		if !t.IsNull() && !g.byMarks {
			g.tracker.Observe(partition, t.I)
		}
		p.marks = append(p.marks, g.tracker.Watermark())
	}
	return keep, nil
}

// PushSide folds a batch of input side (0 left, 1 right) from partition
// and returns the output it caused, or nil. The caller keeps rec and
// releases the result.
func (p *ParallelJoin) PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error) {
	if side != 0 && side != 1 {
		return nil, fmt.Errorf("stream: join got a batch on input %d", side)
	}
	if side == p.table {
		return nil, fmt.Errorf("stream: a lookup join's table is loaded, not pushed")
	}
	g := p.gates[side]
	before := MinWatermark
	if g != nil {
		if !g.byMarks {
			g.tracker.Arrive(partition, p.clock.Now())
		}
		before = g.tracker.Watermark()
	}
	for i := range p.rows {
		p.rows[i] = p.rows[i][:0]
	}
	if rec.NumRows() > 0 {
		var keep []bool
		if g != nil {
			var err error
			if keep, err = p.admit(side, rec, partition); err != nil {
				return nil, err
			}
		}
		if err := p.split(ctx, side, rec, keep); err != nil {
			return nil, err
		}
	}
	moved := g != nil && g.tracker.Watermark() > before
	var wm int64
	if moved {
		wm = g.tracker.Watermark()
	}
	return p.run(func(i int) bool { return moved || len(p.rows[i]) > 0 }, func(i int) joinJob {
		return func(inst joinInstance) (arrow.Record, error) {
			var outs [2]arrow.Record
			if len(p.rows[i]) > 0 {
				part, err := p.part(ctx, i, rec)
				if err != nil {
					return nil, err
				}
				var marks []int64
				if g != nil && !g.byMarks {
					marks = p.parts[i][:0]
					for _, r := range p.rows[i] {
						marks = append(marks, p.marks[r])
					}
					p.parts[i] = marks
				}
				outs[0], err = inst.pushMarked(ctx, side, part, partition, marks)
				part.Release()
				if err != nil {
					return nil, err
				}
			}
			if moved {
				var err error
				if outs[1], err = inst.AdvanceSide(ctx, side, wm); err != nil {
					releaseAll(outs[:])
					return nil, err
				}
			}
			return joinRecords(p.mem, outs[:])
		}
	})
}

// LoadTable stores the rows of a lookup join's table, each in the
// instance its key belongs to; call it with the whole table before the
// first Push. The caller keeps rec.
func (p *ParallelJoin) LoadTable(ctx context.Context, rec arrow.Record) error {
	if p.table < 0 || p.joins == nil {
		return fmt.Errorf("stream: LoadTable on a join that is not a lookup join")
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if err := p.split(ctx, p.table, rec, nil); err != nil {
		return err
	}
	for i, j := range p.joins {
		if len(p.rows[i]) == 0 {
			continue
		}
		part, err := p.part(ctx, i, rec)
		if err != nil {
			return err
		}
		err = j.LoadTable(ctx, part)
		part.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// AdvanceSide moves the watermark of an input whose watermark is its
// caller's (a windowed aggregate's marks) and hands it to every
// instance; for other inputs it does nothing, as Join.AdvanceSide.
func (p *ParallelJoin) AdvanceSide(ctx context.Context, side int, wm int64) (arrow.Record, error) {
	g := p.gates[side]
	if g == nil || !g.byMarks {
		return nil, nil
	}
	g.tracker.Arrive(markPartition, p.clock.Now())
	before := g.tracker.Watermark()
	if g.tracker.Observe(markPartition, wm) <= before {
		return nil, nil
	}
	now := g.tracker.Watermark()
	return p.run(every, func(int) joinJob {
		return func(inst joinInstance) (arrow.Record, error) { return inst.AdvanceSide(ctx, side, now) }
	})
}

// Tick lets processing time act: idle inputs stop holding the gate's
// watermarks back (the instances get the new ones), and each instance
// forgets rows unused for 'state.ttl'.
func (p *ParallelJoin) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	var moved [2]bool
	var wms [2]int64
	for s, g := range p.gates {
		if g != nil {
			before := g.tracker.Watermark()
			g.tracker.Tick(now)
			wms[s] = g.tracker.Watermark()
			moved[s] = wms[s] > before
		}
	}
	return p.run(every, func(int) joinJob {
		return func(inst joinInstance) (arrow.Record, error) {
			var outs [3]arrow.Record
			var err error
			for s := range moved {
				if moved[s] {
					if outs[s], err = inst.AdvanceSide(ctx, s, wms[s]); err != nil {
						releaseAll(outs[:])
						return nil, err
					}
				}
			}
			if outs[2], err = inst.Tick(ctx, now); err != nil {
				releaseAll(outs[:])
				return nil, err
			}
			return joinRecords(p.mem, outs[:])
		}
	})
}

// FinishSide is the end of one bounded input: its watermark becomes +∞
// in the gate and in every instance.
func (p *ParallelJoin) FinishSide(ctx context.Context, side int) (arrow.Record, error) {
	if g := p.gates[side]; g != nil {
		g.tracker.Finish()
	}
	return p.run(every, func(int) joinJob {
		return func(inst joinInstance) (arrow.Record, error) { return inst.FinishSide(ctx, side) }
	})
}

// Finish is the end of both inputs: every instance lets out what it
// holds.
func (p *ParallelJoin) Finish(ctx context.Context) (arrow.Record, error) {
	for _, g := range p.gates {
		if g != nil {
			g.tracker.Finish()
		}
	}
	return p.run(every, func(int) joinJob {
		return func(inst joinInstance) (arrow.Record, error) { return inst.Finish(ctx) }
	})
}

// Watermark is the gate's tracker of the input whose watermark is behind
// (nil for a regular or lookup join, which tracks none).
func (p *ParallelJoin) Watermark() *WatermarkTracker {
	l, r := p.gates[0], p.gates[1]
	if l == nil || r == nil {
		return nil
	}
	if r.tracker.Watermark() < l.tracker.Watermark() {
		return r.tracker
	}
	return l.tracker
}

// VersionsLate is, for a temporal join, the number of the versioned
// table's rows dropped (or routed) as late so far (0 for other joins).
func (p *ParallelJoin) VersionsLate() int64 {
	if _, ok := p.insts[0].(*TemporalJoin); !ok || p.gates[1] == nil {
		return 0
	}
	return p.gates[1].late
}

// Late is the number of late rows dropped (or routed) so far.
func (p *ParallelJoin) Late() int64 {
	var n int64
	for _, g := range p.gates {
		if g != nil {
			n += g.late
		}
	}
	return n
}

// SetInputPartitions registers the partitions input side reads, so that
// each holds that input's watermark back until it sends data or goes
// idle.
func (p *ParallelJoin) SetInputPartitions(side int, parts []int32) {
	if g := p.gates[side]; g != nil && !g.byMarks {
		g.tracker.SetPartitions(parts, p.clock.Now())
	}
}

// Stats adds up the instances' state.
func (p *ParallelJoin) Stats() StateStats { return sumStats(p.insts) }

// StateBytes is the instances' running state sizes added up
// (StateSizer), when every instance keeps one (Joins do; a temporal
// join does not).
func (p *ParallelJoin) StateBytes() (int64, bool) { return sumStateBytes(p.insts) }

// gatePart is the name of the gate's checkpoint part.
const gatePart = "watermarks"

// gateSnap is the gate's checkpointed form.
type gateSnap struct {
	Has  [2]bool
	WM   [2]watermarkState
	Late [2]int64
	Part [2]map[int32]int64
}

// Snapshot is not used: the parts are SnapshotParts'.
func (p *ParallelJoin) Snapshot() ([]byte, error) {
	return nil, fmt.Errorf("stream: a partitioned join checkpoints one part per instance")
}

// Restore is not used: the parts are RestoreParts'.
func (p *ParallelJoin) Restore([]byte) error {
	return fmt.Errorf("stream: a partitioned join restores one part per instance")
}

// SnapshotParts is the gate's part and each instance's, named by its
// index and count.
func (p *ParallelJoin) SnapshotParts() ([]OperatorState, error) { return p.SnapshotPartsDelta(nil) }

// SnapshotPartsDelta is SnapshotParts with deltas where delta allows them
// and the instances can (DeltaSnapshotter); the gate's part is always
// whole (a few watermarks).
func (p *ParallelJoin) SnapshotPartsDelta(delta func(part string) bool) ([]OperatorState, error) {
	var parts []OperatorState
	if p.gates[0] != nil || p.gates[1] != nil {
		var s gateSnap
		for i, g := range p.gates {
			if g != nil {
				s.Has[i], s.WM[i], s.Late[i], s.Part[i] = true, g.tracker.snapshot(), g.late, g.partRows
			}
		}
		data, err := encode(s)
		if err != nil {
			return nil, err
		}
		parts = append(parts, OperatorState{Name: gatePart, Data: data})
	}
	return snapshotInstances(parts, p.insts, delta)
}

// RestoreParts gives the gate and each instance its own part. Keys are
// spread by a hash modulo the number of instances, so a checkpoint of
// another parallelism cannot be split among these and is refused.
func (p *ParallelJoin) RestoreParts(parts []OperatorState) error {
	now := p.clock.Now()
	for _, part := range parts {
		if part.Name == gatePart {
			var s gateSnap
			if err := decode(part.Data, &s); err != nil {
				return err
			}
			for i, g := range p.gates {
				if s.Has[i] != (g != nil) {
					return fmt.Errorf("stream: restoring a join: the checkpoint is of another kind of join (was the query changed?)")
				}
				if g == nil {
					continue
				}
				g.tracker.restore(s.WM[i], now)
				g.late, g.partRows = s.Late[i], s.Part[i]
				if g.partRows == nil {
					g.partRows = map[int32]int64{}
				}
			}
			continue
		}
		if err := restoreInstance(p.insts, part, "join"); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the instances' goroutines and closes them; idempotent.
func (p *ParallelJoin) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	for _, ch := range p.work {
		close(ch)
	}
	p.wg.Wait()
	var err error
	for _, inst := range p.insts {
		if cerr := inst.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
