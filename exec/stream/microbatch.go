package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// RunMicroBatch runs EMIT EVERY every [FULL]. Each arriving batch is
// folded at once into the operator's state (and, for an updating result,
// into the tracker of changed keys), so memory is bounded by the state and
// the result, not by the input of an interval; on each processing-time
// trigger the driver emits what changed since the last one:
//   - for an updating operator (changelog output), Spark's update mode:
//     the new row of every key that changed (+I new, +U changed) and -D
//     for removed keys; with full, the whole result table (no op column);
//   - for an append-only operator (EMIT FINAL windows into a file sink) or
//     a stateless query, the rows produced since the last trigger: the
//     windows the watermark closed.
//
// A trigger with no new input emits nothing. Triggers are scheduled on
// absolute deadlines; a trigger whose processing overruns the interval
// makes the next one start at once and is reported with Slow set. The sink
// is committed after every trigger that emitted (after the checkpoint, if
// one is due). At the end of a bounded input a last trigger runs, the
// operator finishes, and RunMicroBatch returns nil.
func (p *Pipeline) RunMicroBatch(ctx context.Context, every time.Duration, full bool) error {
	if every <= 0 {
		return fmt.Errorf("stream: EMIT EVERY interval must be positive, got %s", every)
	}
	defer p.closeAll()
	if err := p.init(ctx); err != nil {
		return err
	}
	var tracker *updateTracker
	if p.Op != nil && p.Op.SinkMode().Changelog {
		tracker = newUpdateTracker(p.Mem, p.Op.Schema(), p.Op.SinkMode().Keys)
		if p.Barrier != nil {
			// A barrier may discard the output since the last commit
			// (a consumer group's loss, a refused commit): the tracker
			// then goes back to what that commit covered, so the
			// changes discarded are neither emitted later nor taken
			// as emitted.
			tracker.undo = map[string]*tableRow{}
			p.onDiscard = tracker.rollback
			defer func() { p.onDiscard = nil }()
		}
	}
	ch, stop := p.startReader(ctx)
	defer stop()
	var pending pendingTrigger
	defer pending.release()
	deadline := p.Clock.Now().Add(every)
	timer := p.Clock.NewTimer(every)
	defer func() { timer.Stop() }()
	eof := false
	for !eof {
		select {
		case a, ok := <-ch:
			if !ok {
				return p.stopMicroBatch(ctx, &pending, tracker, full)
			}
			if errors.Is(a.err, io.EOF) {
				eof = true
				break
			}
			if a.err != nil {
				if ctx.Err() != nil {
					// The reader saw the cancel first: still a clean stop.
					return p.stopMicroBatch(ctx, &pending, tracker, full)
				}
				return fmt.Errorf("source: %w", a.err)
			}
			if err := p.arrive(ctx, a, tracker, &pending); err != nil {
				return err
			}
			continue
		case b := <-p.Barrier:
			done, err := p.microBarrier(ctx, ch, b, &pending, tracker, full)
			if done {
				return err
			}
			continue
		case <-timer.C():
		case <-ctx.Done():
			return p.stopMicroBatch(ctx, &pending, tracker, full)
		}
		// Trigger (or end of input): take everything that arrived.
		if !eof {
		drain:
			for {
				select {
				case a, ok := <-ch:
					if !ok {
						break drain
					}
					if errors.Is(a.err, io.EOF) {
						eof = true
						break drain
					}
					if a.err != nil {
						if ctx.Err() != nil {
							return p.stopMicroBatch(ctx, &pending, tracker, full)
						}
						return fmt.Errorf("source: %w", a.err)
					}
					if err := p.arrive(ctx, a, tracker, &pending); err != nil {
						return err
					}
				default:
					break drain
				}
			}
		}
		start := p.Clock.Now()
		info, err := p.runTrigger(ctx, &pending, tracker, full, eof)
		if err != nil {
			return err
		}
		now := p.Clock.Now()
		info.Took = now.Sub(start)
		if eof {
			p.trigger(info) // the last trigger counts too
			break
		}
		deadline = deadline.Add(every)
		if !deadline.After(now) {
			info.Slow = true
			deadline = now // start the next trigger at once
		}
		timer = p.Clock.NewTimer(deadline.Sub(now))
		p.trigger(info)
	}
	return nil
}

// microBarrier runs barrier b in a micro-batch run: the arrivals queued
// when it came are folded, then an early trigger emits what every
// arrival since the last trigger changed and the output is committed
// (state with the offsets it covers), then After runs. A consumer
// group's revoke uses it, as in continuous mode: what the revoked
// partitions produced is emitted and saved before they leave, so their
// next owner emits none of it again. done says the run ends, with err
// (the input ended or failed among the queued arrivals).
func (p *Pipeline) microBarrier(ctx context.Context, ch <-chan arrival, b Barrier, pending *pendingTrigger, tracker *updateTracker, full bool) (done bool, err error) {
	defer func() {
		if b.Done != nil {
			b.Done <- err
		}
	}()
	if b.Discard {
		return p.microDiscard(ctx, ch, b, pending, tracker, full)
	}
	eof := false
	for n := len(ch); n > 0 && !eof; n-- {
		a, ok := <-ch
		switch {
		case !ok:
			return true, p.stopMicroBatch(ctx, pending, tracker, full)
		case errors.Is(a.err, io.EOF):
			eof = true
		case a.err != nil && ctx.Err() != nil:
			return true, p.stopMicroBatch(ctx, pending, tracker, full)
		case a.err != nil:
			return true, fmt.Errorf("source: %w", a.err)
		default:
			if err := p.arrive(ctx, a, tracker, pending); err != nil {
				return true, err
			}
		}
	}
	start := p.Clock.Now()
	info, err := p.runTrigger(ctx, pending, tracker, full, eof)
	if err != nil {
		return true, err
	}
	info.Took = p.Clock.Now().Sub(start)
	p.trigger(info)
	if eof {
		return true, nil // the last trigger committed
	}
	if err := p.commit(ctx, true); err != nil {
		return true, err
	}
	if b.After != nil {
		b.After()
	}
	return false, nil
}

// microDiscard runs a discarding barrier (Barrier.Discard) in a
// micro-batch run: the queued arrivals and the rows waiting for the
// next trigger are dropped, nothing is emitted or committed, then After
// runs (and the tracker goes back to the last commit: Pipeline.discarded).
func (p *Pipeline) microDiscard(ctx context.Context, ch <-chan arrival, b Barrier, pending *pendingTrigger, tracker *updateTracker, full bool) (bool, error) {
	p.minEpoch = max(p.minEpoch, b.Epoch)
	for n := len(ch); n > 0; n-- {
		a, ok := <-ch
		switch {
		case !ok || (a.err != nil && ctx.Err() != nil):
			return true, p.stopMicroBatch(ctx, pending, tracker, full)
		case errors.Is(a.err, io.EOF):
			return true, p.stopMicroBatch(ctx, pending, tracker, full)
		case a.err != nil:
			return true, fmt.Errorf("source: %w", a.err)
		default:
			a.b.Record.Release()
		}
	}
	pending.release()
	*pending = pendingTrigger{}
	if b.After != nil {
		b.After()
	}
	p.discarded(b.Epoch)
	return false, nil
}

// stopMicroBatch ends a cancelled run: what arrived since the last
// trigger is already in the operator's state, so it is emitted (a last,
// early trigger) before the state and offsets are committed with it;
// otherwise a restart from that checkpoint would never emit it.
func (p *Pipeline) stopMicroBatch(ctx context.Context, pending *pendingTrigger, tracker *updateTracker, full bool) error {
	if pending.batches > 0 || len(pending.outs) > 0 || (tracker != nil && len(tracker.changed) > 0) {
		// Under the cancelled context: a sink whose reader left (a query's
		// Rows) refuses at once instead of blocking, and then nothing is
		// committed, so a restart resumes from the last checkpoint.
		if _, err := p.runTrigger(ctx, pending, tracker, full, false); err != nil {
			return ctx.Err()
		}
	}
	return p.stopped(ctx)
}

// pendingTrigger is what arrived since the last trigger. The input itself
// is already folded into the operator (and the tracker); only the rows of
// an append-only result wait here for the trigger that emits them.
type pendingTrigger struct {
	batches, rows int
	outs          []arrow.Record
}

func (t *pendingTrigger) release() {
	for _, r := range t.outs {
		r.Release()
	}
	t.outs = nil
}

// fold routes one output record of the operator: into the tracker for an
// updating result, else onto the rows of the next trigger. It takes
// ownership of out.
func (t *pendingTrigger) fold(out arrow.Record, tracker *updateTracker) error {
	if out == nil {
		return nil
	}
	if tracker != nil {
		err := tracker.apply(out)
		out.Release()
		return err
	}
	t.outs = append(t.outs, out)
	return nil
}

// arrive folds one arriving batch into the operator's state at once.
func (p *Pipeline) arrive(ctx context.Context, a arrival, tracker *updateTracker, t *pendingTrigger) error {
	if a.epoch < p.minEpoch {
		a.b.Record.Release() // read before a discard
		return nil
	}
	t.batches++
	t.rows += int(a.b.Record.NumRows())
	out, err := p.process(ctx, a) // releases the batch
	if err != nil {
		return err
	}
	return t.fold(out, tracker)
}

// runTrigger emits what the arrivals since the last trigger changed and
// resets pending.
func (p *Pipeline) runTrigger(ctx context.Context, pending *pendingTrigger, tracker *updateTracker, full, eof bool) (TriggerInfo, error) {
	info := TriggerInfo{Batches: pending.batches, Rows: pending.rows}
	arrived := pending.batches > 0
	pending.batches, pending.rows = 0, 0
	if p.Op != nil {
		now := p.Clock.Now()
		out, err := p.Op.Tick(ctx, now)
		if err != nil {
			return info, err
		}
		if err := pending.fold(out, tracker); err != nil {
			return info, err
		}
		if eof {
			out, err := p.Op.Finish(ctx)
			if err != nil {
				return info, err
			}
			if err := pending.fold(out, tracker); err != nil {
				return info, err
			}
		}
	}
	outs := pending.outs
	pending.outs = nil
	defer func() {
		for _, r := range outs {
			r.Release()
		}
	}()
	changed := tracker != nil && len(tracker.changed) > 0
	if !arrived && len(outs) == 0 && !changed && !eof && !(p.Checkpoint != nil && p.dirty) {
		return info, nil // no new input and nothing left to commit
	}
	var emitted []arrow.Record
	defer func() {
		for _, r := range emitted {
			r.Release()
		}
	}()
	if tracker != nil {
		var rec arrow.Record
		var err error
		if full {
			// With no new input the full table is unchanged: emit nothing
			// (what is left to commit is committed below).
			if arrived || eof {
				rec, err = tracker.full()
			}
		} else {
			rec, err = tracker.updates()
		}
		if err != nil {
			return info, err
		}
		if rec != nil {
			emitted = append(emitted, rec)
		}
	} else {
		emitted, outs = outs, nil
	}
	for _, r := range emitted {
		if r.NumRows() == 0 {
			continue
		}
		if err := p.Emit(ctx, r); err != nil {
			return info, fmt.Errorf("sink: %w", err)
		}
		info.Emitted += int(r.NumRows())
	}
	if info.Emitted > 0 || eof || p.Checkpoint != nil {
		before := p.commits
		if err := p.commit(ctx, eof); err != nil {
			return info, err
		}
		if tracker != nil && p.commits > before {
			tracker.committed()
		}
	}
	return info, nil
}
