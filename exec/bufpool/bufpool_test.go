package bufpool

import "testing"

func TestAllocatorClasses(t *testing.T) {
	p := New()
	for _, size := range []int{1, 64, 65, 1000, 1 << 16, 1<<16 + 1} {
		b := p.Allocate(size)
		if len(b) != size || cap(b)&(cap(b)-1) != 0 || cap(b) < size {
			t.Fatalf("Allocate(%d): len %d cap %d", size, len(b), cap(b))
		}
		b[size-1] = 7
		p.Free(b)
		c := p.Allocate(size)
		if c[size-1] != 0 {
			t.Errorf("Allocate(%d) after Free is not zeroed", size)
		}
		c = p.Reallocate(2*size+10, c)
		if len(c) != 2*size+10 || c[len(c)-1] != 0 {
			t.Errorf("Reallocate(%d): len %d", 2*size+10, len(c))
		}
	}
}
