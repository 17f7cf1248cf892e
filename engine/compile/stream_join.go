package compile

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

var joinKinds = map[planner.JoinType]stream.JoinKind{
	planner.InnerJoin: stream.InnerJoin, planner.LeftJoin: stream.LeftJoin,
	planner.RightJoin: stream.RightJoin, planner.FullJoin: stream.FullJoin,
}

var joinTimings = map[planner.JoinStrategy]stream.JoinTiming{
	planner.JoinRegular: stream.RegularJoin, planner.JoinInterval: stream.IntervalJoin,
	planner.JoinWindow: stream.WindowJoin, planner.JoinLookup: stream.LookupJoin,
}

// join builds the graph node of a streaming join over inputs of schemas
// ins (both sides; a lookup join's stream only: its table is read here,
// once, as a batch plan).
func (b *streamBuilder) join(n *planner.PhysStreamJoin, ins []*arrow.Schema) (stream.Node, error) {
	kind, ok := joinKinds[n.Type]
	timing, ok2 := joinTimings[n.Strategy]
	if !ok || (!ok2 && n.Strategy != planner.JoinTemporal) {
		return nil, fmt.Errorf("compile: no streaming join for %s", n)
	}
	lookup := timing == stream.LookupJoin
	var schemas [2]*arrow.Schema
	var sides []int // graph input i is join side sides[i]
	if lookup {
		if len(ins) != 1 {
			return nil, fmt.Errorf("compile: a lookup join streams one input, got %d", len(ins))
		}
		schemas[n.TableSide] = []planner.PhysicalPlan{n.Left, n.Right}[n.TableSide].Schema().Arrow()
		schemas[1-n.TableSide] = ins[0]
		sides = []int{1 - n.TableSide}
	} else {
		if len(ins) != 2 {
			return nil, fmt.Errorf("compile: a join has two inputs, got %d", len(ins))
		}
		schemas[0], schemas[1] = ins[0], ins[1]
		sides = []int{0, 1}
	}
	spec := stream.JoinSpec{Kind: kind, Timing: timing, LeftTime: n.LeftTime, RightTime: n.RightTime,
		Lower: n.Lower, Upper: n.Upper, LeftEnd: n.LeftEnd, RightEnd: n.RightEnd,
		LeftDelay: n.LeftDelay, RightDelay: n.RightDelay, LeftByMarks: n.LeftByMarks, RightByMarks: n.RightByMarks, TableSide: n.TableSide, TTL: n.TTL,
		IdleTimeout: b.opts.Window.IdleTimeout, Late: b.opts.Window.Late, OnLate: b.opts.Window.OnLate, Clock: b.opts.Window.Clock}
	if timing == stream.IntervalJoin {
		// The plan's time columns are over the inputs' values; the
		// join's count a changelog input's op column, as its keys do.
		if stream.IsChangelog(schemas[0]) {
			spec.LeftTime++
		}
		if stream.IsChangelog(schemas[1]) {
			spec.RightTime++
		}
	}
	for s, u := range n.Until {
		if u != nil {
			spec.Until[s] = &stream.UntilBound{Col: u.Col, Off: u.Off}
		}
	}
	var err error
	if spec.LeftKeys, err = streamExprs(n.LeftKeys); err != nil {
		return nil, err
	}
	if spec.RightKeys, err = streamExprs(n.RightKeys); err != nil {
		return nil, err
	}
	if n.Residual != nil {
		if spec.Residual, err = Expr(n.Residual); err != nil {
			return nil, err
		}
	}
	if n.Strategy == planner.JoinTemporal {
		return b.temporalJoin(n, spec, schemas)
	}
	var j tableJoin
	if b.parallel(n) {
		j, err = stream.NewParallelJoin(b.env.Mem, schemas[0], schemas[1], spec, b.opts.Parallelism)
	} else {
		j, err = stream.NewJoin(b.env.Mem, schemas[0], schemas[1], spec)
	}
	if err != nil {
		return nil, err
	}
	if got, want := j.SinkMode().Changelog, b.mode(n).Changelog; got != want {
		j.Close()
		return nil, fmt.Errorf("compile: the join's output is a changelog: %v, the plan says %v", got, want)
	}
	if lookup {
		if err := b.loadTable(j, []planner.PhysicalPlan{n.Left, n.Right}[n.TableSide]); err != nil {
			j.Close()
			return nil, err
		}
		if sj, ok := j.(*stream.Join); ok {
			b.keepDictionaryKey(sj, ins[0])
		}
	}
	if (timing == stream.IntervalJoin || timing == stream.WindowJoin) && b.window == nil {
		b.window = j
	}
	return b.joinNode(j, sides), nil
}

// parallel reports whether join n runs as several key-partitioned
// instances: the plan says it is partitioned, the session runs more than
// one, and its inputs do not come through a Kafka exchange (whose
// partitions are the instances already, one join each).
func (b *streamBuilder) parallel(n *planner.PhysStreamJoin) bool {
	return n.Partitioned() && b.opts.Parallelism > 1 && kafkaJoinInput(n.Left) == nil && kafkaJoinInput(n.Right) == nil
}

// tableJoin is a stream.Join or a stream.ParallelJoin: a join that can
// load a lookup join's table and judges late rows.
type tableJoin interface {
	joinOp
	LoadTable(ctx context.Context, rec arrow.Record) error
	Late() int64
}

// temporalJoin builds the node of an event-time temporal join.
func (b *streamBuilder) temporalJoin(n *planner.PhysStreamJoin, spec stream.JoinSpec, schemas [2]*arrow.Schema) (stream.Node, error) {
	tspec := stream.TemporalSpec{Kind: spec.Kind,
		LeftKeys: spec.LeftKeys, RightKeys: spec.RightKeys, Residual: spec.Residual, LeftTime: n.LeftTime, RightTime: n.RightTime,
		LeftDelay: n.LeftDelay, RightDelay: n.RightDelay, LeftByMarks: n.LeftByMarks, IdleTimeout: spec.IdleTimeout, Late: spec.Late, OnLate: spec.OnLate, Clock: spec.Clock}
	var t interface {
		joinOp
		Late() int64
		VersionsLate() int64
	}
	var err error
	if b.parallel(n) {
		t, err = stream.NewParallelTemporalJoin(b.env.Mem, schemas[0], schemas[1], tspec, b.opts.Parallelism)
	} else {
		t, err = stream.NewTemporalJoin(b.env.Mem, schemas[0], schemas[1], tspec)
	}
	if err != nil {
		return nil, err
	}
	if b.window == nil {
		b.window = t
	}
	table := n.VersionedTable()
	if table == "" {
		table = "the versioned table"
	}
	b.versionsLate = append(b.versionsLate, VersionsLate{Table: table, Count: t.VersionsLate})
	return b.joinNode(t, []int{0, 1}), nil
}

// VersionsLate counts one temporal join's versioned-table rows dropped as
// late: Count is read on the pipeline's goroutine.
type VersionsLate struct {
	Table string
	Count func() int64
}

// joinNode wraps a two-input join as a graph node whose graph input i is
// join side sides[i]. A partitioned join's node checkpoints one part per
// instance.
func (b *streamBuilder) joinNode(j joinOp, sides []int) stream.Node {
	node := b.serialJoinNode(j, sides)
	switch x := j.(type) {
	case *stream.ParallelJoin:
		return &partedJoinNode{joinNode: node, parts: x}
	case *stream.Join:
		return &deltaJoinNode{joinNode: node, delta: x}
	}
	return node
}

func (b *streamBuilder) serialJoinNode(j joinOp, sides []int) *joinNode {
	node := &joinNode{join: j, sides: sides, in: stream.NewInputMarks(len(sides)), readerSide: map[int]int{}}
	// A side read straight from a source: its batches carry the source's
	// partitions (numbered by reader input), which the join's own
	// per-input watermark tracks.
	for i, p := range b.ports {
		if p.Node >= 0 || i >= len(sides) {
			continue
		}
		for r, src := range b.readerInputs {
			if src == p.Source {
				node.readerSide[r] = sides[i]
			}
		}
	}
	return node
}

// joinOp is what a joinNode runs: a stream.Join or a stream.TemporalJoin.
type joinOp interface {
	Schema() *arrow.Schema
	SinkMode() exec.SinkMode
	PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error)
	AdvanceSide(ctx context.Context, side int, wm int64) (arrow.Record, error)
	Watermark() *stream.WatermarkTracker
	Tick(ctx context.Context, now time.Time) (arrow.Record, error)
	FinishSide(ctx context.Context, side int) (arrow.Record, error)
	Finish(ctx context.Context) (arrow.Record, error)
	Snapshot() ([]byte, error)
	Restore([]byte) error
	Stats() stream.StateStats
	Close() error
	SetInputPartitions(side int, parts []int32)
}

// streamExprs compiles expressions for a stream operator.
func streamExprs(es []planner.Expr) ([]stream.Expr, error) {
	ce, err := Exprs(es)
	if err != nil {
		return nil, err
	}
	out := make([]stream.Expr, len(ce))
	for i, e := range ce {
		out[i] = e
	}
	return out, nil
}

// loadTable runs a lookup join's table side as a batch plan to its end
// and loads its rows into the join.
func (b *streamBuilder) loadTable(j tableJoin, p planner.PhysicalPlan) error {
	ctx := context.Background()
	env := b.env
	env.Scan, env.Union = nil, nil
	op, err := Plan(env, p)
	if err != nil {
		return err
	}
	recs, err := exec.Collect(ctx, op)
	if err != nil {
		return fmt.Errorf("reading the lookup join's table: %w", err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, r := range recs {
		if err := j.LoadTable(ctx, r); err != nil {
			return fmt.Errorf("loading the lookup join's table: %w", err)
		}
	}
	return nil
}

// joinNode runs a stream.Join as a graph node: graph input i is join
// side sides[i].
type joinNode struct {
	join  joinOp
	sides []int
	in    *stream.InputMarks
	// readerSide maps a reader input (UnionInputOf of a partition) read
	// straight by the join to its side.
	readerSide map[int]int
	ended      int
}

var (
	_ stream.Node           = (*joinNode)(nil)
	_ stream.PartitionAware = (*joinNode)(nil)
)

func (n *joinNode) Schema() *arrow.Schema   { return n.join.Schema() }
func (n *joinNode) SinkMode() exec.SinkMode { return n.join.SinkMode() }

func (n *joinNode) Push(ctx context.Context, input int, b exec.Batch) (arrow.Record, error) {
	if input < 0 || input >= len(n.sides) {
		return nil, fmt.Errorf("compile: join batch on input %d", input)
	}
	return n.join.PushSide(ctx, n.sides[input], b.Record, b.Partition)
}

// Advance notes the input's watermark; the join judges lateness by its
// own per-input trackers, row by row, except for an input whose
// watermark is its marks (a windowed aggregate's closed windows).
func (n *joinNode) Advance(ctx context.Context, input int, m stream.Mark) (arrow.Record, error) {
	if input < 0 || input >= len(n.sides) {
		return nil, fmt.Errorf("compile: join watermark on input %d", input)
	}
	n.in.Set(input, m)
	return n.join.AdvanceSide(ctx, n.sides[input], m.Time)
}

// Watermark is the join's output watermark for an interval or window
// join (the slower input's, held back by an interval join's bounds, so
// that a join over this one's output finds none of its rows late), the
// join's own for a temporal join, else the minimum of the inputs'.
func (n *joinNode) Watermark() stream.Mark {
	if o, ok := n.join.(stream.OutputWatermarker); ok {
		if wm, ok := o.OutputWatermark(); ok {
			return stream.Mark{Time: wm}
		}
	}
	if t := n.join.Watermark(); t != nil {
		return stream.Mark{Time: t.Watermark()}
	}
	return n.in.Mark()
}

func (n *joinNode) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return n.join.Tick(ctx, now)
}

// Finish ends one input (its watermark becomes +∞); after the last the
// join finishes.
func (n *joinNode) Finish(ctx context.Context, input int) (arrow.Record, error) {
	n.in.Finish(input)
	n.ended++
	if n.ended < len(n.sides) {
		return n.join.FinishSide(ctx, n.sides[input])
	}
	return n.join.Finish(ctx)
}

func (n *joinNode) Snapshot() ([]byte, error)  { return n.join.Snapshot() }
func (n *joinNode) Restore(state []byte) error { return n.join.Restore(state) }
func (n *joinNode) Stats() stream.StateStats   { return n.join.Stats() }

// deltaJoinNode is the node of a join whose checkpoints can be
// incremental (a stream.Join, not a TemporalJoin).
type deltaJoinNode struct {
	*joinNode
	delta stream.DeltaSnapshotter
}

var _ stream.DeltaSnapshotter = (*deltaJoinNode)(nil)

// SnapshotDelta is the join's (stream.DeltaSnapshotter).
func (n *deltaJoinNode) SnapshotDelta() ([]byte, error) { return n.delta.SnapshotDelta() }

// RestoreDelta is the join's (stream.DeltaSnapshotter).
func (n *deltaJoinNode) RestoreDelta(d []byte) error { return n.delta.RestoreDelta(d) }

// StateBytes forwards the join's running state size (stream.StateSizer)
// when it keeps one.
func (n *joinNode) StateBytes() (int64, bool) {
	if s, ok := n.join.(stream.StateSizer); ok {
		return s.StateBytes()
	}
	return 0, false
}
func (n *joinNode) Close() error { return n.join.Close() }

// SetPartitions gives the join's per-input trackers the partitions of the
// sources it reads straight.
func (n *joinNode) SetPartitions(parts []int32) {
	by := map[int][]int32{}
	for _, p := range parts {
		if side, ok := n.readerSide[stream.UnionInputOf(p)]; ok {
			by[side] = append(by[side], p)
		}
	}
	for side, ps := range by {
		n.join.SetInputPartitions(side, ps)
	}
}

// partedJoinNode is the node of a partitioned join: its checkpoint is
// the parts of the join's gate and instances.
type partedJoinNode struct {
	*joinNode
	parts *stream.ParallelJoin
}

var _ stream.DeltaPartedSnapshotter = (*partedJoinNode)(nil)

// SnapshotParts is the parts of the join's gate and of each instance.
func (n *partedJoinNode) SnapshotParts() ([]stream.OperatorState, error) {
	return n.parts.SnapshotParts()
}

// SnapshotPartsDelta is SnapshotParts with the instances' deltas where
// delta allows them.
func (n *partedJoinNode) SnapshotPartsDelta(delta func(part string) bool) ([]stream.OperatorState, error) {
	return n.parts.SnapshotPartsDelta(delta)
}

// RestoreParts restores the parts SnapshotParts wrote; another
// parallelism's are refused.
func (n *partedJoinNode) RestoreParts(parts []stream.OperatorState) error {
	return n.parts.RestoreParts(parts)
}
