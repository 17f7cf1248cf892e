package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ResumableMorsel is a Morsel whose reader counts its Offsets from the
// start of its piece: for every key, the offsets of a whole scan read
// morsel by morsel in order are the sum of the final offsets of the
// morsels before the current one plus the current reader's. A file
// source's offsets (data rows consumed per file) add up this way, so a
// scan read in parallel pieces can still report exactly the position a
// sequential scan would, and a checkpoint taken in the middle resumes it.
type ResumableMorsel interface {
	Morsel
	// RelativeOffsets does nothing: implementing it states the contract.
	RelativeOffsets()
}

// OpenOrdered opens a scan of src whose batches are decoded by up to
// workers goroutines at once and returned in scan order: the rows, their
// order, the first data error and the offsets after each batch are those
// of src.Open(ctx, mem, spec) read alone (only batch boundaries may
// differ, at morsel ends). It is how a streaming query over a bounded
// file uses every core for decoding without giving up arrival order,
// which its watermark depends on. It falls back to src.Open when workers
// is below 2 or the scan does not split into at least two ResumableMorsel
// pieces.
func OpenOrdered(ctx context.Context, mem memory.Allocator, src Source, spec ScanSpec, workers int) (SourceReader, error) {
	return OpenOrderedMap(ctx, mem, src, spec, workers, nil)
}

// ReaderMap is per-batch work a scan does where it decodes its batches:
// with OpenOrderedMap, on each decoding goroutine, so that work
// parallelizes with the decoding (a streaming query's filters,
// projections and per-batch pre-aggregation).
type ReaderMap struct {
	// New builds the step for one goroutine; the steps run concurrently,
	// so they must share no mutable state.
	New func() (ReaderStep, error)
	// Dictionaries are the scan's output columns the step accepts
	// dictionary-encoded (DictionaryReader).
	Dictionaries []int
}

// ReaderStep is one goroutine's per-batch work of a ReaderMap.
type ReaderStep interface {
	// Apply returns the batch's replacement, never nil (an empty record
	// when nothing is left), and leaves rec to the caller; the caller
	// releases the result.
	Apply(ctx context.Context, rec arrow.Record) (arrow.Record, error)
	// Close drops what the step keeps from batch to batch; it is called
	// once, when its goroutine is done with the step.
	Close()
}

// OpenOrderedMap is OpenOrdered with every batch replaced by m's step
// applied to it (m nil: none), on the goroutine that decoded it; the
// offsets, partitions, bad-row counts and errors of the scan are kept.
// Without parallel decoding the step runs in Next.
func OpenOrderedMap(ctx context.Context, mem memory.Allocator, src Source, spec ScanSpec, workers int, m *ReaderMap) (SourceReader, error) {
	serial := func() (SourceReader, error) {
		r, err := src.Open(ctx, mem, spec)
		if err != nil || m == nil {
			return r, err
		}
		step, err := m.New()
		if err != nil {
			r.Close()
			return nil, err
		}
		if dr, ok := r.(DictionaryReader); ok && len(m.Dictionaries) > 0 {
			dr.KeepDictionaries(m.Dictionaries)
		}
		return &mappedReader{SourceReader: r, step: step}, nil
	}
	if workers < 2 {
		return serial()
	}
	ms, err := Morsels(ctx, src, spec)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if len(ms) < 2 {
		return serial()
	}
	for _, m := range ms {
		if _, ok := m.(ResumableMorsel); !ok {
			return serial()
		}
	}
	r := &orderedReader{mem: mem, morsels: ms, workers: min(workers, len(ms)), outs: make([]*orderedQueue, len(ms)), base: Offsets{}, parts: []int32{0}, mapper: m}
	for i := range r.outs {
		r.outs[i] = newOrderedQueue()
	}
	// A worker takes a morsel only with a ticket, and Next hands one back
	// as it moves past a morsel, so at most workers+1 morsels are decoded
	// and not yet read. That, not a short queue per morsel, bounds the
	// memory: a worker ahead of Next must be able to decode its whole
	// morsel meanwhile, or the workers take turns (each blocked until Next
	// reaches its morsel) and decode no faster than one.
	r.tickets = make(chan struct{}, r.workers+1)
	for range r.workers + 1 {
		r.tickets <- struct{}{}
	}
	r.failed.Store(int64(len(ms)))
	return r, nil
}

// orderedReader is OpenOrdered's reader: workers take morsels in order
// (as Gather's do), each filling its morsel's queue, at most workers+1
// morsels ahead of Next, which drains the queues in morsel order.
type orderedReader struct {
	mem     memory.Allocator
	morsels []Morsel
	workers int
	mapper  *ReaderMap      // nil: batches as decoded
	outs    []*orderedQueue // per morsel, closed when it is done
	tickets chan struct{}   // one per morsel a worker may start now
	next    atomic.Int64    // next morsel to hand out
	failed  atomic.Int64    // lowest failed morsel; len(morsels) if none

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cur     int
	base    Offsets // final offsets of the morsels before cur, summed
	last    Offsets // the current morsel reader's offsets after its last batch
	parts   []int32
	badBase [2]int64 // bad rows of the morsels before cur
	bad     [2]int64 // the current morsel's
	done    bool
	closed  bool
	// progress is read by BadRows from other goroutines.
	mu       sync.Mutex
	badTotal [2]int64
}

// orderedQueueMax bounds the items one morsel's queue holds: a morsel's
// size is bounded by its bytes (ScanSpec.MorselBytes), but a file region
// that cannot be split (a large row group without an offset index) would
// otherwise sit in memory whole.
const orderedQueueMax = 256

// orderedQueue is one morsel's items, from the worker decoding it to
// Next: one writer, one reader.
type orderedQueue struct {
	mu     sync.Mutex
	items  []orderedItem
	head   int
	closed bool
	wake   chan struct{} // an item or the close arrived
	space  chan struct{} // an item was taken
}

func newOrderedQueue() *orderedQueue {
	return &orderedQueue{wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

// signal wakes the other side if it waits.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push appends it, waiting while the queue is full; on ctx's end it
// returns ctx's error without taking it.
func (q *orderedQueue) push(ctx context.Context, it orderedItem) error {
	for {
		q.mu.Lock()
		if len(q.items)-q.head < orderedQueueMax {
			q.items = append(q.items, it)
			q.mu.Unlock()
			signal(q.wake)
			return nil
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// close marks the end of the morsel's items.
func (q *orderedQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.wake)
}

// pop takes the next item, waiting for one; ok is false once the queue
// is closed and empty.
func (q *orderedQueue) pop(ctx context.Context) (it orderedItem, ok bool, err error) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			it = q.items[q.head]
			q.items[q.head] = orderedItem{}
			if q.head++; q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.mu.Unlock()
			signal(q.space)
			return it, true, nil
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return orderedItem{}, false, nil
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return orderedItem{}, false, ctx.Err()
		}
	}
}

// release drops the records still queued.
func (q *orderedQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, it := range q.items[q.head:] {
		if it.b.Record != nil {
			it.b.Record.Release()
		}
	}
	q.items, q.head = nil, 0
}

// orderedItem is one batch of a morsel with its reader's position after
// it, or the morsel's end (fin: offs and bad are then the final ones), or
// its error.
type orderedItem struct {
	b    Batch
	offs Offsets
	bad  [2]int64
	part []int32
	fin  bool
	err  error
}

var (
	_ SourceReader  = (*orderedReader)(nil)
	_ BadRowCounter = (*orderedReader)(nil)
)

func (r *orderedReader) start(ctx context.Context) {
	r.ctx, r.cancel = context.WithCancel(ctx)
	for range r.workers {
		r.wg.Add(1)
		go r.work()
	}
}

// work takes morsels in order until none is left or one has failed.
func (r *orderedReader) work() {
	defer r.wg.Done()
	var step ReaderStep
	if r.mapper != nil {
		var err error
		if step, err = r.mapper.New(); err != nil {
			r.fail(r.next.Add(1)-1, err)
			return
		}
		defer step.Close()
	}
	for {
		select {
		case <-r.tickets:
		case <-r.ctx.Done():
			return
		}
		i := r.next.Add(1) - 1
		if i >= int64(len(r.morsels)) {
			return
		}
		if i < r.failed.Load() && r.ctx.Err() == nil {
			if err := r.readMorsel(i, step); err != nil {
				r.fail(i, err)
				continue
			}
		}
		r.outs[i].close()
	}
}

// fail ends morsel i (if there is one) with err: the morsels after it
// are not read.
func (r *orderedReader) fail(i int64, err error) {
	if i >= int64(len(r.morsels)) {
		return
	}
	for {
		f := r.failed.Load()
		if f <= i || r.failed.CompareAndSwap(f, i) {
			break
		}
	}
	r.outs[i].push(r.ctx, orderedItem{err: err}) // fails only when the reader is closing
	r.outs[i].close()
}

// readMorsel reads morsel i into its channel, its final position last;
// step (nil: none) replaces each batch.
func (r *orderedReader) readMorsel(i int64, step ReaderStep) (err error) {
	ctx := r.ctx
	rd, err := r.morsels[i].Open(ctx, r.mem)
	if err != nil {
		return err
	}
	if dr, ok := rd.(DictionaryReader); ok && r.mapper != nil && len(r.mapper.Dictionaries) > 0 {
		dr.KeepDictionaries(r.mapper.Dictionaries)
	}
	defer func() {
		if cerr := rd.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	send := func(it orderedItem) error {
		err := r.outs[i].push(ctx, it)
		if err != nil && it.b.Record != nil {
			it.b.Record.Release()
		}
		return err
	}
	badOf := func() [2]int64 {
		if bc, ok := rd.(BadRowCounter); ok {
			s, n := bc.BadRows()
			return [2]int64{s, n}
		}
		return [2]int64{}
	}
	for {
		if r.failed.Load() < i {
			return nil // an earlier morsel failed: nobody reads this one
		}
		b, err := rd.Next(ctx)
		if errors.Is(err, io.EOF) {
			return send(orderedItem{offs: rd.Offsets(), bad: badOf(), fin: true})
		}
		if err != nil {
			return err
		}
		if step != nil {
			out, err := step.Apply(ctx, b.Record)
			b.Record.Release()
			if err != nil {
				return err
			}
			b.Record = out
		}
		if err := send(orderedItem{b: b, offs: rd.Offsets(), bad: badOf(), part: rd.Partitions()}); err != nil {
			return err
		}
	}
}

// Next returns the next batch in scan order.
func (r *orderedReader) Next(ctx context.Context) (Batch, error) {
	if r.done || r.closed {
		return Batch{}, io.EOF
	}
	if r.ctx == nil {
		r.start(ctx)
	}
	for r.cur < len(r.outs) {
		it, ok, err := r.outs[r.cur].pop(ctx)
		switch {
		case err != nil:
			return Batch{}, err
		case !ok:
			// The morsel is done: its final position joins the base, and
			// a worker may start another.
			for k, v := range r.last {
				r.base[k] += v
			}
			r.last = nil
			r.badBase[0] += r.bad[0]
			r.badBase[1] += r.bad[1]
			r.bad = [2]int64{}
			r.cur++
			signal(r.tickets)
			continue
		}
		if it.err != nil {
			r.done = true
			return Batch{}, it.err
		}
		r.last, r.bad = it.offs, it.bad
		r.mu.Lock()
		r.badTotal = [2]int64{r.badBase[0] + r.bad[0], r.badBase[1] + r.bad[1]}
		r.mu.Unlock()
		if it.fin {
			continue
		}
		if it.part != nil {
			r.parts = it.part
		}
		return it.b, nil
	}
	r.done = true
	return Batch{}, io.EOF
}

// Offsets is the position a sequential scan would report after the last
// batch returned: the finished morsels' offsets plus the current one's.
func (r *orderedReader) Offsets() Offsets {
	out := maps.Clone(r.base)
	for k, v := range r.last {
		out[k] += v
	}
	return out
}

// Partitions is the current morsel reader's.
func (r *orderedReader) Partitions() []int32 { return r.parts }

// BadRows adds up the morsels' bad rows up to the last batch returned.
func (r *orderedReader) BadRows() (skipped, nulled int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.badTotal[0], r.badTotal[1]
}

// Close stops the workers and releases what they decoded ahead;
// idempotent.
func (r *orderedReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.cancel != nil {
		r.cancel()
		r.wg.Wait()
		for _, q := range r.outs {
			q.release()
		}
	}
	return nil
}

// mappedReader is a serial scan whose batches go through a ReaderMap's
// step in Next.
type mappedReader struct {
	SourceReader
	step ReaderStep
}

var _ BadRowCounter = (*mappedReader)(nil)

// Next is the scan's next batch after the step.
func (r *mappedReader) Next(ctx context.Context) (Batch, error) {
	b, err := r.SourceReader.Next(ctx)
	if err != nil {
		return b, err
	}
	out, err := r.step.Apply(ctx, b.Record)
	b.Record.Release()
	if err != nil {
		return Batch{}, err
	}
	b.Record = out
	return b, nil
}

// Close closes the step and the scan; idempotent.
func (r *mappedReader) Close() error {
	if r.step != nil {
		r.step.Close()
		r.step = nil
	}
	return r.SourceReader.Close()
}

// BadRows is the scan's.
func (r *mappedReader) BadRows() (skipped, nulled int64) {
	if bc, ok := r.SourceReader.(BadRowCounter); ok {
		return bc.BadRows()
	}
	return 0, 0
}
