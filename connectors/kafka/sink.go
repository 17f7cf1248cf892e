package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// Sink writes query results to a Kafka topic, one record per row (append
// streams) or as upserts keyed by the key columns (changelog streams).
type Sink struct {
	cfg *sinkConfig
}

var _ exec.Sink = (*Sink)(nil)

// NewSink makes a sink from its WITH options: topic, brokers, format
// (json|csv), key ('col[,col]'), delivery (at-least-once|exactly-once),
// transactional.id, and group.id (the consumer group whose offsets an
// exactly-once commit includes; by default the group of a Kafka source
// reading the committed topics in this process).
//
// NewSink reads TLS files from any path; the registered 'kafka' connector
// confines them to the session's sandbox.
func NewSink(opts connectors.Options) (*Sink, error) {
	return newSink(connectors.Env{}, opts)
}

func newSink(env connectors.Env, opts connectors.Options) (*Sink, error) {
	cfg, err := parseSinkConfig(env.Files, opts)
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg}, nil
}

// Writer writes one query's output. Write and Commit are called from one
// goroutine.
type Writer struct {
	cfg       *sinkConfig
	cl        *kgo.Client
	adm       *kadm.Client
	changelog bool
	opIdx     int
	keyIdx    []int
	keyEnc    *rowEncoder // nil for a single key column (plain text)
	valEnc    *rowEncoder
	inTxn     bool
	inited    bool  // the transactional producer is initialized
	prepared  bool  // the open transaction is pre-committed (PreCommit)
	produced  int64 // records produced in the open transaction
	// firstAt is when the open transaction produced its first record;
	// stale is set once the broker is known to have aborted it at the
	// transaction timeout (timedOut): the client is fenced for good,
	// Write drops rows until Abort makes a new producer (reinit).
	firstAt time.Time
	stale   bool
	opts    []kgo.Opt // the client's options, for reinit
	// pendingOffsets and pendingID are what an empty PreCommit (no
	// records in the transaction) leaves CommitPending to commit.
	pendingOffsets exec.Offsets
	pendingID      exec.CheckpointID
	topicIDs       map[string][16]byte
	closed         bool
	markParts      int // the topic's partitions (WriteWatermarks)

	promiseFn func(*kgo.Record, error) // w.promise, bound once
	arenaHint int                      // bytes the last Write's rows took

	errMu sync.Mutex
	err   error // first asynchronous produce error
}

var (
	_ exec.SinkWriter     = (*Writer)(nil)
	_ exec.TwoPhaseWriter = (*Writer)(nil)
)

// Open connects (failing within 'connect.timeout' when brokers are
// unreachable or the topic is missing). For exactly-once delivery the
// transactional producer is initialized by Recover, or else by the first
// Write or Commit — fencing any earlier producer with the same
// 'transactional.id' and aborting its open transaction — and a
// transaction begins.
func (s *Sink) Open(ctx context.Context, _ memory.Allocator, schema *arrow.Schema, mode exec.SinkMode) (exec.SinkWriter, error) {
	return s.OpenWriter(ctx, schema, mode)
}

// OpenWriter is Open returning the concrete writer.
func (s *Sink) OpenWriter(ctx context.Context, schema *arrow.Schema, mode exec.SinkMode) (*Writer, error) {
	w := &Writer{cfg: s.cfg, changelog: mode.Changelog, opIdx: -1, topicIDs: map[string][16]byte{}}
	w.promiseFn = w.promise
	var valCols []int
	for i, f := range schema.Fields() {
		if mode.Changelog && f.Name == exec.OpColumn && f.Type.ID() == arrow.INT8 && w.opIdx < 0 {
			w.opIdx = i
			continue
		}
		valCols = append(valCols, i)
	}
	if mode.Changelog && w.opIdx < 0 {
		return nil, fmt.Errorf("kafka sink: changelog stream has no int8 %q column", exec.OpColumn)
	}
	if len(s.cfg.key) > 0 {
		for _, name := range s.cfg.key {
			idx := -1
			for i, f := range schema.Fields() {
				if strings.EqualFold(f.Name, name) {
					idx = i
					break
				}
			}
			if idx < 0 || idx == w.opIdx {
				return nil, optErr("key column %q is not in the result", name)
			}
			w.keyIdx = append(w.keyIdx, idx)
		}
	} else {
		w.keyIdx = mode.Keys
	}
	// A changelog without keys (a stateless query under EMIT CHANGES) is
	// all inserts: it is written as an append stream, and Write fails on
	// the first update or delete, which would need a key to upsert.
	if formatOf(s.cfg.format).keyed && len(w.keyIdx) == 0 {
		return nil, optErr("format %s writes rows under their key: set 'key' = 'col[,col]' (or write a result grouped by a key)", s.cfg.format)
	}
	keyFormat, valFormat := s.cfg.format, s.cfg.format
	if keyFormat != "csv" {
		keyFormat = "json" // keys of several columns: a JSON object
	}
	if formatOf(s.cfg.format).changelog {
		valFormat = "json" // the images and upserted rows
	}
	if len(w.keyIdx) > 1 {
		w.keyEnc = newRowEncoder(keyFormat, schema, w.keyIdx)
	}
	w.valEnc = newRowEncoder(valFormat, schema, valCols)
	switch s.cfg.format {
	case "avro":
		ae, err := newAvroEncoder(ctx, s.cfg, schema, valCols)
		if err != nil {
			return nil, err
		}
		w.valEnc.framed = ae
	case "protobuf":
		pe, err := newProtoEncoder(ctx, s.cfg, schema, valCols)
		if err != nil {
			return nil, err
		}
		w.valEnc.framed = pe
	}

	opts := s.cfg.clientOpts(
		kgo.DefaultProduceTopic(s.cfg.topic),
		kgo.ProducerLinger(5*time.Millisecond),
		// A query's output arrives in batches of thousands of rows; a
		// deeper buffer lets Write hand over whole batches without
		// waiting for the previous one to be acknowledged.
		kgo.MaxBufferedRecords(1<<16),
		kgo.DisableClientMetrics(),
	)
	if s.cfg.exactlyOnce {
		timeout := time.Minute
		if s.cfg.txnTimeout > 0 {
			timeout = s.cfg.txnTimeout
		}
		var part kgo.Partitioner = txnPartitioner{topic: s.cfg.topic, def: kgo.UniformBytesPartitioner(64<<10, true, true, nil)}
		if s.cfg.marks {
			part = markPartitioner{topic: s.cfg.topic, def: kgo.StickyKeyPartitioner(nil)}
		}
		opts = append(opts, kgo.TransactionalID(s.cfg.txnID), kgo.TransactionTimeout(timeout), kgo.RecordPartitioner(part))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	w.cl, w.adm, w.opts = cl, kadm.NewClient(cl), opts
	if err := w.connect(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	return w, nil
}

func (w *Writer) connect(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, w.cfg.connectTimeout)
	defer cancel()
	start := time.Now()
	md, err := w.adm.Metadata(pctx, w.cfg.topic)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if d := w.cfg.describeErr(err); d != err {
			return fmt.Errorf("kafka sink: %w", d)
		}
		return w.cfg.unreachable("kafka sink", start, err)
	}
	td, ok := md.Topics[w.cfg.topic]
	if ok && td.Err == nil {
		return nil
	}
	if !w.cfg.createTopic {
		return &connectors.OptionError{Option: "topic.create", Msg: fmt.Sprintf("kafka sink: topic %q does not exist on %s, and 'topic.create' = 'false' forbids creating it", w.cfg.topic, strings.Join(w.cfg.brokers, ","))}
	}
	// As ksqlDB does: a sink's missing topic is created, with the
	// partitions and replication its options ask for.
	resp, err := w.adm.CreateTopic(pctx, w.cfg.partitions, w.cfg.replication, nil, w.cfg.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("kafka sink: topic %q does not exist and creating it ('topic.partitions' = %d, 'topic.replication' = %d) failed: %w", w.cfg.topic, w.cfg.partitions, w.cfg.replication, err)
	}
	return nil
}

// initProducer initializes the transactional producer once and begins a
// transaction. InitProducerID fences a previous incarnation and aborts
// whatever it left open, so Recover runs it only after finishing the
// transaction a checkpoint says was pre-committed.
func (w *Writer) initProducer(ctx context.Context) error {
	if !w.cfg.exactlyOnce || w.inited {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, w.cfg.connectTimeout)
	defer cancel()
	if _, _, err := w.cl.ProducerID(pctx); err != nil {
		return fmt.Errorf("kafka sink: initializing transactional id %q: %w", w.cfg.txnID, err)
	}
	w.inited = true
	return w.begin()
}

func (w *Writer) begin() error {
	if err := w.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka sink: beginning transaction: %w", err)
	}
	w.inTxn, w.produced, w.firstAt = true, 0, time.Time{}
	return nil
}

// produce hands r to the producer in the open transaction, noting when
// the transaction's first record went (timedOut).
func (w *Writer) produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if w.produced == 0 {
		w.firstAt = time.Now()
	}
	w.cl.Produce(ctx, r, promise)
	w.produced++
}

// txnTimeout is the producer's transaction timeout.
func (w *Writer) txnTimeout() time.Duration {
	if w.cfg.txnTimeout > 0 {
		return w.cfg.txnTimeout
	}
	return time.Minute
}

// timedOut reports whether err is the broker fencing this producer
// because it aborted the open transaction at its timeout: the
// transaction's first record went longer than the timeout ago (the
// process was paused that long; a running query commits far more
// often). Another producer taking the transactional id answers alike,
// but then the transaction is young. A commit of the aborted transaction
// whose records were all acknowledged before the pause meets
// INVALID_TXN_STATE instead: since KIP-890 the abort bumped the epoch by
// one, and the broker takes the commit at the old epoch for a retry of
// the last end, which was the abort.
func (w *Writer) timedOut(err error) bool {
	return w.cfg.exactlyOnce && (errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) || errors.Is(err, kerr.InvalidTxnState)) &&
		!w.firstAt.IsZero() && time.Since(w.firstAt) >= w.txnTimeout()
}

// reinit replaces a producer the broker fenced at the transaction
// timeout by a new client with the same transactional id (Kafka
// Streams' TaskMigrated path): initializing it bumps the epoch past the
// aborted transaction, and a new transaction begins.
func (w *Writer) reinit(ctx context.Context) error {
	w.cl.Close()
	cl, err := kgo.NewClient(w.opts...)
	if err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	w.cl, w.adm = cl, kadm.NewClient(cl)
	w.inited, w.inTxn, w.stale, w.prepared = false, false, false, false
	w.errMu.Lock()
	w.err = nil
	w.errMu.Unlock()
	return w.initProducer(ctx)
}

// staleErr is the error of a commit of a transaction the broker aborted
// at its timeout: exec.ErrFenced, which a scaled-out query recovers from
// (Abort makes a new producer; its partitions are read again from the
// committed offsets, their state restored from the changelog).
func (w *Writer) staleErr(err error) error {
	w.stale = true
	return fmt.Errorf("%w: kafka sink: the broker aborted transaction %q at its timeout (%s; the process was paused that long): %w", exec.ErrFenced, w.cfg.txnID, w.txnTimeout(), err)
}

// failed is the first asynchronous produce error, nil when there is none
// or it is the broker's abort at the transaction timeout (the rows are
// dropped then: the transaction is lost, and its commit says so).
func (w *Writer) failed() error {
	err := w.firstErr()
	if err != nil && (w.stale || w.timedOut(err)) {
		w.stale = true
		return nil
	}
	return err
}

func (w *Writer) setErr(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
}

func (w *Writer) firstErr() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// Write encodes every row of rec and hands it to the producer, which
// sends asynchronously (blocking only when its buffer is full). Changelog
// rows: +I and +U write the row under its key, -U is skipped, -D writes a
// tombstone (nil value). It does not keep rec.
func (w *Writer) Write(ctx context.Context, rec arrow.Record) error {
	if w.closed {
		return errors.New("kafka sink: write after close")
	}
	if err := w.failed(); err != nil {
		return err
	}
	if w.stale {
		return nil // the transaction is lost: Commit reports it
	}
	if err := w.initProducer(ctx); err != nil {
		return err
	}
	var ops *array.Int8
	if w.changelog {
		ops, _ = rec.Column(w.opIdx).(*array.Int8)
		if ops == nil {
			return fmt.Errorf("kafka sink: column %q is not int8", exec.OpColumn)
		}
	}
	if w.cfg.format == "debezium-json" {
		return w.writeDebezium(ctx, rec, ops)
	}
	// One arena per call: records slice into it, and the producer only
	// reads them, so rows cost no allocation each.
	arena := make([]byte, 0, w.arenaHint)
	type span struct {
		k0, k1, v0, v1 int
		drop           bool
	}
	spans := make([]span, 0, rec.NumRows())
	// A -U whose key gets no +U/+I later in the record retracts the row
	// (a HAVING or filter over an aggregate dropped it): it becomes a
	// tombstone, as an upsert topic has no other way to say so.
	var pending map[string]int // key → index of its provisional tombstone
	for i := 0; i < int(rec.NumRows()); i++ {
		op := exec.OpInsert
		if ops != nil {
			op = exec.Op(ops.Value(i))
			if op != exec.OpInsert && len(w.keyIdx) == 0 {
				if op == exec.OpUpdateBefore {
					continue
				}
				return errors.New("kafka sink: an updating result needs key columns for its upserts: set key = 'col[,col]' (or aggregate by a key)")
			}
		}
		var sp span
		sp.k0 = len(arena)
		switch {
		case w.keyEnc != nil:
			arena = w.keyEnc.appendRow(arena, rec, i)
		case len(w.keyIdx) == 1:
			arena = appendText(arena, rec.Column(w.keyIdx[0]), i)
		}
		sp.k1 = len(arena)
		sp.v0, sp.v1 = -1, -1
		if ops != nil {
			key := string(arena[sp.k0:sp.k1])
			if j, ok := pending[key]; ok {
				spans[j].drop = true // superseded by this row
				delete(pending, key)
			}
			if op == exec.OpUpdateBefore {
				if pending == nil {
					pending = map[string]int{}
				}
				pending[key] = len(spans)
				op = exec.OpDelete
			}
		}
		if op != exec.OpDelete {
			sp.v0 = len(arena)
			arena = w.valEnc.appendRow(arena, rec, i)
			sp.v1 = len(arena)
		}
		spans = append(spans, sp)
	}
	w.arenaHint = len(arena) + len(arena)/8
	// One slab of records per call: the producer keeps pointers into it
	// until each record is acknowledged, which keeps the slab alive.
	recs := make([]kgo.Record, len(spans))
	now := time.Now() // one produce time per batch saves a clock read per row
	for i, sp := range spans {
		if sp.drop {
			continue
		}
		r := &recs[i]
		r.Timestamp = now
		if len(w.keyIdx) > 0 {
			r.Key = arena[sp.k0:sp.k1:sp.k1]
		}
		if sp.v0 >= 0 {
			r.Value = arena[sp.v0:sp.v1:sp.v1]
		}
		w.produce(ctx, r, w.promiseFn)
	}
	return nil
}

// txnPartitioner places the output topic's records as kgo does by
// default (def) and the records of any other topic by their Partition:
// those are a changelog's state records joining the transaction
// (Changelog.JoinWriter), one changelog partition per input partition.
type txnPartitioner struct {
	topic string
	def   kgo.Partitioner
}

// ForTopic implements kgo.Partitioner.
func (p txnPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == p.topic {
		return p.def.ForTopic(t)
	}
	return kgo.ManualPartitioner().ForTopic(t)
}

// stage produces recs (of other topics, placed by their Partition) in
// the open transaction, which the next Commit commits with the output.
func (w *Writer) stage(ctx context.Context, recs []*kgo.Record) error {
	if w.closed {
		return errors.New("kafka sink: write after close")
	}
	if err := w.failed(); err != nil || w.stale {
		return err
	}
	if err := w.initProducer(ctx); err != nil {
		return err
	}
	for _, r := range recs {
		w.produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				w.setErr(fmt.Errorf("kafka sink: producing to %s/%d in the transaction: %w", r.Topic, r.Partition, err))
			}
		})
	}
	return nil
}

func (w *Writer) promise(r *kgo.Record, err error) {
	if err != nil {
		w.setErr(fmt.Errorf("kafka sink: producing to %q: %w", w.cfg.topic, err))
	}
}

// Commit flushes everything written. With exactly-once delivery it also
// commits the transaction, which includes the source offsets upTo for the
// consumer group, so the output and the input position become visible
// atomically; then it begins the next transaction. With at-least-once
// delivery upTo is not committed here: the engine commits it through the
// source reader's CommitOffsets after Commit returns.
func (w *Writer) Commit(ctx context.Context, upTo exec.Offsets) error {
	if err := w.flush(ctx); err != nil {
		return w.fencedErr(err)
	}
	if !w.cfg.exactlyOnce {
		return nil
	}
	group, member, gen, reader := w.groupFor(upTo)
	if len(upTo) > 0 && group != "" {
		if w.produced > 0 {
			if err := w.txnCommitOffsetsRetry(ctx, group, member, gen, reader, upTo); err != nil {
				return w.fencedErr(err)
			}
		} else if err := commitOutsideTxn(ctx, w.adm, reader, group, upTo); err != nil {
			// Nothing was produced, so there is no transaction to tie the
			// offsets to; committing them alone is just as atomic.
			return err
		}
	}
	w.inTxn = false
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return w.fencedErr(fmt.Errorf("kafka sink: committing transaction: %w", err))
	}
	return w.begin()
}

// fencedErr names what fenced a commit that failed with err. The group
// moved on without this member (its generation is old, it left, its
// session expired): exec.ErrFenced, which a scaled-out query recovers
// from (Abort, then read again from the committed offsets). Another
// producer initialized the same transactional id: two processes share
// it, and since each could only go on by fencing the other, this one
// stops with an error that names where the id comes from.
func (w *Writer) fencedErr(err error) error {
	if w.stale || w.timedOut(err) {
		return w.staleErr(err)
	}
	if groupFenced(err) {
		return fmt.Errorf("%w: %w", exec.ErrFenced, err)
	}
	from := w.cfg.txnIDFrom
	if from == "" {
		from = "'transactional.id'"
	}
	return producerFencedErr(err, w.cfg.txnID, from)
}

var _ exec.Aborter = (*Writer)(nil)

// Abort implements exec.Aborter: an exactly-once writer aborts its open
// transaction (the records written and the changelog records staged
// since the last Commit never become visible) and begins the next;
// an at-least-once writer cannot take back what it sent and does
// nothing.
func (w *Writer) Abort(ctx context.Context) error {
	if !w.cfg.exactlyOnce || w.closed || (!w.inTxn && !w.stale) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.connectTimeout)
	defer cancel()
	if w.stale {
		return w.reinit(ctx)
	}
	w.inTxn = false
	if err := w.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("kafka sink: aborting: %w", err)
	}
	if err := w.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		if w.timedOut(err) {
			// The broker aborted it already, and fenced this producer.
			return w.reinit(ctx)
		}
		return w.fencedErr(fmt.Errorf("kafka sink: aborting transaction: %w", err))
	}
	w.errMu.Lock()
	w.err = nil // the aborted records' produce errors
	w.errMu.Unlock()
	return w.begin()
}

// flush sends everything written and waits for the acknowledgements.
func (w *Writer) flush(ctx context.Context) error {
	if w.closed {
		return errors.New("kafka sink: commit after close")
	}
	if err := w.initProducer(ctx); err != nil {
		return err
	}
	if err := w.cl.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink: flushing: %w", err)
	}
	if err := w.firstErr(); err != nil {
		return err
	}
	if w.stale {
		return errors.New("rows dropped after the transaction was aborted")
	}
	return nil
}

// Close ends the write. An open transaction is aborted, so output not
// committed never becomes visible to read_committed consumers; with
// at-least-once delivery records still buffered are dropped, but records
// already sent stay in the topic. Idempotent.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var err error
	if w.cfg.exactlyOnce && w.inTxn && !w.prepared {
		// A pre-committed transaction is left open: the checkpoint may
		// hold its handle, and the restart's Recover commits it.
		ctx, cancel := context.WithTimeout(context.Background(), w.cfg.connectTimeout)
		if aerr := w.cl.AbortBufferedRecords(ctx); aerr != nil {
			err = fmt.Errorf("kafka sink: aborting: %w", aerr)
		}
		if eerr := w.cl.EndTransaction(ctx, kgo.TryAbort); eerr != nil && err == nil {
			err = fmt.Errorf("kafka sink: aborting transaction: %w", eerr)
		}
		cancel()
		w.inTxn = false
	}
	w.cl.Close()
	return err
}
