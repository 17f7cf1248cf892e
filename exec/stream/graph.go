package stream

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Port names where a node's input comes from: one of the graph's sources,
// or another node's output.
type Port struct {
	// Node is the index of the producing node, or -1 for a source.
	Node int
	// Source is the index of the source when Node is -1.
	Source int
}

// FromSource is the port of source i.
func FromSource(i int) Port { return Port{Node: -1, Source: i} }

// FromNode is the port of node i's output.
func FromNode(i int) Port { return Port{Node: i} }

func (p Port) String() string {
	if p.Node < 0 {
		return fmt.Sprintf("source %d", p.Source)
	}
	return fmt.Sprintf("node %d", p.Node)
}

// GraphSource is one input stream of a Graph: the batches of one or more
// reader inputs (see Graph.ReaderInputs) after their stateless transforms.
type GraphSource struct {
	// Name identifies the source in errors.
	Name string
	// Schema is the schema of the source's batches after Transforms.
	Schema *arrow.Schema
	// Transforms run in order on each batch of the source before its
	// consumers see it; a batch they drop reaches the consumers empty, so
	// its partition still counts as active for watermarks.
	Transforms []Transform
	// Watermark, if set, makes the graph track this source's event-time
	// watermark and send it to the source's consumers as Marks.
	Watermark *SourceWatermark
}

// SourceWatermark is how a source's watermark is derived: per partition
// max(event time) − delay, min over partitions, idle partitions skipped
// (WatermarkTracker), advancing row by row.
type SourceWatermark struct {
	// TimeCol is the event-time column of the source's batches
	// (TIMESTAMP, or BIGINT epoch milliseconds).
	TimeCol int
	// Delay is the watermark delay; InputDelays, if set, the delay of
	// each reader input, by index (a UNION ALL's inputs each have their
	// source's).
	Delay       time.Duration
	InputDelays []time.Duration
	// Idle is the idle timeout (0: never idle).
	Idle time.Duration
}

// GraphNode places a Node in a Graph.
type GraphNode struct {
	// Name identifies the node's state part in checkpoints: stable for the
	// same query across restarts (the compiler uses position and kind).
	Name string
	// Node is the operator.
	Node Node
	// Inputs are where each of the node's inputs come from, by input index.
	Inputs []Port
	// Budget, when set, accounts the node's state (its Stats, sampled)
	// against the query's memory budget, for a node that does not account
	// it itself: over the budget the query fails with an
	// exec.MemoryLimitError naming the account's operator.
	Budget *exec.Account
}

// Graph runs a DAG of Nodes over one or more sources as one Operator, so
// the Pipeline drivers (continuous, micro-batch) run any plan shape: the
// pipeline's reader (a UnionReader when there are several inputs) yields
// batches tagged with their reader input, the graph routes each to the
// source's consumers, and every node's output to its own consumers, depth
// first, within the call. Watermarks travel as Marks beside the data:
// after each batch a source's tracked watermark and, after each message, a
// node's Watermark go to their consumers when they moved. The graph's
// output is the output node's records.
//
// Because every message runs to completion before Push returns, a
// checkpoint taken between calls is a barrier aligned across all inputs.
type Graph struct {
	mem     memory.Allocator
	sources []graphSource
	nodes   []*graphNode
	out     int
	// readerInput maps a reader input to its graph source.
	readerInput []int
	clock       Clock

	outs []arrow.Record
}

type graphSource struct {
	GraphSource
	tracker   *WatermarkTracker
	last      Mark
	consumers []consumer
}

type graphNode struct {
	GraphNode
	consumers []consumer
	last      Mark
	finished  []bool
	nfinished int
	budget    budgetSampler
}

// consumer is one node input fed by a port.
type consumer struct{ node, input int }

var (
	_ Operator          = (*Graph)(nil)
	_ PartedSnapshotter = (*Graph)(nil)
	_ PartitionAware    = (*Graph)(nil)
	_ WatermarkReporter = (*Graph)(nil)
)

// GraphSpec describes a Graph to NewGraph.
type GraphSpec struct {
	Sources []GraphSource
	// Nodes in topological order: every node's inputs are sources or
	// nodes listed before it.
	Nodes []GraphNode
	// Output is the index of the node whose records the graph returns.
	Output int
	// ReaderInputs maps each input of the pipeline's reader (UnionInputOf
	// of a batch's partition) to a source; nil maps everything to source 0.
	ReaderInputs []int
	// Clock is processing time for source watermark idleness; RealClock if nil.
	Clock Clock
}

// NewGraph checks spec and builds its graph; it takes ownership of the
// nodes (Close closes them, also when NewGraph fails).
func NewGraph(mem memory.Allocator, spec GraphSpec) (*Graph, error) {
	g := &Graph{mem: mem, out: spec.Output, readerInput: spec.ReaderInputs, clock: spec.Clock}
	if g.clock == nil {
		g.clock = RealClock{}
	}
	for _, n := range spec.Nodes {
		g.nodes = append(g.nodes, &graphNode{GraphNode: n, last: NoMark, finished: make([]bool, len(n.Inputs)), budget: budgetSampler{acct: n.Budget}})
	}
	fail := func(format string, args ...any) (*Graph, error) {
		g.Close()
		return nil, fmt.Errorf("stream graph: "+format, args...)
	}
	if len(spec.Sources) == 0 {
		return fail("no sources")
	}
	for _, s := range spec.Sources {
		gs := graphSource{GraphSource: s, last: NoMark}
		if s.Schema == nil {
			return fail("source %s has no schema", s.Name)
		}
		if w := s.Watermark; w != nil {
			if w.TimeCol < 0 || w.TimeCol >= s.Schema.NumFields() {
				return fail("source %s: event-time column %d out of range", s.Name, w.TimeCol)
			}
			unit, err := unitNanos(s.Schema.Field(w.TimeCol).Type)
			if err != nil {
				return fail("source %s: %v", s.Name, err)
			}
			gs.tracker = NewWatermarkTracker(int64(w.Delay)/unit, w.Idle, unit)
			if len(w.InputDelays) > 0 {
				delays := make([]int64, len(w.InputDelays))
				for i, d := range w.InputDelays {
					delays[i] = int64(d) / unit
				}
				gs.tracker.SetInputDelays(delays)
			}
		}
		g.sources = append(g.sources, gs)
	}
	for _, s := range spec.ReaderInputs {
		if s < 0 || s >= len(g.sources) {
			return fail("reader input mapped to source %d of %d", s, len(g.sources))
		}
	}
	if g.out < 0 || g.out >= len(g.nodes) {
		return fail("output node %d of %d", g.out, len(g.nodes))
	}
	names := map[string]bool{}
	for i, n := range g.nodes {
		if n.Node == nil {
			return fail("node %d is nil", i)
		}
		if names[n.Name] {
			return fail("two nodes named %q", n.Name)
		}
		names[n.Name] = true
		if len(n.Inputs) == 0 {
			return fail("node %d (%s) has no inputs", i, n.Name)
		}
		for k, p := range n.Inputs {
			c := consumer{node: i, input: k}
			switch {
			case p.Node < 0 && p.Source >= 0 && p.Source < len(g.sources):
				g.sources[p.Source].consumers = append(g.sources[p.Source].consumers, c)
			case p.Node >= 0 && p.Node < i:
				g.nodes[p.Node].consumers = append(g.nodes[p.Node].consumers, c)
			default:
				return fail("node %d (%s) input %d reads %s, which is not a source or an earlier node", i, n.Name, k, p)
			}
		}
	}
	return g, nil
}

// Schema is the output node's schema.
func (g *Graph) Schema() *arrow.Schema { return g.nodes[g.out].Node.Schema() }

// SinkMode is the output node's changelog mode.
func (g *Graph) SinkMode() exec.SinkMode { return g.nodes[g.out].Node.SinkMode() }

// Node returns node i (for statistics such as late rows).
func (g *Graph) Node(i int) Node { return g.nodes[i].Node }

// sourceOf is the graph source of a reader partition.
func (g *Graph) sourceOf(partition int32) (int, error) {
	if g.readerInput == nil {
		return 0, nil
	}
	i := UnionInputOf(partition)
	if i < 0 || i >= len(g.readerInput) {
		return 0, fmt.Errorf("stream graph: a batch from reader input %d, which feeds no source", i)
	}
	return g.readerInput[i], nil
}

// Push routes rec, read from reader partition partition, through the
// graph and returns the output node's records it caused (nil if none).
func (g *Graph) Push(ctx context.Context, rec arrow.Record, partition int32) (arrow.Record, error) {
	return g.PushBatch(ctx, exec.Batch{Record: rec, Partition: partition})
}

// PushBatch implements BatchPusher: Push, with the watermark a source
// carries (exec.Batch.CarriesWatermark) passed on to the nodes.
func (g *Graph) PushBatch(ctx context.Context, b exec.Batch) (arrow.Record, error) {
	s, err := g.sourceOf(b.Partition)
	if err != nil {
		return nil, err
	}
	return g.collect(g.pushSource(ctx, s, b))
}

func (g *Graph) pushSource(ctx context.Context, s int, b exec.Batch) error {
	src := &g.sources[s]
	if len(src.Transforms) > 0 {
		rec, err := g.transform(ctx, src, b.Record)
		if err != nil {
			return err
		}
		defer rec.Release()
		b.Record = rec
	}
	for _, c := range src.consumers {
		out, err := g.nodes[c.node].Node.Push(ctx, c.input, b)
		if err := g.produced(ctx, c.node, out, err); err != nil {
			return err
		}
	}
	if src.tracker == nil {
		return nil
	}
	src.tracker.Arrive(b.Partition, g.clock.Now())
	if b.Record.NumRows() > 0 {
		// The source's mark is read once the batch is in (sourceMark),
		// and the tracker keeps a maximum: observing the batch's latest
		// event time is observing each row, without a Value a row on
		// the one goroutine every batch passes through.
		col := b.Record.Column(src.Watermark.TimeCol)
		top, any, err := MaxEventTime(col, 0, col.Len())
		if err != nil {
			return fmt.Errorf("stream graph: source %s: %w", src.Name, err)
		}
		if any {
			src.tracker.Observe(b.Partition, top)
		}
	}
	return g.sourceMark(ctx, s)
}

// transform runs src's transforms on rec (kept by the caller) and
// returns the result, which the caller releases; a batch they drop (or an
// empty one) becomes an empty record of the source's schema.
func (g *Graph) transform(ctx context.Context, src *graphSource, rec arrow.Record) (arrow.Record, error) {
	if rec.NumRows() > 0 {
		rec.Retain()
		for _, t := range src.Transforms {
			out, err := t(ctx, rec)
			rec.Release()
			if err != nil {
				return nil, err
			}
			if rec = out; rec == nil {
				break
			}
			if rec.NumRows() == 0 {
				rec.Release()
				rec = nil
				break
			}
		}
		if rec != nil {
			return rec, nil
		}
	}
	cols := emptyCols(g.mem, src.Schema)
	defer releaseArrays(cols)
	return array.NewRecord(src.Schema, cols, 0), nil
}

func releaseArrays(cols []arrow.Array) {
	for _, c := range cols {
		c.Release()
	}
}

// sourceMark sends source s's watermark to its consumers when it moved.
func (g *Graph) sourceMark(ctx context.Context, s int) error {
	src := &g.sources[s]
	m := Mark{Time: src.tracker.Watermark(), Idle: src.tracker.Idle()}
	if m == src.last {
		return nil
	}
	src.last = m
	for _, c := range src.consumers {
		out, err := g.nodes[c.node].Node.Advance(ctx, c.input, m)
		if err := g.produced(ctx, c.node, out, err); err != nil {
			return err
		}
	}
	return nil
}

// produced handles what node i returned for a message: its records go to
// its consumers (and to the output when it is the output node), then its
// watermark, if it moved.
func (g *Graph) produced(ctx context.Context, i int, out arrow.Record, err error) error {
	if err != nil {
		if out != nil {
			out.Release()
		}
		return err
	}
	n := g.nodes[i]
	if err := n.budget.sample(n.Node, false); err != nil {
		if out != nil {
			out.Release()
		}
		return err
	}
	if out != nil {
		if out.NumRows() > 0 {
			for _, c := range n.consumers {
				o, err := g.nodes[c.node].Node.Push(ctx, c.input, exec.Batch{Record: out})
				if err := g.produced(ctx, c.node, o, err); err != nil {
					out.Release()
					return err
				}
			}
		}
		if i == g.out {
			g.outs = append(g.outs, out)
		} else {
			out.Release()
		}
	}
	m := n.Node.Watermark()
	if m == n.last {
		return nil
	}
	n.last = m
	for _, c := range n.consumers {
		o, err := g.nodes[c.node].Node.Advance(ctx, c.input, m)
		if err := g.produced(ctx, c.node, o, err); err != nil {
			return err
		}
	}
	return nil
}

// collect returns the output gathered during one call as one record.
func (g *Graph) collect(err error) (arrow.Record, error) {
	outs := g.outs
	g.outs = nil
	if err != nil {
		releaseAll(outs)
		return nil, err
	}
	var keep []arrow.Record
	for _, r := range outs {
		if r.NumRows() == 0 {
			r.Release()
			continue
		}
		keep = append(keep, r)
	}
	switch len(keep) {
	case 0:
		return nil, nil
	case 1:
		return keep[0], nil
	}
	defer releaseAll(keep)
	return concatRecords(g.mem, keep)
}

func releaseAll(recs []arrow.Record) {
	for _, r := range recs {
		if r != nil {
			r.Release()
		}
	}
}

// Tick lets processing time act: source watermarks whose partitions went
// idle, then every node in order.
func (g *Graph) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	err := func() error {
		for s := range g.sources {
			if t := g.sources[s].tracker; t != nil && t.Tick(now) {
				if err := g.sourceMark(ctx, s); err != nil {
					return err
				}
			}
		}
		for i, n := range g.nodes {
			out, err := n.Node.Tick(ctx, now)
			if err := g.produced(ctx, i, out, err); err != nil {
				return err
			}
		}
		return nil
	}()
	return g.collect(err)
}

// Finish ends every source (a bounded input ended): each consumer hears
// Finish, and a node whose inputs have all ended ends its own consumers'
// inputs in turn.
func (g *Graph) Finish(ctx context.Context) (arrow.Record, error) {
	err := func() error {
		for s := range g.sources {
			if t := g.sources[s].tracker; t != nil {
				t.Finish()
			}
			for _, c := range g.sources[s].consumers {
				if err := g.finishInput(ctx, c); err != nil {
					return err
				}
			}
		}
		return nil
	}()
	return g.collect(err)
}

func (g *Graph) finishInput(ctx context.Context, c consumer) error {
	n := g.nodes[c.node]
	if n.finished[c.input] {
		return nil
	}
	n.finished[c.input] = true
	n.nfinished++
	if err := n.budget.sample(n.Node, true); err != nil {
		return err
	}
	out, err := n.Node.Finish(ctx, c.input)
	if err := g.produced(ctx, c.node, out, err); err != nil {
		return err
	}
	if n.nfinished < len(n.finished) {
		return nil
	}
	for _, d := range n.consumers {
		if err := g.finishInput(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// Stats adds up the nodes' state sizes.
func (g *Graph) Stats() StateStats {
	var st StateStats
	for _, n := range g.nodes {
		st.Add(n.Node.Stats())
	}
	return st
}

// Close closes every node; idempotent.
func (g *Graph) Close() error {
	var err error
	for _, n := range g.nodes {
		if n.Node == nil {
			continue
		}
		if cerr := n.Node.Close(); err == nil {
			err = cerr
		}
		n.budget.close()
	}
	releaseAll(g.outs)
	g.outs = nil
	return err
}

// SetPartitions hands each source's partitions to its tracker and to the
// PartitionAware nodes it feeds directly.
func (g *Graph) SetPartitions(parts []int32) {
	by := make([][]int32, len(g.sources))
	for _, p := range parts {
		s, err := g.sourceOf(p)
		if err != nil {
			continue // no source reads it: nothing to hold back
		}
		by[s] = append(by[s], p)
	}
	for s, src := range g.sources {
		if src.tracker != nil {
			src.tracker.SetPartitions(by[s], g.clock.Now())
		}
		for _, c := range src.consumers {
			if pa, ok := g.nodes[c.node].Node.(PartitionAware); ok {
				pa.SetPartitions(by[s])
			}
		}
	}
}

// Watermark is the tracker of the first node that reports one (the
// windowed aggregate), for trigger statistics.
func (g *Graph) Watermark() *WatermarkTracker {
	for _, n := range g.nodes {
		if o, ok := n.Node.(*opNode); ok {
			if t := o.tracker(); t != nil {
				return t
			}
		}
	}
	return nil
}

// partSep separates a node's name from its own sub-parts (a parallel
// node's instances) in checkpoint part names.
const partSep = "/"

// SnapshotParts is every stateful node's own checkpoint part, named by
// the node (a PartedSnapshotter node's parts by node/part).
func (g *Graph) SnapshotParts() ([]OperatorState, error) { return g.SnapshotPartsDelta(nil) }

// SnapshotPartsDelta is SnapshotParts with the parts delta allows written
// as deltas by the nodes that can (DeltaSnapshotter).
func (g *Graph) SnapshotPartsDelta(delta func(part string) bool) ([]OperatorState, error) {
	var parts []OperatorState
	for _, n := range g.nodes {
		if ps, ok := n.Node.(PartedSnapshotter); ok {
			var sub []OperatorState
			var err error
			if dp, ok := n.Node.(DeltaPartedSnapshotter); ok && delta != nil {
				sub, err = dp.SnapshotPartsDelta(func(p string) bool { return delta(n.Name + partSep + p) })
			} else {
				sub, err = ps.SnapshotParts()
			}
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			for _, p := range sub {
				p.Name = n.Name + partSep + p.Name
				parts = append(parts, p)
			}
			continue
		}
		p, err := SnapshotPart(n.Node, n.Name, delta)
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", n.Name, err)
		}
		if p.Data != nil {
			parts = append(parts, p)
		}
	}
	return parts, nil
}

// RestoreParts gives each node its part of a checkpoint. A part that names
// no node means the checkpoint is of another query and is refused; a node
// without a part starts empty (it held no state then).
func (g *Graph) RestoreParts(parts []OperatorState) error {
	byNode := map[string][]OperatorState{}
	for _, p := range parts {
		name, sub, parted := strings.Cut(p.Name, partSep)
		i := slices.IndexFunc(g.nodes, func(n *graphNode) bool { return n.Name == name })
		if i < 0 {
			return fmt.Errorf("checkpoint state %q belongs to no operator of this query: was the query changed?", p.Name)
		}
		if _, ok := g.nodes[i].Node.(PartedSnapshotter); ok != parted {
			return fmt.Errorf("checkpoint state %q does not match operator %s: was the query or its parallelism changed?", p.Name, name)
		}
		p.Name = sub
		byNode[name] = append(byNode[name], p)
	}
	for _, n := range g.nodes {
		got, ok := byNode[n.Name]
		if !ok {
			continue
		}
		var err error
		if ps, parted := n.Node.(PartedSnapshotter); parted {
			err = ps.RestoreParts(got)
		} else {
			err = RestorePart(n.Node, got[0])
		}
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return nil
}
