package stream

import (
	"container/heap"
	"fmt"
)

// joinSnap is a Join's checkpointed form.
type joinSnap struct {
	Rows    []joinRowSnap
	WM      [2]watermarkState
	Tracked bool
	Late    [2]int64
	Part    [2]map[int32]int64
	Pending map[int64][][]Value
	Ignored int64
}

type joinRowSnap struct {
	Side    int
	Key     string
	Vals    []Value
	N       int64
	Matches int64
	Exp     int64
}

// Snapshot encodes both inputs' rows (in each bucket's order), the
// watermarks and the pending rows of open windows.
func (j *Join) Snapshot() ([]byte, error) {
	s := joinSnap{Pending: j.pending, Ignored: j.Ignored}
	for side, sd := range j.sides {
		if j.spec.Timing == LookupJoin && side == j.spec.TableSide {
			continue // loaded again from its source at the start
		}
		for _, b := range sd.buckets {
			for _, r := range b.rows {
				s.Rows = append(s.Rows, joinRowSnap{Side: side, Key: r.key, Vals: r.vals, N: r.n, Matches: r.matches, Exp: r.exp})
			}
		}
		s.Late[side], s.Part[side] = sd.late, sd.partRows
		if sd.tracker != nil {
			s.WM[side] = sd.tracker.snapshot()
			s.Tracked = true
		}
	}
	return encode(s)
}

// Restore replaces the state with a snapshot; call it before the first
// Push.
func (j *Join) Restore(data []byte) error {
	var s joinSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	if s.Tracked != (j.sides[0].tracker != nil) {
		return fmt.Errorf("stream: restoring a join: the checkpoint is of another kind of join (was the query changed?)")
	}
	for _, r := range s.Rows {
		if j.spec.Timing == LookupJoin && r.Side == j.spec.TableSide {
			return fmt.Errorf("stream: restoring a lookup join: the checkpoint holds table rows (was the query changed?)")
		}
		if r.Side < 0 || r.Side > 1 || len(r.Vals) != j.nvals[r.Side] || r.N <= 0 {
			return fmt.Errorf("stream: restoring a join: a row of input %d with %d columns, want %d (was the query changed?)", r.Side+1, len(r.Vals), j.nvals[min(max(r.Side, 0), 1)])
		}
	}
	if j.spec.Timing != LookupJoin {
		j.Close()
	}
	now := j.clock.Now()
	for _, r := range s.Rows {
		j.store(r.Side, r.Key, r.Vals, r.Matches, r.Exp, now)
		b := j.sides[r.Side].buckets[r.Key]
		b.rows[len(b.rows)-1].n = r.N
	}
	for side, sd := range j.sides {
		sd.late, sd.partRows = s.Late[side], s.Part[side]
		if sd.partRows == nil {
			sd.partRows = map[int32]int64{}
		}
		if sd.tracker != nil {
			sd.tracker.restore(s.WM[side], now)
		}
	}
	if s.Pending != nil {
		j.pending = s.Pending
	}
	for _, rows := range j.pending {
		for _, row := range rows {
			j.pendingBytes += pendingRowBytes(row)
		}
	}
	for exp := range j.pending {
		heap.Push(&j.pendq, exp)
	}
	j.Ignored = s.Ignored
	return nil
}
