package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ErrExchangeClosed is returned by Exchange.Send, Broadcast and Recv once
// the exchange's owner has called Close.
var ErrExchangeClosed = errors.New("exchange closed")

// HashPartitioner assigns rows to one of n partitions by a hash of their
// key columns. The assignment is a pure function of the key values and n:
// the same key goes to the same partition in every batch, from every
// producer, in every process and every run (HashRows, with no random
// seed), so a keyed operator's state, and the checkpoint part it writes,
// can be tied to a partition number. NULL is an ordinary key value; -0 and 0, and all
// NaNs, are one value (as GROUP BY sees them); a dictionary-encoded column
// hashes its values, never its indices; STRING and LARGE_STRING (and the
// binary types) holding the same bytes hash alike.
type HashPartitioner struct {
	keys []int
	n    int
	hash []uint64
	part []int32
}

// NewHashPartitioner returns a partitioner over the key columns keys
// (indices into the records it will see) into n ≥ 1 partitions. With no
// keys every row goes to partition 0.
func NewHashPartitioner(keys []int, n int) (*HashPartitioner, error) {
	if n < 1 {
		return nil, fmt.Errorf("exchange: %d partitions (want at least 1)", n)
	}
	return &HashPartitioner{keys: append([]int(nil), keys...), n: n}, nil
}

// N is the number of partitions.
func (p *HashPartitioner) N() int { return p.n }

// Assign returns the partition of every row of rec, in row order. The
// slice is reused by the next call. A key column of a type the row
// encoding cannot hold (nested types) is an error.
func (p *HashPartitioner) Assign(ctx context.Context, mem memory.Allocator, rec arrow.Record) ([]int32, error) {
	n := int(rec.NumRows())
	p.part = growSlice(p.part[:0], n)[:n]
	if p.n == 1 || len(p.keys) == 0 {
		clear(p.part)
		return p.part, nil
	}
	cols := make([]arrow.Array, len(p.keys))
	for i, k := range p.keys {
		if k < 0 || k >= int(rec.NumCols()) {
			return nil, fmt.Errorf("exchange: key column %d out of range (record has %d)", k, rec.NumCols())
		}
		cols[i] = rec.Column(k)
	}
	h, err := HashRows(ctx, mem, cols, p.hash)
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	p.hash = h
	for i, v := range h {
		p.part[i] = PartitionOf(v, p.n)
	}
	return p.part, nil
}

// Split cuts rec into one record per partition, each keeping rec's row
// order; parts[i] is nil when no row goes to partition i. The caller owns
// and releases the parts; rec is not released.
func (p *HashPartitioner) Split(ctx context.Context, mem memory.Allocator, rec arrow.Record) ([]arrow.Record, error) {
	parts := make([]arrow.Record, p.n)
	if rec.NumRows() == 0 {
		return parts, nil
	}
	assign, err := p.Assign(ctx, mem, rec)
	if err != nil {
		return nil, err
	}
	rows := make([][]int32, p.n)
	for i, q := range assign {
		rows[q] = append(rows[q], int32(i))
	}
	for q, idx := range rows {
		switch {
		case len(idx) == 0:
		case len(idx) == int(rec.NumRows()):
			rec.Retain()
			parts[q] = rec
		default:
			r, err := takeRecord(ctx, mem, rec.Schema(), rec, idx)
			if err != nil {
				releaseAll(parts)
				return nil, fmt.Errorf("exchange: %w", err)
			}
			parts[q] = r
		}
	}
	return parts, nil
}

// ExchangeItem is what a consumer of an Exchange receives: either a record
// (the rows of one Send that hash to this consumer) or a control item
// (from Broadcast), tagged with the producer that sent it.
type ExchangeItem struct {
	// Producer is the sending producer's index.
	Producer int
	// Record is owned by the receiver, who must Release it; nil for a
	// control item.
	Record arrow.Record
	// Control is the value passed to Broadcast; nil for a record.
	Control any
}

// Exchange hash-partitions the rows of P producers across N consumers by
// key: the operator behind every keyed parallel step (a batch aggregate
// whose partial states cannot merge, N instances of a streaming keyed
// operator). It is safe for concurrent use as described below.
//
// Contract:
//   - Producer p (0 ≤ p < P) calls Send and Broadcast from one goroutine
//     at a time and then CloseProducer(p, err) exactly once, also after an
//     error or a cancellation. No Send after CloseProducer.
//   - Consumer c (0 ≤ c < N) calls Recv from one goroutine at a time. It
//     receives exactly the rows whose key hashes to c (HashPartitioner's
//     assignment, so the same key always reaches the same consumer).
//   - Order: items from one producer reach a consumer in the order that
//     producer sent them — records and control items alike, so a
//     watermark or checkpoint barrier broadcast after a record arrives
//     after that record's rows at every consumer. Items of different
//     producers interleave in no particular order; a consumer that needs
//     alignment (barriers, min-watermark) tracks ExchangeItem.Producer.
//   - End: Recv returns io.EOF once every producer has closed without an
//     error and the consumer has received everything sent to it. If a
//     producer closes with an error, every consumer's Recv returns that
//     error (the first one) as soon as it is next called, and undelivered
//     items are dropped.
//   - Backpressure: each consumer has a bounded queue (buffer items);
//     Send blocks while a target queue is full, until there is room, ctx
//     is done (ctx.Err()) or the exchange is closed (ErrExchangeClosed).
//     A consumer that stops reading therefore stalls the producers: the
//     owner must Close the exchange when it abandons a consumer.
//   - Ownership: Send takes no ownership of its record (it retains what
//     it forwards); a received record belongs to the receiver.
//   - Close (by the owner, once all goroutines that use the exchange are
//     done or are being cancelled) unblocks every Send and Recv with
//     ErrExchangeClosed, releases every record still queued, and is
//     idempotent. Records sent after Close are released by Send.
type Exchange struct {
	mem    memory.Allocator
	schema *arrow.Schema
	part   []*HashPartitioner // one per producer: Assign reuses buffers
	queues []chan ExchangeItem

	mu       sync.RWMutex // Send/Broadcast hold R; Close holds W to drain
	closed   bool
	done     chan struct{} // closed by Close
	failed   chan struct{} // closed on the first producer error
	err      error
	open     []bool // producers not yet closed
	openN    int
	failOnce sync.Once
	doneOnce sync.Once
}

// NewExchange returns an exchange of records of schema from producers
// producers to consumers consumers, partitioned by the key columns keys
// (indices into schema; none: everything goes to consumer 0), with room
// for buffer items per consumer queue (at least 1).
func NewExchange(mem memory.Allocator, schema *arrow.Schema, keys []int, producers, consumers, buffer int) (*Exchange, error) {
	if producers < 1 {
		return nil, fmt.Errorf("exchange: %d producers (want at least 1)", producers)
	}
	for _, k := range keys {
		if k < 0 || k >= schema.NumFields() {
			return nil, fmt.Errorf("exchange: key column %d out of range (schema has %d)", k, schema.NumFields())
		}
	}
	x := &Exchange{mem: mem, schema: schema, done: make(chan struct{}), failed: make(chan struct{}),
		open: make([]bool, producers), openN: producers}
	for range producers {
		p, err := NewHashPartitioner(keys, consumers)
		if err != nil {
			return nil, err
		}
		x.part = append(x.part, p)
	}
	for i := range x.open {
		x.open[i] = true
	}
	x.queues = make([]chan ExchangeItem, consumers)
	for i := range x.queues {
		x.queues[i] = make(chan ExchangeItem, max(buffer, 1))
	}
	return x, nil
}

// Schema is the schema of every record that passes.
func (x *Exchange) Schema() *arrow.Schema { return x.schema }

// Consumers is N, the number of consumers.
func (x *Exchange) Consumers() int { return len(x.queues) }

// Send partitions rec by key and queues each consumer's rows, in rec's
// row order, on that consumer's queue. It takes no ownership of rec.
func (x *Exchange) Send(ctx context.Context, producer int, rec arrow.Record) error {
	if producer < 0 || producer >= len(x.part) {
		return fmt.Errorf("exchange: producer %d out of range (%d producers)", producer, len(x.part))
	}
	parts, err := x.part[producer].Split(ctx, x.mem, rec)
	if err != nil {
		return err
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	for c, p := range parts {
		if p == nil {
			continue
		}
		if err := x.put(ctx, c, ExchangeItem{Producer: producer, Record: p}); err != nil {
			releaseAll(parts[c+1:])
			return err
		}
	}
	return nil
}

// Broadcast queues the control item ctrl (a watermark, a checkpoint
// barrier) for every consumer, after everything producer sent before.
func (x *Exchange) Broadcast(ctx context.Context, producer int, ctrl any) error {
	if producer < 0 || producer >= len(x.part) {
		return fmt.Errorf("exchange: producer %d out of range (%d producers)", producer, len(x.part))
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	for c := range x.queues {
		if err := x.put(ctx, c, ExchangeItem{Producer: producer, Control: ctrl}); err != nil {
			return err
		}
	}
	return nil
}

// put queues it for consumer c (x.mu held for reading), releasing its
// record when it cannot be queued.
func (x *Exchange) put(ctx context.Context, c int, it ExchangeItem) error {
	fail := func(err error) error {
		if it.Record != nil {
			it.Record.Release()
		}
		return err
	}
	if x.closed {
		return fail(ErrExchangeClosed)
	}
	select {
	case <-x.failed:
		return fail(x.err)
	default:
	}
	select {
	case x.queues[c] <- it:
		return nil
	case <-x.done:
		return fail(ErrExchangeClosed)
	case <-x.failed:
		return fail(x.err)
	case <-ctx.Done():
		return fail(ctx.Err())
	}
}

// CloseProducer says producer will send nothing more; err non-nil fails
// the exchange (every consumer's Recv returns it). Calling it again for
// the same producer does nothing.
func (x *Exchange) CloseProducer(producer int, err error) {
	if err != nil {
		x.failOnce.Do(func() {
			x.err = err
			close(x.failed)
		})
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if producer < 0 || producer >= len(x.open) || !x.open[producer] {
		return
	}
	x.open[producer] = false
	x.openN--
	if x.openN == 0 && !x.closed {
		for _, q := range x.queues {
			close(q)
		}
	}
}

// Recv returns consumer's next item: io.EOF after the last one, the first
// producer error, ctx.Err() or ErrExchangeClosed.
func (x *Exchange) Recv(ctx context.Context, consumer int) (ExchangeItem, error) {
	if consumer < 0 || consumer >= len(x.queues) {
		return ExchangeItem{}, fmt.Errorf("exchange: consumer %d out of range (%d consumers)", consumer, len(x.queues))
	}
	select {
	case <-x.failed:
		return ExchangeItem{}, x.err
	default:
	}
	select {
	case it, ok := <-x.queues[consumer]:
		if !ok {
			return ExchangeItem{}, io.EOF
		}
		select {
		case <-x.failed:
			if it.Record != nil {
				it.Record.Release()
			}
			return ExchangeItem{}, x.err
		default:
		}
		return it, nil
	case <-x.failed:
		return ExchangeItem{}, x.err
	case <-x.done:
		return ExchangeItem{}, ErrExchangeClosed
	case <-ctx.Done():
		return ExchangeItem{}, ctx.Err()
	}
}

// Close unblocks every Send and Recv, releases what is still queued;
// idempotent.
func (x *Exchange) Close() {
	x.doneOnce.Do(func() { close(x.done) })
	x.mu.Lock() // waits for in-flight Sends, which return on done
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	x.closed = true
	for _, q := range x.queues {
		drainQueue(q)
	}
}

// drainQueue releases the records queued on q without blocking.
func drainQueue(q chan ExchangeItem) {
	for {
		select {
		case it, ok := <-q:
			if !ok {
				return
			}
			if it.Record != nil {
				it.Record.Release()
			}
		default:
			return
		}
	}
}

// Output is consumer c of x as a batch Operator: Next returns the records
// that reach c (control items are skipped) and io.EOF at the end. Open and
// Close do nothing: the exchange's owner closes x.
func (x *Exchange) Output(c int) Operator { return &exchangeOutput{x: x, c: c} }

type exchangeOutput struct {
	x *Exchange
	c int
}

var _ Operator = (*exchangeOutput)(nil)

func (o *exchangeOutput) Schema() *arrow.Schema      { return o.x.schema }
func (o *exchangeOutput) Open(context.Context) error { return nil }
func (o *exchangeOutput) Close() error               { return nil }

func (o *exchangeOutput) Next(ctx context.Context) (arrow.Record, error) {
	for {
		it, err := o.x.Recv(ctx, o.c)
		if err != nil {
			return nil, err
		}
		if it.Record != nil {
			return it.Record, nil
		}
	}
}
