package stream

import (
	"container/heap"
	"fmt"
	"time"
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
// watermarks and the pending rows of open windows. It is the baseline of
// the next SnapshotDelta.
func (j *Join) Snapshot() ([]byte, error) {
	s := j.small()
	j.gone = nil
	j.eachRow(func(side int, r *joinRow) {
		s.Rows = append(s.Rows, joinRowSnap{Side: side, Key: r.key, Vals: r.vals, N: r.n, Matches: r.matches, Exp: r.exp})
		r.snapped, r.snapN, r.snapMatches = true, r.n, r.matches
	})
	return encode(s)
}

// small is the snapshot without its rows: watermarks, counts and the
// pending rows of open windows.
func (j *Join) small() joinSnap {
	s := joinSnap{Pending: j.pending, Ignored: j.Ignored}
	for side, sd := range j.sides {
		s.Late[side], s.Part[side] = sd.late, sd.partRows
		if sd.tracker != nil {
			s.WM[side] = sd.tracker.snapshot()
			s.Tracked = true
		}
	}
	return s
}

// eachRow calls f for every row a snapshot holds, in each bucket's order:
// a lookup join's table rows are left out (loaded again from their
// source at the start).
func (j *Join) eachRow(f func(side int, r *joinRow)) {
	for side, sd := range j.sides {
		if j.spec.Timing == LookupJoin && side == j.spec.TableSide {
			continue
		}
		for _, b := range sd.buckets {
			for _, r := range b.rows {
				f(side, r)
			}
		}
	}
}

var _ DeltaSnapshotter = (*Join)(nil)

// joinDelta is a Join's incremental checkpoint: the rows added or changed
// (multiplicity, matches) since the last snapshot, whole; the rows the
// last snapshot held that were freed or retracted since; and the small
// state (watermarks, counts, pending window rows), whole.
type joinDelta struct {
	Small joinSnap
	Rows  []joinRowSnap
	Gone  []joinRowRef
}

// joinRowRef names a held row: its input, join key and values' encoding.
type joinRowRef struct {
	Side    int
	Key, ID string
}

// SnapshotDelta encodes what changed since the last Snapshot,
// SnapshotDelta, Restore or RestoreDelta. Finding the changed rows reads
// two words per held row (no encoding); what is encoded is what changed.
func (j *Join) SnapshotDelta() ([]byte, error) {
	d := joinDelta{Small: j.small(), Gone: j.gone}
	j.gone = nil
	j.eachRow(func(side int, r *joinRow) {
		if r.snapped && r.snapN == r.n && r.snapMatches == r.matches {
			return
		}
		d.Rows = append(d.Rows, joinRowSnap{Side: side, Key: r.key, Vals: r.vals, N: r.n, Matches: r.matches, Exp: r.exp})
		r.snapped, r.snapN, r.snapMatches = true, r.n, r.matches
	})
	return encode(d)
}

// RestoreDelta applies a SnapshotDelta over the state restored so far:
// the gone rows are dropped (without output: their output was emitted
// before the checkpoint), the changed ones updated in place (keeping
// their bucket's order) or added, and the small state replaced.
func (j *Join) RestoreDelta(data []byte) error {
	var d joinDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	if err := j.checkRows(d.Small, d.Rows); err != nil {
		return err
	}
	for _, g := range d.Gone {
		if g.Side < 0 || g.Side > 1 {
			return fmt.Errorf("stream: restoring a join: a freed row of input %d (was the query changed?)", g.Side+1)
		}
		if b := j.sides[g.Side].buckets[g.Key]; b != nil {
			if r := b.find(j.rowHash([]byte(g.ID)), []byte(g.ID), &j.scratch); r != nil {
				j.drop(r)
			}
		}
	}
	j.gone = nil
	now := j.clock.Now()
	for _, rs := range d.Rows {
		j.buf = rowKey(j.buf[:0], rs.Vals)
		if b := j.sides[rs.Side].buckets[rs.Key]; b != nil {
			if r := b.find(j.rowHash(j.buf), j.buf, &j.scratch); r != nil {
				r.n, r.matches = rs.N, rs.Matches
				r.snapped, r.snapN, r.snapMatches = true, r.n, r.matches
				continue
			}
		}
		j.restoreRow(rs, now)
	}
	j.restoreSmall(d.Small, now)
	return nil
}

// restoreRow adds a snapshot's row to the state, as of its snapshot.
func (j *Join) restoreRow(rs joinRowSnap, now time.Time) {
	j.store(rs.Side, []byte(rs.Key), rs.Vals, rs.Matches, rs.Exp, now)
	b := j.sides[rs.Side].buckets[rs.Key]
	r := b.rows[len(b.rows)-1]
	r.n = rs.N
	r.snapped, r.snapN, r.snapMatches = true, r.n, r.matches
}

// checkRows refuses a snapshot (or delta) of another join.
func (j *Join) checkRows(s joinSnap, rows []joinRowSnap) error {
	if s.Tracked != (j.sides[0].tracker != nil) {
		return fmt.Errorf("stream: restoring a join: the checkpoint is of another kind of join (was the query changed?)")
	}
	for _, r := range rows {
		if j.spec.Timing == LookupJoin && r.Side == j.spec.TableSide {
			return fmt.Errorf("stream: restoring a lookup join: the checkpoint holds table rows (was the query changed?)")
		}
		if r.Side < 0 || r.Side > 1 || len(r.Vals) != j.nvals[r.Side] || r.N <= 0 {
			return fmt.Errorf("stream: restoring a join: a row of input %d with %d columns, want %d (was the query changed?)", r.Side+1, len(r.Vals), j.nvals[min(max(r.Side, 0), 1)])
		}
	}
	return nil
}

// restoreSmall replaces the watermarks, counts and pending window rows.
func (j *Join) restoreSmall(s joinSnap, now time.Time) {
	for side, sd := range j.sides {
		sd.late, sd.partRows = s.Late[side], s.Part[side]
		if sd.partRows == nil {
			sd.partRows = map[int32]int64{}
		}
		if sd.tracker != nil {
			sd.tracker.restore(s.WM[side], now)
		}
	}
	j.pending, j.pendq, j.pendingBytes = map[int64][][]Value{}, nil, 0
	if s.Pending != nil {
		j.pending = s.Pending
	}
	for exp, rows := range j.pending {
		heap.Push(&j.pendq, exp)
		for _, row := range rows {
			j.pendingBytes += pendingRowBytes(row)
		}
	}
	j.Ignored = s.Ignored
}

// Restore replaces the state with a snapshot; call it before the first
// Push.
func (j *Join) Restore(data []byte) error {
	var s joinSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	if err := j.checkRows(s, s.Rows); err != nil {
		return err
	}
	if j.spec.Timing != LookupJoin {
		j.Close()
	}
	j.gone = nil
	now := j.clock.Now()
	for _, r := range s.Rows {
		j.restoreRow(r, now)
	}
	j.restoreSmall(s, now)
	return nil
}
