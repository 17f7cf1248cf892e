package exec

import (
	"slices"
	"strings"
)

// bag is a group's multiset of values kept in sort-key order, for the
// aggregates that need every live value of a group (PERCENTILE_*, MEDIAN,
// ARG_MIN/ARG_MAX over a retracting input): a retraction takes one copy
// out, so the result is always that of the live rows. A sorted slice
// keeps ranks cheap to walk; inserting moves the tail, which stays small
// next to the map a hash multiset would need per group.
type bag struct {
	entries []bagEntry
	n       int64 // the live copies of all entries
}

// bagEntry is one distinct value with its multiplicity.
type bagEntry struct {
	key string // the sort key (unique in the bag)
	raw string // the value, as rawCell reads it
	cnt int64
	seq uint64 // when it first arrived, to break ties in arrival order
}

// entryBytes is the heap an entry costs beyond its strings.
const entryBytes = 48

// find returns the position of key, and whether it is there.
func (b *bag) find(key string) (int, bool) {
	return slices.BinarySearchFunc(b.entries, key, func(e bagEntry, k string) int { return strings.Compare(e.key, k) })
}

// add moves key's multiplicity by w (an entry at or below 0 leaves) and
// returns the change in held bytes. key and raw may view input buffers:
// they are copied when stored.
func (b *bag) add(key, raw string, w int64, seq uint64) int64 {
	j, ok := b.find(key)
	if !ok {
		if w <= 0 {
			return 0
		}
		b.entries = slices.Insert(b.entries, j, bagEntry{key: strings.Clone(key), raw: strings.Clone(raw), cnt: w, seq: seq})
		b.n += w
		return int64(len(key)+len(raw)) + entryBytes
	}
	e := &b.entries[j]
	if w < 0 && -w > e.cnt {
		w = -e.cnt
	}
	e.cnt += w
	b.n += w
	if w > 0 && seq < e.seq {
		e.seq = seq
	}
	if e.cnt > 0 {
		return 0
	}
	freed := int64(len(e.key)+len(e.raw)) + entryBytes
	b.entries = slices.Delete(b.entries, j, j+1)
	return -freed
}

// at returns the entry holding the r-th copy (0-based) in key order.
func (b *bag) at(r int64) *bagEntry {
	for k := range b.entries {
		e := &b.entries[k]
		if r < e.cnt {
			return e
		}
		r -= e.cnt
	}
	return nil
}

// held is the bytes the bag holds.
func (b *bag) held() int64 {
	var n int64
	for _, e := range b.entries {
		n += int64(len(e.key)+len(e.raw)) + entryBytes
	}
	return n
}

// save appends the bag to dst.
func (b *bag) save(dst []byte) []byte {
	dst = appendU64(dst, uint64(len(b.entries)))
	for _, e := range b.entries {
		dst = appendU64(appendI64(appendStr(appendStr(dst, e.key), e.raw), e.cnt), e.seq)
	}
	return dst
}

// load reads what save wrote into an empty bag; it returns the held bytes
// and the largest sequence number seen.
func (b *bag) load(r *stateReader) (held int64, maxSeq uint64) {
	for k := r.count(); k > 0 && r.err == nil; k-- {
		key, raw, cnt, seq := r.str(), r.str(), r.i64(), r.u64()
		if r.err != nil {
			break
		}
		held += b.add(key, raw, cnt, seq)
		maxSeq = max(maxSeq, seq)
	}
	return held, maxSeq
}

// bagGroups is one bag per group plus what the bag-backed states
// (quantiles, ARG_MIN/ARG_MAX) keep alike: the next arrival number and
// the bytes held. It gives them Grow, Reset, Save, Load and Bytes.
type bagGroups struct {
	seq  uint64
	bags []bag
	held int64
}

func (s *bagGroups) Grow(n int) { s.bags = growSlice(s.bags, n) }

func (s *bagGroups) Reset(g uint32) {
	s.held -= s.bags[g].held()
	s.bags[g] = bag{}
}

func (s *bagGroups) Save(dst []byte, g uint32) ([]byte, error) {
	return s.bags[g].save(dst), nil
}

func (s *bagGroups) Load(g uint32, src []byte) ([]byte, error) {
	s.Reset(g)
	r := stateReader{b: src}
	held, seq := s.bags[g].load(&r)
	s.held += held
	s.seq = max(s.seq, seq+1)
	return r.done()
}

func (s *bagGroups) Bytes() int64 { return sliceBytes(s.bags, 32) + s.held }
