package stream

import "container/heap"

// expiryQueue orders one input's held rows by when they are freed (exp,
// then arrival seq), as a heap would. An input's rows usually arrive in
// the order they expire (an input in event-time order, or nearly so):
// those go to a FIFO at O(1) a row, and only a row whose exp is below
// the FIFO's last goes to a heap. pop takes the smaller of the two
// heads, so rows leave in exactly the heap's order (which decides the
// order of the null-padded rows an expiry emits) at a fraction of its
// cost: one heap over both inputs was an eighth of the soak join's CPU.
type expiryQueue struct {
	fifo []expEntry // exp nondecreasing, seq increasing, from head on
	head int
	rest expHeap
}

// expEntry is a row's place in the expiry queue.
type expEntry struct {
	exp int64
	seq uint64
	row int32 // the slot, in the input's store
}

// before reports whether a leaves the queue before b.
func (a expEntry) before(b expEntry) bool {
	if a.exp != b.exp {
		return a.exp < b.exp
	}
	return a.seq < b.seq
}

// push queues e; its seq is above every queued one.
func (q *expiryQueue) push(e expEntry) {
	if n := len(q.fifo); n == q.head || q.fifo[n-1].exp <= e.exp {
		q.fifo = append(q.fifo, e)
		return
	}
	heap.Push(&q.rest, e)
}

// fromFIFO reports whether the next entry to leave is the FIFO's.
func (q *expiryQueue) fromFIFO() bool {
	return q.head < len(q.fifo) && (len(q.rest) == 0 || q.fifo[q.head].before(q.rest[0]))
}

// peek is the next entry to leave; ok false when the queue is empty.
func (q *expiryQueue) peek() (e expEntry, ok bool) {
	switch {
	case q.fromFIFO():
		return q.fifo[q.head], true
	case len(q.rest) > 0:
		return q.rest[0], true
	}
	return expEntry{}, false
}

// pop removes the entry peek returns; the queue must not be empty.
func (q *expiryQueue) pop() expEntry {
	if !q.fromFIFO() {
		return heap.Pop(&q.rest).(expEntry)
	}
	e := q.fifo[q.head]
	q.fifo[q.head] = expEntry{} // let the row be collected
	q.head++
	switch {
	case q.head == len(q.fifo):
		q.fifo, q.head = q.fifo[:0], 0
	case q.head >= 1024 && 2*q.head >= len(q.fifo):
		// Reuse the front: move the queued entries down.
		n := copy(q.fifo, q.fifo[q.head:])
		clear(q.fifo[n:])
		q.fifo, q.head = q.fifo[:n], 0
	}
	return e
}

// len is the number of queued entries.
func (q *expiryQueue) len() int { return len(q.fifo) - q.head + len(q.rest) }

type expHeap []expEntry

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, k int) bool { return h[i].before(h[k]) }
func (h expHeap) Swap(i, k int)      { h[i], h[k] = h[k], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(expEntry)) }
func (h *expHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = expEntry{}
	*h = old[:len(old)-1]
	return x
}
