package stream

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Alignment makes a UnionReader hold back an input whose event time runs
// ahead of the others' (Flink's watermark alignment). Without it the
// inputs of a join are read as fast as each can go, so when one input is
// cheaper to read — the Nexmark auctions beside the bids, 6% of the
// events — its event time runs minutes ahead of the other's, and every
// row it reads waits in the join's state until the lagging input's
// watermark reaches it: the soak's join grew from 83 MB to 1.25 GB in two
// minutes. An input held back stops reading its source; rows wait there
// (Kafka, a file, a paced generator), not in memory.
//
// Holding back never changes a result (the inputs are interleaved in
// arrival order either way) and never deadlocks: the input furthest
// behind is never held, an input that has ended no longer holds others
// back, and neither does one idle at its source — waiting inside its
// reader's Next for more than IdleAfter — so a quiet topic does not stop
// a busy one. An input waiting to hand over a batch (the query is slow,
// not the source) still counts: that is the lag alignment is for.
type Alignment struct {
	// TimeCols is, per input, the event-time column (TIMESTAMP, or BIGINT
	// epoch milliseconds) of its batches after its transforms, or -1 for
	// an input without event time, which is neither held nor waited for.
	// Alignment is off unless at least two inputs have one.
	TimeCols []int
	// MaxDrift is how far an input's event time may run ahead of the
	// slowest input's before it is held (DefaultAlignmentDrift if 0).
	MaxDrift time.Duration
	// IdleAfter is how long an input may wait in its reader's Next before
	// the others stop waiting for it (DefaultAlignmentIdle if 0).
	IdleAfter time.Duration
}

// DefaultAlignmentDrift is how far in event time one input of a
// multi-input query may run ahead of the slowest: the state it costs is
// this many seconds of the faster input's rows.
const DefaultAlignmentDrift = 5 * time.Second

// DefaultAlignmentIdle is how long an input's source may have nothing to
// give before the other inputs stop waiting for it.
const DefaultAlignmentIdle = 200 * time.Millisecond

// aligner is the shared state of an Alignment: each input's goroutine
// reports its progress and waits in hold while it is ahead.
type aligner struct {
	drift     int64 // ns
	idleAfter time.Duration
	cols      []int

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when any input's state changes
	in      []alignInput
}

type alignInput struct {
	started   bool      // a batch was read
	readSeen  bool      // an event time was read
	readTs    int64     // the largest event time read, in ns
	seen      bool      // an event time was handed to the query
	ts        int64     // the largest event time handed to the query, in ns
	nextSince time.Time // when the input entered its reader's Next; zero outside it
	done      bool
}

// newAligner returns nil when the spec aligns fewer than two inputs.
func newAligner(spec Alignment, n int) *aligner {
	timed := 0
	for _, c := range spec.TimeCols {
		if c >= 0 {
			timed++
		}
	}
	if timed < 2 || len(spec.TimeCols) != n {
		return nil
	}
	a := &aligner{drift: int64(spec.MaxDrift), idleAfter: spec.IdleAfter, cols: spec.TimeCols,
		changed: make(chan struct{}), in: make([]alignInput, n)}
	if a.drift <= 0 {
		a.drift = int64(DefaultAlignmentDrift)
	}
	if a.idleAfter <= 0 {
		a.idleAfter = DefaultAlignmentIdle
	}
	return a
}

// broadcast wakes the waiters; a.mu is held.
func (a *aligner) broadcast() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// enterNext records that input i waits for its source; the waiters
// hear of it, to time when it turns idle.
func (a *aligner) enterNext(i int) {
	a.mu.Lock()
	a.in[i].nextSince = time.Now()
	a.broadcast()
	a.mu.Unlock()
}

// read records that input i's reader returned rec (nil on an error or at
// the end, which ends the input) and returns rec's largest event time.
func (a *aligner) read(i int, rec arrow.Record) (ts int64, ok bool) {
	if rec != nil && a.cols[i] >= 0 && a.cols[i] < int(rec.NumCols()) {
		ts, ok = maxEventNanos(rec.Column(a.cols[i]))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	in := &a.in[i]
	in.nextSince = time.Time{}
	in.started = true
	if rec == nil {
		in.done = true
	}
	if ok && (!in.readSeen || ts > in.readTs) {
		in.readSeen, in.readTs = true, ts
	}
	a.broadcast()
	return ts, ok
}

// handed records that the query took a batch of input i whose largest
// event time is ts (ok false: none).
func (a *aligner) handed(i int, ts int64, ok bool) {
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	in := &a.in[i]
	if !in.seen || ts > in.ts {
		in.seen, in.ts = true, ts
		a.broadcast()
	}
}

// hold blocks input i while it is ahead of a slower input by more than
// the drift; it returns ctx's error if ctx ends first.
func (a *aligner) hold(ctx context.Context, i int) error {
	for {
		a.mu.Lock()
		ahead, recheck := a.ahead(i, time.Now())
		changed := a.changed
		a.mu.Unlock()
		if !ahead {
			return nil
		}
		var timeout <-chan time.Time
		var t *time.Timer
		if recheck > 0 {
			t = time.NewTimer(recheck)
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// ahead reports whether input i must wait, and when an input it waits
// for turns idle (0: none will by itself); a.mu is held. What input i has
// read is compared with what the query has taken of the others (not what
// they have read: their batches may still wait in the union's buffer), so
// the query's state holds at most the drift and a batch of the faster
// input. An input that has read nothing yet, or whose event time is still
// in the buffer, holds the others back as if it were behind them all
// (until it turns idle), so that the first input to start cannot race
// ahead; one whose batches carry no event time does not.
func (a *aligner) ahead(i int, now time.Time) (bool, time.Duration) {
	me := a.in[i]
	if a.cols[i] < 0 || !me.readSeen {
		return false, 0
	}
	slowest, any := int64(math.MaxInt64), false
	var recheck time.Duration
	for j, o := range a.in {
		if j == i || a.cols[j] < 0 || o.done || (o.started && !o.readSeen) {
			continue
		}
		if !o.nextSince.IsZero() {
			waited := now.Sub(o.nextSince)
			if waited >= a.idleAfter {
				continue // idle at its source
			}
			if r := a.idleAfter - waited; recheck == 0 || r < recheck {
				recheck = r
			}
		}
		ts := o.ts
		if !o.seen {
			ts = math.MinInt64
		}
		slowest, any = min(slowest, ts), true
	}
	// In uint64: the difference of two int64 may not fit one.
	if !any || me.readTs <= slowest || uint64(me.readTs)-uint64(slowest) <= uint64(a.drift) {
		return false, 0
	}
	return true, recheck
}

// maxEventNanos is the largest non-NULL event time in col, in ns.
func maxEventNanos(col arrow.Array) (int64, bool) {
	best, ok := int64(math.MinInt64), false
	var mul int64
	switch c := col.(type) {
	case *array.Timestamp:
		mul = int64(c.DataType().(*arrow.TimestampType).Unit.Multiplier())
		for k, v := range c.TimestampValues() {
			if c.IsValid(k) && (!ok || int64(v) > best) {
				best, ok = int64(v), true
			}
		}
	case *array.Int64:
		mul = int64(time.Millisecond)
		for k, v := range c.Int64Values() {
			if c.IsValid(k) && (!ok || v > best) {
				best, ok = v, true
			}
		}
	}
	switch {
	case !ok:
		return 0, false
	case best > math.MaxInt64/mul:
		return math.MaxInt64, true
	case best < math.MinInt64/mul:
		return math.MinInt64, true
	}
	return best * mul, true
}
