package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Operator is a stateful streaming operator: it folds pushed batches into
// its state and returns the output they caused. GroupAggregate, TopN and
// WindowAggregate implement it. Output records are owned by the caller;
// pushed records stay owned by the pusher. Not safe for concurrent use.
type Operator interface {
	// Schema is the schema of every output record.
	Schema() *arrow.Schema
	// SinkMode says whether the output is a changelog and its keys.
	SinkMode() exec.SinkMode
	// Push folds rec, from source partition partition, and returns the
	// output it caused, or nil.
	Push(ctx context.Context, rec arrow.Record, partition int32) (arrow.Record, error)
	// Tick lets processing time act (watermark idleness) and returns the
	// output that caused, or nil.
	Tick(ctx context.Context, now time.Time) (arrow.Record, error)
	// Finish is the end of a bounded input (watermark +∞); it returns the
	// remaining output, or nil.
	Finish(ctx context.Context) (arrow.Record, error)
	// Stats is the current state size.
	Stats() StateStats
	// Close drops the state; idempotent.
	Close() error
}

var (
	_ Operator = (*GroupAggregate)(nil)
	_ Operator = (*WindowAggregate)(nil)
)

// Transform is one stateless step (filter, projection) applied to each
// batch before the stateful operator. It takes no ownership of rec and
// returns a record the caller releases, or nil to drop the whole batch.
type Transform func(ctx context.Context, rec arrow.Record) (arrow.Record, error)

// TriggerInfo describes one micro-batch trigger (or, in continuous mode,
// one processed batch) for logging and tests.
type TriggerInfo struct {
	// Batches and Rows are the input processed by this trigger.
	Batches, Rows int
	// Emitted is the number of output rows.
	Emitted int
	// Took is the processing time the trigger used.
	Took time.Duration
	// Slow is set when processing overran the interval, delaying the
	// next trigger.
	Slow bool
	// Watermark is the watermark after the trigger (MinWatermark if the
	// operator tracks none).
	Watermark int64
}

// Pipeline is one running query: a source reader, a stateless transform
// chain, an optional stateful operator and a sink. The same Pipeline runs
// under RunContinuous (EMIT CHANGES / EMIT FINAL) and RunMicroBatch (EMIT
// EVERY); batch mode keeps using exec.Collect on the pull plan.
type Pipeline struct {
	// Mem allocates every record the pipeline builds.
	Mem memory.Allocator
	// Reader is the opened scan; Run* closes it. Open it with
	// ScanSpec.Linger ≈ 1ms for continuous mode and ScanSpec.From =
	// checkpoint offsets when resuming.
	Reader exec.SourceReader
	// Schema is the schema the transforms produce (Op's input, or the
	// output when Op is nil).
	Schema *arrow.Schema
	// Transforms run in order on each batch.
	Transforms []Transform
	// Op is the stateful operator, nil for stateless queries; Run* closes it.
	Op Operator
	// Emit receives the output; it takes no ownership of rec.
	Emit func(ctx context.Context, rec arrow.Record) error
	// Commit, if set, is called with the source offsets the output so far
	// covers, after the checkpoint (if any) is written and, with a
	// TwoPhase sink, after that sink committed: then Commit only hears
	// the offsets (a consumer-group source commits them there) and must
	// not commit the sink again.
	Commit func(ctx context.Context, upTo exec.Offsets) error
	// TwoPhase, if set, is the sink's two-phase commit (the writer behind
	// Emit). With a Checkpoint, every checkpoint pre-commits it, saves
	// the checkpoint with its handle, then commits it; at the start of a
	// run it recovers from the restored checkpoint (Checkpoint.Restored).
	TwoPhase exec.TwoPhaseWriter
	// Clock is processing time; RealClock if nil.
	Clock Clock
	// Checkpoint, if set, saves operator state and offsets. Load it
	// (Restore) before the run: the restored offsets are the least every
	// later checkpoint records, even one taken before the first batch.
	Checkpoint *Checkpointer
	// OnTrigger, if set, hears about every trigger (micro-batch) or
	// processed batch (continuous); slow triggers have Slow set.
	OnTrigger func(TriggerInfo)
	// TickEvery is how often continuous mode lets processing time act on
	// the operator (watermark idleness); 100ms if zero.
	TickEvery time.Duration
	// CommitEvery, when positive and there is no Checkpoint, makes
	// continuous mode commit the sink at least this often, so an endless
	// query's output becomes visible (a file sink publishes a part file).
	CommitEvery time.Duration
	// Barrier, if set, delivers requests to commit now, between batches
	// (see Barrier; a micro-batch run first runs an early trigger).
	Barrier <-chan Barrier
	// OnClose, if set, runs on the pipeline's goroutine as the run ends,
	// before Op is closed: the last moment Op's state (its size, late
	// rows, watermark) can be read.
	OnClose func()

	lastCommit time.Time
	// minEpoch: batches read at a smaller reader epoch were read before
	// a discard (Barrier.Discard, Rewound) and are dropped.
	minEpoch uint64
	// commits counts the commits that went through (a micro-batch
	// run's tracker then forgets how to undo what it emitted before);
	// onDiscard runs when the output since the last commit is discarded
	// (it rolls the tracker back).
	commits   uint64
	onDiscard func()

	offsets exec.Offsets
	parts   []int32
	// dirty is set when input was processed or output emitted since the
	// last checkpoint, so idle input still gets its output committed.
	dirty bool
}

// OutputSchema is the schema of the records Emit receives: the operator's
// (or the transforms') schema, without the op column for FULL micro-batches.
func (p *Pipeline) OutputSchema(full bool) *arrow.Schema {
	s := p.Schema
	if p.Op != nil {
		s = p.Op.Schema()
		if full && p.Op.SinkMode().Changelog {
			s = DropOp(s)
		}
	}
	return s
}

// arrival is one batch read by the reader goroutine with the offsets and
// partitions as of just after it.
type arrival struct {
	b     exec.Batch
	offs  exec.Offsets
	parts []int32
	err   error
	epoch uint64 // the reader's exec.LossNotifier epoch after the batch
}

// startReader reads the source on its own goroutine so the drivers can
// wait for data and timers at once. stop cancels and drains it.
func (p *Pipeline) startReader(ctx context.Context) (<-chan arrival, func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan arrival, 16)
	done := make(chan struct{})
	ln, _ := p.Reader.(exec.LossNotifier)
	go func() {
		defer close(done)
		defer close(ch)
		for {
			b, err := p.Reader.Next(ctx)
			a := arrival{b: b, err: err}
			if err == nil {
				a.offs, a.parts = p.Reader.Offsets(), p.Reader.Partitions()
				if ln != nil {
					a.epoch = ln.Epoch()
				}
			}
			select {
			case ch <- a:
			case <-ctx.Done():
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
	stop := func() {
		cancel()
		for a := range ch {
			if a.b.Record != nil {
				a.b.Record.Release()
			}
		}
		<-done
	}
	return ch, stop
}

// init prepares a run: defaults, the offsets restored from the
// checkpoint (so a checkpoint taken before the first batch records them,
// not nothing), and the two-phase sink's recovery.
func (p *Pipeline) init(ctx context.Context) error {
	if p.Clock == nil {
		p.Clock = RealClock{}
	}
	if p.TickEvery <= 0 {
		p.TickEvery = 100 * time.Millisecond
	}
	p.offsets = exec.Offsets{}
	var restored *Checkpoint
	if p.Checkpoint != nil {
		restored = p.Checkpoint.Restored()
	}
	if restored != nil {
		for k, v := range restored.Offsets[PipelineSource] {
			p.offsets[k] = v
		}
		// The restored checkpoint's output is durable (the sink recovers
		// it below), but a crash may have come before its offsets reached
		// the consumer group: without new input no later commit would
		// tell the group, and its lag would show input never processed.
		// The first due checkpoint of this run commits them again.
		p.dirty = true
	}
	p.mergeOffsets(p.Reader.Offsets())
	p.notePartitions(p.Reader.Partitions())
	if p.TwoPhase != nil {
		return recoverSink(ctx, p.TwoPhase, restored)
	}
	return nil
}

// mergeOffsets overlays the reader's offsets on the known ones. A
// partition the reader no longer reports (a rebalance took it, a
// bounded scan finished it) keeps its last offset: a checkpoint never
// records less than the one it was restored from.
// The map is replaced, not changed: commits may keep the one they got.
func (p *Pipeline) mergeOffsets(offs exec.Offsets) {
	m := maps.Clone(p.offsets)
	maps.Copy(m, offs)
	p.offsets = m
}

func (p *Pipeline) notePartitions(parts []int32) {
	if slices.Equal(parts, p.parts) {
		return
	}
	p.parts = slices.Clone(parts)
	if pa, ok := p.Op.(PartitionAware); ok {
		pa.SetPartitions(parts)
	}
}

// process runs one arrival through the transforms and the operator and
// returns the output (nil if none). It releases the input batch.
//
// A batch is processed whole even when ctx is cancelled meanwhile: a
// cancel is a clean stop, noticed between batches, whose checkpoint must
// not hold a batch only some operators (or some parallel instances)
// folded.
func (p *Pipeline) process(ctx context.Context, a arrival) (arrow.Record, error) {
	ctx = context.WithoutCancel(ctx)
	rec := a.b.Record
	defer func() {
		if rec != nil {
			rec.Release()
		}
	}()
	p.mergeOffsets(a.offs)
	p.dirty = true
	p.notePartitions(a.parts)
	for _, t := range p.Transforms {
		out, err := t(ctx, rec)
		if err != nil {
			return nil, err
		}
		rec.Release()
		rec = out
		if rec == nil || rec.NumRows() == 0 {
			if p.Op == nil {
				return nil, nil
			}
			break
		}
	}
	if p.Op == nil {
		rec.Retain()
		return rec, nil
	}
	if rec == nil {
		// Filtered out: the operator still hears the batch arrived, so
		// the partition stays active for the watermark.
		cols := emptyCols(p.Mem, p.Schema)
		empty := array.NewRecord(p.Schema, cols, 0)
		for _, c := range cols {
			c.Release() // the record holds its own references
		}
		defer empty.Release()
		rec = empty
		rec.Retain()
	}
	if bp, ok := p.Op.(BatchPusher); ok && a.b.CarriesWatermark {
		b := a.b
		b.Record = rec
		return bp.PushBatch(ctx, b)
	}
	return p.Op.Push(ctx, rec, a.b.Partition)
}

func emptyCols(mem memory.Allocator, s *arrow.Schema) []arrow.Array {
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
	}
	return cols
}

// emit hands rec to the sink and releases it; nil and empty records are
// skipped. It returns the rows emitted.
func (p *Pipeline) emit(ctx context.Context, rec arrow.Record) (int, error) {
	if rec == nil {
		return 0, nil
	}
	defer rec.Release()
	if rec.NumRows() == 0 {
		return 0, nil
	}
	if err := p.Emit(ctx, rec); err != nil {
		return 0, fmt.Errorf("sink: %w", err)
	}
	p.dirty = true
	return int(rec.NumRows()), nil
}

func (p *Pipeline) watermark() int64 {
	if w, ok := p.Op.(WatermarkReporter); ok {
		if t := w.Watermark(); t != nil {
			return t.Watermark()
		}
	}
	return MinWatermark
}

// commit writes a checkpoint when one is due (or force) and then tells
// the sink what the output covers. A commit is not cancelled with the run
// (as a batch's processing is not): one a cancel cut short ended the run
// with its error and without the clean stop's commit, so the output
// emitted since the last commit was not covered by it, and a consumer
// group's next owner of the partitions emitted it again (seen under
// -race: a DB stopping mid-stream while a periodic commit ran).
func (p *Pipeline) commit(ctx context.Context, force bool) error {
	ctx = context.WithoutCancel(ctx)
	if p.Checkpoint != nil {
		now := p.Clock.Now()
		if !force && !p.Checkpoint.due(now) {
			return nil
		}
		if err := p.checkpoint(ctx, now); err != nil {
			return err
		}
	}
	if p.Commit != nil {
		if err := p.Commit(ctx, p.offsets); err != nil {
			var rw *Rewound
			if errors.As(err, &rw) {
				p.discarded(rw.Epoch)
				return nil
			}
			return fmt.Errorf("sink commit: %w", err)
		}
	}
	p.commits++
	return nil
}

// Rewound is what Commit returns when, instead of committing, it
// discarded the output and state since the last commit (the consumer
// group refused the commit: a scaled-out query's partitions are read
// again from the committed offsets). The run goes on: it forgets the
// offsets it knew, and drops the batches read at a reader epoch below
// Epoch (exec.LossNotifier), which were read before the rewind.
type Rewound struct {
	Epoch uint64
	Err   error // the refused commit's
}

func (r *Rewound) Error() string { return "rewound after a refused commit: " + r.Err.Error() }
func (r *Rewound) Unwrap() error { return r.Err }

// discarded forgets what the run knew of its input's position after its
// output since the last commit was discarded: the offsets (their
// partitions are read again, or owned by another process now) and the
// batches read before epoch.
func (p *Pipeline) discarded(epoch uint64) {
	p.offsets = exec.Offsets{}
	p.dirty = false
	p.minEpoch = max(p.minEpoch, epoch)
	if p.onDiscard != nil {
		p.onDiscard()
	}
}

// checkpoint is one round of the two-phase commit: the sink pre-commits
// what it was given, the checkpoint (state, offsets, the sink's handle)
// is saved atomically, and only then is the sink's output published. A
// crash before the save leaves pending output the restart discards; a
// crash after it, output the restart publishes from the handle.
func (p *Pipeline) checkpoint(ctx context.Context, now time.Time) error {
	seq := p.Checkpoint.NextSeq()
	var handle []byte
	if p.TwoPhase != nil {
		h, err := p.TwoPhase.PreCommit(ctx, exec.CheckpointID(seq), p.offsets)
		if err != nil {
			return fmt.Errorf("sink pre-commit: %w", err)
		}
		handle = h
	}
	if err := p.Checkpoint.saveFor(p.Op, p.offsets, handle, seq); err != nil {
		return err
	}
	p.Checkpoint.saved(now)
	p.dirty = false
	if p.TwoPhase != nil {
		if err := p.TwoPhase.CommitPending(ctx, handle); err != nil {
			return fmt.Errorf("sink commit: %w", err)
		}
	}
	return nil
}

func (p *Pipeline) closeAll() {
	p.Reader.Close()
	if p.OnClose != nil {
		p.OnClose()
	}
	if p.Op != nil {
		p.Op.Close()
	}
}

// RunContinuous runs EMIT CHANGES / EMIT FINAL: every batch goes through
// the pipeline as soon as it arrives and its output is emitted at once.
// Every TickEvery the operator sees processing time (idle watermarks). At
// the end of a bounded input the operator finishes (every window closes),
// the output is committed and RunContinuous returns nil.
func (p *Pipeline) RunContinuous(ctx context.Context) error {
	defer p.closeAll()
	if err := p.init(ctx); err != nil {
		return err
	}
	ch, stop := p.startReader(ctx)
	defer stop()
	tick := p.Clock.NewTimer(p.TickEvery)
	defer func() { tick.Stop() }()
	for {
		select {
		case a, ok := <-ch:
			if done, err := p.arrival(ctx, a, ok); done {
				return err
			}
		case b := <-p.Barrier:
			if done, err := p.barrier(ctx, ch, b); done {
				return err
			}
		case now := <-tick.C():
			if p.Op != nil {
				out, err := p.Op.Tick(ctx, now)
				if err != nil {
					return err
				}
				if _, err := p.emit(ctx, out); err != nil {
					return err
				}
			}
			if p.Checkpoint == nil && p.CommitEvery > 0 && now.Sub(p.lastCommit) >= p.CommitEvery {
				if err := p.commit(ctx, true); err != nil {
					return err
				}
				p.lastCommit = now
			}
			// Input went idle after output that no checkpoint covers yet
			// (checkpoints are otherwise taken as batches arrive): take one
			// once it is due, so the output becomes visible and a Kafka
			// transaction does not stay open until it times out.
			if p.Checkpoint != nil && p.dirty && p.Checkpoint.dueByTime(p.Clock.Now()) {
				if err := p.commit(ctx, true); err != nil {
					return err
				}
			}
			tick = p.Clock.NewTimer(p.TickEvery)
		case <-ctx.Done():
			return p.stopped(ctx)
		}
	}
}

// arrival handles one arrival in continuous mode (ok false: the reader
// stopped); done says the run ends, with err.
func (p *Pipeline) arrival(ctx context.Context, a arrival, ok bool) (done bool, err error) {
	if !ok {
		return true, p.stopped(ctx)
	}
	if errors.Is(a.err, io.EOF) {
		return true, p.finish(ctx)
	}
	if a.err != nil {
		if ctx.Err() != nil {
			// The reader saw the cancel first: still a clean stop.
			return true, p.stopped(ctx)
		}
		return true, fmt.Errorf("source: %w", a.err)
	}
	if a.epoch < p.minEpoch {
		a.b.Record.Release() // read before a discard: read again, or another's
		return false, nil
	}
	start := p.Clock.Now()
	rows := int(a.b.Record.NumRows())
	out, err := p.process(ctx, a)
	if err != nil {
		return true, err
	}
	n, err := p.emit(ctx, out)
	if err != nil {
		return true, err
	}
	if p.Checkpoint != nil {
		if err := p.commit(ctx, false); err != nil {
			return true, err
		}
	}
	p.trigger(TriggerInfo{Batches: 1, Rows: rows, Emitted: n, Took: p.Clock.Now().Sub(start)})
	return false, nil
}

// Barrier asks a continuous run to commit now, between batches: the
// batches the reader returned before the barrier was raised (those
// queued when it arrives) are processed and emitted first, then the
// output is committed (a checkpoint when one is kept, then Commit), then
// After runs, and Done hears the commit's error. A consumer group's
// revoke uses it: what the revoked partitions produced is committed, with
// their offsets, before they leave.
//
// With Discard set it is the opposite, for a consumer group that took
// the partitions away without a revoke (exec.LossNotifier): nothing
// produced from them may be committed any more. The queued arrivals are
// dropped unprocessed, nothing is committed, After runs (it discards
// the output and the state), the offsets known are forgotten, and from
// then on batches read at a reader epoch below Epoch are dropped.
type Barrier struct {
	After   func()
	Done    chan<- error
	Discard bool
	Epoch   uint64
}

// barrier runs b: the queued arrivals, the commit, After.
func (p *Pipeline) barrier(ctx context.Context, ch <-chan arrival, b Barrier) (done bool, err error) {
	defer func() {
		if b.Done != nil {
			b.Done <- err
		}
	}()
	if b.Discard {
		p.minEpoch = max(p.minEpoch, b.Epoch) // arrival drops the queued
	}
	for n := len(ch); n > 0; n-- {
		a, ok := <-ch
		if done, err := p.arrival(ctx, a, ok); done {
			return true, err
		}
	}
	if b.Discard {
		if b.After != nil {
			b.After()
		}
		p.discarded(b.Epoch)
		return false, nil
	}
	if err := p.commit(ctx, true); err != nil {
		return true, err
	}
	if b.After != nil {
		b.After()
	}
	return false, nil
}

func (p *Pipeline) trigger(info TriggerInfo) {
	if p.OnTrigger != nil {
		info.Watermark = p.watermark()
		p.OnTrigger(info)
	}
}

// finish ends a bounded input in continuous mode.
func (p *Pipeline) finish(ctx context.Context) error {
	if p.Op != nil {
		out, err := p.Op.Finish(ctx)
		if err != nil {
			return err
		}
		if _, err := p.emit(ctx, out); err != nil {
			return err
		}
	}
	return p.commit(ctx, true)
}

// stopped ends a run cancelled through ctx. A cancel is a clean stop
// (Ctrl-C, SIGTERM, Rows.Close): what was processed is committed — a
// checkpoint, then the sink — so the output so far is kept and a restart
// resumes exactly after it. Input read but not yet processed is not
// covered by the committed offsets and is read again on restart.
func (p *Pipeline) stopped(ctx context.Context) error {
	if p.Commit != nil || p.Checkpoint != nil || p.TwoPhase != nil {
		if err := p.commit(context.WithoutCancel(ctx), true); err != nil {
			return err
		}
	}
	return ctx.Err()
}
