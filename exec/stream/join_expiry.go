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
	// fifo holds the in-order rows in chunks of expChunk entries (exp
	// nondecreasing, seq increasing, from chunks[0][head] on): a queue
	// of a million rows grows by a chunk at a time and never copies
	// what it holds, where one slice grown by append copied every
	// queued entry at each growth (7% of Nexmark q7's CPU).
	chunks [][]expEntry
	head   int        // next entry of chunks[0]
	n      int        // entries in the chunks
	spare  []expEntry // an emptied chunk, reused by the next one needed
	rest   expHeap
}

// expChunk is the entries of one FIFO chunk (24 KiB).
const expChunk = 1024

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
	if q.n > 0 {
		last := q.chunks[len(q.chunks)-1]
		if last[len(last)-1].exp > e.exp {
			heap.Push(&q.rest, e)
			return
		}
	}
	if k := len(q.chunks); k == 0 || len(q.chunks[k-1]) == expChunk {
		c := q.spare
		q.spare = nil
		if c == nil {
			c = make([]expEntry, 0, expChunk)
		}
		q.chunks = append(q.chunks, c)
	}
	k := len(q.chunks) - 1
	q.chunks[k] = append(q.chunks[k], e)
	q.n++
}

// fromFIFO reports whether the next entry to leave is the FIFO's.
func (q *expiryQueue) fromFIFO() bool {
	return q.n > 0 && (len(q.rest) == 0 || q.chunks[0][q.head].before(q.rest[0]))
}

// peek is the next entry to leave; ok false when the queue is empty.
func (q *expiryQueue) peek() (e expEntry, ok bool) {
	switch {
	case q.fromFIFO():
		return q.chunks[0][q.head], true
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
	c := q.chunks[0]
	e := c[q.head]
	q.head++
	q.n--
	if q.head == len(c) {
		// The first chunk is used up: keep it for the next chunk needed
		// (when it was the only one, it is that chunk).
		q.head = 0
		clear(c)
		if len(q.chunks) == 1 {
			q.chunks[0] = c[:0]
		} else {
			q.spare = c[:0]
			n := copy(q.chunks, q.chunks[1:])
			q.chunks[n] = nil
			q.chunks = q.chunks[:n]
		}
	}
	return e
}

// len is the number of queued entries.
func (q *expiryQueue) len() int { return q.n + len(q.rest) }

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
