package stream

import (
	"bytes"
	"container/heap"
	"encoding/gob"
	"fmt"
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

// Snapshot encodes every group.
func (g *GroupAggregate) Snapshot() ([]byte, error) {
	snap := make([]groupSnap, 0, len(g.groups))
	for _, gr := range g.groups {
		snap = append(snap, snapGroup(gr))
	}
	return encode(snap)
}

// Restore replaces the groups with a snapshot.
func (g *GroupAggregate) Restore(data []byte) error {
	var snap []groupSnap
	if err := decode(data, &snap); err != nil {
		return err
	}
	g.groups = make(map[string]*group, len(snap))
	for _, s := range snap {
		gr := s.group()
		g.groups[string(rowKey(nil, gr.key))] = gr
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
