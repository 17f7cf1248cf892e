package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// DefaultMorselBytes is the target size of a byte-range morsel (CSV,
// JSON lines) when ScanSpec.MorselBytes is 0: large enough that opening a
// morsel and its per-morsel partial aggregate cost nothing next to
// parsing it, small enough that two workers finish within a few percent
// of each other on a file of a few hundred MB.
const DefaultMorselBytes = 8 << 20

// Morsel is one independently readable piece of a bounded scan: a Parquet
// row group, a byte range of a text file, one file of a glob.
type Morsel interface {
	// Open starts reading the piece, with the ScanSpec it was split
	// under. Each call is an independent reader; readers of different
	// morsels may run concurrently.
	Open(ctx context.Context, mem memory.Allocator) (SourceReader, error)
	// String names the piece in errors ("sales.csv bytes 0-8388608").
	String() string
}

// MorselSource is a bounded Source that can split a scan into morsels.
type MorselSource interface {
	Source
	// Morsels returns the pieces of a scan with spec. Reading them one
	// after the other, in slice order, returns exactly the rows of
	// Open(ctx, mem, spec) in the same order, with the same data errors.
	// Boundaries depend only on the data and spec (spec.MorselBytes),
	// never on how many workers will read them, so anything computed per
	// morsel is reproducible at any parallelism. A scan that cannot be
	// split safely is one morsel.
	Morsels(ctx context.Context, spec ScanSpec) ([]Morsel, error)
}

// Morsels splits a scan of src: the source's own morsels when it is a
// MorselSource, otherwise the whole scan as one morsel.
func Morsels(ctx context.Context, src Source, spec ScanSpec) ([]Morsel, error) {
	if ms, ok := src.(MorselSource); ok && src.Bounded() {
		return ms.Morsels(ctx, spec)
	}
	return []Morsel{wholeScan{src: src, spec: spec}}, nil
}

// wholeScan is the one morsel of a source that cannot split.
type wholeScan struct {
	src  Source
	spec ScanSpec
}

func (w wholeScan) Open(ctx context.Context, mem memory.Allocator) (SourceReader, error) {
	return w.src.Open(ctx, mem, w.spec)
}

func (w wholeScan) String() string { return "whole scan" }

// morselSource presents one morsel as a Source, so a pipeline is compiled
// over it exactly as over the whole source (a Scan at its leaf).
type morselSource struct {
	Source
	m Morsel
}

func (s morselSource) Open(ctx context.Context, mem memory.Allocator, _ ScanSpec) (SourceReader, error) {
	return s.m.Open(ctx, mem)
}

// PipelineFunc builds one instance of a pipeline (scan, filter, project,
// partial aggregate…) over src: a Source whose Open reads one morsel, to
// be scanned with the ScanSpec the morsels were split under. Instances
// share nothing, so workers run them concurrently.
type PipelineFunc func(src Source) (Operator, error)

// Gather runs a pipeline over every morsel of a scan on a pool of
// workers, one fresh pipeline instance per morsel, and returns the
// instances' output in morsel order: the rows, their order and the first
// data error are those of one pipeline over the whole scan (or, for a
// partial aggregate, of one partial per morsel in morsel order), whatever
// the number of workers. A morsel's output is queued whole while the
// reader is still on an earlier one, so every worker keeps decoding
// however much a morsel emits (a filter's rows, not only a partial
// aggregate's); what bounds memory is that a worker starts morsel i only
// while i is within gatherWindow(workers) morsels of the one being read
// (backpressure), and after a morsel fails no later morsel is started.
type Gather struct {
	mem     memory.Allocator
	src     Source
	spec    ScanSpec
	workers int
	build   PipelineFunc
	schema  *arrow.Schema

	once    lifecycle
	started bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	morsels []Morsel
	outs    []*morselQueue // per morsel, closed when it is done
	next    atomic.Int64   // next morsel to hand out
	failed  atomic.Int64   // lowest failed morsel; len(morsels) if none
	done    bool
	dict    []int // columns the consumer accepts dictionary-encoded
	closers []io.Closer

	mu       sync.Mutex    // guards cur's writes and advanced
	cur      int           // morsel being read; written by Next only
	advanced chan struct{} // closed (and replaced) when cur moves on
}

type gatherItem struct {
	rec arrow.Record
	err error
}

// gatherBuffer is how many finished batches an orderedReader worker may
// queue for its morsel before it waits for the reader.
const gatherBuffer = 4

// gatherWindow is how many morsels, counted from the one being read,
// may be running or finished and queued at once: twice the workers, so a
// worker that finishes early finds its next morsel inside the window
// while the reader is still on an earlier one.
func gatherWindow(workers int) int { return 2 * workers }

// morselQueue is one morsel's output, in order: pushed by the worker
// that runs the morsel, popped by the reader. It has no capacity limit
// (Gather bounds how many morsels are queued instead), so a worker never
// waits on a reader that is busy with an earlier morsel.
type morselQueue struct {
	mu     sync.Mutex
	items  []gatherItem
	head   int
	closed bool
	ready  chan struct{} // capacity 1: poked on every push and on close
}

func newMorselQueue() *morselQueue { return &morselQueue{ready: make(chan struct{}, 1)} }

func (q *morselQueue) poke() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *morselQueue) push(it gatherItem) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	q.poke()
}

// close marks the morsel's output complete.
func (q *morselQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.poke()
}

// pop returns the next item; ok is false when none is queued yet, and
// then closed says whether none ever will be.
func (q *morselQueue) pop() (it gatherItem, ok, closed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head < len(q.items) {
		it = q.items[q.head]
		q.items[q.head] = gatherItem{}
		q.head++
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
		}
		return it, true, false
	}
	return gatherItem{}, false, q.closed
}

// drain releases what is queued.
func (q *morselQueue) drain() {
	for {
		it, ok, _ := q.pop()
		if !ok {
			return
		}
		if it.rec != nil {
			it.rec.Release()
		}
	}
}

var _ Operator = (*Gather)(nil)

// NewGather returns a gather of build over the morsels of a scan of src
// with spec, on workers workers (at least 1). It builds one instance up
// front, unopened, to learn the schema.
func NewGather(mem memory.Allocator, src Source, spec ScanSpec, workers int, build PipelineFunc) (*Gather, error) {
	probe, err := build(src)
	if err != nil {
		return nil, err
	}
	schema := probe.Schema()
	if err := probe.Close(); err != nil {
		return nil, err
	}
	return &Gather{mem: mem, src: src, spec: spec, workers: max(workers, 1), build: build, schema: schema}, nil
}

// Schema is the pipeline's schema.
func (g *Gather) Schema() *arrow.Schema { return g.schema }

// KeepDictionaries passes a consumer's request for dictionary-encoded
// string columns (see dictionaryKeeper) to every pipeline instance that
// can honour it. Call it before the first Next.
func (g *Gather) KeepDictionaries(cols []int) { g.dict = append([]int(nil), cols...) }

// CloseWith makes Close close c after the workers have stopped: what the
// pipeline instances share (a join's build side) lives as long as the
// gather.
func (g *Gather) CloseWith(c io.Closer) { g.closers = append(g.closers, c) }

// Open splits the scan into morsels; the workers start on the first Next
// under Open's context. A second call is a no-op.
func (g *Gather) Open(ctx context.Context) error {
	return g.once.open(func() error {
		ms, err := Morsels(ctx, g.src, g.spec)
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		g.morsels = ms
		g.outs = make([]*morselQueue, len(ms))
		for i := range g.outs {
			g.outs[i] = newMorselQueue()
		}
		g.advanced = make(chan struct{})
		g.failed.Store(int64(len(ms)))
		g.ctx, g.cancel = context.WithCancel(ctx)
		return nil
	})
}

func (g *Gather) start() {
	g.started = true
	for range min(g.workers, len(g.morsels)) {
		g.wg.Add(1)
		go g.work()
	}
}

// work takes morsels in order until none is left or one has failed.
func (g *Gather) work() {
	defer g.wg.Done()
	for {
		i := g.next.Add(1) - 1
		if i >= int64(len(g.morsels)) {
			return
		}
		if i < g.failed.Load() && g.waitWindow(i) {
			if err := g.runMorsel(i); err != nil {
				g.noteFailure(i)
				g.outs[i].push(gatherItem{err: err})
			}
		}
		g.outs[i].close()
	}
}

// waitWindow waits until morsel i is inside the window of morsels that
// may run ahead of the reader; false when the gather is cancelled first.
func (g *Gather) waitWindow(i int64) bool {
	window := int64(gatherWindow(g.workers))
	for {
		g.mu.Lock()
		cur, ch := int64(g.cur), g.advanced
		g.mu.Unlock()
		if i < cur+window {
			return true
		}
		select {
		case <-ch:
		case <-g.ctx.Done():
			return false
		}
	}
}

// advance moves the reader to the next morsel and wakes the workers
// waiting for the window to move.
func (g *Gather) advance() {
	g.mu.Lock()
	g.cur++
	close(g.advanced)
	g.advanced = make(chan struct{})
	g.mu.Unlock()
}

func (g *Gather) noteFailure(i int64) {
	for {
		f := g.failed.Load()
		if f <= i || g.failed.CompareAndSwap(f, i) {
			return
		}
	}
}

// runMorsel runs one pipeline instance over morsel i into its channel.
func (g *Gather) runMorsel(i int64) (err error) {
	op, err := g.build(morselSource{Source: g.src, m: g.morsels[i]})
	if err != nil {
		return err
	}
	keepDictionaries(op, g.dict)
	defer func() {
		if cerr := op.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	ctx := g.ctx
	if err := op.Open(ctx); err != nil {
		return err
	}
	for {
		if g.failed.Load() < i {
			return nil // an earlier morsel failed: nobody reads this one
		}
		rec, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			rec.Release()
			return err
		}
		g.outs[i].push(gatherItem{rec: rec})
	}
}

// Next returns the next record in morsel order.
func (g *Gather) Next(ctx context.Context) (arrow.Record, error) {
	if g.done || g.outs == nil {
		return nil, io.EOF
	}
	if !g.started {
		g.start()
	}
	for g.cur < len(g.outs) {
		q := g.outs[g.cur]
		it, ok, closed := q.pop()
		switch {
		case ok && it.err != nil:
			g.done = true
			return nil, it.err
		case ok:
			return it.rec, nil
		case closed:
			g.advance()
			continue
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-g.ctx.Done():
			return nil, g.ctx.Err()
		}
	}
	g.done = true
	return nil, io.EOF
}

// Close stops the workers, waits for them and releases what they had
// queued; idempotent, safe if Open never ran.
func (g *Gather) Close() error {
	return g.once.close(func() error {
		if g.cancel != nil {
			g.cancel()
		}
		if g.started {
			// Workers waiting for the window return on the cancel.
			g.wg.Wait()
			for _, q := range g.outs {
				q.drain()
			}
		}
		var first error
		for _, c := range g.closers {
			if err := c.Close(); err != nil && first == nil {
				first = err
			}
		}
		return first
	})
}
