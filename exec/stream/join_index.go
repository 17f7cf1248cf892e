package stream

// slotIndex is an open-addressing table from a 64-bit key to a slot of a
// joinStore: linear probing, deletion by backward shift (no tombstones,
// so a table whose rows come and go, as an interval join's do, never
// fills with them), doubling at half full. It holds no pointers. A Go
// map of the same keys was a fifth of q7's CPU.
type slotIndex struct {
	keys  []uint64
	vals  []int32 // slot + 1; 0 = empty
	shift uint
	n     int
}

func newSlotIndex() slotIndex {
	return slotIndex{keys: make([]uint64, 16), vals: make([]int32, 16), shift: 64 - 4}
}

// home is key k's first probe position.
func (x *slotIndex) home(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> x.shift }

// get returns the slot of key k.
func (x *slotIndex) get(k uint64) (int32, bool) {
	mask := uint64(len(x.vals) - 1)
	for i := x.home(k); ; i = (i + 1) & mask {
		v := x.vals[i]
		if v == 0 {
			return -1, false
		}
		if x.keys[i] == k {
			return v - 1, true
		}
	}
}

// set maps key k to slot r.
func (x *slotIndex) set(k uint64, r int32) {
	mask := uint64(len(x.vals) - 1)
	for i := x.home(k); ; i = (i + 1) & mask {
		v := x.vals[i]
		if v == 0 {
			x.keys[i], x.vals[i] = k, r+1
			x.n++
			if 2*x.n > len(x.vals) {
				x.grow()
			}
			return
		}
		if x.keys[i] == k {
			x.vals[i] = r + 1
			return
		}
	}
}

// del removes key k, if present.
func (x *slotIndex) del(k uint64) {
	mask := uint64(len(x.vals) - 1)
	i := x.home(k)
	for ; ; i = (i + 1) & mask {
		if x.vals[i] == 0 {
			return
		}
		if x.keys[i] == k {
			break
		}
	}
	x.n--
	// Backward shift: move later entries of the run into the hole
	// when their home does not lie cyclically in (hole, their place].
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		if x.vals[j] == 0 {
			break
		}
		h := x.home(x.keys[j])
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			x.keys[i], x.vals[i] = x.keys[j], x.vals[j]
			i = j
		}
	}
	x.keys[i], x.vals[i] = 0, 0
}

func (x *slotIndex) grow() {
	oldK, oldV := x.keys, x.vals
	x.keys, x.vals = make([]uint64, 2*len(oldK)), make([]int32, 2*len(oldV))
	x.shift--
	mask := uint64(len(x.vals) - 1)
	for i, v := range oldV {
		if v == 0 {
			continue
		}
		k := oldK[i]
		j := x.home(k)
		for x.vals[j] != 0 {
			j = (j + 1) & mask
		}
		x.keys[j], x.vals[j] = k, v
	}
}
