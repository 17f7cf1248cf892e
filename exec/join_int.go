package exec

import (
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
)

// joinIntTable is the build side of a hash join on one integer-like key
// (integers, dates, timestamps: what intLike accepts). It is an
// open-addressing table sized once for the build rows, whose slot holds
// the key, its first build row and how many build rows share the key, so
// probing a key with one build row — a primary key, the usual case —
// reads one slot and nothing else; the rows of a repeated key chain
// through next in ascending order. The general table (GroupTable, then a
// group → first row array, then the chain) costs three or four cache
// misses per probe row once the build side outgrows the cache. Lookups
// never write, so probes on several goroutines may share it.
type joinIntTable struct {
	slots []intJoinSlot
	shift uint
	next  []int32 // per build row: the next row of its key
}

type intJoinSlot struct {
	key  uint64
	row1 int32 // first build row + 1; 0 = empty slot
	n    int32 // build rows with this key
}

// joinIntKey reports whether a join on keys of these types uses
// joinIntTable.
func joinIntKey(types []arrow.DataType) bool {
	return len(types) == 1 && intLike(types[0])
}

// newJoinIntTable indexes the rows of the build key column; NULL keys
// are left out (they never match).
func newJoinIntTable(col arrow.Array) *joinIntTable {
	n := col.Len()
	size := 16
	for size < 2*n {
		size <<= 1
	}
	t := &joinIntTable{slots: make([]intJoinSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size))), next: make([]int32, n)}
	vals := intValues(col, nil)
	nulls := col.NullN() > 0
	mask := uint64(size - 1)
	// Backwards, so each key's chain runs in ascending row order.
	for r := n - 1; r >= 0; r-- {
		t.next[r] = -1
		if nulls && col.IsNull(r) {
			continue
		}
		k := vals[r]
		j := (k * 0x9E3779B97F4A7C15) >> t.shift
		for {
			s := &t.slots[j]
			if s.row1 == 0 {
				*s = intJoinSlot{key: k, row1: int32(r) + 1, n: 1}
				break
			}
			if s.key == k {
				t.next[r] = s.row1 - 1
				s.row1, s.n = int32(r)+1, s.n+1
				break
			}
			j = (j + 1) & mask
		}
	}
	return t
}

// find returns the slot of key k, nil when no build row has it.
func (t *joinIntTable) find(k uint64) *intJoinSlot {
	mask := uint64(len(t.slots) - 1)
	j := (k * 0x9E3779B97F4A7C15) >> t.shift
	for {
		s := &t.slots[j]
		if s.row1 == 0 {
			return nil
		}
		if s.key == k {
			return s
		}
		j = (j + 1) & mask
	}
}

// bytes is the table's heap.
func (t *joinIntTable) bytes() int64 { return 16*int64(len(t.slots)) + 4*int64(len(t.next)) }
