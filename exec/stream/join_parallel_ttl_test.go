package stream

import (
	"context"
	"testing"
	"time"
)

// TestParallelJoinTTL: 'state.ttl' holds at parallelism > 1 as in one
// join (TestRegularJoinTTL): rows of 8 keys spread over 3 instances, the
// keys used again within the TTL are kept, the others forgotten once a
// tick passes their TTL (the state size, summed over the instances,
// shrinks by exactly them), and a later partner of a forgotten key finds
// nothing.
func TestParallelJoinTTL(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	clock := NewManualClock(time.Unix(0, 0))
	lk, rk := changelogKeys()
	l, r := withOpSchema(joinLeft), withOpSchema(joinRight)
	j, err := NewParallelJoin(mem, l, r, JoinSpec{Kind: InnerJoin, LeftKeys: lk, RightKeys: rk, TTL: time.Minute, Clock: clock}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	push := func(side int, rows []jrow) []string {
		t.Helper()
		rec := joinBatch(t, mem, side, true, rows)
		defer rec.Release()
		out, err := j.PushSide(ctx, side, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out == nil {
			return nil
		}
		defer out.Release()
		return rowsOf(t, out)
	}
	var left []jrow
	for k := int64(0); k < 8; k++ {
		left = append(left, jrow{side: 0, k: kp(k), v: k})
	}
	push(0, left)
	if st := j.Stats(); st.Groups != 8 {
		t.Fatalf("state holds %d rows, want 8", st.Groups)
	}
	clock.Advance(30 * time.Second)
	// Keys 0..3 are used again (matched): their TTL starts over.
	if got := push(1, []jrow{{side: 1, k: kp(0), v: 10}, {side: 1, k: kp(1), v: 11}, {side: 1, k: kp(2), v: 12}, {side: 1, k: kp(3), v: 13}}); len(got) != 4 {
		t.Fatalf("matches %v, want 4", got)
	}
	clock.Advance(45 * time.Second)
	res, err := j.Tick(ctx, clock.Now())
	if err != nil || res != nil {
		t.Fatalf("Tick: %v %v", res, err)
	}
	if st := j.Stats(); st.Groups != 8 {
		t.Fatalf("after the TTL the state holds %d rows, want 8 (left 0..3, right 0..3)", st.Groups)
	}
	if got := push(1, []jrow{{side: 1, k: kp(5), v: 15}, {side: 1, k: kp(6), v: 16}}); len(got) != 0 {
		t.Fatalf("forgotten rows still joined: %v", got)
	}
	if got := push(1, []jrow{{side: 1, k: kp(1), v: 21}}); len(got) != 1 {
		t.Fatalf("a kept row did not join: %v", got)
	}
}
