package stream

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/gob"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, fmt.Errorf("encoding state: %w", err)
	}
	return buf.Bytes(), nil
}

func decode(data []byte, v any) error {
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		return fmt.Errorf("decoding state: %w", err)
	}
	return nil
}

var (
	_ Snapshotter = (*GroupAggregate)(nil)
	_ Snapshotter = (*WindowAggregate)(nil)
)

// slotSnap is a GroupAggregate group's checkpointed form: its key, net
// rows, and every accumulator's saved state (exec.AggState.Save),
// concatenated in aggregate order.
type slotSnap struct {
	Key   []Value
	State []byte
	Rows  int64
}

// Snapshot encodes every live group.
func (g *GroupAggregate) Snapshot() ([]byte, error) {
	st := &g.st
	snap := make([]slotSnap, 0, st.nlive)
	for s := uint32(1); int(s) < len(st.live); s++ {
		if !st.live[s] {
			continue
		}
		state, err := saveGroup(st.accs, s)
		if err != nil {
			return nil, fmt.Errorf("stream: snapshot: %w", err)
		}
		snap = append(snap, slotSnap{Key: append([]Value(nil), st.key(s)...), State: state, Rows: st.rows[s]})
	}
	clear(st.epoch) // the baseline of the next SnapshotDelta
	snap, err := g.sp.appendStored(snap, len(g.keys))
	if err != nil {
		return nil, err
	}
	return encode(snap)
}

// Restore replaces the groups with a snapshot. A spilling aggregate
// (SetBudget with a spill directory) loads them a chunk at a time and
// spills whenever the budget refuses the state (loadGroups), so a
// checkpoint whose groups outgrow the budget is restored into the spill
// store rather than into memory whole.
func (g *GroupAggregate) Restore(data []byte) error {
	var snap []slotSnap
	if err := decode(data, &snap); err != nil {
		return err
	}
	for i, s := range snap {
		if err := g.checkSlot(s); err != nil {
			return fmt.Errorf("stream: restoring group %d: %w", i, err)
		}
	}
	if err := g.sp.reset(); err != nil { // the snapshot holds every group
		return err
	}
	if err := g.resetTable(); err != nil {
		return err
	}
	return g.loadGroups(snap, "group")
}

type windowSnap struct {
	Start, End int64
	Groups     []slotSnap
}

type windowAggSnap struct {
	// Aggs is the number of aggregates, so that a snapshot of another
	// query's shape is refused rather than misread.
	Aggs     int
	Windows  []windowSnap
	Sessions []windowSnap // one group each
	WM       watermarkState
	PartRows map[int32]int64
	Late     int64
}

// Snapshot encodes open windows, sessions and the watermark. It is the
// baseline of the next SnapshotDelta.
func (w *WindowAggregate) Snapshot() ([]byte, error) {
	s := windowAggSnap{Aggs: len(w.core.calls), WM: w.tracker.snapshot(), PartRows: w.partRows, Late: w.late}
	w.goneWins = nil
	for _, k := range w.heap {
		snap, err := w.snapWindow(w.windows[k], false)
		if err != nil {
			return nil, err
		}
		s.Windows = append(s.Windows, snap)
	}
	var err error
	s.Sessions, err = w.snapSessions()
	if err != nil {
		return nil, err
	}
	return encode(s)
}

// snapWindow saves ws's groups (only those changed since the last
// snapshot when changed is set and the last snapshot held ws) and makes
// them the baseline of the next delta.
func (w *WindowAggregate) snapWindow(ws *winState, changed bool) (windowSnap, error) {
	nk := len(w.keys)
	snap := windowSnap{Start: ws.k.start, End: ws.k.end}
	changed = changed && ws.snapped
	for g := 0; g < ws.n; g++ {
		if changed && (g >= len(ws.dirty) || !ws.dirty[g]) {
			continue
		}
		state, err := saveGroup(ws.accs, uint32(g))
		if err != nil {
			return windowSnap{}, fmt.Errorf("stream: snapshot: %w", err)
		}
		snap.Groups = append(snap.Groups, slotSnap{Key: ws.keys[g*nk : (g+1)*nk], State: state, Rows: 1})
	}
	ws.snapped = true
	clear(ws.dirty)
	return snap, nil
}

// snapSessions saves every open session.
func (w *WindowAggregate) snapSessions() ([]windowSnap, error) {
	var out []windowSnap
	for _, list := range w.sessions {
		for _, ss := range list {
			state, err := saveGroup(w.sess.accs, ss.slot)
			if err != nil {
				return nil, fmt.Errorf("stream: snapshot: %w", err)
			}
			out = append(out, windowSnap{Start: ss.start, End: ss.end,
				Groups: []slotSnap{{Key: ss.key, State: state, Rows: 1}}})
		}
	}
	return out, nil
}

// Restore replaces the state with a snapshot.
func (w *WindowAggregate) Restore(data []byte) error {
	var s windowAggSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	// A snapshot of another query's shape would index past the groups'
	// keys and accumulators later: refuse it here.
	if s.Aggs != len(w.core.calls) {
		return fmt.Errorf("stream: restoring windows of %d aggregates, want %d", s.Aggs, len(w.core.calls))
	}
	if err := w.checkSnap(s.Windows, s.Sessions); err != nil {
		return err
	}
	w.Close()
	w.tracker.restore(s.WM, w.clock.Now())
	w.partRows, w.late = s.PartRows, s.Late
	if w.partRows == nil {
		w.partRows = map[int32]int64{}
	}
	for _, snap := range s.Windows {
		k := winKey{snap.Start, snap.End}
		if _, dup := w.windows[k]; dup {
			return fmt.Errorf("stream: restoring window [%d, %d) twice", k.start, k.end)
		}
		ws := w.newWindow(k)
		if err := w.restoreGroups(ws, snap.Groups); err != nil {
			return err
		}
		ws.snapped = true
	}
	heap.Init(&w.heap)
	return w.restoreSessions(s.Sessions)
}

// checkSnap refuses windows or sessions of another query's shape: they
// would index past the groups' keys and accumulators later.
func (w *WindowAggregate) checkSnap(windows, sessions []windowSnap) error {
	check := func(what string, gs []slotSnap) error {
		for i, g := range gs {
			if len(g.Key) != len(w.keys) {
				return fmt.Errorf("stream: restoring %s group %d: %d keys, want %d", what, i, len(g.Key), len(w.keys))
			}
		}
		return nil
	}
	for _, ws := range windows {
		if err := check("window", ws.Groups); err != nil {
			return err
		}
	}
	for _, ss := range sessions {
		if len(ss.Groups) != 1 {
			return fmt.Errorf("stream: restoring a session with %d groups, want 1", len(ss.Groups))
		}
		if err := check("session", ss.Groups); err != nil {
			return err
		}
	}
	return nil
}

// restoreSessions adds the saved sessions to the (empty) session state.
func (w *WindowAggregate) restoreSessions(sessions []windowSnap) error {
	for _, ss := range sessions {
		g := ss.Groups[0]
		sess := &session{start: ss.Start, end: ss.End, slot: w.sess.alloc(), key: g.Key, keyStr: string(rowKey(nil, g.Key))}
		if err := loadGroup(w.sess.accs, sess.slot, g.State); err != nil {
			return err
		}
		w.sessions[sess.keyStr] = append(w.sessions[sess.keyStr], sess)
		w.countSession(sess, 1)
		pushSess(&w.sheap, sessEntry{end: sess.end, sess: sess})
	}
	return nil
}

// restoreGroups puts a window's saved groups into its table, in order.
func (w *WindowAggregate) restoreGroups(ws *winState, groups []slotSnap) error {
	if len(groups) == 0 {
		return nil
	}
	if ws.table == nil {
		if len(groups) != 1 {
			return fmt.Errorf("stream: restoring %d groups of a window without keys", len(groups))
		}
	} else {
		ids, err := w.assignGroups(ws, groups)
		if err != nil {
			return err
		}
		for i, id := range ids {
			if int(id) != i {
				return fmt.Errorf("stream: restoring window [%d, %d): group %d repeats a key", ws.k.start, ws.k.end, i)
			}
		}
	}
	ws.n = len(groups)
	for _, a := range ws.accs {
		a.Grow(ws.n)
	}
	for i, g := range groups {
		ws.keys = append(ws.keys, g.Key...)
		if err := loadGroup(ws.accs, uint32(i), g.State); err != nil {
			return err
		}
	}
	return nil
}

// assignGroups gives the saved groups' keys their group ids in ws's
// table (existing groups keep theirs, new ones get the next).
func (w *WindowAggregate) assignGroups(ws *winState, groups []slotSnap) ([]uint32, error) {
	cols := make([]arrow.Array, len(w.keys))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for k, t := range w.keyTypes {
		b := array.NewBuilder(w.mem, t)
		for _, g := range groups {
			if err := appendValue(b, g.Key[k]); err != nil {
				b.Release()
				return nil, fmt.Errorf("stream: restoring group keys: %w", err)
			}
		}
		cols[k] = b.NewArray()
		b.Release()
	}
	ids := make([]uint32, len(groups))
	newKeys, err := ws.table.Assign(context.Background(), w.mem, cols, ids, true)
	if err != nil {
		return nil, fmt.Errorf("stream: restoring group keys: %w", err)
	}
	for _, a := range newKeys {
		if a != nil {
			a.Release()
		}
	}
	return ids, nil
}
