package stream

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

var _ DeltaSnapshotter = (*GroupAggregate)(nil)

// groupDelta is a GroupAggregate's incremental checkpoint: the groups
// changed since the last snapshot, as full groups (their key, rows and
// saved aggregate state), and the keys of the groups deleted since.
type groupDelta struct {
	Groups []slotSnap
	Dead   [][]Value
}

// SnapshotDelta encodes the groups changed since the last Snapshot,
// SnapshotDelta or Restore. A slot is changed when a Push touched it: its
// epoch (the last Push that touched it) is set; the snapshot zeroes it
// (Push only compares it with the current Push's, which is never 0). The
// scan reads one word per slot; the encoding is what changed.
func (g *GroupAggregate) SnapshotDelta() ([]byte, error) {
	st := &g.st
	var d groupDelta
	for s := uint32(1); int(s) < len(st.epoch); s++ {
		if st.epoch[s] == 0 {
			continue
		}
		st.epoch[s] = 0
		if !st.live[s] {
			d.Dead = append(d.Dead, append([]Value(nil), st.key(s)...))
			continue
		}
		gs, err := g.snapSlot(s)
		if err != nil {
			return nil, err
		}
		d.Groups = append(d.Groups, gs)
	}
	if err := g.sp.appendDirty(&d, len(g.keys)); err != nil {
		return nil, err
	}
	if len(d.Groups) == 0 && len(d.Dead) == 0 {
		return nil, nil
	}
	return encode(d)
}

// RestoreDelta applies a SnapshotDelta over the restored groups: changed
// groups replace (or add) theirs, deleted ones are dropped.
func (g *GroupAggregate) RestoreDelta(data []byte) error {
	var d groupDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	keys := make([][]Value, 0, len(d.Groups)+len(d.Dead))
	for i, s := range d.Groups {
		if err := g.checkSlot(s); err != nil {
			return fmt.Errorf("stream: restoring changed group %d: %w", i, err)
		}
		keys = append(keys, s.Key)
	}
	for i, k := range d.Dead {
		if len(k) != len(g.keys) {
			return fmt.Errorf("stream: restoring deleted group %d: %d keys, want %d", i, len(k), len(g.keys))
		}
		keys = append(keys, k)
	}
	if g.table == nil {
		if err := g.resetTable(); err != nil {
			return err
		}
	}
	slots, err := g.assignKeys(keys)
	if err != nil {
		return err
	}
	st := &g.st
	for i, gs := range d.Groups {
		s := slots[i]
		if !st.live[s] {
			st.live[s] = true
			st.nlive++
		}
		copy(st.key(s), gs.Key)
		if err := g.loadSlot(s, gs); err != nil {
			return fmt.Errorf("stream: restoring changed group %d: %w", i, err)
		}
	}
	for i := range d.Dead {
		s := slots[len(d.Groups)+i]
		copy(st.key(s), d.Dead[i])
		st.kill(s)
	}
	return nil
}

// assignKeys finds (adding the new ones) the slots of group keys, grown
// to hold them.
func (g *GroupAggregate) assignKeys(keys [][]Value) ([]uint32, error) {
	if len(keys) == 0 {
		return nil, nil
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
		for _, key := range keys {
			if err := appendValue(b, key[k]); err != nil {
				b.Release()
				return nil, fmt.Errorf("stream: restoring group keys: %w", err)
			}
		}
		cols[k] = b.NewArray()
		b.Release()
	}
	gids := make([]uint32, len(keys))
	newKeys, err := g.table.Assign(context.Background(), g.mem, cols, gids, true)
	if err != nil {
		return nil, fmt.Errorf("stream: restoring group keys: %w", err)
	}
	for _, a := range newKeys {
		if a != nil {
			a.Release()
		}
	}
	g.st.grow(g.table.NumGroups() + 1)
	for i := range gids {
		gids[i]++ // slot = group id + 1
	}
	return gids, nil
}

// snapSlot is slot s's checkpointed form.
func (g *GroupAggregate) snapSlot(s uint32) (slotSnap, error) {
	st := &g.st
	state, err := saveGroup(st.accs, s)
	if err != nil {
		return slotSnap{}, fmt.Errorf("stream: snapshot: %w", err)
	}
	return slotSnap{Key: append([]Value(nil), st.key(s)...), State: state, Rows: st.rows[s]}, nil
}

// checkSlot refuses a checkpointed group of another query's shape (its
// aggregate state is checked as it loads: loadGroup refuses bytes left
// over or missing).
func (g *GroupAggregate) checkSlot(s slotSnap) error {
	if len(s.Key) != len(g.keys) {
		return fmt.Errorf("%d keys, want %d", len(s.Key), len(g.keys))
	}
	return nil
}

// loadSlot sets slot s's rows and aggregate state from its checkpointed
// form, replacing what the slot held.
func (g *GroupAggregate) loadSlot(s uint32, gs slotSnap) error {
	st := &g.st
	st.rows[s] = gs.Rows
	for _, a := range st.accs {
		a.Reset(s)
	}
	return loadGroup(st.accs, s, gs.State)
}
