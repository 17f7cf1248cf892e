package compile

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// preAggregated builds the GROUP BY x that the planner pre-aggregates
// (PhysGroupAggregate.PreAggregate) at parallelism above 1: the scan's
// transforms and a stream.LocalAggregate run on the goroutines that
// decode the scan (exec.ReaderMap), so the graph source yields partial
// rows, and the node returned is the merging aggregates behind a
// stream.Parallel on the partial rows' keys. in is the schema of the
// source's transformed batches. ok is false when x does not read one
// plain graph source of one scan (the planner's conditions make it so).
func (b *streamBuilder) preAggregated(x *planner.PhysGroupAggregate, in *arrow.Schema) (stream.Node, bool, error) {
	if len(b.ports) != 1 || b.ports[0].Node >= 0 {
		return nil, false, nil
	}
	si := b.ports[0].Source
	input := -1
	for i, s := range b.readerInputs {
		if s != si {
			continue
		}
		if input >= 0 {
			return nil, false, nil // a UNION ALL of several scans
		}
		input = i
	}
	if input < 0 || input >= len(b.inputs) || len(b.inputs[input].trs) > 0 || b.sources[si].Watermark != nil {
		return nil, false, nil
	}
	mem := b.env.Mem
	newLocal := func() (*stream.LocalAggregate, error) {
		keys, err := groupKeys(x.Keys, x.Out, 1)
		if err != nil {
			return nil, err
		}
		aggs, err := aggSpecs(x.Aggs, x.Out, 1+len(x.Keys))
		if err != nil {
			return nil, err
		}
		return stream.NewLocalAggregate(mem, in, keys, aggs)
	}
	local, err := newLocal()
	if err != nil {
		return nil, true, err
	}
	var dict []int
	if len(b.sources[si].Transforms) == 0 {
		if c, ok := local.DictionaryKey(in); ok {
			dict = []int{c}
		}
	}
	prefix := x.Input
	b.inputs[input].mapper = &exec.ReaderMap{Dictionaries: dict, New: func() (exec.ReaderStep, error) {
		// Each decoding goroutine compiles its own copy: compiled
		// expressions and operators are not shared between goroutines.
		trs, err := b.freshTransforms(prefix)
		if err != nil {
			return nil, err
		}
		l, err := newLocal()
		if err != nil {
			return nil, err
		}
		return &preAggStep{mem: mem, in: in, trs: trs, local: l}, nil
	}}
	b.sources[si].Transforms = nil
	b.sources[si].Schema = local.Schema()
	b.inputs[input].timeCol = -1 // partial rows carry no event time
	node, err := stream.NewParallel(mem, local.PartitionKeys(), b.opts.Parallelism, func(int) (stream.Node, error) {
		g, err := local.Final()
		if err != nil {
			return nil, err
		}
		g.SetBudget(b.env.Budget.Account(x.String()))
		if x.DeferEmit {
			g.DeferEmit()
		}
		return stream.OperatorNode(g), nil
	})
	return node, true, err
}

// preAggStep is one decoding goroutine's part of a pre-aggregated GROUP
// BY: the scan's transforms, then the partial rows of what is left.
type preAggStep struct {
	mem   memory.Allocator
	in    *arrow.Schema // the transformed batches' schema
	trs   []stream.Transform
	local *stream.LocalAggregate
}

// Apply implements exec.ReaderStep.
func (s *preAggStep) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
	rec.Retain()
	for _, t := range s.trs {
		out, err := t(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, err
		}
		if rec = out; rec == nil {
			break
		}
	}
	if rec == nil {
		rec = emptyRecord(s.mem, s.in)
	}
	defer rec.Release()
	return s.local.Apply(ctx, rec)
}

// Close implements exec.ReaderStep.
func (s *preAggStep) Close() { s.local.Close() }

// freshTransforms compiles the stateless plan p over one scan into a new
// set of transforms, its scan replaced by a Feed of the scan's batches
// (none when p is the scan itself).
func (b *streamBuilder) freshTransforms(p planner.PhysicalPlan) ([]stream.Transform, error) {
	env := b.env
	var feed *stream.Feed
	env.Scan = func(n *planner.PhysScan, _ exec.Source, _ exec.ScanSpec) (exec.Operator, error) {
		feed = stream.NewFeed(n.Out.Arrow())
		return feed, nil
	}
	op, err := Plan(env, p)
	if err != nil {
		return nil, err
	}
	if op == exec.Operator(feed) {
		return nil, nil
	}
	return []stream.Transform{stream.OperatorTransform(env.Mem, feed, op)}, nil
}

// emptyRecord is a record of schema s without rows.
func emptyRecord(mem memory.Allocator, s *arrow.Schema) arrow.Record {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
	}
	rec := array.NewRecord(s, cols, 0)
	for _, c := range cols {
		c.Release()
	}
	return rec
}
