package stream

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// aggCol is one aggregate's state for every group slot. COUNT, COUNT(*),
// SUM and AVG keep their three numbers in dense columns so the per-batch
// loops touch one slice each; MIN, MAX and COUNT DISTINCT keep a whole acc
// per slot (multiset, current extreme).
type aggCol struct {
	simple bool
	n, i   []int64
	f      []float64
	gen    []acc
}

func newAggCol(f *aggFn) aggCol {
	switch f.fn {
	case AggCount, AggCountStar, AggSum, AggAvg:
		// DECIMAL sums (128 bits) and DISTINCT (a multiset) need a
		// whole acc.
		return aggCol{simple: !f.decimal && !f.distinct}
	}
	return aggCol{}
}

// grow makes room for n slots; new slots are zero (an empty accumulator).
func (c *aggCol) grow(n int) {
	if c.simple {
		if d := n - len(c.n); d > 0 {
			c.n = append(c.n, make([]int64, d)...)
			c.i = append(c.i, make([]int64, d)...)
			c.f = append(c.f, make([]float64, d)...)
		}
		return
	}
	if d := n - len(c.gen); d > 0 {
		c.gen = append(c.gen, make([]acc, d)...)
	}
}

// load returns slot s as an acc (the checkpointed and result form).
func (c *aggCol) load(s uint32) acc {
	if c.simple {
		return acc{N: c.n[s], I: c.i[s], F: c.f[s]}
	}
	return c.gen[s]
}

// store sets slot s from an acc.
func (c *aggCol) store(s uint32, a acc) {
	if c.simple {
		c.n[s], c.i[s], c.f[s] = a.N, a.I, a.F
		return
	}
	c.gen[s] = a
}

// result is the SQL value of slot s.
func (c *aggCol) result(f *aggFn, s uint32) Value {
	if c.simple {
		a := acc{N: c.n[s], I: c.i[s], F: c.f[s]}
		return f.result(&a)
	}
	return f.result(&c.gen[s])
}

// fold adds the rows of one batch: row r goes to slots[r] with sign
// signs[r] (+1 for every row when signs is nil). Slot 0 is the trash slot
// of rows that must not count (retractions of absent groups): the simple
// loops add into it unconditionally and the caller zeroes it after the
// batch; the general loop skips it. Each slot sees its rows in row order,
// so results are bit-identical to folding row by row.
func (c *aggCol) fold(f *aggFn, arr arrow.Array, rd func(int) Value, slots []uint32, signs []int64) {
	if !c.simple {
		for r, s := range slots {
			if s == 0 {
				continue
			}
			sg := int64(1)
			if signs != nil {
				sg = signs[r]
			}
			f.add(&c.gen[s], rd(r), sg)
		}
		return
	}
	n := c.n
	if f.fn == AggCountStar || (f.fn == AggCount && arr.NullN() == 0) {
		if signs == nil {
			for _, s := range slots {
				n[s]++
			}
			return
		}
		for r, s := range slots {
			n[s] += signs[r]
		}
		return
	}
	if f.fn == AggCount {
		for r, s := range slots {
			if arr.IsValid(r) {
				n[s] += sign(signs, r)
			}
		}
		return
	}
	// SUM and AVG.
	nulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.Int64:
		vals, sum := a.Int64Values(), c.i
		for r, s := range slots {
			if nulls && a.IsNull(r) {
				continue
			}
			sg := sign(signs, r)
			n[s] += sg
			if s == 0 {
				sum[s] += sg * vals[r] // trash slot: may wrap, never read
				continue
			}
			f.addInt(&sum[s], vals[r], sg)
		}
	case *array.Float64:
		vals, sum := a.Float64Values(), c.f
		for r, s := range slots {
			if nulls && a.IsNull(r) {
				continue
			}
			sg := sign(signs, r)
			n[s] += sg
			sum[s] += float64(sg) * vals[r]
		}
	default:
		for r, s := range slots {
			v := rd(r)
			if v.K == KNull {
				continue
			}
			sg := sign(signs, r)
			n[s] += sg
			if v.K == KFloat {
				c.f[s] += float64(sg) * v.F
				continue
			}
			if s == 0 {
				c.i[s] += sg * v.I // trash slot: may wrap, never read
				continue
			}
			f.addInt(&c.i[s], v.I, sg)
		}
	}
}

func sign(signs []int64, r int) int64 {
	if signs == nil {
		return 1
	}
	return signs[r]
}

// groupSlots is GroupAggregate's per-group state indexed by slot = group
// id + 1 (slot 0 is the trash slot, see aggCol.fold). Group ids come from
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
	cols  []aggCol
	nlive int
}

func newGroupSlots(nk int, aggs []aggFn) groupSlots {
	st := groupSlots{nk: nk, cols: make([]aggCol, len(aggs))}
	for j := range aggs {
		st.cols[j] = newAggCol(&aggs[j])
	}
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
	for j := range st.cols {
		st.cols[j].grow(n)
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
	for j := range st.cols {
		st.cols[j].store(s, acc{})
	}
}

// clearTrash zeroes slot 0 after a batch folded ignored rows into it.
func (st *groupSlots) clearTrash() {
	st.rows[0] = 0
	for j := range st.cols {
		st.cols[j].store(0, acc{})
	}
}

// keyBytes is the length of appendKey's encoding of v, for StateStats.
func keyBytes(v Value) int64 {
	switch v.K {
	case KInt, KBool, KFloat:
		return 9
	case KString:
		return 5 + int64(len(v.S))
	case KDecimal:
		return 17
	}
	return 1
}
