package expr

import (
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// poolAllocator recycles buffers by power-of-two size class. It exists for
// benchmarks (see benchAllocator); production picks its allocator in cmd/.
type poolAllocator struct {
	pools [40]sync.Pool
}

func newPoolAllocator() *poolAllocator { return &poolAllocator{} }

func class(size int) int {
	c := 6
	for 1<<c < size {
		c++
	}
	return c
}

func (p *poolAllocator) Allocate(size int) []byte {
	c := class(size)
	if v := p.pools[c].Get(); v != nil {
		b := *(v.(*[]byte))
		b = b[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<c)
}

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

func (p *poolAllocator) Free(b []byte) {
	if cap(b) == 0 || cap(b)&(cap(b)-1) != 0 {
		return
	}
	b = b[:cap(b)]
	p.pools[class(cap(b))].Put(&b)
}

var _ memory.Allocator = (*poolAllocator)(nil)
