package compile

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
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
}

// Stream is a compiled streaming query, ready to become a stream.Pipeline.
type Stream struct {
	// Reader is the opened source scan; the pipeline closes it.
	Reader exec.SourceReader
	// Schema is the schema after the stateless transforms.
	Schema *arrow.Schema
	// Transforms are the stateless steps before Op.
	Transforms []stream.Transform
	// Op is the stateful operator chain, nil for a stateless query.
	Op stream.Operator
	// Window is the windowed aggregate when there is one (for late-row
	// counts and the watermark).
	Window *stream.WindowAggregate
	// Names are the user-facing output column names (without op).
	Names []string
	// Mode is the output's changelog mode, from the plan.
	Mode exec.SinkMode

	union *planner.PhysUnionAll // the UNION ALL the inputs feed, or nil

	// inputs are the scans to open: one, or a UNION ALL's.
	inputs []streamInput
}

// streamInput is one scan of a stream and, for a UNION ALL input, the
// transforms of its branch.
type streamInput struct {
	src  exec.Source
	spec exec.ScanSpec
	trs  []stream.Transform
}

// OpenReader opens the source scan, resuming from a checkpoint's offsets
// when from is not nil. It is separate from compilation so that operator
// state can be restored from the same checkpoint first. A UNION ALL's
// inputs are opened together behind one stream.UnionReader, each resumed
// from its own part of from.
func (s *Stream) OpenReader(ctx context.Context, mem memory.Allocator, from exec.Offsets) error {
	if s.union == nil {
		in := s.inputs[0]
		spec := in.spec
		spec.From = from
		r, err := in.src.Open(ctx, mem, spec)
		if err != nil {
			return err
		}
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
	for i, in := range s.inputs {
		spec := in.spec
		if parts != nil {
			spec.From = parts[i]
		}
		r, err := in.src.Open(ctx, mem, spec)
		if err != nil {
			for _, o := range ins[:i] {
				o.Reader.Close()
			}
			return fmt.Errorf("%s: %w", s.union.Inputs[i].Schema().Names(), err)
		}
		ins[i] = stream.UnionInput{Reader: r, Transforms: in.trs}
	}
	s.Reader = stream.NewUnionReader(ctx, ins)
	return nil
}

// Pipeline builds the stream.Pipeline around the compiled query.
func (s *Stream) Pipeline(mem memory.Allocator) *stream.Pipeline {
	return &stream.Pipeline{Mem: mem, Reader: s.Reader, Schema: s.Schema, Transforms: s.Transforms, Op: s.Op}
}

// StreamPlan compiles the streaming plan of si, one operator per node;
// call OpenReader on the result before running it. The plan is a line
// from the scan up: the stateless nodes below the lowest stateful one
// (scan, filter, project, window assignment) become the transforms every
// arriving batch runs through, and that stateful node (GroupAggregate,
// WindowAggregate, TopN) and every node above it the operator chain.
func StreamPlan(ctx context.Context, env Env, si *planner.StreamInfo, opts StreamOptions) (*Stream, error) {
	b := &streamBuilder{env: env, opts: opts, si: si}
	s, err := b.build(ctx, si.Plan)
	if err != nil {
		return nil, err
	}
	s.inputs, s.union = b.inputs, b.union
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
	union  *planner.PhysUnionAll
}

// stateful reports whether n keeps state across batches.
func stateful(n planner.PhysicalPlan) bool {
	switch n.(type) {
	case *planner.PhysGroupAggregate, *planner.PhysWindowAggregate, *planner.PhysTopN:
		return true
	}
	return false
}

func (b *streamBuilder) build(ctx context.Context, root planner.PhysicalPlan) (*Stream, error) {
	// The spine from the root down to the scan, root first.
	var spine []planner.PhysicalPlan
	for n := root; ; {
		spine = append(spine, n)
		kids := n.Children()
		if len(kids) != 1 {
			break // the scan, or a UNION ALL of stateless branches
		}
		n = kids[0]
	}
	low := -1 // the lowest stateful node
	for i, n := range spine {
		if stateful(n) {
			low = i
		}
	}
	prefixTop := len(spine) - 1 // the highest node of the stateless prefix
	switch {
	case low >= 0:
		prefixTop = low + 1
	default:
		prefixTop = 0
		if _, ok := root.(*planner.PhysInsertOps); ok {
			prefixTop = 1
		}
	}
	schema, trs, err := b.prefix(spine[prefixTop])
	if err != nil {
		return nil, err
	}
	s := &Stream{Schema: schema, Transforms: trs}
	if low < 0 {
		if prefixTop == 1 {
			s.Transforms = append(s.Transforms, insertOps(b.env.Mem))
			s.Schema = withOp(schema)
		}
		return s, nil
	}
	in := schema
	for i := low; i >= 0; i-- {
		op, err := b.operator(s, spine[i], in)
		if err != nil {
			if s.Op != nil {
				s.Op.Close()
			}
			return nil, err
		}
		if s.Op == nil {
			s.Op = op
		} else {
			s.Op = &chain{mem: b.env.Mem, first: s.Op, second: op}
		}
		in = op.Schema()
	}
	return s, nil
}

// prefix compiles the stateless part over a Feed and captures the source.
// Over a UNION ALL each input's branch is compiled on its own (it runs on
// the input's reader goroutine, see stream.UnionReader), and the part
// above the union over a Feed of the union's rows.
func (b *streamBuilder) prefix(p planner.PhysicalPlan) (*arrow.Schema, []stream.Transform, error) {
	env := b.env
	var feed *stream.Feed
	env.Union = func(u *planner.PhysUnionAll) (exec.Operator, error) {
		if b.union != nil {
			return nil, fmt.Errorf("compile: the streaming pipeline reads one UNION ALL")
		}
		b.union = u
		for _, in := range u.Inputs {
			_, trs, err := b.branch(in)
			if err != nil {
				return nil, err
			}
			b.inputs[len(b.inputs)-1].trs = trs
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
		b.inputs = append(b.inputs, streamInput{src: src, spec: spec})
		*feed = stream.NewFeed(n.Out.Arrow())
		return *feed, nil
	}
	return Plan(env, p)
}

// operator builds the one streaming operator of node n over input records
// of schema in.
func (b *streamBuilder) operator(s *Stream, n planner.PhysicalPlan, in *arrow.Schema) (stream.Operator, error) {
	mem := b.env.Mem
	switch x := n.(type) {
	case *planner.PhysGroupAggregate:
		keys, err := groupKeys(x.Keys, x.Out, 1)
		if err != nil {
			return nil, err
		}
		aggs, err := aggSpecs(x.Aggs, x.Out, 1+len(x.Keys))
		if err != nil {
			return nil, err
		}
		g, err := stream.NewGroupAggregate(mem, in, keys, aggs)
		if err != nil {
			return nil, err
		}
		g.SetBudget(b.env.Budget.Account(x.String()))
		return g, nil
	case *planner.PhysWindowAggregate:
		return b.windowAggregate(s, x, in)
	case *planner.PhysTopN:
		keys := make([]stream.SortKey, len(x.Keys))
		for i, k := range x.Keys {
			c, ok := k.Expr.(*planner.ColumnRef)
			if !ok {
				return nil, fmt.Errorf("compile: streaming top-N key %s is not a column", k.Expr)
			}
			keys[i] = stream.SortKey{Col: c.Index, Desc: k.Desc}
		}
		return stream.NewTopN(mem, in, keys, int(x.Limit))
	case *planner.PhysProject:
		exprs, err := Exprs(x.Exprs)
		if err != nil {
			return nil, err
		}
		return statelessOp(mem, in, b.mode(n), func(feed *stream.Feed) (exec.Operator, error) {
			return exec.NewProject(mem, feed, exprs, x.Names)
		})
	case *planner.PhysFilter:
		pred, err := Expr(x.Pred)
		if err != nil {
			return nil, err
		}
		return statelessOp(mem, in, b.mode(n), func(feed *stream.Feed) (exec.Operator, error) {
			return exec.NewFilter(mem, feed, pred), nil
		})
	}
	return nil, fmt.Errorf("compile: no streaming operator for %s", n)
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

// windowAggregate builds the WindowAggregate of n.
func (b *streamBuilder) windowAggregate(s *Stream, n *planner.PhysWindowAggregate, in *arrow.Schema) (stream.Operator, error) {
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
	case sql.Hop:
		spec.Kind = stream.Hop
	case sql.Session:
		spec.Kind = stream.Session
	default:
		spec.Kind = stream.Tumble
	}
	wopts := b.opts.Window
	wopts.Delay, wopts.InputDelays = n.Delay, n.InputDelays
	wopts.Updates = n.Emit == planner.EmitUpdates
	wa, err := stream.NewWindowAggregate(b.env.Mem, in, spec, keys, aggs, wopts)
	if err != nil {
		return nil, err
	}
	s.Window = wa
	return wa, nil
}

func withOp(s *arrow.Schema) *arrow.Schema {
	fields := append([]arrow.Field{{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}}, s.Fields()...)
	return arrow.NewSchema(fields, nil)
}

// insertOps prepends an op column of +I.
func insertOps(mem memory.Allocator) stream.Transform {
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
