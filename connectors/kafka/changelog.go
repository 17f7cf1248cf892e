package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// changelogChunk is the most state bytes one changelog record carries
// (brokers refuse records over about 1 MB by default).
const changelogChunk = 512 << 10

// Changelog is the state of one keyed operator per repartition partition
// in a compacted topic with as many partitions. A save of partition p
// writes, in one transaction, the state's chunks under the keys
// "chunk/0" … "chunk/n-1" of changelog partition p, then its "meta"
// record (n and the input offsets the state covers), and commits those
// offsets for the consumer group: state and position move together, and
// a fenced process (its partitions reassigned) cannot commit either.
// Compaction keeps the newest record per key; a restore reads the
// partition to its last stable offset and takes the newest meta and the
// chunks it names (written in the same transaction, so never older).
// Joined to an exactly-once sink writer (JoinWriter), a save writes the
// same records in the sink's open transaction instead, and the sink's
// Commit commits them with the output and the offsets.
type Changelog struct {
	src   *Source
	topic string
	txnID string

	mu       sync.Mutex
	cl       *kgo.Client // transactional producer, created on the first save
	adm      *kadm.Client
	topicIDs map[string][16]byte
	// joined, when set, is the exactly-once sink writer whose
	// transactions carry the saves (JoinWriter).
	joined *Writer
}

var _ exec.PartitionStateStore = (*Changelog)(nil)

// changelogMeta is the value of a partition's "meta" record.
type changelogMeta struct {
	Chunks  int          `json:"chunks"`
	Offsets exec.Offsets `json:"offsets"`
}

// OpenChangelog opens the changelog topic (made by EnsureInternalTopics)
// for saves under transactional id txnID.
func (s *Source) OpenChangelog(_ context.Context, topic, txnID string) (exec.PartitionStateStore, error) {
	if s.cfg.group == "" {
		return nil, optErr("a changelog needs 'group.id'")
	}
	return &Changelog{src: s, topic: topic, txnID: txnID, topicIDs: map[string][16]byte{}}, nil
}

func (c *Changelog) producer(ctx context.Context) error {
	if c.cl != nil {
		return nil
	}
	cl, err := kgo.NewClient(c.src.cfg.clientOpts(
		kgo.DefaultProduceTopic(c.topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(c.txnID),
		kgo.TransactionTimeout(exchangeTxnTimeout),
		kgo.ProducerBatchMaxBytes(changelogChunk+changelogChunk/2),
		kgo.DisableClientMetrics(),
	)...)
	if err != nil {
		return fmt.Errorf("kafka changelog: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, c.src.cfg.connectTimeout)
	defer cancel()
	if _, _, err := cl.ProducerID(pctx); err != nil {
		cl.Close()
		return fmt.Errorf("kafka changelog %q: initializing transactional id %q: %w", c.topic, c.txnID, err)
	}
	c.cl, c.adm = cl, kadm.NewClient(cl)
	return nil
}

// Save writes states and commits upTo for the group in one transaction,
// as the member of this process's group reader that holds upTo's
// partitions (fenced when the group has moved on without it).
func (c *Changelog) Save(ctx context.Context, states map[int32][]byte, upTo exec.Offsets) error {
	member, gen, r := "", int32(-1), groupReaderOf(c.src.cfg.group, upTo)
	if r != nil {
		member, gen = r.groupMember()
	}
	return c.save(ctx, states, upTo, member, gen, r)
}

// save is Save as group member member of generation gen, of reader
// (nil: none), whose new generation a commit during a rebalance retries
// with (ridingRebalance).
func (c *Changelog) save(ctx context.Context, states map[int32][]byte, upTo exec.Offsets, member string, gen int32, reader *Reader) error {
	if len(states) == 0 {
		// Nothing to write: a transaction without a record would never
		// be ended (kgo sends no EndTxn for it), leaving the offsets
		// staged in it.
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	recs, err := c.records(states, upTo)
	if err != nil {
		return err
	}
	if c.joined != nil {
		// The sink's Commit commits these with the output and upTo.
		return c.joined.stage(ctx, recs)
	}
	if err := c.producer(ctx); err != nil {
		return err
	}
	if err := c.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("kafka changelog %q: beginning transaction: %w", c.topic, err)
	}
	var perr error
	var pmu sync.Mutex
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			pmu.Lock()
			if perr == nil {
				perr = err
			}
			pmu.Unlock()
		}
	}
	for _, r := range recs {
		c.cl.Produce(ctx, r, promise)
	}
	if len(upTo) > 0 {
		group := c.src.cfg.group
		err := ridingRebalance(ctx, reader, upTo, member, gen, func(member string, gen int32) error {
			return txnCommitOffsets(ctx, c.cl, c.adm, c.txnID, c.topicIDs, group, member, gen, upTo)
		})
		if err != nil {
			if groupFenced(err) {
				return c.abortFenced()
			}
			return c.abort(c.producerFenced(err))
		}
	}
	if err := c.cl.Flush(ctx); err != nil {
		return c.abort(fmt.Errorf("kafka changelog %q: flushing: %w", c.topic, err))
	}
	if perr != nil {
		return c.abort(c.producerFenced(fmt.Errorf("kafka changelog %q: producing: %w", c.topic, perr)))
	}
	if err := c.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		if groupFenced(err) {
			return exec.ErrFenced
		}
		return c.producerFenced(fmt.Errorf("kafka changelog %q: committing: %w", c.topic, err))
	}
	return nil
}

// producerFenced names the cause of err when another producer took the
// changelog's transactional id: another process runs the query under the
// same identity.
func (c *Changelog) producerFenced(err error) error {
	return producerFencedErr(err, c.txnID, internalTxnIDFrom)
}

// producerFencedErr is err naming, when another producer took
// transactional id txnID, what the id comes from (from): two processes
// share it, and since each could go on only by fencing the other, the
// one fenced stops. (The broker answers alike when it aborted the
// producer's transaction at its timeout, so the message says that too.)
func producerFencedErr(err error, txnID, from string) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		return fmt.Errorf("%w: another producer took transactional id %q: %s is shared by two running queries (each needs its own), or the broker aborted this producer's transaction at its timeout (the process was paused that long)", err, txnID, from)
	}
	return err
}

// records are the changelog records of a save of states covering upTo:
// per partition its chunks, then its meta.
func (c *Changelog) records(states map[int32][]byte, upTo exec.Offsets) ([]*kgo.Record, error) {
	var recs []*kgo.Record
	for p, st := range states {
		n := 0
		for off := 0; off < len(st) || n == 0; off += changelogChunk {
			end := min(off+changelogChunk, len(st))
			recs = append(recs, &kgo.Record{Topic: c.topic, Partition: p, Key: []byte("chunk/" + strconv.Itoa(n)), Value: st[off:end]})
			n++
			if end == len(st) {
				break
			}
		}
		meta, err := json.Marshal(changelogMeta{Chunks: n, Offsets: offsetsOfPartition(upTo, p)})
		if err != nil {
			return nil, fmt.Errorf("kafka changelog %q: %w", c.topic, err)
		}
		recs = append(recs, &kgo.Record{Topic: c.topic, Partition: p, Key: []byte("meta"), Value: meta})
	}
	return recs, nil
}

// JoinWriter implements exec.TxnStateStore: w joins when it is an
// exactly-once Kafka writer of this changelog's cluster (the changelog
// topic it sees has the same topic id) committing offsets for this
// changelog's consumer group.
func (c *Changelog) JoinWriter(ctx context.Context, sw exec.SinkWriter) (bool, error) {
	w, ok := sw.(*Writer)
	if !ok || !w.cfg.exactlyOnce || (w.cfg.group != "" && w.cfg.group != c.src.cfg.group) {
		return false, nil
	}
	adm, done, err := c.src.admin()
	if err != nil {
		return false, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, c.src.cfg.connectTimeout)
	defer cancel()
	mine, err := adm.Metadata(ctx, c.topic)
	if err != nil {
		return false, fmt.Errorf("kafka changelog %q: metadata: %w", c.topic, err)
	}
	theirs, err := w.adm.Metadata(ctx, c.topic)
	if err != nil {
		return false, fmt.Errorf("kafka changelog %q: metadata from the sink's cluster: %w", c.topic, err)
	}
	m, t := mine.Topics[c.topic], theirs.Topics[c.topic]
	if m.Err != nil || t.Err != nil || m.ID != t.ID {
		return false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.joined = w
	return true, nil
}

// offsetsOfPartition keeps the entries of upTo for partition p (of any
// topic: the repartition topic is the only one a downstream part reads).
func offsetsOfPartition(upTo exec.Offsets, p int32) exec.Offsets {
	out := exec.Offsets{}
	for k, v := range upTo {
		if _, kp, err := parseOffsetKey(k); err == nil && kp == p {
			out[k] = v
		}
	}
	return out
}

func (c *Changelog) abort(cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.src.cfg.connectTimeout)
	defer cancel()
	_ = c.cl.AbortBufferedRecords(ctx)
	if err := c.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("%w (and aborting the transaction: %v)", cause, err)
	}
	return cause
}

func (c *Changelog) abortFenced() error {
	if err := c.abort(exec.ErrFenced); !errors.Is(err, exec.ErrFenced) {
		return err
	}
	return exec.ErrFenced
}

// groupFenced reports whether err is the group refusing a member whose
// generation or membership is gone (not a producer fenced by another
// with its transactional id).
func groupFenced(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.UnknownMemberID) ||
		errors.Is(err, kerr.FencedInstanceID) || errors.Is(err, kerr.RebalanceInProgress)
}

// groupReaderOf returns this process's live reader of group holding one
// of upTo's partitions, nil when there is none.
func groupReaderOf(group string, upTo exec.Offsets) *Reader {
	groupReaders.Lock()
	defer groupReaders.Unlock()
	for _, r := range groupReaders.m[group] {
		offs := r.Offsets()
		for k := range upTo {
			if _, ok := offs[k]; ok {
				return r
			}
		}
	}
	return nil
}

// Load reads changelog partition p up to its last stable offset and
// returns the newest state saved for it.
func (c *Changelog) Load(ctx context.Context, p int32) ([]byte, exec.Offsets, bool, error) {
	cl, err := kgo.NewClient(c.src.cfg.clientOpts(
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxPartitionBytes(8<<20),
		// The end is known: a fetch that finds nothing more need not
		// wait for new records (the default waits 5 s).
		kgo.FetchMaxWait(50*time.Millisecond),
		kgo.DisableClientMetrics(),
	)...)
	if err != nil {
		return nil, nil, false, fmt.Errorf("kafka changelog: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	lctx, cancel := context.WithTimeout(ctx, c.src.cfg.connectTimeout)
	starts, err := adm.ListStartOffsets(lctx, c.topic)
	var highs kadm.ListedOffsets
	if err == nil {
		highs, err = adm.ListEndOffsets(lctx, c.topic)
	}
	cancel()
	if err != nil {
		return nil, nil, false, fmt.Errorf("kafka changelog %q: listing offsets: %w", c.topic, err)
	}
	so, _ := starts.Lookup(c.topic, p)
	high, ok := highs.Lookup(c.topic, p)
	if !ok || high.Err != nil {
		return nil, nil, false, fmt.Errorf("kafka changelog %q: no partition %d", c.topic, p)
	}
	eo, err := c.stableEnd(ctx, adm, p, high.Offset)
	if err != nil {
		return nil, nil, false, err
	}
	if eo.Offset <= so.Offset {
		return nil, nil, false, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{c.topic: {p: kgo.NewOffset().At(so.Offset)}})
	latest := map[string][]byte{}
	next := so.Offset
	for next < eo.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, nil, false, err
		}
		var ferr error
		fs.EachError(func(t string, fp int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("kafka changelog %s/%d: %w", t, fp, err)
			}
		})
		if ferr != nil {
			return nil, nil, false, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= eo.Offset {
				return
			}
			next = max(next, r.Offset+1)
			if !r.Attrs.IsControl() {
				latest[string(r.Key)] = r.Value
			}
		})
	}
	raw, ok := latest["meta"]
	if !ok {
		return nil, nil, false, nil
	}
	var meta changelogMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, nil, false, fmt.Errorf("kafka changelog %s/%d: bad meta record: %w", c.topic, p, err)
	}
	chunks := make([][]byte, meta.Chunks)
	for i := range chunks {
		chunk, ok := latest["chunk/"+strconv.Itoa(i)]
		if !ok {
			return nil, nil, false, fmt.Errorf("kafka changelog %s/%d: chunk %d of %d is missing", c.topic, p, i, meta.Chunks)
		}
		chunks[i] = chunk
	}
	if len(chunks) == 1 {
		return chunks[0], meta.Offsets, true, nil // the record's own bytes: no copy
	}
	// bytes.Join allocates without zeroing what it copies over: a
	// make of the state's size cleared every byte first, a third of a
	// restore's CPU (BenchmarkChangelogRestore).
	return bytes.Join(chunks, nil), meta.Offsets, true, nil
}

// stableEnd waits until changelog partition p's last stable offset
// reaches high, its end when the restore began, and returns it. A
// transaction still open there is a previous owner's that has not ended
// yet (a dead process's, until its timeout aborts it): reading only to
// the stable offset it holds back would miss the saves committed after
// it began, those of an owner in between when the partition moved
// twice, and restore a state older than the offsets the group
// committed with the newer one.
func (c *Changelog) stableEnd(ctx context.Context, adm *kadm.Client, p int32, high int64) (kadm.ListedOffset, error) {
	for {
		lctx, cancel := context.WithTimeout(ctx, c.src.cfg.connectTimeout)
		ends, err := adm.ListCommittedOffsets(lctx, c.topic)
		cancel()
		if err != nil {
			return kadm.ListedOffset{}, fmt.Errorf("kafka changelog %q: listing offsets: %w", c.topic, err)
		}
		eo, ok := ends.Lookup(c.topic, p)
		if !ok || eo.Err != nil {
			return kadm.ListedOffset{}, fmt.Errorf("kafka changelog %q: no partition %d", c.topic, p)
		}
		if eo.Offset >= high {
			return eo, nil
		}
		select {
		case <-ctx.Done():
			return kadm.ListedOffset{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Close closes the producer; a save in progress is not interrupted.
func (c *Changelog) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cl != nil {
		c.cl.Close()
		c.cl = nil
	}
	return nil
}
