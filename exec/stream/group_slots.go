package stream

import "github.com/sluicesql/sluice/exec"

// groupSlots is GroupAggregate's per-group state indexed by slot = group
// id + 1 (slot 0 is never a group: rows that must not count, retractions
// of absent groups, go to it with weight 0). Group ids come from
// an exec.GroupTable, which never forgets a key: a group whose rows were
// all retracted is marked dead and its accumulators zeroed, but its slot
// (and the key in the table) stays allocated, and the same key coming back
// reuses it. State therefore grows with the number of distinct keys ever
// seen, not the number of live groups.
type groupSlots struct {
	nk    int
	keys  []Value // slot s's key is keys[s*nk : (s+1)*nk]
	rows  []int64 // net rows (insertions − retractions)
	live  []bool
	epoch []uint64 // last Push that touched the slot
	accs  []*exec.Accumulator
	nlive int
}

func newGroupSlots(nk int, core *aggCore) groupSlots {
	st := groupSlots{nk: nk, accs: core.accumulators()}
	st.grow(1)
	return st
}

// grow makes room for n slots.
func (st *groupSlots) grow(n int) {
	d := n - len(st.rows)
	if d <= 0 {
		return
	}
	st.keys = append(st.keys, make([]Value, d*st.nk)...)
	st.rows = append(st.rows, make([]int64, d)...)
	st.live = append(st.live, make([]bool, d)...)
	st.epoch = append(st.epoch, make([]uint64, d)...)
	for _, a := range st.accs {
		a.Grow(n)
	}
}

func (st *groupSlots) key(s uint32) []Value {
	return st.keys[int(s)*st.nk : (int(s)+1)*st.nk]
}

// kill marks slot s dead and zeroes its state (the key stays).
func (st *groupSlots) kill(s uint32) {
	if st.live[s] {
		st.live[s] = false
		st.nlive--
	}
	st.rows[s] = 0
	for _, a := range st.accs {
		a.Reset(s)
	}
}

// keyBytes is the length of appendKey's encoding of v, for StateStats.
func keyBytes(v Value) int64 {
	switch v.K {
	case KInt, KBool, KFloat:
		return 9
	case KString, KList, KInterval:
		return 5 + int64(len(v.S))
	case KDecimal:
		return 17
	}
	return 1
}
