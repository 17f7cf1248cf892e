package stream

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// Watermark values at the extremes: no data yet, and end of a bounded input.
const (
	MinWatermark int64 = math.MinInt64
	MaxWatermark int64 = math.MaxInt64
)

// WatermarkTracker computes a source's event-time watermark: per partition
// max(event time seen) − delay, combined by min over partitions. It advances
// row by row in arrival order (Observe), so whether a row is late never
// depends on how rows were cut into batches. Partitions idle for the idle
// timeout stop holding the min back; when every partition is idle the
// watermark advances with processing time so the last windows close.
//
// Event times and the delay are int64 in the event-time column's unit; the
// tracker converts processing-time durations with unitNanos. Not safe for
// concurrent use: the operator that owns it serialises access.
type WatermarkTracker struct {
	delay     int64
	idle      time.Duration
	unitNanos int64
	parts     map[int32]*partWatermark
	// list is parts in first-seen order: recompute runs once per row
	// that raises a partition's maximum, and ranging over a slice costs
	// a fraction of ranging over the map.
	list []*partWatermark
	wm   int64
	// inputDelays, when set, is the delay of each UNION ALL input, by
	// UnionInputOf(partition); inputs past its end use delay.
	inputDelays []int64
	lastData    time.Time // processing time of the latest arrival anywhere
	finished    bool
}

type partWatermark struct {
	delay    int64 // the partition's source's watermark delay
	max      int64
	seen     bool
	idle     bool
	lastData time.Time
}

// NewWatermarkTracker returns a tracker with the given delay (event-time
// units), idle timeout (0 disables idleness) and the event-time unit size
// in nanoseconds (1e6 for milliseconds).
func NewWatermarkTracker(delay int64, idleTimeout time.Duration, unitNanos int64) *WatermarkTracker {
	if unitNanos <= 0 {
		unitNanos = 1
	}
	return &WatermarkTracker{delay: delay, idle: idleTimeout, unitNanos: unitNanos,
		parts: map[int32]*partWatermark{}, wm: MinWatermark}
}

// Watermark is the current watermark: every window ending at or before it
// is complete.
func (t *WatermarkTracker) Watermark() int64 { return t.wm }

// SetInputDelays gives each UNION ALL input (partitions numbered by
// UnionPartition) its own source's watermark delay, in event-time units,
// so that each input's watermark is its own max(ts) − delay and the
// tracker's is the minimum over the inputs. Call it before any partition
// is seen.
func (t *WatermarkTracker) SetInputDelays(delays []int64) { t.inputDelays = delays }

// delayOf is partition p's watermark delay.
func (t *WatermarkTracker) delayOf(p int32) int64 {
	if i := UnionInputOf(p); len(t.inputDelays) > 0 && i >= 0 && i < len(t.inputDelays) {
		return t.inputDelays[i]
	}
	return t.delay
}

func (t *WatermarkTracker) part(p int32, now time.Time) *partWatermark {
	pw, ok := t.parts[p]
	if !ok {
		pw = &partWatermark{delay: t.delayOf(p), max: MinWatermark, lastData: now}
		t.parts[p] = pw
		t.list = append(t.list, pw)
	}
	return pw
}

// SetPartitions registers the partitions the source reads at processing
// time now: a registered partition that has produced nothing holds the
// watermark back until it produces data or goes idle.
func (t *WatermarkTracker) SetPartitions(parts []int32, now time.Time) {
	for _, p := range parts {
		t.part(p, now)
	}
}

// Arrive records that a batch from partition p arrived at processing time
// now; call it once per batch before Observe-ing its rows.
func (t *WatermarkTracker) Arrive(p int32, now time.Time) {
	pw := t.part(p, now)
	pw.lastData, pw.idle = now, false
	t.lastData = now
	t.recompute()
}

// Observe folds one row's event time into partition p and returns the new
// watermark. Callers test lateness against Watermark() before calling it.
func (t *WatermarkTracker) Observe(p int32, ts int64) int64 {
	pw, ok := t.parts[p]
	if !ok {
		pw = t.part(p, t.lastData)
	}
	t.observe(pw, ts)
	return t.wm
}

// observe folds one event time into partition pw.
func (t *WatermarkTracker) observe(pw *partWatermark, ts int64) {
	pw.seen = true
	if ts > pw.max {
		pw.max = ts
		t.recompute()
	}
}

// rowMarks is a batch's watermark row by row: at[i] is the watermark
// before row i (what row i is judged late against, after the rows before
// it), at[len(at)-1] the one after the last row; top is the batch's
// latest event time, ok false when every row's is NULL.
type rowMarks struct {
	at  []int64
	top int64
	ok  bool
}

// observeRows observes the event times of col, rows from partition p,
// one by one in order (NULLs skipped) as Observe does, writing each
// row's watermark into m (its at reused).
func (t *WatermarkTracker) observeRows(p int32, col arrow.Array, m *rowMarks) error {
	n := col.Len()
	m.at, m.top, m.ok = slices.Grow(m.at[:0], n+1)[:n+1], 0, false
	pw, ok := t.parts[p]
	if !ok {
		pw = t.part(p, t.lastData)
	}
	vals := int64Values(col)
	var tsOf func(int) Value
	if vals == nil {
		var err error
		if tsOf, err = reader(col); err != nil {
			return err
		}
	}
	nulls := col.NullN() > 0
	for i := range n {
		m.at[i] = t.wm
		var ts int64
		if vals != nil {
			if nulls && col.IsNull(i) {
				continue
			}
			ts = vals[i]
		} else {
			v := tsOf(i)
			if v.IsNull() {
				continue
			}
			ts = v.I
		}
		if !m.ok || ts > m.top {
			m.top, m.ok = ts, true
		}
		t.observe(pw, ts)
	}
	m.at[n] = t.wm
	return nil
}

// recompute sets wm = min over non-idle partitions of (max − delay), never
// moving backwards.
func (t *WatermarkTracker) recompute() {
	if t.finished {
		return
	}
	lowest, any := MaxWatermark, false
	for _, pw := range t.list {
		if pw.idle {
			continue
		}
		any = true
		w := MinWatermark
		if pw.seen {
			w = sat(pw.max, -pw.delay)
		}
		if w < lowest {
			lowest = w
		}
	}
	if any && lowest > t.wm {
		t.wm = lowest
	}
}

// Tick re-evaluates idleness at processing time now and reports whether
// the watermark advanced.
func (t *WatermarkTracker) Tick(now time.Time) bool {
	if t.idle <= 0 || t.finished || len(t.parts) == 0 {
		return false
	}
	before := t.wm
	allIdle := true
	for _, pw := range t.list {
		if now.Sub(pw.lastData) >= t.idle {
			pw.idle = true
		}
		allIdle = allIdle && pw.idle
	}
	t.recompute()
	if allIdle {
		// Advance with processing time past the point all input went idle.
		top, seen := MinWatermark, false
		for _, pw := range t.list {
			if pw.seen {
				seen = true
				if w := sat(pw.max, -pw.delay); w > top {
					top = w
				}
			}
		}
		if seen {
			elapsed := now.Sub(t.lastData) - t.idle
			if w := sat(top, int64(elapsed)/t.unitNanos); w > t.wm {
				t.wm = w
			}
		}
	}
	return t.wm > before
}

// Idle reports whether every partition has gone idle (and there is at
// least one): the source then holds no consumer's watermark back.
func (t *WatermarkTracker) Idle() bool {
	if len(t.parts) == 0 || t.finished {
		return false
	}
	for _, pw := range t.list {
		if !pw.idle {
			return false
		}
	}
	return true
}

// Finish sets the watermark to +∞: the bounded input ended, every window
// is complete.
func (t *WatermarkTracker) Finish() {
	t.wm = MaxWatermark
	t.finished = true
}

// MaxEventTime is the latest event time among rows [lo, hi) of col, an
// event-time column, NULLs skipped; ok is false when every one is NULL.
// A tracker keeps each partition's maximum, so observing a run's latest
// event time once moves the watermark as observing each of its rows in
// turn does: the graph's sources, a window instance passing over other
// instances' rows and the scale-out upstream all fold a run this way.
// A TIMESTAMP or BIGINT column is read straight from its values.
func MaxEventTime(col arrow.Array, lo, hi int) (top int64, ok bool, err error) {
	if vals := int64Values(col); vals != nil {
		if col.NullN() == 0 {
			for _, v := range vals[lo:hi] {
				if !ok || v > top {
					top, ok = v, true
				}
			}
			return top, ok, nil
		}
		for i := lo; i < hi; i++ {
			if !col.IsNull(i) && (!ok || vals[i] > top) {
				top, ok = vals[i], true
			}
		}
		return top, ok, nil
	}
	ts, err := reader(col)
	if err != nil {
		return 0, false, err
	}
	for i := lo; i < hi; i++ {
		if v := ts(i); !v.IsNull() && (!ok || v.I > top) {
			top, ok = v.I, true
		}
	}
	return top, ok, nil
}

// sat adds with saturation at the int64 extremes.
func sat(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return MaxWatermark
	}
	if b < 0 && s > a {
		return MinWatermark
	}
	return s
}

// watermarkState is the tracker's checkpointed form.
type watermarkState struct {
	WM       int64
	Finished bool
	Parts    map[int32]int64 // partition → max event time (MinWatermark if none)
}

func (t *WatermarkTracker) snapshot() watermarkState {
	s := watermarkState{WM: t.wm, Finished: t.finished, Parts: map[int32]int64{}}
	for p, pw := range t.parts {
		m := MinWatermark
		if pw.seen {
			m = pw.max
		}
		s.Parts[p] = m
	}
	return s
}

func (t *WatermarkTracker) restore(s watermarkState, now time.Time) {
	t.wm, t.finished = s.WM, s.Finished
	t.parts, t.list = map[int32]*partWatermark{}, nil
	for p, m := range s.Parts {
		pw := t.part(p, now)
		if m != MinWatermark {
			pw.max, pw.seen = m, true
		}
	}
	t.lastData = now
}

// unitNanos is the size of one unit of an event-time column in
// nanoseconds: Timestamp columns carry their unit; int64 columns are
// epoch milliseconds.
func unitNanos(dt arrow.DataType) (int64, error) {
	switch t := dt.(type) {
	case *arrow.TimestampType:
		return int64(t.Unit.Multiplier()), nil
	case *arrow.Int64Type:
		return int64(time.Millisecond), nil
	}
	return 0, fmt.Errorf("stream: event-time column must be TIMESTAMP or BIGINT milliseconds, not %s", dt)
}

// UnitNanos is the size in nanoseconds of one unit of an event-time
// column of type dt (TIMESTAMP in its unit, BIGINT epoch milliseconds):
// what a watermark delay is divided by to compare it with the column.
func UnitNanos(dt arrow.DataType) (int64, error) { return unitNanos(dt) }
