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

// groupSnap is a group's checkpointed form.
type groupSnap struct {
	Key  []Value
	Accs []acc
	Rows int64
}

func snapGroup(g *group) groupSnap { return groupSnap{Key: g.key, Accs: g.accs, Rows: g.rows} }

func (s groupSnap) group() *group { return &group{key: s.Key, accs: s.Accs, rows: s.Rows} }

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
	return encode(snap)
}

// Restore replaces the groups with a snapshot.
func (g *GroupAggregate) Restore(data []byte) error {
	var snap []slotSnap
	if err := decode(data, &snap); err != nil {
		return err
	}
	for i, s := range snap {
		if len(s.Key) != len(g.keys) {
			return fmt.Errorf("stream: restoring group %d: %d keys, want %d", i, len(s.Key), len(g.keys))
		}
	}
	if err := g.resetTable(); err != nil {
		return err
	}
	if len(snap) == 0 {
		return nil
	}
	cols := make([]arrow.Array, len(g.keys))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for k, t := range g.keyTypes {
		b := array.NewBuilder(g.mem, t)
		for _, s := range snap {
			if err := appendValue(b, s.Key[k]); err != nil {
				b.Release()
				return fmt.Errorf("stream: restoring group keys: %w", err)
			}
		}
		cols[k] = b.NewArray()
		b.Release()
	}
	gids := make([]uint32, len(snap))
	newKeys, err := g.table.Assign(context.Background(), g.mem, cols, gids, true)
	if err != nil {
		return fmt.Errorf("stream: restoring group keys: %w", err)
	}
	for _, a := range newKeys {
		if a != nil {
			a.Release()
		}
	}
	st := &g.st
	st.grow(g.table.NumGroups() + 1)
	for i, gs := range snap {
		s := gids[i] + 1
		if !st.live[s] {
			st.live[s] = true
			st.nlive++
		}
		copy(st.key(s), gs.Key)
		st.rows[s] = gs.Rows
		if err := loadGroup(st.accs, s, gs.State); err != nil {
			return fmt.Errorf("stream: restoring group %d: %w", i, err)
		}
	}
	return nil
}

type windowSnap struct {
	Start, End int64
	Groups     []groupSnap
}

type windowAggSnap struct {
	Windows  []windowSnap
	Sessions []windowSnap // one group each
	WM       watermarkState
	PartRows map[int32]int64
	Late     int64
}

// Snapshot encodes open windows, sessions and the watermark.
func (w *WindowAggregate) Snapshot() ([]byte, error) {
	s := windowAggSnap{WM: w.tracker.snapshot(), PartRows: w.partRows, Late: w.late}
	for _, k := range w.heap {
		ws := w.windows[k]
		snap := windowSnap{Start: k.start, End: k.end}
		for _, g := range ws.order {
			snap.Groups = append(snap.Groups, snapGroup(g))
		}
		s.Windows = append(s.Windows, snap)
	}
	for _, list := range w.sessions {
		for _, ss := range list {
			s.Sessions = append(s.Sessions, windowSnap{Start: ss.start, End: ss.end, Groups: []groupSnap{snapGroup(ss.g)}})
		}
	}
	return encode(s)
}

// Restore replaces the state with a snapshot.
func (w *WindowAggregate) Restore(data []byte) error {
	var s windowAggSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	// A snapshot of another query's shape would index past the groups'
	// keys and accumulators later: refuse it here.
	check := func(what string, gs []groupSnap) error {
		for i, g := range gs {
			if len(g.Key) != len(w.keys) || len(g.Accs) != len(w.aggs) {
				return fmt.Errorf("stream: restoring %s group %d: %d keys and %d aggregates, want %d and %d",
					what, i, len(g.Key), len(g.Accs), len(w.keys), len(w.aggs))
			}
		}
		return nil
	}
	for _, ws := range s.Windows {
		if err := check("window", ws.Groups); err != nil {
			return err
		}
	}
	for _, ss := range s.Sessions {
		if len(ss.Groups) != 1 {
			return fmt.Errorf("stream: restoring a session with %d groups, want 1", len(ss.Groups))
		}
		if err := check("session", ss.Groups); err != nil {
			return err
		}
	}
	w.Close()
	w.tracker.restore(s.WM, w.clock.Now())
	w.partRows, w.late = s.PartRows, s.Late
	if w.partRows == nil {
		w.partRows = map[int32]int64{}
	}
	for _, ws := range s.Windows {
		k := winKey{ws.Start, ws.End}
		st := &windowState{groups: map[string]*group{}}
		for _, gs := range ws.Groups {
			g := gs.group()
			st.groups[string(rowKey(nil, g.key))] = g
			st.order = append(st.order, g)
		}
		w.windows[k] = st
		w.heap = append(w.heap, k)
	}
	heap.Init(&w.heap)
	for _, ss := range s.Sessions {
		g := ss.Groups[0].group()
		sess := &session{start: ss.Start, end: ss.End, g: g, keyStr: string(rowKey(nil, g.key))}
		w.sessions[sess.keyStr] = append(w.sessions[sess.keyStr], sess)
		w.nsess++
		pushSess(&w.sheap, sessEntry{end: sess.end, sess: sess})
	}
	return nil
}

// topNSnap is a TopN's checkpointed form: its rows in order.
type topNSnap struct {
	Rows    []topRowSnap
	Ignored int64
}

type topRowSnap struct {
	Vals []Value
	Key  string
	N    int64
}

var _ Snapshotter = (*TopN)(nil)

// Snapshot encodes the rows the top-N holds (every live input row over a
// changelog, the first n over an append-only input) with their counts.
func (t *TopN) Snapshot() ([]byte, error) {
	s := topNSnap{Rows: make([]topRowSnap, len(t.rows)), Ignored: t.Ignored}
	for i, r := range t.rows {
		s.Rows[i] = topRowSnap{Vals: r.vals, Key: r.key, N: r.n}
	}
	return encode(s)
}

// Restore replaces the rows with a snapshot's.
func (t *TopN) Restore(data []byte) error {
	var s topNSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	t.rows = make([]*topRow, len(s.Rows))
	for i, r := range s.Rows {
		t.rows[i] = &topRow{vals: r.Vals, key: r.Key, n: r.N}
	}
	t.Ignored = s.Ignored
	return nil
}
