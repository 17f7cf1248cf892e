package stream

import (
	"sort"
	"sync"
	"time"
)

// Clock is the source of processing time. Drivers and watermark idleness
// read time only through it, so tests drive time with ManualClock instead
// of sleeping.
type Clock interface {
	// Now is the current processing time.
	Now() time.Time
	// After delivers the time on the channel once d has elapsed.
	After(d time.Duration) <-chan time.Time
	// NewTimer starts a timer that fires once after d; Stop cancels it.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer created by a Clock.
type Timer interface {
	// C delivers the fire time exactly once.
	C() <-chan time.Time
	// Stop cancels the timer; it reports whether the timer was pending.
	Stop() bool
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After wraps time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewTimer wraps time.NewTimer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// ManualClock is a Clock that moves only when Advance is called, firing the
// timers that came due. Tests use it to script processing time exactly.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	changed chan struct{} // closed and replaced whenever a timer is added
}

// NewManualClock returns a ManualClock set to start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, changed: make(chan struct{})}
}

type manualTimer struct {
	clock    *ManualClock
	deadline time.Time
	c        chan time.Time
	fired    bool
}

func (m *manualTimer) C() <-chan time.Time { return m.c }

func (m *manualTimer) Stop() bool {
	m.clock.mu.Lock()
	defer m.clock.mu.Unlock()
	for i, t := range m.clock.timers {
		if t == m {
			m.clock.timers = append(m.clock.timers[:i], m.clock.timers[i+1:]...)
			return !m.fired
		}
	}
	return false
}

// Now returns the manual time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once Advance moves past d from now.
func (c *ManualClock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// NewTimer registers a timer firing when the clock reaches now+d; a
// non-positive d fires immediately.
func (c *ManualClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{clock: c, deadline: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.fired = true
		t.c <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	close(c.changed)
	c.changed = make(chan struct{})
	return t
}

// Advance moves the clock forward by d and fires, in deadline order, every
// timer that came due.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].deadline.Before(c.timers[j].deadline) })
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.deadline.After(c.now) {
			t.fired = true
			t.c <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// Pending is the number of timers waiting to fire.
func (c *ManualClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// BlockUntil waits until at least n timers are pending, so a test knows a
// driver is parked on its trigger before it advances the clock.
func (c *ManualClock) BlockUntil(n int) {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return
		}
		ch := c.changed
		c.mu.Unlock()
		<-ch
	}
}
