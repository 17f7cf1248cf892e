package compile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// StreamOptions are the event-time settings of a streaming query.
type StreamOptions struct {
	// Emit is the query's EMIT clause.
	Emit *sql.Emit
	// AppendWindows makes a windowed aggregate under EMIT EVERY emit each
	// window once, when the watermark closes it (Spark's append mode into
	// an append-only sink), instead of updating rows.
	AppendWindows bool
	// Watermark is the source's watermark definition (nil: none).
	Watermark *planner.WatermarkDef
	// Window carries idleness and the late-row policy.
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

	src  exec.Source
	spec exec.ScanSpec
}

// OpenReader opens the source scan, resuming from a checkpoint's offsets
// when from is not nil. It is separate from compilation so that operator
// state can be restored from the same checkpoint first.
func (s *Stream) OpenReader(ctx context.Context, mem memory.Allocator, from exec.Offsets) error {
	spec := s.spec
	spec.From = from
	r, err := s.src.Open(ctx, mem, spec)
	if err != nil {
		return err
	}
	s.Reader = r
	return nil
}

// Pipeline builds the stream.Pipeline around the compiled query.
func (s *Stream) Pipeline(mem memory.Allocator) *stream.Pipeline {
	return &stream.Pipeline{Mem: mem, Reader: s.Reader, Schema: s.Schema, Transforms: s.Transforms, Op: s.Op}
}

// StreamPlan compiles a physical plan for streaming execution; call
// OpenReader on the result before running it. The plan is
// cut into a stateless prefix (scan, filter, project, window assignment)
// that runs on every arriving batch, at most one aggregate, which becomes
// an incremental operator (an updating GroupAggregate, or a WindowAggregate
// that emits each window once when the watermark passes its end), and a
// suffix of projections, filters and a top-N over the aggregate's output.
// Batch and streaming share the operators of the prefix and suffix.
func StreamPlan(ctx context.Context, env Env, p planner.PhysicalPlan, opts StreamOptions) (*Stream, error) {
	b := &streamBuilder{env: env, opts: opts}
	s, err := b.build(ctx, p)
	if err != nil {
		return nil, err
	}
	s.src, s.spec = b.src, b.spec
	return s, nil
}

type streamBuilder struct {
	env  Env
	opts StreamOptions
	src  exec.Source
	spec exec.ScanSpec
}

func (b *streamBuilder) build(ctx context.Context, root planner.PhysicalPlan) (*Stream, error) {
	// Walk down from the root through the suffix to the aggregate.
	var suffix []planner.PhysicalPlan
	n := root
	var agg *planner.PhysHashAggregate
loop:
	for {
		switch x := n.(type) {
		case *planner.PhysHashAggregate:
			agg = x
			break loop
		case *planner.PhysProject, *planner.PhysFilter, *planner.PhysTopN, *planner.PhysLimit, *planner.PhysSort:
			suffix = append(suffix, n)
			n = n.Children()[0]
		default:
			break loop
		}
	}
	if agg == nil {
		// Stateless: the whole plan is the prefix (no top-N or sort).
		for _, s := range suffix {
			switch s.(type) {
			case *planner.PhysTopN, *planner.PhysLimit, *planner.PhysSort:
				return nil, fmt.Errorf("ORDER BY and LIMIT need an aggregate in streaming mode yet")
			}
		}
		return b.stateless(ctx, root)
	}
	s, err := b.aggregate(ctx, agg)
	if err != nil {
		return nil, err
	}
	// Apply the suffix bottom-up.
	for i := len(suffix) - 1; i >= 0; i-- {
		if err := b.applySuffix(s, suffix[i]); err != nil {
			s.close()
			return nil, err
		}
	}
	names := root.Schema().Names()
	s.Names = names
	return s, nil
}

func (s *Stream) close() {
	if s.Op != nil {
		s.Op.Close()
	}
}

// prefix compiles the stateless part over a Feed and opens the source.
func (b *streamBuilder) prefix(ctx context.Context, p planner.PhysicalPlan) (*arrow.Schema, []stream.Transform, error) {
	var feed *stream.Feed
	env := b.env
	env.Scan = func(n *planner.PhysScan, src exec.Source, spec exec.ScanSpec) (exec.Operator, error) {
		if b.src != nil {
			return nil, fmt.Errorf("streaming over more than one source (a join) is not supported yet")
		}
		spec.Bounded = false
		spec.Linger = b.opts.Linger
		spec.Instance = b.opts.Instance
		b.src, b.spec = src, spec
		feed = stream.NewFeed(n.Out.Arrow())
		return feed, nil
	}
	if err := checkStateless(p); err != nil {
		return nil, nil, err
	}
	op, err := Plan(env, p)
	if err != nil {
		return nil, nil, err
	}
	if op == exec.Operator(feed) {
		return feed.Schema(), nil, nil
	}
	return op.Schema(), []stream.Transform{stream.OperatorTransform(env.Mem, feed, op)}, nil
}

// checkStateless rejects operators that need the whole input.
func checkStateless(p planner.PhysicalPlan) error {
	switch x := p.(type) {
	case *planner.PhysScan, *planner.PhysFilter, *planner.PhysProject:
	case *planner.PhysWindow:
		if x.Kind == sql.Session {
			return fmt.Errorf("SESSION windows in streaming mode need EMIT FINAL")
		}
	case *planner.PhysHashJoin:
		return fmt.Errorf("joins are not supported in streaming mode yet")
	case *planner.PhysHashAggregate:
		return fmt.Errorf("more than one aggregation level is not supported in streaming mode yet")
	default:
		return fmt.Errorf("%s is not supported in streaming mode yet", p.String())
	}
	for _, c := range p.Children() {
		if err := checkStateless(c); err != nil {
			return err
		}
	}
	return nil
}

func (b *streamBuilder) stateless(ctx context.Context, p planner.PhysicalPlan) (*Stream, error) {
	schema, trs, err := b.prefix(ctx, p)
	if err != nil {
		return nil, err
	}
	s := &Stream{Schema: schema, Transforms: trs, Names: p.Schema().Names()}
	if b.opts.Emit != nil && b.opts.Emit.Kind == sql.EmitChanges {
		// A stateless query's changelog is all inserts: give it the op column.
		s.Transforms = append(s.Transforms, insertOps(b.env.Mem))
		s.Schema = withOp(schema)
	}
	return s, nil
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

// aggregate compiles the aggregate and everything below it.
func (b *streamBuilder) aggregate(ctx context.Context, agg *planner.PhysHashAggregate) (*Stream, error) {
	win, between := findWindow(agg.Input)
	emit := b.opts.Emit
	final := emit.Kind == sql.EmitFinal || (emit.Kind == sql.EmitEvery && b.opts.AppendWindows)
	if win != nil && (final || win.Kind == sql.Session) {
		if !final {
			return nil, fmt.Errorf("SESSION windows in streaming mode need EMIT FINAL")
		}
		return b.windowAggregate(ctx, agg, win, between, false)
	}
	if win != nil && b.opts.Watermark != nil && strings.EqualFold(win.Input.Schema().Fields[win.TimeCol].Name, b.opts.Watermark.Column) {
		// Updating windowed aggregate: a WindowAggregate in Updates mode
		// emits a changelog and frees each window once the watermark
		// passes its end. Windows on another column keep the plain
		// GROUP BY below: no watermark closes them.
		return b.windowAggregate(ctx, agg, win, between, true)
	}
	if final {
		return nil, fmt.Errorf("EMIT FINAL needs a windowed aggregate: GROUP BY window_start of TUMBLE/HOP/SESSION")
	}
	schema, trs, err := b.prefix(ctx, agg.Input)
	if err != nil {
		return nil, err
	}
	keys, aggs, err := groupSpecs(agg)
	if err != nil {
		return nil, err
	}
	op, err := stream.NewGroupAggregate(b.env.Mem, schema, keys, aggs)
	if err != nil {
		return nil, err
	}
	op.SetBudget(b.env.Budget.Account(agg.String()))
	return &Stream{Schema: schema, Transforms: trs, Op: op}, nil
}

func groupSpecs(agg *planner.PhysHashAggregate) ([]stream.GroupKey, []stream.AggSpec, error) {
	keyExprs, err := Exprs(agg.Keys)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]stream.GroupKey, len(keyExprs))
	for i, e := range keyExprs {
		keys[i] = stream.GroupKey{Expr: e, Name: agg.Out.Fields[i].Name}
	}
	calls, err := AggCalls(agg.Aggs, agg.Out, len(agg.Keys))
	if err != nil {
		return nil, nil, err
	}
	aggs := make([]stream.AggSpec, len(calls))
	for i, c := range calls {
		if aggs[i], err = stream.AggSpecFromCall(c); err != nil {
			return nil, nil, err
		}
	}
	return keys, aggs, nil
}

// findWindow finds a window table function under the aggregate, through
// projections only (which it returns, top-down).
func findWindow(p planner.PhysicalPlan) (*planner.PhysWindow, []*planner.PhysProject) {
	var between []*planner.PhysProject
	for {
		switch x := p.(type) {
		case *planner.PhysWindow:
			return x, between
		case *planner.PhysProject:
			between = append(between, x)
			p = x.Input
		default:
			return nil, nil
		}
	}
}

// windowAggregate compiles GROUP BY window_start, … over a window table
// function into a WindowAggregate that assigns windows itself, tracks the
// watermark row by row and emits each window once — or, with updates, a
// changelog of the groups each batch changed (op column first).
func (b *streamBuilder) windowAggregate(ctx context.Context, agg *planner.PhysHashAggregate, win *planner.PhysWindow, between []*planner.PhysProject, updates bool) (*Stream, error) {
	if b.opts.Watermark == nil {
		return nil, fmt.Errorf("a windowed aggregate in streaming mode needs a watermark: declare WATERMARK FOR <time column> on the source")
	}
	schema, trs, err := b.prefix(ctx, win.Input)
	if err != nil {
		return nil, err
	}
	nin := win.Input.Schema().Len()
	// Resolve the aggregate's expressions through the projections between
	// it and the window down to the window's output columns.
	resolve := func(e planner.Expr) planner.Expr {
		for _, p := range between {
			e = inline(e, p.Exprs)
		}
		return e
	}
	var keys []stream.GroupKey
	layout := make([]int, 0, len(agg.Keys)+len(agg.Aggs)) // output column of the WindowAggregate for each agg output
	for i, k := range agg.Keys {
		k = resolve(k)
		if c, ok := k.(*planner.ColumnRef); ok && c.Index >= nin {
			layout = append(layout, c.Index-nin) // 0 window_start, 1 window_end
			continue
		}
		if refersTo(k, nin) {
			return nil, fmt.Errorf("group key %s over window bounds is not supported in streaming mode yet", agg.Keys[i])
		}
		e, err := Expr(k)
		if err != nil {
			return nil, err
		}
		layout = append(layout, -1-len(keys))
		keys = append(keys, stream.GroupKey{Expr: e, Name: agg.Out.Fields[i].Name})
	}
	calls := make([]planner.AggCall, len(agg.Aggs))
	for i, a := range agg.Aggs {
		if a.Arg != nil {
			a.Arg = resolve(a.Arg)
			if refersTo(a.Arg, nin) {
				return nil, fmt.Errorf("aggregate %s over window bounds is not supported in streaming mode yet", a)
			}
		}
		calls[i] = a
	}
	ecalls, err := AggCalls(calls, agg.Out, len(agg.Keys))
	if err != nil {
		return nil, err
	}
	aggs := make([]stream.AggSpec, len(ecalls))
	for i, c := range ecalls {
		if aggs[i], err = stream.AggSpecFromCall(c); err != nil {
			return nil, err
		}
	}
	if tc := schema.Field(win.TimeCol).Name; !strings.EqualFold(tc, b.opts.Watermark.Column) {
		return nil, fmt.Errorf("window time column %q is not the source's watermark column %q", tc, b.opts.Watermark.Column)
	}
	spec := stream.WindowSpec{TimeCol: win.TimeCol, Size: win.Size, Slide: win.Slide, Gap: win.Gap}
	switch win.Kind {
	case sql.Hop:
		spec.Kind = stream.Hop
	case sql.Session:
		spec.Kind = stream.Session
	default:
		spec.Kind = stream.Tumble
	}
	wopts := b.opts.Window
	wopts.Delay = b.opts.Watermark.Delay
	wopts.Updates = updates
	wa, err := stream.NewWindowAggregate(b.env.Mem, schema, spec, keys, aggs, wopts)
	if err != nil {
		return nil, err
	}
	// Reorder window_start, window_end, keys…, aggs… into the aggregate's
	// output layout, the op column staying first under updates.
	nk := len(keys)
	exprs := make([]expr.Expr, 0, len(agg.Out.Fields)+1)
	names := make([]string, 0, len(agg.Out.Fields)+1)
	var cols []int
	out := wa.Schema()
	shift := 0
	if updates {
		shift = 1
		exprs = append(exprs, expr.Column(0, arrow.PrimitiveTypes.Int8, exec.OpColumn))
		names = append(names, exec.OpColumn)
		cols = append(cols, 0)
	}
	for i, l := range layout {
		col := shift + l
		if l < 0 {
			col = shift + 2 + (-1 - l)
		}
		exprs = append(exprs, expr.Column(col, out.Field(col).Type, out.Field(col).Name))
		names = append(names, agg.Out.Fields[i].Name)
		cols = append(cols, col)
	}
	for j := range agg.Aggs {
		col := shift + 2 + nk + j
		exprs = append(exprs, expr.Column(col, out.Field(col).Type, out.Field(col).Name))
		names = append(names, agg.Out.Fields[len(agg.Keys)+j].Name)
		cols = append(cols, col)
	}
	op, err := chainProject(b.env.Mem, wa, exprs, names, cols)
	if err != nil {
		wa.Close()
		return nil, err
	}
	return &Stream{Schema: schema, Transforms: trs, Op: op, Window: wa}, nil
}

// inline substitutes column references by the expressions of the
// projection below.
func inline(e planner.Expr, exprs []planner.Expr) planner.Expr {
	switch x := e.(type) {
	case *planner.ColumnRef:
		return exprs[x.Index]
	case *planner.Call:
		args := make([]planner.Expr, len(x.Args))
		for i, a := range x.Args {
			args[i] = inline(a, exprs)
		}
		return &planner.Call{Func: x.Func, Args: args, Typ: x.Typ}
	}
	return e
}

// refersTo reports whether e reads a column at index >= from.
func refersTo(e planner.Expr, from int) bool {
	switch x := e.(type) {
	case *planner.ColumnRef:
		return x.Index >= from
	case *planner.Call:
		for _, a := range x.Args {
			if refersTo(a, from) {
				return true
			}
		}
	}
	return false
}

// applySuffix adds one post-aggregate node to the operator chain.
func (b *streamBuilder) applySuffix(s *Stream, n planner.PhysicalPlan) error {
	changelog := s.Op.SinkMode().Changelog
	shift := 0
	if changelog {
		shift = 1
	}
	switch x := n.(type) {
	case *planner.PhysProject:
		exprs, err := Exprs(x.Exprs)
		if err != nil {
			return err
		}
		names := append([]string(nil), x.Names...)
		cols := make([]int, len(exprs))
		for i, e := range x.Exprs {
			cols[i] = -1
			if c, ok := e.(*planner.ColumnRef); ok {
				cols[i] = c.Index + shift
			}
		}
		if changelog {
			for i := range exprs {
				exprs[i] = shifted(exprs[i], x.Exprs[i], shift)
			}
			exprs = append([]expr.Expr{expr.Column(0, arrow.PrimitiveTypes.Int8, exec.OpColumn)}, exprs...)
			names = append([]string{exec.OpColumn}, names...)
			cols = append([]int{0}, cols...)
		}
		op, err := chainProject(b.env.Mem, s.Op, exprs, names, cols)
		if err != nil {
			return err
		}
		s.Op = op
	case *planner.PhysFilter:
		pred, err := Expr(x.Pred)
		if err != nil {
			return err
		}
		pred = shifted(pred, x.Pred, shift)
		s.Op = chainFilter(b.env.Mem, s.Op, pred)
	case *planner.PhysTopN:
		if x.Offset > 0 {
			return fmt.Errorf("OFFSET is not supported in streaming mode yet")
		}
		keys := make([]stream.SortKey, len(x.Keys))
		for i, k := range x.Keys {
			c, ok := k.Expr.(*planner.ColumnRef)
			if !ok {
				return fmt.Errorf("streaming top-N orders by columns only, got %s", k.Expr)
			}
			keys[i] = stream.SortKey{Col: c.Index + shift, Desc: k.Desc}
		}
		t, err := stream.NewTopN(b.env.Mem, s.Op.Schema(), keys, int(x.Limit))
		if err != nil {
			return err
		}
		s.Op = &chain{mem: b.env.Mem, first: s.Op, second: t}
	default:
		return fmt.Errorf("%s over a stream needs ORDER BY … LIMIT (a top-N) in streaming mode", n.String())
	}
	return nil
}

// shifted recompiles e with column references moved right by shift (past
// the op column).
func shifted(compiled expr.Expr, e planner.Expr, shift int) expr.Expr {
	if shift == 0 {
		return compiled
	}
	moved := shiftRefs(e, shift)
	c, err := Expr(moved)
	if err != nil {
		return compiled
	}
	return c
}

func shiftRefs(e planner.Expr, shift int) planner.Expr {
	switch x := e.(type) {
	case *planner.ColumnRef:
		return &planner.ColumnRef{Index: x.Index + shift, Name: x.Name, Typ: x.Typ}
	case *planner.Call:
		args := make([]planner.Expr, len(x.Args))
		for i, a := range x.Args {
			args[i] = shiftRefs(a, shift)
		}
		return &planner.Call{Func: x.Func, Args: args, Typ: x.Typ}
	}
	return e
}
