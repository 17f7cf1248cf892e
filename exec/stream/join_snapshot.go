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
	j.eachRow(func(side int, st *joinStore, key string, r int32) {
		mr := st.m(r)
		s.Rows = append(s.Rows, joinRowSnap{Side: side, Key: key, Vals: st.values(r), N: mr.n, Matches: mr.matches, Exp: mr.exp})
		mr.snapped, mr.snapN, mr.snapM = true, mr.n, mr.matches
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
func (j *Join) eachRow(f func(side int, st *joinStore, key string, r int32)) {
	for side, sd := range j.sides {
		if j.spec.Timing == LookupJoin && side == j.spec.TableSide {
			continue
		}
		st := sd.st
		for b := range st.nbuckets {
			if st.bucket(b).n == 0 {
				continue // free
			}
			key := st.keyOf(b)
			for _, r := range st.rowsOf(b) {
				f(side, st, key, r)
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
	j.eachRow(func(side int, st *joinStore, key string, r int32) {
		mr := st.m(r)
		if mr.snapped && mr.snapN == mr.n && mr.snapM == mr.matches {
			return
		}
		d.Rows = append(d.Rows, joinRowSnap{Side: side, Key: key, Vals: st.values(r), N: mr.n, Matches: mr.matches, Exp: mr.exp})
		mr.snapped, mr.snapN, mr.snapM = true, mr.n, mr.matches
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
		if r := j.findByID(g); r >= 0 {
			j.drop(g.Side, r)
		}
	}
	j.gone = nil
	now := j.clock.Now()
	for _, rs := range d.Rows {
		st := j.sides[rs.Side].st
		t, err := j.tentative(rs.Side, rs.Vals)
		if err != nil {
			return err
		}
		if r := st.find(st.findBucket([]byte(rs.Key)), t, st.hashSlot(t)); r >= 0 {
			st.release(t)
			mr := st.m(r)
			mr.n, mr.matches = rs.N, rs.Matches
			mr.snapped, mr.snapN, mr.snapM = true, rs.N, rs.Matches
			continue
		}
		j.restoreRow(rs, t, now)
	}
	j.restoreSmall(d.Small, now)
	j.recycle()
	return nil
}

// tentative writes vals to a new slot of side's store (joinStore).
func (j *Join) tentative(side int, vals []Value) (int32, error) {
	st := j.sides[side].st
	t := st.newSlot()
	for c, v := range vals {
		if err := st.setValue(t, c, v); err != nil {
			st.release(t)
			return -1, fmt.Errorf("restoring a join: %w (was the query changed?)", err)
		}
	}
	return t, nil
}

// findByID is the held row a delta's freed-row reference names, or -1.
func (j *Join) findByID(g joinRowRef) int32 {
	st := j.sides[g.Side].st
	b := st.findBucket([]byte(g.Key))
	if b < 0 {
		return -1
	}
	if vals, err := decodeRowKey([]byte(g.ID), len(st.cols)); err == nil {
		if t, err := j.tentative(g.Side, vals); err == nil {
			r := st.find(b, t, st.hashSlot(t))
			st.release(t)
			return r
		}
	}
	// An encoding decodeRowKey does not read (a list): compare each.
	for _, r := range st.rowsOf(int32(b)) {
		if string(rowKey(j.buf[:0], st.values(r))) == g.ID {
			return r
		}
	}
	return -1
}

// restoreRow adds a snapshot's row (written to slot t) to the state, as
// of its snapshot.
func (j *Join) restoreRow(rs joinRowSnap, t int32, now time.Time) {
	st := j.sides[rs.Side].st
	r := j.store(rs.Side, []byte(rs.Key), t, rs.Matches, rs.Exp, now)
	mr := st.m(r)
	mr.n = rs.N
	mr.snapped, mr.snapN, mr.snapM = true, rs.N, mr.matches
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
		t, err := j.tentative(r.Side, r.Vals)
		if err != nil {
			return err
		}
		j.restoreRow(r, t, now)
	}
	j.restoreSmall(s, now)
	j.recycle()
	return nil
}
