// Package bufpool is an Arrow allocator that recycles buffers by
// power-of-two size class. A streaming or batch query allocates the same
// buffer sizes batch after batch; recycling them avoids the runtime zeroing
// and collecting fresh multi-megabyte buffers (measured: about 20% of CPU on
// CSV and Parquet scans, see cmd/sluicebench -alloc). It is the default of
// sluice.Open and the binary. A buffer used after its Release is overwritten
// by the next batch here, where the Go allocator would hide the bug; the
// golden tests therefore run on it.
package bufpool

import (
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Allocator recycles Arrow buffers by power-of-two size class. It is safe
// for concurrent use.
type Allocator struct {
	pools [48]sync.Pool
}

// New returns an empty pool.
func New() *Allocator { return &Allocator{} }

// class is the size class holding size bytes: the smallest power of two
// >= size, at least 64.
func class(size int) int {
	if size <= 64 {
		return 6
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a zeroed buffer of size bytes, recycled when possible.
func (p *Allocator) Allocate(size int) []byte {
	c := class(size)
	if v := p.pools[c].Get(); v != nil {
		b := (*(v.(*[]byte)))[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<c)
}

// Reallocate grows b in place when its class has room, else moves it.
func (p *Allocator) Reallocate(size int, b []byte) []byte {
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
func (p *Allocator) Free(b []byte) {
	c := cap(b)
	if c < 64 || c&(c-1) != 0 {
		return
	}
	b = b[:c]
	p.pools[class(c)].Put(&b)
}

var _ memory.Allocator = (*Allocator)(nil)
