package stream

import (
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// slab is a growable array kept in chunks of slabChunk entries, for a
// join store's per-slot state: growing it never moves what it holds. A
// flat slice doubled as the store grew to a million rows, and copying
// its entries into fresh memory (touched twice over) was a quarter of
// q4's and a third of q7's CPU. The first chunk starts small and doubles
// up to slabChunk, so that a small store (a lookup table of a hundred
// rows, a test's few) stays small.
type slab[T any] struct {
	chunks [][]T
}

const (
	slabShift = 12
	slabChunk = 1 << slabShift
	slabMask  = slabChunk - 1
)

// at is entry r (r < the length extend made room for).
func (s *slab[T]) at(r int32) *T {
	return &s.chunks[uint32(r)>>slabShift][uint32(r)&slabMask]
}

// extend makes entry r addressable (new entries are zero values).
func (s *slab[T]) extend(r int32) {
	c := int(uint32(r) >> slabShift)
	if len(s.chunks) == 0 {
		s.chunks = [][]T{make([]T, 16)}
	}
	if first := s.chunks[0]; len(first) < slabChunk && (c > 0 || int(r) >= len(first)) {
		n := len(first)
		for n <= int(r) && n < slabChunk {
			n *= 2
		}
		grown := make([]T, n)
		copy(grown, first)
		s.chunks[0] = grown
	}
	for len(s.chunks) <= c {
		s.chunks = append(s.chunks, make([]T, slabChunk))
	}
}

// strArena holds a join column's strings in blocks that are only
// appended to and never moved, so that a string read from it (valueView,
// str) stays valid after later writes, and growing it copies nothing: a
// doubled flat arena copied every held string again at each doubling
// (q7 holds each bid's 100-byte extra).
//
// A block is either the arena's own or an input batch's string data,
// adopted whole (its Arrow buffer retained, released when the block is
// dropped): a batch whose rows the store keeps is then held without
// copying a byte (copying each bid's strings into the arena was 12% of
// Nexmark q7). joinStore.endBatch copies the kept strings out of a batch
// that kept less than half of its bytes, so an adopted block never holds
// mostly garbage from the start.
//
// A block whose strings are all released is dropped (sweep), so that a
// store whose rows leave roughly in the order they came (an interval
// join's, freed by the watermarks) gives its memory back without the
// compaction copying every held string. A dropped block's index is
// reused, so that the block list does not grow with the batches seen.
type strArena struct {
	blocks [][]byte
	ext    []*memory.Buffer // per block: the adopted Arrow buffer, nil for own blocks
	used   int64            // bytes of the blocks not dropped
	live   []int64          // per block, bytes of strings not released
	cur    int32            // 1 + the own block being appended to (0: none)
	spare  []int32          // indices of dropped blocks
	// emptied are blocks whose last string was released since the last
	// sweep (dropped then: an output being built may still read them).
	emptied []int32
}

// arenaBlock is the largest own block (the first is 4 KiB, each next one
// twice the last); a longer string gets a block of its own.
const arenaBlock = 1 << 20

// newBlock adds block b (adopted from buf, or the arena's own when buf
// is nil) and returns its index.
func (a *strArena) newBlock(b []byte, buf *memory.Buffer) int32 {
	if k := len(a.spare); k > 0 {
		i := a.spare[k-1]
		a.spare = a.spare[:k-1]
		a.blocks[i], a.ext[i], a.live[i] = b, buf, 0
		return i
	}
	a.blocks = append(a.blocks, b)
	a.ext = append(a.ext, buf)
	a.live = append(a.live, 0)
	return int32(len(a.blocks) - 1)
}

// add appends str and returns its reference: block << 32 | offset.
func (a *strArena) add(str string) int64 {
	k := a.cur - 1
	if k < 0 || len(a.blocks[k])+len(str) > cap(a.blocks[k]) {
		n := 4096
		if k >= 0 {
			n = min(2*cap(a.blocks[k]), arenaBlock)
		}
		k = a.newBlock(make([]byte, 0, max(n, len(str))), nil)
		a.cur = k + 1
	}
	b := a.blocks[k]
	ref := int64(k)<<32 | int64(len(b))
	a.blocks[k] = append(b, str...)
	a.used += int64(len(str))
	a.live[k] += int64(len(str))
	return ref
}

// adopt makes buf's bytes a block (retaining buf) and returns its index;
// hold then references strings in it.
func (a *strArena) adopt(buf *memory.Buffer) int32 {
	buf.Retain()
	a.used += int64(buf.Len())
	return a.newBlock(buf.Bytes(), buf)
}

// hold references the l bytes at off in block k (adopted) and returns
// the reference.
func (a *strArena) hold(k int32, off, l int) int64 {
	a.live[k] += int64(l)
	return int64(k)<<32 | int64(off)
}

// release notes that the string of length l at ref is no longer held.
func (a *strArena) release(ref int64, l uint32) {
	if l == 0 {
		return
	}
	k := int32(ref >> 32)
	a.live[k] -= int64(l)
	if a.live[k] == 0 {
		a.emptied = append(a.emptied, k)
	}
}

// sweep drops the blocks emptied since the last call, except the one
// being appended to, and returns the bytes they held.
func (a *strArena) sweep() int64 {
	var freed int64
	for _, k := range a.emptied {
		if k == a.cur-1 || a.live[k] != 0 || a.blocks[k] == nil {
			continue
		}
		n := int64(len(a.blocks[k]))
		if a.ext[k] != nil {
			a.ext[k].Release()
			a.ext[k] = nil
		}
		a.blocks[k] = nil
		a.spare = append(a.spare, k)
		a.used -= n
		freed += n
	}
	a.emptied = a.emptied[:0]
	return freed
}

// free releases the adopted buffers: the arena is dropped. Strings read
// from it before stay readable as long as the allocator's memory is Go
// memory (as the own blocks stay alive while referenced).
func (a *strArena) free() {
	for k, b := range a.ext {
		if b != nil {
			b.Release()
			a.ext[k] = nil
		}
	}
}

// get is the string of length l at ref, aliasing the block.
func (a *strArena) get(ref int64, l uint32) string {
	if l == 0 {
		return ""
	}
	return unsafe.String(&a.blocks[ref>>32][ref&(1<<32-1)], int(l))
}
