package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/spill"
)

// groupSpill is where a GroupAggregate keeps the groups it moved out of
// memory (a pebble store, see package spill). When the state would pass
// the memory budget and the budget spills (exec.Budget.WithSpill), every
// group the current batch does not touch is written to the store and the
// group table is rebuilt with the batch's groups only; a group whose key
// comes back is read back (and removed from the store) before the batch
// folds into it, so each group lives in exactly one place and the
// changelog is the one an unlimited run emits. Checkpoints hold both
// places: Snapshot scans the store, SnapshotDelta adds the stored groups
// that changed since the last snapshot (dirty) and the deleted ones
// (tombstones). Restore empties the store and loads the checkpoint a
// chunk at a time, spilling again whenever the budget refuses it; a
// delta's groups leave the store for memory (unstore) the same way.
type groupSpill struct {
	dir   string       // "" : the aggregate never spills
	store *spill.Store // opened at the first spill
	n     int          // groups in the store
	tombs int          // deleted groups' keys in the store (tombstones)
	bytes int64        // their keys' and values' encoded bytes
	// dirty holds the stored groups and tombstones (by stored key) that
	// changed since the last Snapshot or SnapshotDelta: they were
	// spilled so. A tombstone (an empty value) is a group deleted since
	// then, which the next delta must report (groupDelta.Dead).
	dirty map[string]struct{}
	// spills counts the times state was spilled, for Stats.
	spills int
	// Scratch.
	seen   []bool
	hotRow []int32 // per slot: 1 + the first batch row touching it, or 0
	keyBuf []byte
	valBuf []byte
	key    []Value
}

// storeShare: a spill store is given a storeShare'th of the memory
// limit (spill.Open bounds what it makes of it), counted in stateBytes.
const storeShare = 4

// dirtyEpoch marks a slot changed since the last snapshot but not by the
// current Push (a deleted group read back as a tombstone): SnapshotDelta
// sees it set, Push never takes it for its own epoch.
const dirtyEpoch = ^uint64(0)

// enableSpill makes the aggregate spill into dir ("" never) when its
// account refuses the state's growth.
func (g *GroupAggregate) enableSpill(dir string) { g.sp.dir = dir }

// stateBytes is what the in-memory state holds: the group table and the
// per-slot slices (capacity), which grow with the key space, the
// accumulators' own estimate (which includes the value sets of MIN/MAX
// under retraction and DISTINCT), without walking the groups, and, once
// it spilled, what the pebble store may hold in memory (its memtables
// and block cache, spill.Store.Memory): pebble's memory is the query's
// too, so the budget counts it.
func (g *GroupAggregate) stateBytes() int64 { return g.groupBytes() + g.sp.store.Memory() }

// groupBytes is stateBytes without the store: the groups in memory.
func (g *GroupAggregate) groupBytes() int64 {
	st := &g.st
	n := int64(cap(st.keys))*int64(unsafeValueSize) +
		int64(cap(st.rows))*8 + int64(cap(st.live)) + int64(cap(st.epoch))*8
	if g.table != nil {
		n += g.table.Bytes()
	}
	return n + accsBytes(st.accs)
}

// forRows calls fn for each row of the batch that counts: those listed
// in rows, or every one of the n rows when rows is nil.
func forRows(rows []int32, n int, fn func(r int) error) error {
	if rows == nil {
		for r := 0; r < n; r++ {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range rows {
		if err := fn(int(r)); err != nil {
			return err
		}
	}
	return nil
}

// reload reads back from the store the groups of the batch's rows that
// the group table did not hold before it (group ids from first on): a
// spilled group is then live in memory again, its state the stored one.
// g.slots holds the rows' group ids (not yet slots).
func (g *GroupAggregate) reload(b *aggBatch, rows []int32, n, first int) error {
	sp := &g.sp
	if sp.n+sp.tombs == 0 || g.table.NumGroups() == first {
		return nil
	}
	sp.seen = resize(sp.seen, g.table.NumGroups()-first)
	clear(sp.seen)
	sp.key = resize(sp.key, len(g.keys))
	st := &g.st
	var del *spill.Batch
	err := forRows(rows, n, func(r int) error {
		gid := int(g.slots[r])
		if gid < first || sp.seen[gid-first] {
			return nil
		}
		sp.seen[gid-first] = true
		for k, rd := range b.keyRead {
			sp.key[k] = rd(r)
		}
		sp.keyBuf = rowKey(sp.keyBuf[:0], sp.key)
		val, ok, err := sp.store.Get(sp.keyBuf)
		if err != nil || !ok {
			return err
		}
		if del == nil {
			del = sp.store.NewBatch()
		}
		if err := del.Delete(sp.keyBuf); err != nil {
			return err
		}
		sp.bytes -= int64(len(sp.keyBuf) + len(val))
		delete(sp.dirty, string(sp.keyBuf))
		s := uint32(gid + 1)
		if len(val) == 0 { // a tombstone: memory reports the deletion again
			sp.tombs--
			st.epoch[s] = dirtyEpoch
			return nil
		}
		gs, err := decodeSpilled(sp.key, val)
		if err != nil {
			return fmt.Errorf("stream: spilled group: %w", err)
		}
		st.live[s] = true
		st.nlive++
		copy(st.key(s), sp.key)
		if err := g.loadSlot(s, gs); err != nil {
			return fmt.Errorf("stream: spilled group: %w", err)
		}
		sp.n--
		return nil
	})
	if del == nil {
		return err
	}
	if err != nil {
		del.Abort()
		return err
	}
	return del.Commit()
}

// account tells the budget what the state holds after the batch's new
// groups were added (and spilled ones read back). When the budget
// refuses and the aggregate may spill, the groups the batch does not
// touch go to the store first, and the batch's own are kept even if the
// budget is still short (other operators' accounts, sharing the budget,
// hold the rest: they spill theirs at their next batch); only a batch
// whose own groups pass the whole budget fails.
func (g *GroupAggregate) account(b *aggBatch, rows []int32, n int) error {
	err := g.acct.Resize(g.stateBytes())
	var mle *exec.MemoryLimitError
	if err == nil || g.sp.dir == "" || !errors.As(err, &mle) {
		return err
	}
	if err := g.spillCold(b, rows, n); err != nil {
		return err
	}
	need := g.stateBytes()
	if need > mle.Limit {
		return fmt.Errorf("%w (with every other group spilled to %s)",
			&exec.MemoryLimitError{Operator: mle.Operator, Limit: mle.Limit, Need: need}, g.sp.dir)
	}
	if g.acct.Resize(need) != nil {
		g.acct.Force(need)
	}
	return nil
}

// spillCold writes every live group the batch does not touch to the
// store, and a tombstone for each group deleted since the last
// snapshot, and rebuilds the group table with the batch's groups only,
// renumbering its group ids in g.slots.
func (g *GroupAggregate) spillCold(b *aggBatch, rows []int32, n int) error {
	sp, st := &g.sp, &g.st
	if sp.store == nil {
		s, err := spill.Open(sp.dir, g.acct.Limit()/storeShare)
		if err != nil {
			return fmt.Errorf("stream: spilling group state: %w", err)
		}
		sp.store = s
	}
	if sp.dirty == nil {
		sp.dirty = map[string]struct{}{}
	}
	nslots := len(st.rows)
	sp.hotRow = resize(sp.hotRow, nslots)
	clear(sp.hotRow)
	// Groups touched earlier in a deferred interval (DeferEmit) wait
	// for Tick to emit their change: they stay too, their key known.
	for _, tc := range g.touches {
		sp.hotRow[tc.slot] = -1
	}
	_ = forRows(rows, n, func(r int) error {
		if s := g.slots[r] + 1; sp.hotRow[s] <= 0 {
			sp.hotRow[s] = int32(r) + 1
		}
		return nil
	})
	wb := sp.store.NewBatch()
	var keep []uint32
	for s := uint32(1); int(s) < nslots; s++ {
		if sp.hotRow[s] != 0 {
			keep = append(keep, s)
			continue
		}
		sp.valBuf = sp.valBuf[:0]
		switch {
		case st.live[s]:
			state, err := saveGroup(st.accs, s)
			if err != nil {
				wb.Abort()
				return fmt.Errorf("stream: spilling group state: %w", err)
			}
			sp.valBuf = encodeSpilled(sp.valBuf, st.rows[s], state)
			sp.n++
		case st.epoch[s] != 0:
			sp.tombs++ // deleted since the last snapshot
		default:
			continue // deleted, and already so in the last checkpoint
		}
		sp.keyBuf = rowKey(sp.keyBuf[:0], st.key(s))
		if err := wb.Set(sp.keyBuf, sp.valBuf); err != nil {
			wb.Abort()
			return err
		}
		sp.bytes += int64(len(sp.keyBuf) + len(sp.valBuf))
		if st.epoch[s] != 0 {
			sp.dirty[string(sp.keyBuf)] = struct{}{}
		}
	}
	if err := wb.Commit(); err != nil {
		return err
	}
	// The kept groups' keys: a touched group may be new (pass 1 has not
	// set its key yet), so its key is read from its first row.
	keys := make([][]Value, len(keep))
	for i, s := range keep {
		if sp.hotRow[s] < 0 {
			keys[i] = append([]Value(nil), st.key(s)...)
			continue
		}
		k := make([]Value, len(g.keys))
		for j, rd := range b.keyRead {
			k[j] = rd(int(sp.hotRow[s] - 1))
		}
		keys[i] = k
	}
	old, oldTable := g.st, g.table
	if err := g.resetTable(); err != nil {
		g.st, g.table = old, oldTable
		return err
	}
	slots, err := g.assignKeys(keys)
	if err != nil {
		return err
	}
	remap := make([]uint32, nslots)
	nst := &g.st
	for i, s := range keep {
		ns := slots[i]
		remap[s] = ns
		copy(nst.key(ns), keys[i])
		nst.rows[ns], nst.epoch[ns] = old.rows[s], old.epoch[s]
		if !old.live[s] {
			continue
		}
		nst.live[ns] = true
		nst.nlive++
		state, err := saveGroup(old.accs, s)
		if err == nil {
			err = loadGroup(nst.accs, ns, state)
		}
		if err != nil {
			return fmt.Errorf("stream: spilling group state: %w", err)
		}
	}
	_ = forRows(rows, n, func(r int) error {
		g.slots[r] = remap[g.slots[r]+1] - 1
		return nil
	})
	for i := range g.touches {
		g.touches[i].slot = remap[g.touches[i].slot]
	}
	for i, s := range g.oldSlots {
		g.oldSlots[i] = remap[s]
	}
	for i, s := range g.newSlots {
		g.newSlots[i] = remap[s]
	}
	sp.spills++
	return nil
}

// unstore removes from the store the groups of a delta being restored
// (RestoreDelta), changed and deleted: memory holds them from now on.
func (sp *groupSpill) unstore(changed []slotSnap, dead [][]Value) error {
	if sp.n+sp.tombs == 0 {
		return nil
	}
	del := sp.store.NewBatch()
	one := func(key []Value) error {
		sp.keyBuf = rowKey(sp.keyBuf[:0], key)
		val, ok, err := sp.store.Get(sp.keyBuf)
		if err != nil || !ok {
			return err
		}
		if len(val) == 0 {
			sp.tombs--
		} else {
			sp.n--
		}
		sp.bytes -= int64(len(sp.keyBuf) + len(val))
		delete(sp.dirty, string(sp.keyBuf))
		return del.Delete(sp.keyBuf)
	}
	for _, gs := range changed {
		if err := one(gs.Key); err != nil {
			del.Abort()
			return fmt.Errorf("stream: restoring spilled groups: %w", err)
		}
	}
	for _, k := range dead {
		if err := one(k); err != nil {
			del.Abort()
			return fmt.Errorf("stream: restoring spilled groups: %w", err)
		}
	}
	return del.Commit()
}

// appendStored adds every stored group to snap (Snapshot), forgets which
// were dirty, and drops the tombstones (the snapshot has no deleted
// groups to report).
func (sp *groupSpill) appendStored(snap []slotSnap, nk int) ([]slotSnap, error) {
	clear(sp.dirty)
	if sp.n+sp.tombs == 0 {
		return snap, nil
	}
	var del *spill.Batch
	err := sp.store.Scan(func(k, v []byte) error {
		if len(v) == 0 {
			if del == nil {
				del = sp.store.NewBatch()
			}
			sp.tombs--
			sp.bytes -= int64(len(k))
			return del.Delete(k)
		}
		gs, err := decodeStored(k, v, nk)
		if err != nil {
			return err
		}
		snap = append(snap, gs)
		return nil
	})
	if err == nil && del != nil {
		err = del.Commit()
		del = nil
	}
	if del != nil {
		del.Abort()
	}
	if err != nil {
		return nil, fmt.Errorf("stream: snapshot of spilled groups: %w", err)
	}
	return snap, nil
}

// appendDirty adds the stored groups changed since the last snapshot to
// d (SnapshotDelta), the tombstones as deleted groups (dropping them),
// and forgets them.
func (sp *groupSpill) appendDirty(d *groupDelta, nk int) error {
	if len(sp.dirty) == 0 {
		return nil
	}
	del := sp.store.NewBatch()
	for k := range sp.dirty {
		v, ok, err := sp.store.Get([]byte(k))
		if err != nil {
			del.Abort()
			return fmt.Errorf("stream: snapshot of spilled groups: %w", err)
		}
		if !ok {
			continue // read back since: memory's epoch marks it
		}
		if len(v) == 0 {
			key, err := decodeRowKey([]byte(k), nk)
			if err == nil {
				err = del.Delete([]byte(k))
			}
			if err != nil {
				del.Abort()
				return fmt.Errorf("stream: snapshot of spilled groups: %w", err)
			}
			d.Dead = append(d.Dead, key)
			sp.tombs--
			sp.bytes -= int64(len(k))
			continue
		}
		gs, err := decodeStored([]byte(k), v, nk)
		if err != nil {
			del.Abort()
			return fmt.Errorf("stream: snapshot of spilled groups: %w", err)
		}
		d.Groups = append(d.Groups, gs)
	}
	clear(sp.dirty)
	return del.Commit()
}

// reset drops the stored groups and the store (Restore, Close).
func (sp *groupSpill) reset() error {
	err := sp.store.Close()
	sp.store, sp.n, sp.tombs, sp.bytes, sp.dirty = nil, 0, 0, 0, nil
	if err != nil {
		return fmt.Errorf("stream: closing spilled group state: %w", err)
	}
	return nil
}

// stats adds the stored groups to s.
func (sp *groupSpill) stats(s *StateStats) {
	s.Groups += sp.n
	s.Spilled += sp.n
	s.SpilledBytes += sp.bytes
	s.Spills += sp.spills
}

// encodeSpilled is a stored group's value: its net rows (varint), then
// its aggregate state (saveGroup).
func encodeSpilled(buf []byte, rows int64, state []byte) []byte {
	buf = binary.AppendVarint(buf, rows)
	return append(buf, state...)
}

// decodeSpilled is encodeSpilled's group of key.
func decodeSpilled(key []Value, val []byte) (slotSnap, error) {
	rows, n := binary.Varint(val)
	if n <= 0 {
		return slotSnap{}, errors.New("corrupt stored group")
	}
	return slotSnap{Key: append([]Value(nil), key...), Rows: rows, State: append([]byte(nil), val[n:]...)}, nil
}

// decodeStored decodes a stored entry: the key (rowKey of nk Values)
// and the value.
func decodeStored(k, v []byte, nk int) (slotSnap, error) {
	key, err := decodeRowKey(k, nk)
	if err != nil {
		return slotSnap{}, err
	}
	return decodeSpilled(key, v)
}

// errBadStoredKey reports a stored key that is not rowKey's encoding.
var errBadStoredKey = errors.New("corrupt stored group key")

// decodeRowKey reads back rowKey's encoding of nk Values.
func decodeRowKey(b []byte, nk int) ([]Value, error) {
	vals := make([]Value, nk)
	for i := range vals {
		if len(b) < 1 {
			return nil, errBadStoredKey
		}
		v := Value{K: Kind(b[0])}
		b = b[1:]
		need := 0
		switch v.K {
		case KNull:
		case KInt, KBool, KFloat:
			need = 8
		case KString, KInterval:
			need = 4
		case KDecimal:
			need = 16
		default:
			return nil, errBadStoredKey
		}
		if len(b) < need {
			return nil, errBadStoredKey
		}
		switch v.K {
		case KInt, KBool:
			v.I = int64(binary.LittleEndian.Uint64(b))
		case KFloat:
			v.F = math.Float64frombits(binary.LittleEndian.Uint64(b))
		case KString, KInterval:
			l := int(binary.LittleEndian.Uint32(b))
			if len(b)-4 < l {
				return nil, errBadStoredKey
			}
			v.S = string(b[4 : 4+l])
			need += l
		case KDecimal:
			v.I = int64(binary.LittleEndian.Uint64(b))
			v.H = int64(binary.LittleEndian.Uint64(b[8:]))
		}
		b = b[need:]
		vals[i] = v
	}
	if len(b) != 0 {
		return nil, errBadStoredKey
	}
	return vals, nil
}
