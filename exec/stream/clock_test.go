package stream

import (
	"testing"
	"time"
)

func TestManualClockFiresDueTimersInOrder(t *testing.T) {
	c := NewManualClock(epoch)
	a := c.NewTimer(2 * time.Second)
	b := c.After(time.Second)
	stopped := c.NewTimer(time.Second)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	c.Advance(500 * time.Millisecond)
	select {
	case <-b:
		t.Fatal("timer fired early")
	default:
	}
	c.Advance(time.Second)
	if got := <-b; !got.Equal(epoch.Add(1500 * time.Millisecond)) {
		t.Fatalf("After fired with %v", got)
	}
	select {
	case <-a.C():
		t.Fatal("2s timer fired at 1.5s")
	case <-stopped.C():
		t.Fatal("stopped timer fired")
	default:
	}
	c.Advance(time.Second)
	<-a.C()
	if c.Pending() != 0 {
		t.Fatalf("pending = %d", c.Pending())
	}
	if now := <-c.After(0); !now.Equal(epoch.Add(2500 * time.Millisecond)) {
		t.Fatalf("After(0) = %v", now)
	}
}
