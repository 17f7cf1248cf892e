package exec

import (
	"encoding/binary"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/zeebo/xxh3"
)

// valueSet is a set of 64-bit words: open addressing with linear probing
// over the words themselves (0 marks an empty slot, so the value 0 is a
// flag of its own), grown at half load. It is DISTINCT's table while the
// aggregate has a single group (COUNT(DISTINCT x) without GROUP BY): half
// the bytes of a pairTable slot, so twice the values per cache line and
// about half the cache misses on a table of a million values.
type valueSet struct {
	slots []uint64
	shift uint
	n     int
	zero  bool
}

// insert adds v and reports whether it was new.
func (s *valueSet) insert(v uint64) bool {
	if v == 0 {
		if s.zero {
			return false
		}
		s.zero = true
		return true
	}
	if s.slots == nil {
		s.slots, s.shift = make([]uint64, 1024), 64-10
	}
	mask := uint64(len(s.slots) - 1)
	j := (v * 0x9E3779B97F4A7C15) >> s.shift
	for {
		x := s.slots[j]
		if x == 0 {
			s.slots[j] = v
			s.n++
			if s.n*2 > len(s.slots) {
				s.grow()
			}
			return true
		}
		if x == v {
			return false
		}
		j = (j + 1) & mask
	}
}

func (s *valueSet) grow() {
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	s.shift--
	mask := uint64(len(s.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		j := (v * 0x9E3779B97F4A7C15) >> s.shift
		for s.slots[j] != 0 {
			j = (j + 1) & mask
		}
		s.slots[j] = v
	}
}

// each calls f with every value in the set.
func (s *valueSet) each(f func(v uint64)) {
	if s.zero {
		f(0)
	}
	for _, v := range s.slots {
		if v != 0 {
			f(v)
		}
	}
}

// reset empties the set, keeping its slots.
func (s *valueSet) reset() {
	clear(s.slots)
	s.n, s.zero = 0, false
}

// oneGroup is distinctState's single-group table: the values of group 0
// in generation gen, until a second group appears (off): 64-bit words in
// set, strings in strs (a stringGrouper used as a set: strings of up to
// 16 bytes packed in two words, no hashing of bytes, no arena).
type oneGroup struct {
	set  valueSet
	strs *stringGrouper
	gen  uint32
	off  bool
}

// insertOne feeds the values of a batch whose rows are all in group 0
// to the single-group set, marking first occurrences in w; false when
// the aggregate has more than one group, whose pairs live in s.pairs.
func (s *distinctState) insertOne(gids []uint32, vals []uint64, skip func(i int) bool, w []int8) (any, ok bool) {
	o := &s.one
	if !s.oneGroup() {
		return false, false
	}
	for i := range gids {
		if skip(i) {
			continue
		}
		if o.set.insert(vals[i]) {
			w[i], any = 1, true
		}
	}
	return any, true
}

// oneGroup reports whether the aggregate still has a single group, whose
// values then live in s.one; at the first call with a second group it
// moves them into the tables of every group (pairs, table) for good.
func (s *distinctState) oneGroup() bool {
	o := &s.one
	if o.off {
		return false
	}
	if len(s.gen) > 1 {
		o.set.each(func(v uint64) { s.pairs.insert(uint64(o.gen), v) })
		if o.strs != nil {
			o.strs.each(func(k string) {
				b := binary.LittleEndian.AppendUint32(s.buf[:0], 0)
				b = binary.LittleEndian.AppendUint32(b, o.gen)
				b = appendBytes(b, false, k) // what newCellEncoder writes for a string
				s.buf = b
				s.bytesTable().find(xxh3.Hash(b), bytesAsString(b), true)
			})
		}
		o.off, o.set, o.strs = true, valueSet{}, nil
		return false
	}
	if len(s.gen) == 1 && s.gen[0] != o.gen {
		o.set.reset()
		if o.strs != nil {
			o.strs.reset()
		}
		o.gen = s.gen[0]
	}
	return true
}

// insertOneStrings is insertOne for a string or binary argument.
func (s *distinctState) insertOneStrings(gids []uint32, arr arrow.Array, skip func(i int) bool, w []int8) (any, ok bool) {
	if !isStringLike(arr.DataType()) || !s.oneGroup() {
		return false, false
	}
	o := &s.one
	if o.strs == nil {
		o.strs = newStringGrouper()
	}
	rows := s.rows[:0]
	for i := range gids {
		if !skip(i) {
			rows = append(rows, int32(i))
		}
	}
	s.rows = rows
	s.scratch = growSlice(s.scratch[:0], len(gids))
	g := o.strs
	g.run(arr, rows, s.scratch[:len(gids)], true)
	for _, i := range g.newRows {
		w[i], any = 1, true
	}
	return any, true
}

// isStringLike reports the types stringGrouper takes.
func isStringLike(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return true
	}
	return false
}

// each calls f with every key of the table (a view: f copies what it
// keeps), NULL left out.
func (g *stringGrouper) each(f func(k string)) {
	var buf [16]byte
	for _, sl := range g.short.slots {
		if sl.gid == 0 {
			continue
		}
		binary.LittleEndian.PutUint64(buf[:8], sl.w0)
		binary.LittleEndian.PutUint64(buf[8:], sl.w1)
		f(string(buf[:sl.l]))
	}
	if g.long != nil {
		for i := 0; i+1 < len(g.long.offs); i++ {
			f(bytesAsString(g.long.arena[g.long.offs[i]:g.long.offs[i+1]]))
		}
	}
}
