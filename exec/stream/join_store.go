package stream

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// joinStore is the rows one input of a Join holds, in columns: row r
// ("slot" r) is entry r of every column's slices and of the counters
// beside them. It replaced a Go struct and a []Value per row: the
// columns hold no pointers (strings live in one arena per column), so
// the garbage collector does not scan a million held rows, and a batch
// is written in one pass over its arrays instead of a Value per cell.
//
// Slots are reused: a dropped row's slot goes to freed, and only to free
// (reusable) at recycle, once the output that may still read it is
// built (Join.flush). An arriving row is written to a slot before it is
// known whether it is kept (tentative), so that matching, output and
// storage read it from one place; a row not kept (a duplicate merged
// into a held one, a lookup join's stream row, a NULL key that never
// matches) gives its slot back the same way.
type joinStore struct {
	cols []storeCol
	seed maphash.Seed

	meta  slab[slotMeta] // per slot
	slots int32          // slots ever made (free ones included)

	free, freed []int32

	// Buckets: the rows of one join key, in arrival order. A key that is
	// one integer (the usual join key) is found by an int64 map, others
	// by their appendKey encoding.
	byInt slotIndex // bucket index by the integer key
	byStr map[string]int32
	// byHash finds a held row equal to an arriving one in a bucket of
	// more than hashFrom rows: the first slot of each row hash, the
	// others chained through sameHash. Equal rows have equal keys, so
	// one index for the store does: scanning a bucket for the row cost
	// more than the join itself once keys held many rows (an auction in
	// q4). A smaller bucket is scanned instead: indexing every row of a
	// key that holds one or two (a price in q7, an auction's id) cost a
	// fifth of the join in growing and probing a million-entry index.
	byHash slotIndex
	// buckets are in a slab, never moved: a slice of a million buckets
	// (~100 bytes each, a string among them) copied them all, with a
	// write barrier each, at every doubling (7% of Nexmark q7).
	buckets     slab[storeBucket]
	nbuckets    int32 // buckets ever made (free ones included)
	freeBuckets []int32

	rows  int   // live rows
	bytes int64 // what the live rows cost in Stats
}

// slotMeta is one slot's counters and links, kept together: a probe
// reads a partner's n, matches and next at once.
type slotMeta struct {
	n, matches, exp int64
	h               uint64 // hashSlot
	seq             uint64 // the expiry-queue seq of the row (0: none)
	seen            int64  // processing time of the last use, UnixNano ('state.ttl')
	snapN, snapM    int64  // n and matches as the last snapshot held them
	bucket          int32
	sameHash        int32 // next held slot with the same hash (byHash), or -1
	next, prev      int32 // the bucket's rows in arrival order, a list through the slots (-1 ends)
	live            bool  // held in a bucket
	snapped         bool  // the last snapshot held it, with snapN and snapM
}

// m is slot r's counters and links.
func (s *joinStore) m(r int32) *slotMeta { return s.meta.at(r) }

// bucket is bucket b (a free one has n 0).
func (s *joinStore) bucket(b int32) *storeBucket { return s.buckets.at(b) }

// storeBucket is the slots of one join key in arrival order.
type storeBucket struct {
	key        string // appendKey encoding ("" for an int key)
	ikey       int64
	isInt      bool
	head, tail int32 // first and last slot (-1: a free bucket)
	n          int32
	hashed     bool // its rows are in byHash (it held more than hashFrom)
	// rows and fps are the slots of an unhashed bucket, in no order,
	// with the low 32 bits of each one's hash: find compares these
	// within the bucket instead of chasing the list through every
	// row's slotMeta (a cache miss a row, most of q7's find).
	rows [hashFrom]int32
	fps  [hashFrom]uint32
}

// hashFrom is the most rows a bucket holds before its rows are indexed
// by hash (byHash) rather than found by scanning it.
const hashFrom = 8

// rowsOf lists bucket b's slots in arrival order (a copy: for the
// paths that are not per row).
func (s *joinStore) rowsOf(b int32) []int32 {
	var out []int32
	for r := s.bucket(b).head; r >= 0; r = s.m(r).next {
		out = append(out, r)
	}
	return out
}

// storeCol is one value column: a kind per slot (KNull for NULL), the
// 64-bit payload (an integer, a float's bits, a decimal's low word), a
// decimal's high word, and strings (and lists' encodings) as references
// into an arena that is only appended to, so that a Value read with
// valueView stays valid after later writes.
type storeCol struct {
	kind    slab[Kind]
	num     slab[int64]
	hi      slab[int64]  // DECIMAL columns only
	off     slab[int64]  // string columns only: strArena references
	ln      slab[uint32] // string columns only
	arena   strArena
	hasHi   bool
	hasStr  bool
	garbage int64 // arena bytes not held by a slot
	// batch is 1 + the arena block adopted from the string array being
	// written (0: none yet), and batchSlots the slots whose strings
	// reference it (endBatch).
	batch      int32
	batchSlots []int32
}

// newJoinStore is the store of an input with the given value fields.
func newJoinStore(fields []arrow.Field, seed maphash.Seed) (*joinStore, error) {
	s := &joinStore{seed: seed, byInt: newSlotIndex(), byStr: map[string]int32{}, byHash: newSlotIndex()}
	for _, f := range fields {
		var c storeCol
		switch storeKind(f.Type) {
		case KDecimal:
			c.hasHi = true
		case KString, KList:
			c.hasStr = true
		case KNull, KInt, KFloat, KBool:
		default:
			return nil, fmt.Errorf("stream: a join cannot hold column %q of type %s", f.Name, f.Type)
		}
		s.cols = append(s.cols, c)
	}
	return s, nil
}

// storeKind is the Kind of the non-NULL Values of a column of type t, or
// 255 when Values do not represent it.
func storeKind(t arrow.DataType) Kind {
	switch t.ID() {
	case arrow.NULL:
		return KNull
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return KInt
	case arrow.FLOAT32, arrow.FLOAT64:
		return KFloat
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return KString
	case arrow.BOOL:
		return KBool
	case arrow.DECIMAL128:
		return KDecimal
	case arrow.LIST:
		return KList
	}
	return 255
}

// newSlot returns an empty slot (reused or appended).
func (s *joinStore) newSlot() int32 {
	if k := len(s.free); k > 0 {
		r := s.free[k-1]
		s.free = s.free[:k-1]
		return r
	}
	r := s.slots
	s.slots++
	if r&slabMask == 0 || r < slabChunk {
		s.meta.extend(r)
		for c := range s.cols {
			col := &s.cols[c]
			col.kind.extend(r)
			col.num.extend(r)
			if col.hasHi {
				col.hi.extend(r)
			}
			if col.hasStr {
				col.off.extend(r)
				col.ln.extend(r)
			}
		}
	}
	*s.m(r) = slotMeta{bucket: -1, sameHash: -1, next: -1, prev: -1}
	for c := range s.cols {
		*s.cols[c].kind.at(r) = KNull
	}
	return r
}

// setValue writes v as column c of slot r.
func (s *joinStore) setValue(r int32, c int, v Value) error {
	col := &s.cols[c]
	*col.kind.at(r), *col.num.at(r) = v.K, 0
	if col.hasStr {
		*col.ln.at(r) = 0
	}
	switch v.K {
	case KNull:
	case KInt, KBool:
		*col.num.at(r) = v.I
	case KFloat:
		*col.num.at(r) = int64(math.Float64bits(v.F))
	case KDecimal:
		if !col.hasHi {
			return fmt.Errorf("stream: a DECIMAL value in join column %d", c+1)
		}
		*col.num.at(r), *col.hi.at(r) = v.I, v.H
	case KString, KList:
		if !col.hasStr {
			return fmt.Errorf("stream: a string value in join column %d", c+1)
		}
		col.setString(r, v.S)
	default:
		return fmt.Errorf("stream: a value of kind %d in join column %d", v.K, c+1)
	}
	return nil
}

func (col *storeCol) setString(r int32, str string) {
	*col.ln.at(r) = uint32(len(str))
	if len(str) > 0 {
		*col.off.at(r) = col.arena.add(str)
	}
}

// str is slot r's string in column col, aliasing the arena (valid for
// as long as the string is referenced: the arena is never overwritten).
func (col *storeCol) str(r int32) string {
	return col.arena.get(*col.off.at(r), *col.ln.at(r))
}

// value is column c of slot r as a Value; its string aliases the arena.
func (s *joinStore) value(r int32, c int) Value { return s.cols[c].value(r) }

// value is slot r's Value; its string aliases the arena.
func (col *storeCol) value(r int32) Value {
	switch k := *col.kind.at(r); k {
	case KNull:
		return Value{}
	case KInt, KBool:
		return Value{K: k, I: *col.num.at(r)}
	case KFloat:
		return Value{K: KFloat, F: math.Float64frombits(uint64(*col.num.at(r)))}
	case KDecimal:
		return Value{K: KDecimal, I: *col.num.at(r), H: *col.hi.at(r)}
	default:
		return Value{K: k, S: col.str(r)}
	}
}

// values is slot r's row as Values (strings alias the arena).
func (s *joinStore) values(r int32) []Value {
	out := make([]Value, len(s.cols))
	for c := range out {
		out[c] = s.value(r, c)
	}
	return out
}

// ownValues is values with strings copied: for rows kept past the next
// arena compaction (a window join's pending rows).
func (s *joinStore) ownValues(r int32) []Value {
	out := s.values(r)
	for c, v := range out {
		if v.S != "" {
			out[c].S = string([]byte(v.S))
		}
	}
	return out
}

// hashSlot hashes slot r's values (equal rows, equal hashes: -0 and 0
// hash alike, as appendKey encodes them).
func (s *joinStore) hashSlot(r int32) uint64 {
	h := uint64(0x9E3779B97F4A7C15)
	for c := range s.cols {
		col := &s.cols[c]
		k := *col.kind.at(r)
		var x uint64
		switch k {
		case KNull:
		case KInt, KBool:
			x = uint64(*col.num.at(r))
		case KFloat:
			f := math.Float64frombits(uint64(*col.num.at(r)))
			if f == 0 {
				f = 0
			}
			x = math.Float64bits(f)
		case KDecimal:
			x = uint64(*col.num.at(r)) ^ mixStore(uint64(*col.hi.at(r)))
		default:
			x = maphash.String(s.seed, col.str(r))
		}
		h = mixStore(h ^ mixStore(x^uint64(k)<<56))
	}
	return h
}

// mixStore is a 64-bit finalizer (MurmurHash3's fmix64).
func mixStore(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// sameRow reports whether slots a and b hold equal rows (as their
// appendKey encodings compare: -0 equals 0, NaN its own bits).
func (s *joinStore) sameRow(a, b int32) bool {
	for c := range s.cols {
		col := &s.cols[c]
		k := *col.kind.at(a)
		if k != *col.kind.at(b) {
			return false
		}
		switch k {
		case KNull:
		case KInt, KBool:
			if *col.num.at(a) != *col.num.at(b) {
				return false
			}
		case KFloat:
			fa, fb := math.Float64frombits(uint64(*col.num.at(a))), math.Float64frombits(uint64(*col.num.at(b)))
			if fa != fb && *col.num.at(a) != *col.num.at(b) {
				return false
			}
		case KDecimal:
			if *col.num.at(a) != *col.num.at(b) || *col.hi.at(a) != *col.hi.at(b) {
				return false
			}
		default:
			if col.str(a) != col.str(b) {
				return false
			}
		}
	}
	return true
}

// slotBytes is what a held row costs in Stats: its columns, counters
// and strings, and its key's share.
func (s *joinStore) slotBytes(r int32) int64 {
	n := int64(88 + 17*len(s.cols))
	for c := range s.cols {
		if col := &s.cols[c]; col.hasStr {
			n += int64(*col.ln.at(r))
		}
	}
	return n
}

// intKey reports a join key that is one integer (appendKey of a KInt).
func intKey(key []byte) (int64, bool) {
	if len(key) == 9 && Kind(key[0]) == KInt {
		return int64(binary.LittleEndian.Uint64(key[1:])), true
	}
	return 0, false
}

// findBucket is the bucket of key, or -1.
func (s *joinStore) findBucket(key []byte) int32 {
	if k, ok := intKey(key); ok {
		b, _ := s.byInt.get(uint64(k))
		return b
	}
	if b, ok := s.byStr[string(key)]; ok {
		return b
	}
	return -1
}

// bucketFor is the bucket of key, added when missing.
func (s *joinStore) bucketFor(key []byte) int32 {
	if b := s.findBucket(key); b >= 0 {
		return b
	}
	var b int32
	if k := len(s.freeBuckets); k > 0 {
		b = s.freeBuckets[k-1]
		s.freeBuckets = s.freeBuckets[:k-1]
	} else {
		b = s.nbuckets
		s.nbuckets++
		s.buckets.extend(b)
	}
	bk := s.bucket(b)
	*bk = storeBucket{head: -1, tail: -1}
	if k, ok := intKey(key); ok {
		bk.ikey, bk.isInt = k, true
		s.byInt.set(uint64(k), b)
	} else {
		bk.key = string(key)
		s.byStr[bk.key] = b
	}
	return b
}

// keyOf is bucket b's key encoding.
func (s *joinStore) keyOf(b int32) string {
	bk := s.bucket(b)
	if bk.isInt {
		return string(appendKey(nil, Int(bk.ikey)))
	}
	return bk.key
}

// find returns the row of bucket b (-1: none) equal to slot r (hashed
// h), or -1.
func (s *joinStore) find(b, r int32, h uint64) int32 {
	if b < 0 {
		return -1
	}
	if bk := s.bucket(b); !bk.hashed {
		fp := uint32(h)
		for i := range bk.n {
			if o := bk.rows[i]; bk.fps[i] == fp && s.m(o).h == h && s.sameRow(o, r) {
				return o
			}
		}
		return -1
	}
	o, _ := s.byHash.get(h)
	for o >= 0 {
		if s.sameRow(o, r) {
			return o
		}
		o = s.m(o).sameHash
	}
	return -1
}

// add appends slot r (hash set) to bucket b.
func (s *joinStore) add(b int32, r int32) {
	bk, mr := s.bucket(b), s.m(r)
	mr.prev, mr.next = bk.tail, -1
	if bk.tail >= 0 {
		s.m(bk.tail).next = r
	} else {
		bk.head = r
	}
	bk.tail = r
	bk.n++
	mr.bucket, mr.live = b, true
	s.rows++
	s.bytes += s.slotBytes(r)
	switch {
	case bk.hashed:
		s.index(r)
	case bk.n <= hashFrom:
		bk.rows[bk.n-1], bk.fps[bk.n-1] = r, uint32(mr.h)
	default:
		bk.hashed = true
		for o := bk.head; o >= 0; o = s.m(o).next {
			s.index(o)
		}
	}
}

// index adds held slot r to byHash.
func (s *joinStore) index(r int32) {
	mr := s.m(r)
	mr.sameHash, _ = s.byHash.get(mr.h)
	s.byHash.set(mr.h, r)
}

// remove takes held slot r out of its bucket (freeing an emptied
// bucket) and gives the slot back; it reports whether r was held.
func (s *joinStore) remove(r int32) bool {
	mr := s.m(r)
	if !mr.live {
		return false
	}
	b := mr.bucket
	bk := s.bucket(b)
	if p := mr.prev; p >= 0 {
		s.m(p).next = mr.next
	} else {
		bk.head = mr.next
	}
	if n := mr.next; n >= 0 {
		s.m(n).prev = mr.prev
	} else {
		bk.tail = mr.prev
	}
	mr.prev, mr.next = -1, -1
	bk.n--
	if !bk.hashed {
		for i := range bk.n + 1 {
			if bk.rows[i] == r {
				bk.rows[i], bk.fps[i] = bk.rows[bk.n], bk.fps[bk.n]
				break
			}
		}
	}
	if bk.hashed {
		h := mr.h
		if first, _ := s.byHash.get(h); first == r {
			if next := mr.sameHash; next < 0 {
				s.byHash.del(h)
			} else {
				s.byHash.set(h, next)
			}
		} else {
			for o := first; o >= 0; o = s.m(o).sameHash {
				if mo := s.m(o); mo.sameHash == r {
					mo.sameHash = mr.sameHash
					break
				}
			}
		}
	}
	mr.sameHash = -1
	mr.live = false
	s.rows--
	s.bytes -= s.slotBytes(r)
	if bk.n == 0 {
		if bk.isInt {
			s.byInt.del(uint64(bk.ikey))
		} else {
			delete(s.byStr, bk.key)
		}
		s.freeBuckets = append(s.freeBuckets, b)
	}
	s.release(r)
	return true
}

// release gives back a slot that is not held (a tentative row not kept,
// or one just removed); it is reused after the next recycle.
func (s *joinStore) release(r int32) {
	mr := s.m(r)
	mr.live, mr.snapped, mr.seq = false, false, 0
	for c := range s.cols {
		if col := &s.cols[c]; col.hasStr {
			col.garbage += int64(*col.ln.at(r))
			col.arena.release(*col.off.at(r), *col.ln.at(r))
		}
	}
	s.freed = append(s.freed, r)
}

// recycle makes the slots released since the last call reusable (no
// output reads them any more) and compacts an arena mostly garbage.
func (s *joinStore) recycle() {
	s.free = append(s.free, s.freed...)
	s.freed = s.freed[:0]
	for c := range s.cols {
		col := &s.cols[c]
		if !col.hasStr {
			continue
		}
		// Blocks left without a held string go first; what garbage
		// stays is scattered among held strings.
		col.garbage -= col.arena.sweep()
		if col.garbage < 1<<20 || 2*col.garbage < col.arena.used {
			continue
		}
		// Strings read earlier (valueView) keep the old blocks alive;
		// the new arena holds only the held rows' strings.
		var arena strArena
		for r := int32(0); r < s.slots; r++ {
			off, ln := col.off.at(r), col.ln.at(r)
			switch {
			case !s.m(r).live:
				*off, *ln = 0, 0
			case *ln > 0:
				*off = arena.add(col.arena.get(*off, *ln))
			}
		}
		col.arena.free()
		col.arena, col.garbage = arena, 0
	}
}

// endBatch ends the writing of one batch's rows: a string column that
// adopted the batch's string data (newStoreWriter) but holds less than
// half of its bytes copies the strings it holds into its own blocks, so
// that the batch's buffer is dropped at the next recycle instead of
// being held whole for a few rows.
func (s *joinStore) endBatch() {
	for c := range s.cols {
		col := &s.cols[c]
		if col.batch == 0 {
			continue
		}
		k := col.batch - 1
		if a := &col.arena; 2*a.live[k] < int64(len(a.blocks[k])) {
			for _, r := range col.batchSlots {
				off, ln := col.off.at(r), *col.ln.at(r)
				if !s.m(r).live || ln == 0 || int32(*off>>32) != k {
					continue
				}
				old := *off
				*off = a.add(a.get(old, ln))
				a.release(old, ln)
				col.garbage += int64(ln)
			}
		}
		col.batch, col.batchSlots = 0, col.batchSlots[:0]
	}
}

// reset drops every row.
func (s *joinStore) reset() {
	for c := range s.cols {
		s.cols[c].arena.free()
	}
	fresh, _ := newJoinStoreLike(s)
	*s = *fresh
}

// newJoinStoreLike is an empty store with s's columns and seed.
func newJoinStoreLike(s *joinStore) (*joinStore, error) {
	n := &joinStore{seed: s.seed, byInt: newSlotIndex(), byStr: map[string]int32{}, byHash: newSlotIndex()}
	for _, c := range s.cols {
		n.cols = append(n.cols, storeCol{hasHi: c.hasHi, hasStr: c.hasStr})
	}
	return n, nil
}

// storeWriter writes row i of one batch column into slot r.
type storeWriter func(r int32, i int) error

// newStoreWriter returns the writer of arr into column c of s: integer,
// timestamp and string columns are copied straight from their arrays,
// others through Values.
func newStoreWriter(s *joinStore, c int, arr arrow.Array) (storeWriter, error) {
	col := &s.cols[c]
	nulls := arr.NullN() > 0
	switch a := arr.(type) {
	case *array.Int64:
		vals := a.Int64Values()
		return func(r int32, i int) error {
			if nulls && a.IsNull(i) {
				*col.kind.at(r), *col.num.at(r) = KNull, 0
				return nil
			}
			*col.kind.at(r), *col.num.at(r) = KInt, vals[i]
			return nil
		}, nil
	case *array.Timestamp:
		vals := a.TimestampValues()
		return func(r int32, i int) error {
			if nulls && a.IsNull(i) {
				*col.kind.at(r), *col.num.at(r) = KNull, 0
				return nil
			}
			*col.kind.at(r), *col.num.at(r) = KInt, int64(vals[i])
			return nil
		}, nil
	case *array.String:
		if !col.hasStr {
			break
		}
		// The strings are held in the array's own data buffer, adopted
		// by the arena at the first one written (see strArena), or
		// copied when the array has no such buffer.
		data, offs := a.Data().Buffers()[2], a.ValueOffsets()
		return func(r int32, i int) error {
			if nulls && a.IsNull(i) {
				*col.kind.at(r), *col.ln.at(r) = KNull, 0
				return nil
			}
			*col.kind.at(r) = KString
			beg, end := offs[i], offs[i+1]
			if beg == end || data == nil {
				col.setString(r, a.Value(i))
				return nil
			}
			if col.batch == 0 {
				col.batch = col.arena.adopt(data) + 1
				col.garbage += int64(data.Len())
			}
			*col.ln.at(r) = uint32(end - beg)
			*col.off.at(r) = col.arena.hold(col.batch-1, int(beg), int(end-beg))
			col.garbage -= int64(end - beg)
			col.batchSlots = append(col.batchSlots, r)
			return nil
		}, nil
	}
	read, err := viewReader(arr)
	if err != nil {
		return nil, err
	}
	return func(r int32, i int) error { return s.setValue(r, c, read(i)) }, nil
}

// newSlotAppender returns the function appending a slot's value of
// column col to b (a builder of the column's type).
func newSlotAppender(b array.Builder, col *storeCol) func(r int32) error {
	switch b := b.(type) {
	case *array.Int64Builder:
		return func(r int32) error {
			if *col.kind.at(r) == KNull {
				b.AppendNull()
			} else {
				b.Append(*col.num.at(r))
			}
			return nil
		}
	case *array.TimestampBuilder:
		return func(r int32) error {
			if *col.kind.at(r) == KNull {
				b.AppendNull()
			} else {
				b.Append(arrow.Timestamp(*col.num.at(r)))
			}
			return nil
		}
	case *array.StringBuilder:
		if col.hasStr {
			return func(r int32) error {
				if *col.kind.at(r) == KNull {
					b.AppendNull()
				} else {
					b.Append(col.str(r))
				}
				return nil
			}
		}
	}
	return func(r int32) error { return appendValue(b, col.value(r)) }
}
