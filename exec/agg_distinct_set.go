package exec

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
// in generation gen, until a second group appears (off).
type oneGroup struct {
	set valueSet
	gen uint32
	off bool
}

// insertOne feeds the values of a batch whose rows are all in group 0
// to the single-group set, marking first occurrences in w; false when
// the aggregate has more than one group, whose pairs live in s.pairs.
func (s *distinctState) insertOne(gids []uint32, vals []uint64, skip func(i int) bool, w []int8) (any, ok bool) {
	o := &s.one
	if o.off {
		return false, false
	}
	if len(s.gen) > 1 {
		// A second group: the pairs table holds every group from now on.
		o.set.each(func(v uint64) { s.pairs.insert(uint64(o.gen), v) })
		o.off, o.set = true, valueSet{}
		return false, false
	}
	if len(s.gen) == 1 && s.gen[0] != o.gen {
		o.set.reset()
		o.gen = s.gen[0]
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
