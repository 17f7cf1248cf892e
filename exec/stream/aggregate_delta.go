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
// groups replace (or add) theirs, deleted ones are dropped, in memory or
// in the spill store (a changed group that was spilled comes back to
// memory, and spills again with the others when the budget says so).
func (g *GroupAggregate) RestoreDelta(data []byte) error {
	var d groupDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	for i, s := range d.Groups {
		if err := g.checkSlot(s); err != nil {
			return fmt.Errorf("stream: restoring changed group %d: %w", i, err)
		}
	}
	for i, k := range d.Dead {
		if len(k) != len(g.keys) {
			return fmt.Errorf("stream: restoring deleted group %d: %d keys, want %d", i, len(k), len(g.keys))
		}
	}
	if g.table == nil {
		if err := g.resetTable(); err != nil {
			return err
		}
	}
	if err := g.sp.unstore(d.Groups, d.Dead); err != nil {
		return err
	}
	// The deleted groups first: loading the changed ones may spill
	// what memory holds, a group to be deleted with it.
	slots, err := g.assignKeys(d.Dead)
	if err != nil {
		return err
	}
	for i, s := range slots {
		copy(g.st.key(s), d.Dead[i])
		g.st.kill(s)
	}
	return g.loadGroups(d.Groups, "changed group")
}

// restoreChunk is how many checkpointed groups loadGroups adds to memory
// before it checks the budget.
const restoreChunk = 1024

// loadGroups adds checkpointed groups (of distinct keys, none of them in
// the spill store) to the group table, replacing the state of those it
// holds already. A spilling aggregate accounts each chunk of
// restoreChunk groups and spills when the budget refuses it (account),
// so memory never holds much more than the budget; what is loaded is
// dropped from groups as it goes. what ("group", "changed group") names
// a group in errors.
func (g *GroupAggregate) loadGroups(groups []slotSnap, what string) error {
	st := &g.st
	keys := make([][]Value, 0, min(len(groups), restoreChunk))
	for at := 0; at < len(groups); at += restoreChunk {
		chunk := groups[at:min(len(groups), at+restoreChunk)]
		keys = keys[:0]
		for _, gs := range chunk {
			keys = append(keys, gs.Key)
		}
		slots, err := g.assignKeys(keys)
		if err != nil {
			return err
		}
		for i, gs := range chunk {
			s := slots[i]
			if !st.live[s] {
				st.live[s] = true
				st.nlive++
			}
			copy(st.key(s), gs.Key)
			if err := g.loadSlot(s, gs); err != nil {
				return fmt.Errorf("stream: restoring %s %d: %w", what, at+i, err)
			}
			chunk[i] = slotSnap{} // its state is the slot's now
		}
		if g.sp.dir != "" {
			if err := g.account(nil, nil, 0); err != nil {
				return fmt.Errorf("stream: restoring groups: %w", err)
			}
		}
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
