package main

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// poolAllocator recycles Arrow buffers by power-of-two size class, so a
// steady stream of same-sized batches stops allocating (and zeroing, and
// collecting) fresh buffers. It backs the -alloc=pool experiment that asks
// whether sluice.Open's default allocator should pool.
type poolAllocator struct {
	pools [48]sync.Pool
}

func newPoolAllocator() *poolAllocator { return &poolAllocator{} }

// class is the size class holding size bytes: the smallest power of two
// >= size, at least 64.
func class(size int) int {
	if size <= 64 {
		return 6
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a zeroed buffer of size bytes, recycled when possible.
func (p *poolAllocator) Allocate(size int) []byte {
	c := class(size)
	if v := p.pools[c].Get(); v != nil {
		b := (*(v.(*[]byte)))[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<c)
}

// Reallocate grows b in place when its class has room, else moves it.
func (p *poolAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// Free returns b to its class; buffers not made here are left to the GC.
func (p *poolAllocator) Free(b []byte) {
	c := cap(b)
	if c < 64 || c&(c-1) != 0 {
		return
	}
	b = b[:c]
	p.pools[class(c)].Put(&b)
}

var _ memory.Allocator = (*poolAllocator)(nil)
