package compile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// PartitionedState runs a keyed operator behind a Kafka exchange as one
// instance per repartition partition this process holds, each with its
// own state, restored from the operator's changelog (exec.
// PartitionStateStore) before the partition's first batch, and saved to
// it, with the input offsets it covers, by Save. A partition the consumer
// group takes away (SetPartitions no longer lists it) is dropped: its
// next owner restores the last save and reads on from the offsets saved
// with it, so no row is folded twice into the state the changelog
// keeps and none is missed. A partition this process keeps across a
// rebalance keeps its instance in memory (no restore).
type PartitionedState struct {
	mem    memory.Allocator
	schema *arrow.Schema
	mode   exec.SinkMode
	build  func() (stream.Node, error)
	store  exec.PartitionStateStore

	insts map[int32]*partInstance
	held  map[int32]bool
	// carry, when set, takes back the watermark state the source
	// carried (exec.Batch.Carried) saved with a partition's state.
	carry exec.CarryRestorer
	// Restores counts the partitions restored from the changelog and
	// RestoredBytes the state bytes read, for tests and EXPLAIN ANALYZE.
	Restores, RestoredBytes int64
	// Fenced counts saves refused because the partitions had moved.
	Fenced int64
}

type partInstance struct {
	node  stream.Node
	dirty bool
	// carried is the source's watermark state as of the last batch
	// folded that carried one (exec.Batch.Carried), saved with the
	// node's state.
	carried []byte
}

// carriedMagic starts a saved partition state that holds the carried
// watermark state before the node's: [magic][4-byte length][carried]
// [node state]. A state without it is the node's alone.
const carriedMagic = "\x00sluice-carried\x00"

// withCarried is a partition's saved state: the node's, with the
// carried watermark state before it when there is one.
func withCarried(carried, node []byte) []byte {
	if len(carried) == 0 {
		return node
	}
	out := make([]byte, 0, len(carriedMagic)+4+len(carried)+len(node))
	out = append(out, carriedMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(carried)))
	out = append(out, carried...)
	return append(out, node...)
}

// splitCarried takes a saved partition state apart (withCarried).
func splitCarried(state []byte) (carried, node []byte, err error) {
	rest, ok := bytes.CutPrefix(state, []byte(carriedMagic))
	if !ok {
		return nil, state, nil
	}
	if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) > uint64(len(rest)-4) {
		return nil, nil, errors.New("a saved partition state's carried watermarks are cut short")
	}
	n := binary.BigEndian.Uint32(rest)
	return rest[4 : 4+n], rest[4+n:], nil
}

// SetCarryRestorer makes restored partitions hand the watermark state
// saved with them back to r (the reader of the repartition topic).
func (s *PartitionedState) SetCarryRestorer(r exec.CarryRestorer) { s.carry = r }

// sidesAdvancer is a node of several inputs whose watermarks a source
// carries one per input (exec.Batch.Watermarks): a join through one
// repartition topic.
type sidesAdvancer interface {
	AdvanceSides(ctx context.Context, marks []int64) (arrow.Record, error)
}

var (
	_ stream.Node           = (*PartitionedState)(nil)
	_ stream.PartitionAware = (*PartitionedState)(nil)
)

// NewPartitionedState makes the per-partition runner; build makes one
// fresh instance.
func NewPartitionedState(mem memory.Allocator, build func() (stream.Node, error), store exec.PartitionStateStore) (*PartitionedState, error) {
	first, err := build()
	if err != nil {
		return nil, err
	}
	s := &PartitionedState{mem: mem, schema: first.Schema(), mode: first.SinkMode(), build: build, store: store,
		insts: map[int32]*partInstance{}}
	first.Close()
	return s, nil
}

// Schema implements stream.Node.
func (s *PartitionedState) Schema() *arrow.Schema { return s.schema }

// SinkMode implements stream.Node.
func (s *PartitionedState) SinkMode() exec.SinkMode { return s.mode }

// SetPartitions drops the instances of partitions no longer held.
func (s *PartitionedState) SetPartitions(parts []int32) {
	s.held = make(map[int32]bool, len(parts))
	for _, p := range parts {
		s.held[p] = true
	}
	for p, in := range s.insts {
		if !s.held[p] {
			in.node.Close()
			delete(s.insts, p)
		}
	}
}

// Revoke drops the instances of partitions the group takes away, once
// their state is saved (the revoke's barrier): their next owner restores
// exactly that state and reads on after it, so it emits nothing this
// process emitted.
//
// The partitions stay held as far as instance is concerned: the barrier
// ran every batch read before the revoke, and the reader returns none of
// theirs after it, so a later batch of one is of a new assignment of it
// to this process, restored from the changelog. Only SetPartitions
// changes what is held, and the pipeline calls it only when its list of
// partitions changes: a partition revoked and given back before another
// batch came had been left out of held for good, every later batch of it
// dropped while its offsets were committed (rows lost).
func (s *PartitionedState) Revoke(parts []int32) {
	for _, p := range parts {
		if in, ok := s.insts[p]; ok {
			in.node.Close()
			delete(s.insts, p)
		}
	}
}

// Discard drops every instance, unsaved state and all: the group took
// the partitions away without a revoke, or refused the commit of what
// they produced, so their next owner (this process again, maybe)
// restores the last save and reads on from the offsets saved with it.
func (s *PartitionedState) Discard() {
	for p, in := range s.insts {
		in.node.Close()
		delete(s.insts, p)
	}
}

// instance returns partition p's instance, restoring it first when the
// partition is new here; nil when p is not held (a batch read before the
// group took the partition away: its next owner reads it again).
func (s *PartitionedState) instance(ctx context.Context, p int32) (*partInstance, error) {
	if in, ok := s.insts[p]; ok {
		return in, nil
	}
	if s.held != nil && !s.held[p] {
		return nil, nil
	}
	node, err := s.build()
	if err != nil {
		return nil, err
	}
	state, _, ok, err := s.store.Load(ctx, p)
	if err != nil {
		node.Close()
		return nil, fmt.Errorf("restoring partition %d from the changelog: %w", p, err)
	}
	in := &partInstance{node: node}
	if ok {
		carried, snap, err := splitCarried(state)
		if err == nil {
			err = node.Restore(snap)
		}
		if err == nil && len(carried) > 0 && s.carry != nil {
			// The watermark resumes where the state ends: not behind
			// (until every source partition is heard of again, which
			// one idle since never is), not ahead of its rows.
			err = s.carry.RestoreCarried(p, carried)
		}
		if err != nil {
			node.Close()
			return nil, fmt.Errorf("restoring partition %d from the changelog: %w", p, err)
		}
		in.carried = carried
		s.Restores++
		s.RestoredBytes += int64(len(state))
	}
	s.insts[p] = in
	return in, nil
}

// Push folds b into its partition's instance.
func (s *PartitionedState) Push(ctx context.Context, input int, b exec.Batch) (arrow.Record, error) {
	in, err := s.instance(ctx, b.Partition)
	if err != nil || in == nil {
		return nil, err
	}
	in.dirty = true
	out, err := in.node.Push(ctx, input, b)
	if err != nil || !b.CarriesWatermark {
		return out, err
	}
	// The partition's watermark, carried across the hop: it moves
	// this partition's instance alone (the others' rows are in other
	// partitions, with their own marks); a join's, one per side.
	if len(b.Carried) > 0 {
		in.carried = b.Carried
	}
	var closed arrow.Record
	if sa, ok := in.node.(sidesAdvancer); ok && len(b.Watermarks) > 1 {
		closed, err = sa.AdvanceSides(ctx, b.Watermarks)
	} else {
		closed, err = in.node.Advance(ctx, input, stream.Mark{Time: b.Watermark})
	}
	if err != nil {
		if out != nil {
			out.Release()
		}
		return nil, err
	}
	return joinRecords(s.mem, s.schema, []arrow.Record{out, closed})
}

// joinRecords concatenates the non-empty records of recs (releasing
// them all) into one record of schema: nil when none has rows, the one
// itself when only one has.
func joinRecords(mem memory.Allocator, schema *arrow.Schema, recs []arrow.Record) (arrow.Record, error) {
	var outs []arrow.Record
	for _, r := range recs {
		switch {
		case r == nil:
		case r.NumRows() == 0:
			r.Release()
		default:
			outs = append(outs, r)
		}
	}
	switch len(outs) {
	case 0:
		return nil, nil
	case 1:
		return outs[0], nil
	}
	defer releaseRecords(outs)
	return concat(mem, schema, outs)
}

// releaseRecords releases the non-nil records of recs.
func releaseRecords(recs []arrow.Record) {
	for _, r := range recs {
		if r != nil {
			r.Release()
		}
	}
}

// each calls f on every instance in partition order and concatenates
// what they return.
func (s *PartitionedState) each(f func(n stream.Node) (arrow.Record, error)) (arrow.Record, error) {
	parts := make([]int32, 0, len(s.insts))
	for p := range s.insts {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	outs := make([]arrow.Record, 0, len(parts))
	for _, p := range parts {
		r, err := f(s.insts[p].node)
		if err != nil {
			releaseRecords(outs)
			return nil, err
		}
		if r != nil && r.NumRows() > 0 {
			s.insts[p].dirty = true
		}
		outs = append(outs, r)
	}
	return joinRecords(s.mem, s.schema, outs)
}

// concat appends recs of schema into one record.
func concat(mem memory.Allocator, schema *arrow.Schema, recs []arrow.Record) (arrow.Record, error) {
	cols := make([]arrow.Array, schema.NumFields())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	for i := range cols {
		parts := make([]arrow.Array, len(recs))
		for j, r := range recs {
			parts[j] = r.Column(i)
		}
		c, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, err
		}
		cols[i] = c
	}
	return array.NewRecord(schema, cols, n), nil
}

// Advance implements stream.Node.
func (s *PartitionedState) Advance(ctx context.Context, input int, m stream.Mark) (arrow.Record, error) {
	return s.each(func(n stream.Node) (arrow.Record, error) { return n.Advance(ctx, input, m) })
}

// Watermark is the least of the instances'.
func (s *PartitionedState) Watermark() stream.Mark {
	out := stream.NoMark
	first := true
	for _, in := range s.insts {
		if m := in.node.Watermark(); first || m.Time < out.Time {
			out, first = m, false
		}
	}
	return out
}

// Tick implements stream.Node.
func (s *PartitionedState) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return s.each(func(n stream.Node) (arrow.Record, error) { return n.Tick(ctx, now) })
}

// Finish implements stream.Node.
func (s *PartitionedState) Finish(ctx context.Context, input int) (arrow.Record, error) {
	return s.each(func(n stream.Node) (arrow.Record, error) { return n.Finish(ctx, input) })
}

// Snapshot is empty: the state lives in the changelog (Save), and a
// local checkpoint of partitions the group may have moved meanwhile
// could not be trusted on restart.
func (s *PartitionedState) Snapshot() ([]byte, error) { return nil, nil }

// Restore accepts only the empty snapshot.
func (s *PartitionedState) Restore(state []byte) error {
	if len(state) > 0 {
		return errors.New("compile: a scaled-out operator restores from its changelog, not a checkpoint")
	}
	return nil
}

// Stats sums the instances'.
func (s *PartitionedState) Stats() stream.StateStats {
	var st stream.StateStats
	for _, in := range s.insts {
		st.Add(in.node.Stats())
	}
	return st
}

// Partitions lists the partitions with an instance, in order.
func (s *PartitionedState) Partitions() []int32 {
	out := make([]int32, 0, len(s.insts))
	for p := range s.insts {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Save writes the state of every partition changed since the last save
// to the changelog, with the offsets of upTo for those partitions, in one
// transaction. A save the group fenced (the partitions moved) is dropped:
// the new owners restore the previous one and read on from there. It
// runs on the pipeline's goroutine, between batches.
func (s *PartitionedState) Save(ctx context.Context, upTo exec.Offsets) error {
	states := map[int32][]byte{}
	offs := exec.Offsets{}
	for p, in := range s.insts {
		if !in.dirty {
			continue
		}
		snap, err := in.node.Snapshot()
		if err != nil {
			return fmt.Errorf("saving partition %d: %w", p, err)
		}
		states[p] = withCarried(in.carried, snap)
		for k, v := range upTo {
			if i := strings.LastIndexByte(k, '/'); i >= 0 && k[i+1:] == strconv.Itoa(int(p)) {
				offs[k] = v
			}
		}
	}
	if len(states) == 0 {
		return nil
	}
	if err := s.store.Save(ctx, states, offs); err != nil {
		if errors.Is(err, exec.ErrFenced) {
			s.Fenced++
			return nil
		}
		return err
	}
	for p := range states {
		s.insts[p].dirty = false
	}
	return nil
}

// Close closes every instance and the store.
func (s *PartitionedState) Close() error {
	s.Discard()
	return s.store.Close()
}

// kafkaExchangeInput returns the Kafka exchange a keyed node reads
// directly, nil when it reads none.
func kafkaExchangeInput(n planner.PhysicalPlan) *planner.PhysExchange {
	kids := n.Children()
	if len(kids) != 1 {
		return nil
	}
	if x, ok := kids[0].(*planner.PhysExchange); ok && x.Kind == planner.ExchangeKafka {
		return x
	}
	return nil
}

// partitioned wraps the keyed node n, which reads Kafka exchange x, into
// its per-partition runner over the changelog store the engine opened.
func (b *streamBuilder) partitioned(x *planner.PhysExchange, build func() (stream.Node, error)) (stream.Node, error) {
	store := b.opts.Changelogs[x.Changelog]
	if store == nil {
		return nil, fmt.Errorf("compile: no changelog store for %s", x.Changelog)
	}
	if x.Single {
		inner := build
		build = func() (stream.Node, error) {
			n, err := inner()
			if err != nil {
				return nil, err
			}
			return &dropKey{Node: n}, nil
		}
	}
	ps, err := NewPartitionedState(b.env.Mem, build, store)
	if err != nil {
		return nil, err
	}
	b.partStates = append(b.partStates, ps)
	return ps, nil
}

// dropKey feeds a node the rows of a one-partition exchange
// (planner.PhysExchange.Single) without the constant column appended
// to route them all to one partition: the node was planned over its
// input as it was.
type dropKey struct {
	stream.Node
}

// Push implements stream.Node.
func (d *dropKey) Push(ctx context.Context, input int, b exec.Batch) (arrow.Record, error) {
	rec := b.Record
	n := int(rec.NumCols()) - 1
	if n < 0 {
		return nil, fmt.Errorf("compile: a one-partition exchange's rows have no key column")
	}
	s := rec.Schema()
	fields := s.Fields()[:n]
	cut := array.NewRecord(arrow.NewSchema(fields, nil), rec.Columns()[:n], rec.NumRows())
	defer cut.Release()
	b.Record = cut
	return d.Node.Push(ctx, input, b)
}

// withoutKey is the schema of a one-partition exchange's rows without
// the routing column (dropKey).
func withoutKey(s *arrow.Schema) *arrow.Schema {
	return arrow.NewSchema(s.Fields()[:s.NumFields()-1], nil)
}

// exchange compiles the consuming side of an exchange, the only side a
// compiled plan holds: the engine splits a Kafka exchange into the part
// writing the repartition topic and the part reading it, whose plan has
// the exchange over a scan of that topic. Rows pass unchanged.
func exchange(x *planner.PhysExchange, in exec.Operator) (exec.Operator, error) {
	if x.Kind == planner.ExchangeKafka {
		if s, ok := x.Input.(*planner.PhysScan); !ok || s.Source != x.Topic {
			return nil, fmt.Errorf("compile: the Kafka exchange over %s was not split into its writing and reading parts", x.Input)
		}
	}
	return in, nil
}

// kafkaJoinInput returns n when it is the reading part of a join's Kafka
// exchange (over the scan of the join's topic), else nil.
func kafkaJoinInput(n planner.PhysicalPlan) *planner.PhysExchange {
	if x, ok := n.(*planner.PhysExchange); ok && x.Kind == planner.ExchangeKafka && x.Join && x.Out != nil {
		return x
	}
	return nil
}

// exchangeJoin compiles a join whose inputs both come through its Kafka
// exchange: one graph source reads the topic's wire rows (both sides,
// tagged), and one node joins them per partition, each instance fed
// through a sideDemux that turns wire rows back into each side's rows.
func (b *streamBuilder) exchangeJoin(j *planner.PhysStreamJoin, l, r *planner.PhysExchange) (stream.Port, error) {
	if l.Topic != r.Topic || l.Input != r.Input {
		return stream.Port{}, fmt.Errorf("compile: the inputs of join %s come through different exchanges", j)
	}
	port, err := b.source(l.Input)
	if err != nil {
		return stream.Port{}, err
	}
	wire, _, cols := planner.JoinWire(l, r)
	if got := b.schemaOf(port); !got.Equal(wire) {
		return stream.Port{}, fmt.Errorf("compile: the join's topic %s reads rows of %s, want %s", l.Topic, got, wire)
	}
	ins := []*arrow.Schema{l.Schema().Arrow(), r.Schema().Arrow()}
	b.ports = nil // the join reads no source straight: no per-source partitions
	node, err := b.partitioned(l, func() (stream.Node, error) {
		jn, err := b.join(j, ins)
		if err != nil {
			return nil, err
		}
		return &sideDemux{inner: jn, mem: b.env.Mem, cols: cols, schemas: [2]*arrow.Schema{ins[0], ins[1]}}, nil
	})
	if err != nil {
		return stream.Port{}, err
	}
	i := len(b.nodes)
	b.nodes = append(b.nodes, stream.GraphNode{Name: fmt.Sprintf("%d:%s", i, kindName(j)), Node: node, Inputs: []stream.Port{port}})
	return stream.FromNode(i), nil
}

// sideDemux feeds a two-input node from one input of wire rows (see
// planner.JoinWire): column 0 says each row's side, cols[s] are side s's
// columns. Marks and the end reach both sides.
type sideDemux struct {
	inner   stream.Node
	mem     memory.Allocator
	cols    [2][]int
	schemas [2]*arrow.Schema
}

var _ stream.Node = (*sideDemux)(nil)

func (d *sideDemux) Schema() *arrow.Schema   { return d.inner.Schema() }
func (d *sideDemux) SinkMode() exec.SinkMode { return d.inner.SinkMode() }

// Push splits b by side and pushes each side's rows to its input.
func (d *sideDemux) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	sides, ok := b.Record.Column(0).(*array.Int64)
	if !ok {
		return nil, fmt.Errorf("compile: wire rows without an int64 side column")
	}
	var idx [2][]int32
	for i := 0; i < sides.Len(); i++ {
		s := sides.Value(i)
		if sides.IsNull(i) || s < 0 || s > 1 {
			return nil, fmt.Errorf("compile: wire row %d has side %v", i, sides.ValueStr(i))
		}
		idx[s] = append(idx[s], int32(i))
	}
	return d.both(func(s int) (arrow.Record, error) {
		if len(idx[s]) == 0 {
			return nil, nil
		}
		rows := b.Record
		if len(idx[s]) != int(b.Record.NumRows()) {
			var err error
			if rows, err = exec.TakeRecord(ctx, d.mem, b.Record, idx[s]); err != nil {
				return nil, err
			}
			defer rows.Release()
		}
		cols := make([]arrow.Array, len(d.cols[s]))
		for i, c := range d.cols[s] {
			cols[i] = rows.Column(c)
		}
		rec := array.NewRecord(d.schemas[s], cols, rows.NumRows())
		defer rec.Release()
		return d.inner.Push(ctx, s, exec.Batch{Record: rec, Partition: b.Partition})
	})
}

// both runs f for side 0 then 1 and concatenates the outputs.
func (d *sideDemux) both(f func(s int) (arrow.Record, error)) (arrow.Record, error) {
	var outs [2]arrow.Record
	for s := range 2 {
		r, err := f(s)
		if err != nil {
			releaseRecords(outs[:s])
			return nil, err
		}
		outs[s] = r
	}
	return joinRecords(d.mem, d.inner.Schema(), outs[:])
}

func (d *sideDemux) Advance(ctx context.Context, _ int, m stream.Mark) (arrow.Record, error) {
	return d.both(func(s int) (arrow.Record, error) { return d.inner.Advance(ctx, s, m) })
}

// AdvanceSides implements sidesAdvancer: side s's watermark is marks[s]
// (each side's source partitions' least, carried across the hop).
func (d *sideDemux) AdvanceSides(ctx context.Context, marks []int64) (arrow.Record, error) {
	if len(marks) != 2 {
		return nil, fmt.Errorf("compile: a join's topic carried %d watermarks, want one per side", len(marks))
	}
	return d.both(func(s int) (arrow.Record, error) { return d.inner.Advance(ctx, s, stream.Mark{Time: marks[s]}) })
}
func (d *sideDemux) Watermark() stream.Mark { return d.inner.Watermark() }
func (d *sideDemux) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return d.inner.Tick(ctx, now)
}
func (d *sideDemux) Finish(ctx context.Context, _ int) (arrow.Record, error) {
	return d.both(func(s int) (arrow.Record, error) { return d.inner.Finish(ctx, s) })
}
func (d *sideDemux) Snapshot() ([]byte, error)  { return d.inner.Snapshot() }
func (d *sideDemux) Restore(state []byte) error { return d.inner.Restore(state) }
func (d *sideDemux) Stats() stream.StateStats   { return d.inner.Stats() }
func (d *sideDemux) Close() error               { return d.inner.Close() }

// localWithin returns the local exchange n reads when it runs inside the
// per-partition instance of the keyed operator below
// (planner.PhysExchange.Within), else nil.
func localWithin(n planner.PhysicalPlan) *planner.PhysExchange {
	kids := n.Children()
	if len(kids) != 1 {
		return nil
	}
	if x, ok := kids[0].(*planner.PhysExchange); ok && x.Kind == planner.ExchangeLocal && x.Within != "" {
		return x
	}
	return nil
}

// localChain compiles top, which runs inside the per-partition instance
// of the keyed operator below it (through projections and filters),
// and that operator into one per-partition runner: each instance is a
// chainNode of them all, its state saved as one record.
func (b *streamBuilder) localChain(top planner.PhysicalPlan) (stream.Port, error) {
	path := []planner.PhysicalPlan{top}
	n := localWithin(top).Input
	for {
		path = append(path, n)
		if kafkaExchangeInput(n) != nil {
			break
		}
		kids := n.Children()
		if len(kids) != 1 || (stateful(n) && localWithin(n) == nil) {
			return stream.Port{}, fmt.Errorf("compile: %s runs in the instance of an operator that reads no Kafka exchange", top)
		}
		if x := localWithin(n); x != nil {
			n = x.Input
			continue
		}
		n = kids[0]
	}
	slices.Reverse(path) // bottom up
	ex := kafkaExchangeInput(path[0])
	port, err := b.port(ex)
	if err != nil {
		return stream.Port{}, err
	}
	in := b.schemaOf(port)
	b.ports = []stream.Port{port}
	node, err := b.partitioned(ex, func() (stream.Node, error) { return b.chainNodes(path, in) })
	if err != nil {
		return stream.Port{}, err
	}
	i := len(b.nodes)
	b.nodes = append(b.nodes, stream.GraphNode{Name: fmt.Sprintf("%d:%s", i, kindName(top)), Node: node, Inputs: []stream.Port{port}, Budget: b.budget(top)})
	return stream.FromNode(i), nil
}

// chainNodes builds one instance of the nodes of path (bottom up) over
// rows of schema in, each as it runs alone in one process.
func (b *streamBuilder) chainNodes(path []planner.PhysicalPlan, in *arrow.Schema) (stream.Node, error) {
	b.inChain = true
	parallelism := b.opts.Parallelism
	b.opts.Parallelism = 1
	defer func() { b.inChain, b.opts.Parallelism = false, parallelism }()
	c := &chainNode{mem: b.env.Mem}
	for _, p := range path {
		n, err := b.node(p, []*arrow.Schema{in})
		if err != nil {
			c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		in = n.Schema()
	}
	return c, nil
}

// chainNode runs nodes one after another as one node: each one's output
// is the next one's input, and each later one hears of the watermark of
// the one before it, as a graph's nodes do.
type chainNode struct {
	mem   memory.Allocator
	nodes []stream.Node
}

var _ stream.Node = (*chainNode)(nil)

// Schema implements stream.Node.
func (c *chainNode) Schema() *arrow.Schema { return c.nodes[len(c.nodes)-1].Schema() }

// SinkMode implements stream.Node.
func (c *chainNode) SinkMode() exec.SinkMode { return c.nodes[len(c.nodes)-1].SinkMode() }

// run runs first on the first node and feeds its output to the next,
// and so on; then, when set, also runs on each later node after its
// input was pushed, its output going on with the rows.
func (c *chainNode) run(ctx context.Context, part int32, first func(stream.Node) (arrow.Record, error), then func(j int, n stream.Node) (arrow.Record, error)) (arrow.Record, error) {
	out, err := first(c.nodes[0])
	if err != nil {
		return nil, err
	}
	for j := 1; j < len(c.nodes); j++ {
		var pushed arrow.Record
		if out != nil {
			if out.NumRows() > 0 {
				pushed, err = c.nodes[j].Push(ctx, 0, exec.Batch{Record: out, Partition: part})
			}
			out.Release()
			if err != nil {
				return nil, err
			}
		}
		var more arrow.Record
		if then != nil {
			if more, err = then(j, c.nodes[j]); err != nil {
				releaseRecords([]arrow.Record{pushed})
				return nil, err
			}
		}
		if out, err = joinRecords(c.mem, c.nodes[j].Schema(), []arrow.Record{pushed, more}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Push implements stream.Node.
func (c *chainNode) Push(ctx context.Context, input int, b exec.Batch) (arrow.Record, error) {
	return c.run(ctx, b.Partition, func(n stream.Node) (arrow.Record, error) { return n.Push(ctx, input, b) }, nil)
}

// Advance implements stream.Node: each later node moves to the
// watermark of the one before it.
func (c *chainNode) Advance(ctx context.Context, input int, m stream.Mark) (arrow.Record, error) {
	return c.run(ctx, 0, func(n stream.Node) (arrow.Record, error) { return n.Advance(ctx, input, m) },
		func(j int, n stream.Node) (arrow.Record, error) { return n.Advance(ctx, 0, c.nodes[j-1].Watermark()) })
}

// Watermark implements stream.Node: the last node's.
func (c *chainNode) Watermark() stream.Mark { return c.nodes[len(c.nodes)-1].Watermark() }

// Tick implements stream.Node.
func (c *chainNode) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return c.run(ctx, 0, func(n stream.Node) (arrow.Record, error) { return n.Tick(ctx, now) },
		func(_ int, n stream.Node) (arrow.Record, error) { return n.Tick(ctx, now) })
}

// Finish implements stream.Node.
func (c *chainNode) Finish(ctx context.Context, input int) (arrow.Record, error) {
	return c.run(ctx, 0, func(n stream.Node) (arrow.Record, error) { return n.Finish(ctx, input) },
		func(_ int, n stream.Node) (arrow.Record, error) { return n.Finish(ctx, 0) })
}

// Snapshot implements stream.Node: the nodes' snapshots in order, each
// after its 4-byte length.
func (c *chainNode) Snapshot() ([]byte, error) {
	var out []byte
	for i, n := range c.nodes {
		s, err := n.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("node %d of %d: %w", i+1, len(c.nodes), err)
		}
		out = binary.BigEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	return out, nil
}

// Restore implements stream.Node (Snapshot's layout); a node whose
// snapshot was empty stays as built.
func (c *chainNode) Restore(state []byte) error {
	for i, n := range c.nodes {
		if len(state) < 4 || uint64(binary.BigEndian.Uint32(state)) > uint64(len(state)-4) {
			return fmt.Errorf("compile: the saved state of a chain of %d operators is cut short at operator %d", len(c.nodes), i+1)
		}
		size := binary.BigEndian.Uint32(state)
		part := state[4 : 4+size]
		state = state[4+size:]
		if len(part) == 0 {
			continue
		}
		if err := n.Restore(part); err != nil {
			return err
		}
	}
	if len(state) > 0 {
		return fmt.Errorf("compile: the saved state of a chain of %d operators has %d bytes more", len(c.nodes), len(state))
	}
	return nil
}

// Stats implements stream.Node: the sum of the nodes'.
func (c *chainNode) Stats() stream.StateStats {
	var st stream.StateStats
	for _, n := range c.nodes {
		st.Add(n.Stats())
	}
	return st
}

// Close implements stream.Node.
func (c *chainNode) Close() error {
	var first error
	for _, n := range c.nodes {
		if err := n.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
