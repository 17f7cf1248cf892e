package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/engine/compile"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// upstreamCommitEvery is how often the upstream part of a Kafka exchange
// commits its transaction (records + source offsets): the hop's latency
// floor, since the downstream part reads committed records only.
const upstreamCommitEvery = 200 * time.Millisecond

// scaledOut is the machinery of a query split at a Kafka exchange: the
// upstream part (the plan below the exchange, writing the repartition
// topic), run beside the downstream pipeline, and the changelog stores
// of the downstream part's keyed state.
type scaledOut struct {
	ups []*upstream
	// stages are the keyed parts below chained exchanges, each writing
	// this part's repartition topic.
	stages []*stage
	stores []exec.PartitionStateStore
	states []*compile.PartitionedState
	// downDone is closed when the downstream pipeline has stopped
	// (before its reader leaves the group, which waits for a revoke
	// hook that runs): a revoke then waits for no barrier.
	downDone chan struct{}
	downOnce sync.Once
	// down is the downstream reader (the repartition topic's), loss its
	// exec.LossNotifier (nil when it has none); joined is the sink
	// writer whose transactions carry the changelog saves (joinSink),
	// aborted when the output since the last commit is discarded, and
	// discardErr what that abort failed with (the next save fails).
	down       exec.SourceReader
	loss       exec.LossNotifier
	joined     exec.Aborter
	discardErr error
	// epoch is the reader epoch of the last discard: the work since is
	// of it or later (exec.LossNotifier.Rewind).
	epoch uint64
	// Discarded counts the times the output and state since the last
	// save were discarded (partitions lost, a commit refused).
	Discarded int64
}

// splitExchange splits si at its Kafka exchange (one under a keyed
// aggregate, or the two of a join, sharing one topic). It creates the
// internal topics, compiles and opens the upstream parts, and returns the
// downstream part's StreamInfo, reading the repartition topic, with env
// and opts set up to compile it (its source and changelog store).
func (db *Session) splitExchange(ctx context.Context, si *planner.StreamInfo, srcs *Catalog, env *compile.Env, opts *compile.StreamOptions) (so *scaledOut, down *planner.StreamInfo, err error) {
	exs := topExchanges(si.Plan)
	for _, ex := range exs[1:] {
		if ex.Topic != exs[0].Topic {
			return nil, nil, fmt.Errorf("a scaled-out query with keyed operators side by side (%s, %s: a UNION ALL of two aggregates) is not supported yet: run each as its own query, or set 'scale.out' = 'false' when one process reads the sources", exs[0].Topic, ex.Topic)
		}
	}
	ex := exs[0]
	hosts := make([]exec.ExchangeHost, len(exs))
	for i, x := range exs {
		e, ok := srcs.Source(x.Source)
		if !ok {
			return nil, nil, fmt.Errorf("unknown source %q", x.Source)
		}
		if hosts[i], ok = e.Source.(exec.ExchangeHost); !ok {
			return nil, nil, fmt.Errorf("source %s is scaled out but cannot carry an exchange: set 'scale.out' = 'false' when one process reads it", x.Source)
		}
	}
	if _, err := hosts[0].EnsureInternalTopics(ctx, ex.Topic, ex.Changelog, 0); err != nil {
		return nil, nil, err
	}
	identity := opts.Instance
	if identity == "" {
		// Without a checkpoint directory a run has no identity across
		// restarts: a fresh one per run (a crashed run's open
		// transactions time out).
		var b [8]byte
		_, _ = rand.Read(b[:])
		identity = "sluice-" + hex.EncodeToString(b[:])
	}
	// The wire: the rows the topic carries, and per exchange the
	// columns of the wire its upstream part fills.
	var wire *arrow.Schema
	var keys []string
	var cols [2][]int
	switch {
	case len(exs) == 2 && exs[0].Join && exs[1].Join && exs[0].Side == 0 && exs[1].Side == 1:
		wire, keys, cols = planner.JoinWire(exs[0], exs[1])
	case len(exs) == 1 && !ex.Join:
		wire = ex.Schema().Arrow()
		if err := distinctNames(wire); err != nil {
			return nil, nil, err
		}
		for _, k := range ex.Keys {
			keys = append(keys, wire.Field(k).Name)
		}
	default:
		return nil, nil, fmt.Errorf("compile: exchanges %v do not form one keyed operator's input", exs)
	}
	// The parts opened so far are closed on a failure: through opened,
	// not the named result, which each `return nil, nil, err` sets to
	// nil before this runs (a nil dereference, the panic CI saw when an
	// interrupt cancelled a starting member's changelog open).
	opened := &scaledOut{}
	so = opened
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	for i, x := range exs {
		if len(planner.KafkaExchanges(x.Input)) > 0 {
			// A chained exchange: the part below is a keyed stage of
			// its own, writing this topic.
			st, err := db.openStage(ctx, si, x, hosts[i], srcs, env, opts, identity, wire, keys)
			if err != nil {
				return nil, nil, err
			}
			so.stages = append(so.stages, st)
			continue
		}
		up, err := db.openUpstream(ctx, si, x, hosts[i], env, opts, identity, wire, keys, cols, len(exs) == 2)
		if err != nil {
			return nil, nil, err
		}
		so.ups = append(so.ups, up)
	}

	// Downstream: the plan above, its exchanges reading the topic. Each
	// input's watermark (a join's two sides) is the least over its
	// source's partitions.
	var upstreamParts [][]string
	if ex.EventTime {
		for i, x := range exs {
			parts, err := hosts[i].SourcePartitions(ctx)
			if err != nil {
				return nil, nil, err
			}
			for j, p := range parts {
				parts[j] = markKey(x, p)
			}
			upstreamParts = append(upstreamParts, parts)
		}
	}
	rsrc, err := hosts[0].RepartitionSource(ex.Topic, wire, upstreamParts)
	if err != nil {
		return nil, nil, err
	}
	store, err := hosts[0].OpenChangelog(ctx, ex.Changelog, identity+"-"+ex.Changelog)
	if err != nil {
		return nil, nil, err
	}
	so.stores = append(so.stores, store)
	scan := &planner.PhysScan{Source: ex.Topic, SourceSchema: wire, Out: planner.SchemaOf(wire)}
	if len(exs) == 1 {
		scan.Out = ex.Schema()
	}
	// The topic carries the exchange's changelog mode: a chained
	// exchange's rows are the changes of the stage below, op first.
	mode := si.Modes[ex]
	down = si
	for _, x := range exs {
		consume := *x
		consume.Input = scan
		if len(exs) == 2 {
			consume.Out = x.Schema()
		}
		down = down.WithNode(x, &consume, mode)
	}
	down.Modes[scan] = mode
	down.Scan, down.Scans, down.Watermark, down.Watermarks = scan, []*planner.PhysScan{scan}, nil, []*planner.WatermarkDef{nil}
	env.Source = overrideSource(env.Source, ex.Topic, rsrc)
	opts.Instance = suffixed(opts.Instance, "-down")
	opts.Changelogs = map[string]exec.PartitionStateStore{ex.Changelog: store}
	return so, down, nil
}

// openUpstream compiles and opens the upstream part of exchange x: the
// plan below it, reading its source from the group's committed offsets,
// writing wire rows (for a join, its side's columns cols[x.Side] beside
// the side and the key) to the topic.
func (db *Session) openUpstream(ctx context.Context, si *planner.StreamInfo, x *planner.PhysExchange, host exec.ExchangeHost, env *compile.Env, opts *compile.StreamOptions,
	identity string, wire *arrow.Schema, keys []string, cols [2][]int, join bool) (*upstream, error) {
	upSrc, err := host.UpstreamSource()
	if err != nil {
		return nil, err
	}
	upEnv := *env
	upEnv.Source = overrideSource(env.Source, x.Source, upSrc)
	upOpts := *opts
	upOpts.Instance = suffixed(opts.Instance, fmt.Sprintf("-up%d", x.Side))
	upSI := si.WithNode(si.Plan, x.Input, planner.ChangelogMode{})
	ups, err := compile.StreamPlan(ctx, upEnv, upSI, upOpts)
	if err != nil {
		return nil, err
	}
	if ups.Op != nil {
		ups.Op.Close()
		return nil, fmt.Errorf("compile: the part below the Kafka exchange %s keeps state", x.Topic)
	}
	schema, transforms := wire, ups.Transforms
	if join {
		fields := []arrow.Field{wire.Field(0)}
		for i := range x.Keys {
			fields = append(fields, wire.Field(1+i))
		}
		for _, c := range cols[x.Side] {
			fields = append(fields, wire.Field(c))
		}
		schema = arrow.NewSchema(fields, nil)
		transforms = append(transforms, wireTransform(db.mem, schema, int64(x.Side), x.Keys))
	}
	sink, err := host.RepartitionSink(x.Topic, keys, fmt.Sprintf("%s-%s-%d", identity, x.Topic, x.Side))
	if err != nil {
		return nil, err
	}
	w, err := sink.Open(ctx, db.mem, schema, exec.SinkMode{})
	if err != nil {
		return nil, fmt.Errorf("repartition topic %s: %w", x.Topic, err)
	}
	if err := ups.OpenReader(ctx, db.mem, nil); err != nil {
		w.Close()
		return nil, err
	}
	up := &upstream{mem: db.mem, reader: ups.Reader, schema: schema, transforms: transforms, w: w,
		every: upstreamCommitEvery, revokes: make(chan revokeReq), losses: make(chan revokeReq), stopped: make(chan struct{}), timeCol: -1}
	if x.EventTime {
		timeCol := x.TimeCol
		if join {
			timeCol += 1 + len(x.Keys) // after the side and the key on the wire
		}
		if err := up.carryWatermarks(x, timeCol, opts.Window.IdleTimeout); err != nil {
			w.Close()
			ups.Reader.Close()
			return nil, err
		}
	}
	if rn, ok := ups.Reader.(exec.RevokeNotifier); ok {
		rn.SetRevokeHook(up.onRevoke)
	}
	if ln, ok := ups.Reader.(exec.LossNotifier); ok {
		up.loss = ln
		ln.SetLostHook(up.onLost)
	}
	return up, nil
}

// wireTransform turns a join side's rows into its wire rows: the side,
// the key columns keys, then every column.
func wireTransform(mem memory.Allocator, schema *arrow.Schema, side int64, keys []int) stream.Transform {
	return func(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		n := int(rec.NumRows())
		b.Reserve(n)
		for range n {
			b.UnsafeAppend(side)
		}
		sides := b.NewArray()
		defer sides.Release()
		cols := []arrow.Array{sides}
		for _, k := range keys {
			cols = append(cols, rec.Column(k))
		}
		cols = append(cols, rec.Columns()...)
		return array.NewRecord(schema, cols, rec.NumRows()), nil
	}
}

// distinctNames refuses a schema whose column names repeat: the exchange
// writes rows as JSON objects by column name.
func distinctNames(s *arrow.Schema) error {
	seen := map[string]bool{}
	for _, f := range s.Fields() {
		if seen[f.Name] {
			return fmt.Errorf("the rows a Kafka exchange repartitions have two columns named %q: alias one of them", f.Name)
		}
		seen[f.Name] = true
	}
	return nil
}

func suffixed(id, suffix string) string {
	if id == "" {
		return ""
	}
	return id + suffix
}

// overrideSource returns a source lookup where name is src.
func overrideSource(next func(string) (exec.Source, error), name string, src exec.Source) func(string) (exec.Source, error) {
	return func(n string) (exec.Source, error) {
		if n == name {
			return src, nil
		}
		return next(n)
	}
}

// attach wires the downstream pipeline: its reader commits nothing by
// itself (the changelog commits its offsets with the state), and every
// commit saves the changed partitions' state.
func (so *scaledOut) attach(sq *streamQuery) {
	so.states = sq.s.PartitionStates
	so.downDone = make(chan struct{})
	if cr, ok := sq.p.Reader.(exec.CarryRestorer); ok {
		for _, ps := range so.states {
			ps.SetCarryRestorer(cr)
		}
	}
	// A run commits what a revoked repartition partition produced, its
	// output and state with its offsets, before the group hands it on
	// (a micro-batch run first runs an early trigger, emitting what
	// waited for the next one): its next owner restores exactly that
	// state and emits nothing this process emitted.
	so.down = sq.p.Reader
	if rn, ok := sq.p.Reader.(exec.RevokeNotifier); ok {
		bar := make(chan stream.Barrier)
		sq.p.Barrier = bar
		rn.SetRevokeHook(func(ctx context.Context, revoked map[int32]string) { so.revoke(ctx, bar, revoked) })
		// Partitions lost without a revoke: what the pipeline produced
		// from them since the last save is discarded, between two
		// batches, before the group is joined again.
		if ln, ok := sq.p.Reader.(exec.LossNotifier); ok {
			so.loss = ln
			ln.SetLostHook(func(ctx context.Context, _ map[int32]string) { so.lose(ctx, bar) })
		}
	}
	sq.p.Reader = noCommitReader{SourceReader: sq.p.Reader, closing: so.downStopped}
	sq.scale = so
	sq.p.Commit = so.save
	if sq.p.CommitEvery <= 0 {
		sq.p.CommitEvery = time.Second
	}
}

// revoke is the downstream reader's revoke hook: the pipeline commits
// (output, then the state with the offsets it covers) and drops the
// revoked partitions' instances, between two batches, while the group
// waits.
func (so *scaledOut) revoke(ctx context.Context, bar chan<- stream.Barrier, revoked map[int32]string) {
	parts := make([]int32, 0, len(revoked))
	for p := range revoked {
		parts = append(parts, p)
	}
	so.runBarrier(ctx, bar, stream.Barrier{After: func() {
		for _, ps := range so.states {
			ps.Revoke(parts)
		}
	}})
}

// runBarrier hands b to the pipeline and waits until it ran (or the
// downstream part or ctx ended): the group's rebalance waits meanwhile.
func (so *scaledOut) runBarrier(ctx context.Context, bar chan<- stream.Barrier, b stream.Barrier) {
	done := make(chan error, 1)
	b.Done = done
	select {
	case bar <- b:
	case <-so.downDone:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-so.downDone:
	case <-ctx.Done():
	}
}

// lose is the downstream reader's lost hook: the pipeline discards,
// between two batches, the batches queued, the output since the last
// save (the sink's transaction, when the saves join it) and every
// instance's state, while the group waits to be joined again. The
// partitions' next owners restore the last save and read on after it.
func (so *scaledOut) lose(ctx context.Context, bar chan<- stream.Barrier) {
	epoch := so.loss.Epoch()
	so.runBarrier(ctx, bar, stream.Barrier{Discard: true, Epoch: epoch, After: func() {
		so.discard(ctx)
		so.epoch = max(so.epoch, epoch)
	}})
}

// discard drops what the downstream part produced since its last save:
// the joined sink's open transaction and every keyed instance.
func (so *scaledOut) discard(ctx context.Context) {
	if so.joined != nil {
		if err := so.joined.Abort(ctx); err != nil && so.discardErr == nil {
			so.discardErr = err
		}
	}
	for _, ps := range so.states {
		ps.Discard()
	}
	so.Discarded++
}

// refused handles a commit of the joined sink that the group refused
// (exec.ErrFenced: this member's generation or session is gone): the
// transaction aborts, the instances are dropped and the reader reads
// its partitions again from the committed offsets, where their state
// in the changelog ends. It returns the stream.Rewound that tells the
// pipeline to go on, or err when the reader cannot rewind.
func (so *scaledOut) refused(ctx context.Context, err error) error {
	if so.loss == nil || so.joined == nil {
		return err
	}
	so.discard(ctx)
	if so.discardErr != nil {
		return so.discardErr
	}
	so.epoch = so.loss.Rewind(so.epoch)
	return &stream.Rewound{Epoch: so.epoch, Err: err}
}

// held keeps the offsets of upTo of the repartition partitions the
// downstream reader holds now, as of their current assignment: the
// pipeline remembers those of partitions that moved away, and
// committing them again would move back what their new owner committed
// (its next owner would then read again rows the state it restores
// already holds). That includes a partition given back to this process
// whose first batch since has not come yet: the pipeline still holds
// its offset from before it moved away.
func (so *scaledOut) held(upTo exec.Offsets) exec.Offsets {
	return ofAssignment(so.down, upTo)
}

// ofAssignment keeps the entries of offs that belong to r's current
// assignment of their partitions (exec.AssignmentAware); for a reader
// that cannot tell, those of the partitions r holds now.
func ofAssignment(r exec.SourceReader, offs exec.Offsets) exec.Offsets {
	if aa, ok := r.(exec.AssignmentAware); ok {
		return aa.OfAssignment(offs)
	}
	now := r.Offsets()
	out := make(exec.Offsets, len(offs))
	for k, v := range offs {
		if _, ok := now[k]; ok {
			out[k] = v
		}
	}
	return out
}

// joinSink makes the changelog saves join w's transactions when every
// store can (an exactly-once Kafka sink on the source's cluster): the
// sink's commit then commits output, state and offsets at once. Else
// (another sink) the sink commits first and the state is saved after
// it: a crash between the two re-emits output, never loses state.
func (so *scaledOut) joinSink(ctx context.Context, w exec.SinkWriter) (bool, error) {
	if len(so.stores) == 0 {
		return false, nil
	}
	for _, s := range so.stores {
		ts, ok := s.(exec.TxnStateStore)
		if !ok {
			return false, nil
		}
		if ok, err := ts.JoinWriter(ctx, w); err != nil || !ok {
			return false, err
		}
	}
	so.joined, _ = w.(exec.Aborter)
	return true, nil
}

// commitJoined commits the output written to w (whose transactions the
// changelog saves joined, joinSink) with the state it covers and the
// offsets upTo of the partitions still held: one transaction. A commit
// the group refused discards and rewinds (refused).
func (so *scaledOut) commitJoined(ctx context.Context, w exec.SinkWriter, upTo exec.Offsets) error {
	upTo = so.held(upTo)
	if err := so.save(ctx, upTo); err != nil {
		return err
	}
	if err := w.Commit(ctx, upTo); err != nil {
		if errors.Is(err, exec.ErrFenced) {
			return so.refused(ctx, err)
		}
		return err
	}
	return nil
}

// save saves the keyed state the output so far covers.
func (so *scaledOut) save(ctx context.Context, upTo exec.Offsets) error {
	if so.discardErr != nil {
		return so.discardErr
	}
	for _, ps := range so.states {
		if err := ps.Save(ctx, upTo); err != nil {
			return fmt.Errorf("changelog: %w", err)
		}
	}
	return nil
}

// run runs the upstream part beside down (the downstream pipeline) until
// both end; an upstream failure stops the downstream and is the error.
func (so *scaledOut) run(ctx context.Context, down func(context.Context) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan error, len(so.ups)+len(so.stages))
	for _, up := range so.ups {
		go func() {
			err := up.run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				cancel(fmt.Errorf("repartition: %w", err))
			}
			done <- err
		}()
	}
	for _, st := range so.stages {
		go func() {
			err := st.run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				cancel(fmt.Errorf("repartition topic %s: %w", st.topic, err))
			}
			done <- err
		}()
	}
	err := down(ctx)
	so.downStopped()
	cancel(nil)
	for range len(so.ups) + len(so.stages) {
		<-done
	}
	so.close()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// downStopped records that the downstream pipeline runs no more
// barriers.
func (so *scaledOut) downStopped() {
	so.downOnce.Do(func() { close(so.downDone) })
}

// noCommitReader hides the reader's OffsetCommitter: a downstream part's
// offsets are committed only with the state they cover (the changelog).
// closing runs before the reader closes.
type noCommitReader struct {
	exec.SourceReader
	closing func()
}

// Close implements exec.SourceReader.
func (r noCommitReader) Close() error {
	if r.closing != nil {
		r.closing()
	}
	return r.SourceReader.Close()
}

var (
	_ exec.ProgressReporter = noCommitReader{}
	_ exec.LossNotifier     = noCommitReader{}
)

// SetLostHook forwards exec.LossNotifier (attach sets the hook on the
// reader itself).
func (r noCommitReader) SetLostHook(hook func(context.Context, map[int32]string)) {
	if ln, ok := r.SourceReader.(exec.LossNotifier); ok {
		ln.SetLostHook(hook)
	}
}

// Epoch forwards exec.LossNotifier: the pipeline tags each batch with it.
func (r noCommitReader) Epoch() uint64 {
	if ln, ok := r.SourceReader.(exec.LossNotifier); ok {
		return ln.Epoch()
	}
	return 0
}

// Rewind forwards exec.LossNotifier.
func (r noCommitReader) Rewind(epoch uint64) uint64 {
	if ln, ok := r.SourceReader.(exec.LossNotifier); ok {
		return ln.Rewind(epoch)
	}
	return 0
}

// BytesRead forwards exec.ProgressReporter.
func (r noCommitReader) BytesRead() int64 {
	if pr, ok := r.SourceReader.(exec.ProgressReporter); ok {
		return pr.BytesRead()
	}
	return 0
}

// Lag forwards exec.ProgressReporter.
func (r noCommitReader) Lag() map[string]int64 {
	if pr, ok := r.SourceReader.(exec.ProgressReporter); ok {
		return pr.Lag()
	}
	return nil
}

// upstream is the part of a scaled-out query below its Kafka exchange: a
// stateless read of the source's partitions this process holds in the
// group, written to the repartition topic in transactions that also
// commit the source offsets they cover.
type upstream struct {
	mem        memory.Allocator
	reader     exec.SourceReader
	schema     *arrow.Schema
	transforms []stream.Transform
	w          exec.SinkWriter
	every      time.Duration

	revokes chan revokeReq
	stopped chan struct{}
	closed  bool
	// With loss set (the reader can lose partitions without a revoke),
	// losses carries the lost hook's requests, and epoch is the least
	// reader epoch (exec.LossNotifier) of the batches still written:
	// those read before a loss or a rewind are dropped. Recovered
	// counts the losses and refused commits recovered from.
	loss      exec.LossNotifier
	losses    chan revokeReq
	epoch     uint64
	Recovered int64
	// offsets are the positions of the held partitions after the
	// batches written; revoked are partitions given up since.
	offsets exec.Offsets
	revoked map[int32]bool

	// With timeCol >= 0 the hop carries the watermark: maxTime is the
	// greatest event time written per held source partition (Offsets
	// key), sent the watermarks last written, delay the watermark delay
	// in the column's unit; every commit writes the watermarks that
	// moved, and all of them every watermarkEvery commits (so a
	// downstream reader that took a partition over hears of each
	// source partition soon).
	timeCol  int
	delay    int64
	maxTime  map[string]int64
	sent     map[string]int64
	commits  int
	marksOut exec.WatermarkWriter
	namer    exec.PartitionNamer
	// prefix tells a join side's marks from the other's (markKey).
	prefix string
	// With idle > 0 ('watermark.idle_timeout') a held source partition
	// without a batch for idle is idle: its mark says so (it holds no
	// window back downstream). lastData is when each held partition
	// last produced a batch (or was first seen held), sentIdle the
	// idleness last written.
	idle      time.Duration
	unitNanos int64
	lastData  map[string]time.Time
	sentIdle  map[string]bool
}

// markKey is the key of source partition part's mark on the topic of
// exchange x: a join side's carry its side, so that each side's
// watermark is its own rows' even when both read one topic.
func markKey(x *planner.PhysExchange, part string) string {
	if x.Join {
		return fmt.Sprintf("%d|%s", x.Side, part)
	}
	return part
}

// watermarkEvery is how many upstream commits pass between two writes
// of every held partition's watermark (moved ones go at every commit).
const watermarkEvery = 5

// carryWatermarks makes u write the watermark of exchange x's event-time
// column (timeCol of the rows written) beside the rows
// (PhysExchange.EventTime), marking partitions idle after idle.
func (u *upstream) carryWatermarks(x *planner.PhysExchange, timeCol int, idle time.Duration) error {
	mw, ok := u.w.(exec.WatermarkWriter)
	if !ok {
		return fmt.Errorf("the repartition topic %s cannot carry watermarks", x.Topic)
	}
	namer, ok := u.reader.(exec.PartitionNamer)
	if !ok {
		return fmt.Errorf("source %s does not name its partitions: its watermark cannot cross the exchange %s", x.Source, x.Topic)
	}
	if timeCol < 0 || timeCol >= u.schema.NumFields() {
		return fmt.Errorf("compile: event-time column %d of the exchange %s is out of range", timeCol, x.Topic)
	}
	unit, err := stream.UnitNanos(u.schema.Field(timeCol).Type)
	if err != nil {
		return err
	}
	u.timeCol, u.delay, u.marksOut, u.namer = timeCol, int64(x.Delay)/unit, mw, namer
	u.maxTime, u.sent = map[string]int64{}, map[string]int64{}
	u.prefix = markKey(x, "")
	u.idle, u.unitNanos = idle, unit
	u.lastData, u.sentIdle = map[string]time.Time{}, map[string]bool{}
	return nil
}

// arrived notes that a batch of source partition part arrived (rows or
// not, kept by the filters or not: as one process's tracker hears of
// every batch).
func (u *upstream) arrived(part int32, now time.Time) {
	if u.timeCol < 0 || u.idle <= 0 {
		return
	}
	if key, ok := u.namer.PartitionKey(part); ok {
		u.lastData[key] = now
	}
}

// observe folds the event times of rec, rows written from partition
// part, into its source partition's greatest.
func (u *upstream) observe(rec arrow.Record, part int32) error {
	if u.timeCol < 0 || rec.NumRows() == 0 {
		return nil
	}
	col := rec.Column(u.timeCol)
	top, ok, err := stream.MaxEventTime(col, 0, col.Len())
	if err != nil {
		return fmt.Errorf("repartition: partition %d: %w", part, err)
	}
	if !ok {
		return nil
	}
	key, ok := u.namer.PartitionKey(part)
	if !ok {
		return fmt.Errorf("repartition: a batch of partition %d, which the source does not name", part)
	}
	if old, seen := u.maxTime[key]; !seen || top > old {
		u.maxTime[key] = top
	}
	return nil
}

// writeWatermarks writes, before a commit, the watermarks of the held
// source partitions that moved since the last (all of them every
// watermarkEvery commits): max event time − delay. With an idle
// timeout, a held partition without a batch for that long is written
// as idle (also one that never produced a row), its watermark moving
// on with processing time past the timeout, as one process's tracker
// moves when all its partitions are idle; it counts downstream only
// when every partition of the input is idle.
func (u *upstream) writeWatermarks(ctx context.Context, now time.Time) error {
	if u.timeCol < 0 {
		return nil
	}
	u.commits++
	all := u.commits%watermarkEvery == 0
	held := map[string]bool{}
	for key := range u.offsets {
		held[key] = true
	}
	if u.idle > 0 {
		for _, id := range u.reader.Partitions() {
			if key, ok := u.namer.PartitionKey(id); ok {
				held[key] = true
			}
		}
	}
	marks, idle := u.marksDue(now, held, all)
	if err := u.marksOut.WriteWatermarks(ctx, marks, idle); err != nil {
		return fmt.Errorf("repartition: %w", err)
	}
	isIdle := map[string]bool{}
	for _, k := range idle {
		isIdle[k] = true
	}
	for k, v := range marks {
		key := k[len(u.prefix):]
		u.sent[key], u.sentIdle[key] = v, isIdle[k]
	}
	return nil
}

// marksDue is what writeWatermarks writes for the held source
// partitions (all: every one's, else those that moved): per mark key
// the watermark, and the keys written idle. A held partition not seen
// before counts idle from now.
func (u *upstream) marksDue(now time.Time, held map[string]bool, all bool) (map[string]int64, []string) {
	marks := map[string]int64{}
	var idle []string
	for key := range held {
		if _, seen := u.lastData[key]; u.idle > 0 && !seen {
			u.lastData[key] = now // held from now on
		}
		wm := stream.MinWatermark
		top, seen := u.maxTime[key]
		if seen && top >= stream.MinWatermark+u.delay {
			wm = top - u.delay
		}
		isIdle := false
		if u.idle > 0 {
			if since := now.Sub(u.lastData[key]); since >= u.idle {
				isIdle = true
				if seen && wm > stream.MinWatermark {
					wm += int64(since-u.idle) / u.unitNanos
				}
			}
		}
		if !seen && !isIdle {
			continue // nothing to say of it yet
		}
		old, sent := u.sent[key]
		if all || !sent || wm > old || isIdle != u.sentIdle[key] {
			marks[u.prefix+key] = wm
			if isIdle {
				idle = append(idle, u.prefix+key)
			}
		}
	}
	return marks, idle
}

// forget drops what u knows of its partitions since its last commit (a
// loss, or a commit the group refused): their offsets, greatest event
// times, the watermarks sent and when each last had a batch. They are
// read again from the committed offsets, and one held again counts idle
// from then, not from its last batch before: that stale time marked it
// idle at once, so downstream windows closed past the rows it was about
// to read again, which then came late.
func (u *upstream) forget() {
	u.offsets, u.revoked = exec.Offsets{}, map[int32]bool{}
	clear(u.maxTime)
	clear(u.sent)
	clear(u.sentIdle)
	clear(u.lastData)
}

// revokeReq asks the upstream loop to commit before the group takes
// partitions away.
type revokeReq struct {
	parts map[int32]string // Batch.Partition id → offset key
	done  chan struct{}
}

// onLost is the reader's lost hook: the group took every partition
// without a revoke, and rejoins once the loop has aborted the open
// transaction (records of those partitions, which their next owner
// writes again from the committed offsets) and forgotten their offsets.
func (u *upstream) onLost(ctx context.Context, parts map[int32]string) {
	u.ask(ctx, u.losses, parts)
}

// recover discards what the loop wrote since its last commit: it aborts
// the open transaction and forgets the offsets, event times and
// idleness it covered (forget). After a loss the reader holds nothing and reads the next
// assignment from the committed offsets; after a commit the group
// refused, rewind makes it read the partitions it still holds again
// from there. cause is the error to fail with when the writer cannot
// abort.
func (u *upstream) recover(ctx context.Context, cause error, rewind bool) error {
	ab, ok := u.w.(exec.Aborter)
	if !ok || u.loss == nil {
		return cause
	}
	if err := ab.Abort(ctx); err != nil {
		return fmt.Errorf("repartition: %w (after %v)", err, cause)
	}
	u.forget()
	if rewind {
		u.epoch = u.loss.Rewind(u.epoch)
	} else {
		u.epoch = u.loss.Epoch()
	}
	u.Recovered++
	return nil
}

// onRevoke is the reader's revoke hook: the rebalance waits until the
// loop has committed what it wrote from the revoked partitions with
// their offsets, so their next owner starts exactly after it.
func (u *upstream) onRevoke(ctx context.Context, parts map[int32]string) {
	u.ask(ctx, u.revokes, parts)
}

// ask hands the loop a request about parts on ch and waits until the
// loop has done it (or stopped): the group's rebalance waits meanwhile.
func (u *upstream) ask(ctx context.Context, ch chan<- revokeReq, parts map[int32]string) {
	req := revokeReq{parts: parts, done: make(chan struct{})}
	select {
	case ch <- req:
		select {
		case <-req.done:
		case <-u.stopped:
		case <-ctx.Done():
		}
	case <-u.stopped:
	case <-ctx.Done():
	}
}

// run reads, transforms and writes until ctx ends, committing every
// u.every, on each revoke, and at the stop.
func (u *upstream) run(ctx context.Context) error {
	defer close(u.stopped)
	u.offsets, u.revoked = exec.Offsets{}, map[int32]bool{}
	type arrival struct {
		b     exec.Batch
		offs  exec.Offsets
		parts []int32
		err   error
		epoch uint64
	}
	rctx, cancel := context.WithCancel(ctx)
	ch := make(chan arrival, 4)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(ch)
		for {
			b, err := u.reader.Next(rctx)
			a := arrival{b: b, err: err}
			if err == nil {
				a.offs, a.parts = u.reader.Offsets(), u.reader.Partitions()
				if u.loss != nil {
					a.epoch = u.loss.Epoch()
				}
			}
			select {
			case ch <- a:
			case <-rctx.Done():
				if b.Record != nil {
					b.Record.Release()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for a := range ch {
			if a.b.Record != nil {
				a.b.Record.Release()
			}
		}
		<-readerDone
	}()
	tick := time.NewTicker(u.every)
	defer tick.Stop()
	stop := context.WithoutCancel(ctx)
	// end ends the loop on the reader's last arrival (ok false: it
	// stopped).
	end := func(a arrival, ok bool) error {
		if ctx.Err() != nil || (ok && errors.Is(a.err, io.EOF)) {
			if err := u.commit(stop); err != nil {
				return err
			}
			return ctx.Err()
		}
		if !ok {
			return errors.New("source reader stopped")
		}
		return fmt.Errorf("source: %w", a.err)
	}
	for {
		select {
		case a, ok := <-ch:
			if !ok || a.err != nil {
				return end(a, ok)
			}
			if a.epoch < u.epoch {
				a.b.Record.Release() // read before a loss or a rewind
				continue
			}
			if err := u.write(stop, a.b, a.offs, a.parts); err != nil {
				return err
			}
		case req := <-u.losses:
			// Every batch queued was read before the loss: none is
			// written.
			var last *arrival
			lastOK := true
			for n := len(ch); n > 0 && last == nil; n-- {
				a, ok := <-ch
				if !ok || a.err != nil {
					last, lastOK = &a, ok
					break
				}
				a.b.Record.Release()
			}
			err := u.recover(stop, errors.New("repartition: partitions lost"), false)
			close(req.done)
			if err != nil {
				return err
			}
			if last != nil {
				return end(*last, lastOK)
			}
		case req := <-u.revokes:
			// The batches queued were read before the revoke (the
			// reader returns none of the revoked partitions now):
			// they go into this transaction, with their offsets.
			var last *arrival
			lastOK := true
			for n := len(ch); n > 0 && last == nil; n-- {
				a, ok := <-ch
				if !ok || a.err != nil {
					last, lastOK = &a, ok
					break
				}
				if a.epoch < u.epoch {
					a.b.Record.Release()
					continue
				}
				if err := u.write(stop, a.b, a.offs, a.parts); err != nil {
					close(req.done)
					return err
				}
			}
			err := u.commit(stop)
			for id, key := range req.parts {
				u.revoked[id] = true
				delete(u.offsets, key)
				delete(u.maxTime, key)
				delete(u.sent, key)
				delete(u.sentIdle, key)
				delete(u.lastData, key)
			}
			close(req.done)
			if err != nil {
				return err
			}
			if last != nil {
				return end(*last, lastOK)
			}
		case <-tick.C:
			if err := u.commit(stop); err != nil {
				return err
			}
		case <-ctx.Done():
			if err := u.commit(stop); err != nil {
				return err
			}
			return ctx.Err()
		}
	}
}

// write runs one batch through the transforms into the repartition
// topic, unless its partition was revoked after it was read (its next
// owner reads it again from the offsets committed at the revoke).
func (u *upstream) write(ctx context.Context, b exec.Batch, offs exec.Offsets, parts []int32) error {
	rec := b.Record
	defer func() {
		if rec != nil {
			rec.Release()
		}
	}()
	if u.revoked[b.Partition] {
		held := false
		for _, p := range parts {
			held = held || p == b.Partition
		}
		if !held {
			return nil
		}
		delete(u.revoked, b.Partition) // assigned here again
	}
	u.arrived(b.Partition, time.Now())
	for _, t := range u.transforms {
		out, err := t(ctx, rec)
		if err != nil {
			return err
		}
		rec.Release()
		rec = out
		if rec == nil || rec.NumRows() == 0 {
			break
		}
	}
	if rec != nil && rec.NumRows() > 0 {
		out := withSchemaRetained(rec, u.schema)
		err := u.w.Write(ctx, out)
		if err == nil {
			err = u.observe(out, b.Partition)
		}
		out.Release()
		if err != nil {
			return fmt.Errorf("repartition: %w", err)
		}
	}
	for k, v := range offs {
		u.offsets[k] = v
	}
	u.dropRevoked()
	return nil
}

// dropRevoked forgets the offsets of partitions the reader no longer
// holds, or holds again since an offset was noted (ofAssignment):
// committing them later could move back the offsets their new owner
// committed.
func (u *upstream) dropRevoked() {
	u.offsets = ofAssignment(u.reader, u.offsets)
}

// commit ends the open transaction with the offsets of the held
// partitions. They are checked against the reader's assignment again:
// a batch read while a revoke's hook ran brings the revoked
// partitions' offsets back (the reader lets them go only after the
// hook), and the reader may have let them go since the last write.
func (u *upstream) commit(ctx context.Context) error {
	u.dropRevoked()
	offs := exec.Offsets{}
	for k, v := range u.offsets {
		offs[k] = v
	}
	if err := u.writeWatermarks(ctx, time.Now()); err != nil {
		return err
	}
	if err := u.w.Commit(ctx, offs); err != nil {
		err = fmt.Errorf("repartition: %w", err)
		if errors.Is(err, exec.ErrFenced) {
			// The group refused the offsets (this member's session
			// expired, or its generation is gone): the transaction
			// aborts and the partitions still held are read again.
			return u.recover(ctx, err, true)
		}
		return err
	}
	return nil
}

// close closes the writer (aborting an open transaction) and the reader.
func (u *upstream) close() {
	if u.closed {
		return
	}
	u.closed = true
	u.w.Close()
	u.reader.Close()
}

// close releases the upstream part and the stores of a query that does
// not run.
func (so *scaledOut) close() {
	for _, up := range so.ups {
		up.close()
	}
	for _, st := range so.stages {
		st.close()
	}
	for _, s := range so.stores {
		s.Close()
	}
}
