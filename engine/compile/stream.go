package compile

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
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// StreamOptions are the run-time settings of a streaming query: what the
// plan cannot know (callbacks, clocks, timers). Every decision about the
// query is in the planner's StreamInfo.
type StreamOptions struct {
	// Window carries idleness, the late-row policy and its callback, and
	// the clock of the windowed aggregate; its Delay and Updates are
	// taken from the plan.
	Window stream.WindowOptions
	// Linger is the continuous-mode flush timer for partial batches.
	Linger time.Duration
	// Instance is the query's identity across restarts (ScanSpec.Instance).
	Instance string
	// Parallelism is how many instances a key-partitioned node
	// (planner: Partitioned) runs as; 1 or less runs one.
	Parallelism int
	// Changelogs are the state stores of the keyed nodes behind Kafka
	// exchanges, by changelog topic (planner.PhysExchange.Changelog).
	Changelogs map[string]exec.PartitionStateStore
}

// Stream is a compiled streaming query, ready to become a stream.Pipeline.
type Stream struct {
	// Reader is the opened source scan (a stream.UnionReader over several
	// scans); the pipeline closes it.
	Reader exec.SourceReader
	// Schema is the schema after the stateless transforms.
	Schema *arrow.Schema
	// Transforms are the stateless steps of a query without a stateful
	// node (its only steps).
	Transforms []stream.Transform
	// Op is the stream.Graph of the stateful nodes, nil for a stateless
	// query.
	Op stream.Operator
	// Window is the operator that judges lateness when there is one: the
	// windowed aggregate, or an interval or window join (for late-row
	// counts and the watermark).
	Window stream.EventTimer
	// VersionsLate are the temporal joins' counts of versioned-table
	// rows dropped as late, reported when the run ends.
	VersionsLate []VersionsLate
	// Names are the user-facing output column names (without op).
	Names []string
	// Mode is the output's changelog mode, from the plan.
	Mode exec.SinkMode
	// PartitionStates are the keyed nodes behind Kafka exchanges, whose
	// state the engine saves to their changelogs at each commit.
	PartitionStates []*PartitionedState

	// inputs are the scans to open, in reader-input order.
	inputs []streamInput
	// decoders is how many goroutines may decode a bounded scan that
	// splits into morsels, ahead of the query and in scan order
	// (exec.OpenOrdered): the session's parallelism.
	decoders int
}

// streamInput is one scan of a stream and, for a UNION ALL input, the
// transforms of its branch.
type streamInput struct {
	name string
	src  exec.Source
	spec exec.ScanSpec
	trs  []stream.Transform
	// timeCol is the event-time column of the input's batches (after
	// trs), -1 without one: the union reader aligns the inputs by it.
	timeCol int
	dict    []int // output columns its consumer takes dictionary-encoded (stream_dict.go)
	// mapper, when set, is work done on each batch where it is decoded
	// (stream_preagg.go).
	mapper *exec.ReaderMap
}

// OpenReader opens the source scans, resuming from a checkpoint's offsets
// when from is not nil. It is separate from compilation so that operator
// state can be restored from the same checkpoint first. Several scans (a
// UNION ALL's inputs, the sources of a multi-source graph) are opened
// together behind one stream.UnionReader, each resumed from its own part
// of from.
func (s *Stream) OpenReader(ctx context.Context, mem memory.Allocator, from exec.Offsets) error {
	if len(s.inputs) == 1 {
		in := s.inputs[0]
		spec := in.spec
		spec.From = from
		r, err := exec.OpenOrderedMap(ctx, mem, in.src, spec, s.decoders, in.mapper)
		if err != nil {
			return err
		}
		in.keepDictionaries(r)
		s.Reader = r
		return nil
	}
	var parts []exec.Offsets
	if from != nil {
		var err error
		if parts, err = stream.SplitUnionOffsets(from, len(s.inputs)); err != nil {
			return err
		}
	}
	ins := make([]stream.UnionInput, len(s.inputs))
	cols := make([]int, len(s.inputs))
	for i, in := range s.inputs {
		spec := in.spec
		if parts != nil {
			spec.From = parts[i]
		}
		r, err := exec.OpenOrderedMap(ctx, mem, in.src, spec, s.decoders, in.mapper)
		if err != nil {
			for _, o := range ins[:i] {
				o.Reader.Close()
			}
			return fmt.Errorf("source %s: %w", in.name, err)
		}
		in.keepDictionaries(r)
		ins[i] = stream.UnionInput{Reader: r, Transforms: in.trs}
		cols[i] = in.timeCol
	}
	s.Reader = stream.NewAlignedUnionReader(ctx, ins, stream.Alignment{TimeCols: cols})
	return nil
}

// Pipeline builds the stream.Pipeline around the compiled query.
func (s *Stream) Pipeline(mem memory.Allocator) *stream.Pipeline {
	return &stream.Pipeline{Mem: mem, Reader: s.Reader, Schema: s.Schema, Transforms: s.Transforms, Op: s.Op}
}

// StreamPlan compiles the streaming plan of si, one operator per node;
// call OpenReader on the result before running it. Every stateful or
// multi-input node becomes one node of a stream.Graph, wired to its
// children; a stateless part directly over scans (scan, filter, project,
// window assignment, a UNION ALL of such branches) becomes a graph source:
// its scans' readers and the transforms every arriving batch runs
// through. A plan without a stateful node is just those transforms.
func StreamPlan(ctx context.Context, env Env, si *planner.StreamInfo, opts StreamOptions) (*Stream, error) {
	b := &streamBuilder{env: env, opts: opts, si: si}
	s, err := b.build(ctx, si.Plan)
	if err != nil {
		return nil, err
	}
	s.inputs = b.inputs
	s.decoders = opts.Parallelism
	s.PartitionStates = b.partStates
	s.Names = userNames(si.Plan.Schema())
	s.Mode = sinkMode(si.Mode)
	return s, nil
}

// userNames are the output's column names without op.
func userNames(s *planner.Schema) []string {
	names := s.Names()
	if len(names) > 0 && names[0] == planner.OpColumn && s.Fields[0].Type.ID() == arrow.INT8 {
		names = names[1:]
	}
	return names
}

// sinkMode is the executor's form of a changelog mode.
func sinkMode(m planner.ChangelogMode) exec.SinkMode {
	if !m.Updating() {
		return exec.SinkMode{}
	}
	var keys []int
	if m.Kind == planner.Upsert {
		keys = append(make([]int, 0, len(m.Key)), m.Key...)
	}
	return exec.SinkMode{Changelog: true, Keys: keys}
}

type streamBuilder struct {
	env    Env
	opts   StreamOptions
	si     *planner.StreamInfo
	inputs []streamInput

	// The graph being built.
	sources      []stream.GraphSource
	readerInputs []int
	nodes        []stream.GraphNode
	window       stream.EventTimer
	versionsLate []VersionsLate
	// ports are the inputs of the node being built.
	ports []stream.Port
	// partStates are the per-partition runners built (Kafka exchanges).
	partStates []*PartitionedState
	// inChain is set while the nodes of one per-partition instance
	// (localChain) are built: they run as they are, not each behind its
	// own exchange.
	inChain bool
}

// stateful reports whether n keeps state across batches.
func stateful(n planner.PhysicalPlan) bool {
	switch n.(type) {
	case *planner.PhysGroupAggregate, *planner.PhysWindowAggregate, *planner.PhysTopN, *planner.PhysStreamJoin, *planner.PhysRankTopN, *planner.PhysOverAggregate:
		return true
	}
	return false
}

// hasStateful reports whether n or a node below it keeps state.
func hasStateful(n planner.PhysicalPlan) bool {
	if stateful(n) {
		return true
	}
	for _, c := range n.Children() {
		if hasStateful(c) {
			return true
		}
	}
	return false
}

func (b *streamBuilder) build(ctx context.Context, root planner.PhysicalPlan) (*Stream, error) {
	if !hasStateful(root) {
		return b.stateless(root)
	}
	out, err := b.port(root)
	if err == nil && out.Node < 0 {
		err = fmt.Errorf("compile: the streaming plan's root %s is not an operator", root)
	}
	if err != nil {
		for _, n := range b.nodes {
			n.Node.Close()
		}
		return nil, err
	}
	readerInputs := b.readerInputs
	if len(b.inputs) == 1 {
		readerInputs = nil // one plain reader: partitions are not renumbered
	}
	g, err := stream.NewGraph(b.env.Mem, stream.GraphSpec{Sources: b.sources, Nodes: b.nodes, Output: out.Node,
		ReaderInputs: readerInputs, Clock: b.opts.Window.Clock})
	if err != nil {
		return nil, err
	}
	return &Stream{Schema: b.sources[0].Schema, Op: g, Window: b.window, VersionsLate: b.versionsLate}, nil
}

// stateless compiles a plan without state: the transforms of its scans.
func (b *streamBuilder) stateless(root planner.PhysicalPlan) (*Stream, error) {
	top := root
	ins, insertOps := root.(*planner.PhysInsertOps)
	if insertOps {
		top = ins.Input
	}
	schema, trs, err := b.prefix(top)
	if err != nil {
		return nil, err
	}
	s := &Stream{Schema: schema, Transforms: trs}
	if insertOps {
		s.Transforms = append(s.Transforms, insertOpsTransform(b.env.Mem))
		s.Schema = withOp(schema)
	}
	return s, nil
}

// port compiles n into the graph and returns where its output comes
// from: a graph source for a stateless part over scans, else a node.
func (b *streamBuilder) port(n planner.PhysicalPlan) (stream.Port, error) {
	if !hasStateful(n) {
		return b.source(n)
	}
	if j, ok := n.(*planner.PhysStreamJoin); ok {
		if l, r := kafkaJoinInput(j.Left), kafkaJoinInput(j.Right); l != nil && r != nil {
			return b.exchangeJoin(j, l, r)
		}
	}
	if localWithin(n) != nil {
		return b.localChain(n)
	}
	kids := n.Children()
	if j, ok := n.(*planner.PhysStreamJoin); ok && j.Strategy == planner.JoinLookup {
		kids = kids[1-j.TableSide : 2-j.TableSide] // the table is read once, not streamed
	}
	ports := make([]stream.Port, len(kids))
	schemas := make([]*arrow.Schema, len(kids))
	for i, c := range kids {
		p, err := b.port(c)
		if err != nil {
			return stream.Port{}, err
		}
		ports[i] = p
		schemas[i] = b.schemaOf(p)
	}
	b.ports = ports
	node, err := b.node(n, schemas)
	if err != nil {
		return stream.Port{}, err
	}
	i := len(b.nodes)
	b.nodes = append(b.nodes, stream.GraphNode{Name: fmt.Sprintf("%d:%s", i, kindName(n)), Node: node, Inputs: ports, Budget: b.budget(n)})
	return stream.FromNode(i), nil
}

// budget is the memory-budget account of a stateful node that does not
// account its state itself (a GroupAggregate does, per batch): window
// aggregates, top-N and joins are measured by the graph. nil without a
// memory limit.
func (b *streamBuilder) budget(n planner.PhysicalPlan) *exec.Account {
	if _, self := n.(*planner.PhysGroupAggregate); self || !stateful(n) || b.env.Budget.Limit() <= 0 {
		return nil
	}
	return b.env.Budget.Account(n.String())
}

// kindName is a node's kind for its checkpoint part's name.
func kindName(n planner.PhysicalPlan) string {
	name := fmt.Sprintf("%T", n)
	if i := strings.LastIndex(name, ".Phys"); i >= 0 {
		name = name[i+len(".Phys"):]
	}
	return name
}

func (b *streamBuilder) schemaOf(p stream.Port) *arrow.Schema {
	if p.Node < 0 {
		return b.sources[p.Source].Schema
	}
	return b.nodes[p.Node].Node.Schema()
}

// source compiles the stateless part n over scans into a graph source.
func (b *streamBuilder) source(n planner.PhysicalPlan) (stream.Port, error) {
	first := len(b.inputs)
	schema, trs, err := b.prefix(n)
	if err != nil {
		return stream.Port{}, err
	}
	si := len(b.sources)
	src := stream.GraphSource{Name: strings.Join(scanNames(n), "+"), Schema: schema, Transforms: trs}
	for range b.inputs[first:] {
		b.readerInputs = append(b.readerInputs, si)
	}
	src.Watermark = b.sourceWatermark(n, first)
	b.sources = append(b.sources, src)
	return stream.FromSource(si), nil
}

// scanNames lists the sources n scans, left to right.
func scanNames(n planner.PhysicalPlan) []string {
	if s, ok := n.(*planner.PhysScan); ok {
		return []string{s.Source}
	}
	var out []string
	for _, c := range n.Children() {
		out = append(out, scanNames(c)...)
	}
	return out
}

// sourceWatermark is how the graph tracks the event time of the source
// compiled from n (whose scans are reader inputs from first on): its
// event-time column and each scan's WATERMARK delay; nil when n carries
// no event time or one of its scans has no WATERMARK.
func (b *streamBuilder) sourceWatermark(n planner.PhysicalPlan, first int) *stream.SourceWatermark {
	col := n.Schema().EventTime
	if col < 0 {
		return nil
	}
	var scans []*planner.PhysScan
	var walk func(planner.PhysicalPlan)
	walk = func(p planner.PhysicalPlan) {
		if s, ok := p.(*planner.PhysScan); ok {
			scans = append(scans, s)
		}
		for _, c := range p.Children() {
			walk(c)
		}
	}
	walk(n)
	w := &stream.SourceWatermark{TimeCol: col, Idle: b.si.IdleTimeout}
	w.InputDelays = make([]time.Duration, first+len(scans))
	for i, s := range scans {
		j := slices.Index(b.si.Scans, s)
		if j < 0 || j >= len(b.si.Watermarks) || b.si.Watermarks[j] == nil {
			return nil
		}
		w.InputDelays[first+i] = b.si.Watermarks[j].Delay
	}
	w.Delay = w.InputDelays[first]
	return w
}

// prefix compiles the stateless part p over a Feed and captures its
// scans as reader inputs. Over a UNION ALL each input's branch is compiled
// on its own (it runs on the input's reader goroutine, see
// stream.UnionReader), and the part above the union over a Feed of the
// union's rows.
func (b *streamBuilder) prefix(p planner.PhysicalPlan) (*arrow.Schema, []stream.Transform, error) {
	env := b.env
	var feed *stream.Feed
	var union *planner.PhysUnionAll
	env.Union = func(u *planner.PhysUnionAll) (exec.Operator, error) {
		if union != nil {
			return nil, fmt.Errorf("compile: a stateless streaming part reads one UNION ALL")
		}
		union = u
		for _, in := range u.Inputs {
			_, trs, err := b.branch(in)
			if err != nil {
				return nil, err
			}
			b.inputs[len(b.inputs)-1].trs = trs
			b.inputs[len(b.inputs)-1].timeCol = in.Schema().EventTime
		}
		feed = stream.NewFeed(u.Out.Arrow())
		return feed, nil
	}
	op, err := b.compileOver(env, p, &feed)
	if err != nil {
		return nil, nil, err
	}
	if op == exec.Operator(feed) {
		return feed.Schema(), nil, nil
	}
	return op.Schema(), []stream.Transform{stream.OperatorTransform(env.Mem, feed, op)}, nil
}

// branch compiles the stateless plan p over one scan.
func (b *streamBuilder) branch(p planner.PhysicalPlan) (*arrow.Schema, []stream.Transform, error) {
	var feed *stream.Feed
	op, err := b.compileOver(b.env, p, &feed)
	if err != nil {
		return nil, nil, err
	}
	if op == exec.Operator(feed) {
		return feed.Schema(), nil, nil
	}
	return op.Schema(), []stream.Transform{stream.OperatorTransform(b.env.Mem, feed, op)}, nil
}

// compileOver compiles p with its scan replaced by a Feed (set in *feed)
// and records the scan as an input.
func (b *streamBuilder) compileOver(env Env, p planner.PhysicalPlan, feed **stream.Feed) (exec.Operator, error) {
	env.Scan = func(n *planner.PhysScan, src exec.Source, spec exec.ScanSpec) (exec.Operator, error) {
		spec.Bounded = false
		spec.Linger = b.opts.Linger
		spec.Instance = b.opts.Instance
		spec.Budget, spec.StateTTL = b.env.Budget, n.StateTTL
		b.inputs = append(b.inputs, streamInput{name: n.Source, src: src, spec: spec, timeCol: n.Schema().EventTime})
		*feed = stream.NewFeed(n.Out.Arrow())
		return *feed, nil
	}
	return Plan(env, p)
}

// node builds the one graph node of planner node n over inputs of
// schemas ins (its children's, in order). Every decision was made by the
// planner: this only translates.
func (b *streamBuilder) node(n planner.PhysicalPlan, ins []*arrow.Schema) (stream.Node, error) {
	mem := b.env.Mem
	if u, ok := n.(*planner.PhysUnionAll); ok {
		return stream.UnionNode(u.Out.Arrow(), b.mode(n), len(ins)), nil
	}
	if j, ok := n.(*planner.PhysStreamJoin); ok {
		return b.join(j, ins)
	}
	if len(ins) != 1 {
		return nil, fmt.Errorf("compile: no streaming operator for %s over %d inputs", n, len(ins))
	}
	in := ins[0]
	if ex := kafkaExchangeInput(n); ex != nil && ex.Single && in.NumFields() > 0 {
		in = withoutKey(in) // dropKey takes the routing column off
	}
	var op stream.Operator
	switch x := n.(type) {
	case *planner.PhysGroupAggregate:
		if ex := kafkaExchangeInput(x); ex != nil && !b.inChain {
			return b.partitioned(ex, func() (stream.Node, error) {
				g, err := b.groupAggregate(x, in)
				if err != nil {
					return nil, err
				}
				return stream.OperatorNode(g), nil
			})
		}
		if x.PreAggregate && b.opts.Parallelism > 1 {
			if node, ok, err := b.preAggregated(x, in); ok || err != nil {
				return node, err
			}
		}
		if x.Partitioned && b.opts.Parallelism > 1 {
			keys, err := partitionKeys(x.Keys)
			if err != nil {
				return nil, err
			}
			p, err := stream.NewParallel(mem, keys, b.opts.Parallelism, func(int) (stream.Node, error) {
				g, err := b.groupAggregate(x, in)
				if err != nil {
					return nil, err
				}
				return stream.OperatorNode(g), nil
			})
			if err != nil {
				return nil, err
			}
			return p, nil
		}
		g, err := b.groupAggregate(x, in)
		if err != nil {
			return nil, err
		}
		b.keepDictionaryKey(g, in)
		op = g
	case *planner.PhysWindowAggregate:
		if ex := kafkaExchangeInput(x); ex != nil && !b.inChain {
			return b.partitioned(ex, func() (stream.Node, error) {
				wa, err := b.windowAggregate(x, in)
				if err != nil {
					return nil, err
				}
				return stream.OperatorNode(wa), nil
			})
		}
		if x.Partitioned && b.opts.Parallelism > 1 {
			keys, err := partitionKeys(x.Keys)
			if err != nil {
				return nil, err
			}
			pw, err := stream.NewParallelWindow(mem, keys, b.opts.Parallelism, func(int) (*stream.WindowAggregate, error) {
				return b.newWindowAggregate(x, in)
			})
			if err != nil {
				return nil, err
			}
			if b.window == nil {
				b.window = pw.EventTimer()
			}
			return pw, nil
		}
		wa, err := b.windowAggregate(x, in)
		if err != nil {
			return nil, err
		}
		op = wa
	case *planner.PhysTopN:
		keys := make([]stream.SortKey, len(x.Keys))
		for i, k := range x.Keys {
			c, ok := k.Expr.(*planner.ColumnRef)
			if !ok {
				return nil, fmt.Errorf("compile: streaming top-N key %s is not a column", k.Expr)
			}
			keys[i] = stream.SortKey{Col: c.Index, Desc: k.Desc}
		}
		if ex := kafkaExchangeInput(x); ex != nil && !b.inChain {
			return b.partitioned(ex, func() (stream.Node, error) {
				t, err := stream.NewTopN(mem, in, keys, int(x.Limit))
				if err != nil {
					return nil, err
				}
				return stream.OperatorNode(t), nil
			})
		}
		if len(x.HashBy) > 0 && b.opts.Parallelism > 1 {
			hash, err := partitionKeys(x.HashBy)
			if err != nil {
				return nil, err
			}
			return stream.NewParallelTopN(mem, in, keys, int(x.Limit), hash, b.opts.Parallelism)
		}
		t, err := stream.NewTopN(mem, in, keys, int(x.Limit))
		if err != nil {
			return nil, err
		}
		op = t
	case *planner.PhysOverAggregate:
		return b.overNode(x, in)
	case *planner.PhysRankTopN:
		if ex := kafkaExchangeInput(x); ex != nil && !b.inChain {
			return b.partitioned(ex, func() (stream.Node, error) {
				t, err := rankTopN(mem, x, in)
				if err != nil {
					return nil, err
				}
				return stream.OperatorNode(t), nil
			})
		}
		if x.Partitioned && b.opts.Parallelism > 1 {
			keys, err := partitionKeys(x.Partition)
			if err != nil {
				return nil, err
			}
			pr, err := stream.NewParallelRankTopN(mem, keys, b.opts.Parallelism, func(int) (*stream.RankTopN, error) {
				return rankTopN(mem, x, in)
			})
			if err != nil {
				return nil, err
			}
			return pr, nil
		}
		t, err := rankTopN(mem, x, in)
		if err != nil {
			return nil, err
		}
		op = t
	case *planner.PhysProject:
		exprs, err := Exprs(x.Exprs)
		if err != nil {
			return nil, err
		}
		return statelessNode(mem, in, b.mode(n), func(feed *stream.Feed) (exec.Operator, error) {
			return exec.NewProject(mem, feed, exprs, x.Names)
		})
	case *planner.PhysFilter:
		pred, err := Expr(x.Pred)
		if err != nil {
			return nil, err
		}
		return statelessNode(mem, in, b.mode(n), func(feed *stream.Feed) (exec.Operator, error) {
			return exec.NewFilter(mem, feed, pred), nil
		})
	case *planner.PhysReplicate:
		op := -1
		if b.mode(n).Changelog {
			op = 0
		}
		return statelessNode(mem, in, b.mode(n), func(feed *stream.Feed) (exec.Operator, error) {
			return exec.NewReplicate(mem, feed, op)
		})
	case *planner.PhysUnnest:
		lists, err := Exprs(x.Lists)
		if err != nil {
			return nil, err
		}
		op := -1
		if b.mode(n).Changelog {
			op = 0
		}
		return statelessNode(mem, in, b.mode(n), func(feed *stream.Feed) (exec.Operator, error) {
			return exec.NewUnnest(mem, feed, lists, x.Names, op, x.Outer)
		})
	case *planner.PhysInsertOps:
		return stream.TransformNode(insertOpsTransform(mem), withOp(in), b.mode(n)), nil
	default:
		return nil, fmt.Errorf("compile: no streaming operator for %s", n)
	}
	return stream.OperatorNode(op), nil
}

// groupAggregate builds one instance of n's GroupAggregate, with its own
// compiled expressions and budget account (instances run concurrently).
func (b *streamBuilder) groupAggregate(n *planner.PhysGroupAggregate, in *arrow.Schema) (*stream.GroupAggregate, error) {
	keys, err := groupKeys(n.Keys, n.Out, 1)
	if err != nil {
		return nil, err
	}
	aggs, err := aggSpecs(n.Aggs, n.Out, 1+len(n.Keys))
	if err != nil {
		return nil, err
	}
	g, err := stream.NewGroupAggregate(b.env.Mem, in, keys, aggs)
	if err != nil {
		return nil, err
	}
	g.SetBudget(b.env.Budget.Account(n.String()))
	if n.DeferEmit {
		g.DeferEmit()
	}
	return g, nil
}

// statelessNode runs the batch operator build makes over a Feed of
// records of schema in as a stateless graph node (a projection or a filter
// over a changelog), whose output has changelog mode mode.
func statelessNode(mem memory.Allocator, in *arrow.Schema, mode exec.SinkMode, build func(*stream.Feed) (exec.Operator, error)) (stream.Node, error) {
	feed := stream.NewFeed(in)
	op, err := build(feed)
	if err != nil {
		return nil, err
	}
	return stream.TransformNode(stream.OperatorTransform(mem, feed, op), op.Schema(), mode), nil
}

// mode is the executor's form of node n's changelog mode.
func (b *streamBuilder) mode(n planner.PhysicalPlan) exec.SinkMode {
	return sinkMode(b.si.Modes[n])
}

// groupKeys compiles group keys, named by out's columns from first on.
func groupKeys(es []planner.Expr, out *planner.Schema, first int) ([]stream.GroupKey, error) {
	ce, err := Exprs(es)
	if err != nil {
		return nil, err
	}
	keys := make([]stream.GroupKey, len(ce))
	for i, e := range ce {
		keys[i] = stream.GroupKey{Expr: e, Name: out.Fields[first+i].Name}
	}
	return keys, nil
}

// aggSpecs compiles aggregate calls, named by out's columns from first on.
func aggSpecs(calls []planner.AggCall, out *planner.Schema, first int) ([]stream.AggSpec, error) {
	ec, err := AggCalls(calls, out, first)
	if err != nil {
		return nil, err
	}
	aggs := make([]stream.AggSpec, len(ec))
	for i, c := range ec {
		if aggs[i], err = stream.AggSpecFromCall(c); err != nil {
			return nil, err
		}
	}
	return aggs, nil
}

// partitionKeys compiles the keys a node's parallel instances are
// partitioned by.
func partitionKeys(es []planner.Expr) ([]stream.Expr, error) {
	ce, err := Exprs(es)
	if err != nil {
		return nil, err
	}
	keys := make([]stream.Expr, len(ce))
	for i, e := range ce {
		keys[i] = e
	}
	return keys, nil
}

// windowAggregate builds the WindowAggregate of n, the query's window
// (b.window) unless it is one of many per-partition instances.
func (b *streamBuilder) windowAggregate(n *planner.PhysWindowAggregate, in *arrow.Schema) (*stream.WindowAggregate, error) {
	wa, err := b.newWindowAggregate(n, in)
	if err != nil {
		return nil, err
	}
	if b.window == nil && kafkaExchangeInput(n) == nil {
		b.window = wa
	}
	return wa, nil
}

// newWindowAggregate builds one WindowAggregate of n.
func (b *streamBuilder) newWindowAggregate(n *planner.PhysWindowAggregate, in *arrow.Schema) (*stream.WindowAggregate, error) {
	first := 2 // window_start, window_end
	if n.Emit == planner.EmitUpdates {
		first = 3
	}
	keys, err := groupKeys(n.Keys, n.Out, first)
	if err != nil {
		return nil, err
	}
	aggs, err := aggSpecs(n.Aggs, n.Out, first+len(n.Keys))
	if err != nil {
		return nil, err
	}
	spec := stream.WindowSpec{TimeCol: n.TimeCol, Size: n.Size, Slide: n.Slide, Gap: n.Gap}
	switch n.Kind {
	case planner.WindowHop:
		spec.Kind = stream.Hop
	case planner.WindowSession:
		spec.Kind = stream.Session
	default:
		spec.Kind = stream.Tumble
	}
	wopts := b.opts.Window
	wopts.Delay, wopts.InputDelays = n.Delay, n.InputDelays
	wopts.Updates = n.Emit == planner.EmitUpdates
	ex := kafkaExchangeInput(n)
	if ex != nil && ex.EventTime {
		wopts.ByMarks = true // the watermark crossed the hop beside the rows
	}
	return stream.NewWindowAggregate(b.env.Mem, in, spec, keys, aggs, wopts)
}

func withOp(s *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field{{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}}, s.Fields()...)
	return arrow.NewSchema(fields, nil)
}

// insertOpsTransform prepends an op column of +I.
func insertOpsTransform(mem memory.Allocator) stream.Transform {
	return func(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
		bld := array.NewInt8Builder(mem)
		defer bld.Release()
		bld.AppendValues(make([]int8, rec.NumRows()), nil)
		op := bld.NewArray()
		defer op.Release()
		cols := append([]arrow.Array{op}, rec.Columns()...)
		return array.NewRecord(withOp(rec.Schema()), cols, rec.NumRows()), nil
	}
}
