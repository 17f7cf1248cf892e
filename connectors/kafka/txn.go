package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/exec"
)

// groupReaders tracks the live group readers of this process, so an
// exactly-once sink can find the consumer group (and its member id and
// generation, for fencing) that the offsets it commits belong to.
var groupReaders = struct {
	sync.Mutex
	m map[string][]*Reader
}{m: map[string][]*Reader{}}

func registerGroupReader(group string, r *Reader) {
	groupReaders.Lock()
	defer groupReaders.Unlock()
	groupReaders.m[group] = append(groupReaders.m[group], r)
}

func unregisterGroupReader(group string, r *Reader) {
	groupReaders.Lock()
	defer groupReaders.Unlock()
	rs := groupReaders.m[group]
	for i, x := range rs {
		if x == r {
			groupReaders.m[group] = append(rs[:i:i], rs[i+1:]...)
			break
		}
	}
	if len(groupReaders.m[group]) == 0 {
		delete(groupReaders.m, group)
	}
}

// groupFor picks the consumer group upTo is committed to: the sink's
// 'group.id', else the group of a live reader holding one of upTo's
// partitions. member and gen identify that reader in its group (empty and
// -1 when there is none, which brokers accept as a standalone commit).
func (w *Writer) groupFor(upTo exec.Offsets) (group, member string, gen int32, reader *Reader) {
	gen = -1
	groupReaders.Lock()
	defer groupReaders.Unlock()
	for g, rs := range groupReaders.m {
		if w.cfg.group != "" && g != w.cfg.group {
			continue
		}
		for _, r := range rs {
			offs := r.Offsets()
			for k := range upTo {
				if _, ok := offs[k]; ok {
					m, gn := r.groupMember()
					return g, m, gn, r
				}
			}
		}
	}
	return w.cfg.group, "", -1, nil
}

// txnCommitOffsets adds upTo to the open transaction as offsets of group:
// AddOffsetsToTxn ties the group to the transaction and TxnOffsetCommit
// stages the offsets, which EndTransaction then commits or aborts with
// the records. kgo only does this for a client that is itself the group
// consumer; here source and sink are separate clients.
func (w *Writer) txnCommitOffsets(ctx context.Context, group, member string, gen int32, upTo exec.Offsets) error {
	return txnCommitOffsets(ctx, w.cl, w.adm, w.cfg.txnID, w.topicIDs, group, member, gen, upTo)
}

// rebalanceWait bounds how long a transactional offset commit waits for
// this process's group member to learn its new generation (well inside
// the transaction timeout).
const rebalanceWait = 5 * time.Second

// txnCommitOffsetsRetry is txnCommitOffsets riding out a rebalance
// (ridingRebalance).
func (w *Writer) txnCommitOffsetsRetry(ctx context.Context, group, member string, gen int32, reader *Reader, upTo exec.Offsets) error {
	return ridingRebalance(ctx, reader, upTo, member, gen, func(member string, gen int32) error {
		return w.txnCommitOffsets(ctx, group, member, gen, upTo)
	})
}

// ridingRebalance runs commit, a transactional offset commit of upTo as
// group member member of generation gen, and rides out a rebalance: while
// the group forms a new generation, a commit with the one the member
// knows is refused (ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS) although
// the member keeps its partitions (a cooperative rebalance takes
// partitions away only through the revoke hook, which commits first).
// So it retries with reader's new generation, as long as reader still
// holds every partition of upTo; a partition it lost (another member has
// it now) leaves the error, and the caller aborts the transaction.
func ridingRebalance(ctx context.Context, reader *Reader, upTo exec.Offsets, member string, gen int32, commit func(member string, gen int32) error) error {
	deadline := time.Now().Add(rebalanceWait)
	var epoch uint64
	if reader != nil {
		epoch = reader.Epoch()
	}
	for {
		err := commit(member, gen)
		if err == nil || reader == nil || !(errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress)) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
		held := reader.Offsets()
		for k := range upTo {
			if _, ok := held[k]; !ok {
				return err
			}
		}
		member, gen = reader.groupMember()
		// A member that lost its partitions meanwhile (onLost) joins
		// again under a new generation: what this commit covers was
		// read before the loss and must not commit under it. (Read
		// after the generation: a loss moves the epoch before the
		// member rejoins.)
		if reader.Epoch() != epoch {
			return err
		}
	}
}

// txnCommitOffsets stages upTo for group in the open transaction of the
// transactional client cl (id txnID); topicIDs caches the topic ids newer
// requests name topics by.
func txnCommitOffsets(ctx context.Context, cl *kgo.Client, adm *kadm.Client, txnID string, topicIDs map[string][16]byte, group, member string, gen int32, upTo exec.Offsets) error {
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("kafka sink: producer id: %w", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = txnID, id, epoch, group
	aresp, err := add.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(aresp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("kafka sink: adding offsets of group %q to the transaction: %w", group, err)
	}
	ko, err := toKgoOffsets(upTo)
	if err != nil {
		return err
	}
	if err := loadTopicIDs(ctx, adm, topicIDs, ko); err != nil {
		return err
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = txnID, group, id, epoch
	req.Generation, req.MemberID = gen, member
	for t, ps := range ko {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = t, topicIDs[t]
		for p, eo := range ps {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, eo.Offset
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("kafka sink: committing offsets of group %q in the transaction: %w", group, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
				return fmt.Errorf("kafka sink: committing offset of %s/%d for group %q in the transaction: %w", t.Topic, p.Partition, group, e)
			}
		}
	}
	return nil
}

// loadTopicIDs fetches the ids newer TxnOffsetCommit versions name
// topics by into ids.
func loadTopicIDs(ctx context.Context, adm *kadm.Client, ids map[string][16]byte, ko map[string]map[int32]kgo.EpochOffset) error {
	var missing []string
	for t := range ko {
		if _, ok := ids[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	md, err := adm.Metadata(ctx, missing...)
	if err != nil {
		return fmt.Errorf("kafka sink: metadata of %v: %w", missing, err)
	}
	for t, td := range md.Topics {
		ids[t] = td.ID
	}
	return nil
}

// commitOutsideTxn commits offsets without a transaction, through the
// group's reader when it is in this process (so its generation is used)
// or as a standalone commit.
func commitOutsideTxn(ctx context.Context, adm *kadm.Client, r *Reader, group string, upTo exec.Offsets) error {
	if r != nil {
		return r.CommitOffsets(ctx, upTo)
	}
	ko, err := toKgoOffsets(upTo)
	if err != nil {
		return err
	}
	os := kadm.Offsets{}
	for t, ps := range ko {
		for p, eo := range ps {
			os.Add(kadm.Offset{Topic: t, Partition: p, At: eo.Offset, LeaderEpoch: -1})
		}
	}
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("kafka sink: committing offsets of group %q: %w", group, err)
	}
	return nil
}

// txnHandle is an exactly-once writer's pre-commit handle: the open
// transaction, identified by its producer id and epoch, and the
// checkpoint whose marker the transaction commits.
type txnHandle struct {
	TxnID      string `json:"txn_id,omitempty"`
	ProducerID int64  `json:"producer_id"`
	Epoch      int16  `json:"epoch"`
	Checkpoint int64  `json:"checkpoint"`
	// Empty is set when the checkpoint's transaction produced no record:
	// there is no transaction to finish, CommitPending commits the
	// offsets and the marker outside one.
	Empty bool `json:"empty,omitempty"`
}

// markerGroup is the consumer group an exactly-once writer's transactions
// record their checkpoint in: an offset of the output topic's partition 0
// whose value is the checkpoint number. Nobody consumes it; it makes the
// commit of a transaction observable after a crash (Recover).
func (w *Writer) markerGroup() string { return "sluice-txn-" + w.cfg.txnID }

// PreCommit flushes everything written and, for exactly-once delivery,
// stages in the open transaction the source offsets upTo (for the
// consumer group, as Commit does) and checkpoint id's marker, without
// committing it: the transaction is prepared, and its handle (producer id
// and epoch) goes into the checkpoint. A checkpoint whose transaction
// has no record stages nothing (there would be no EndTxn to commit it):
// its handle is marked empty and CommitPending commits the offsets and
// the marker alone. At-least-once output is visible once flushed; its
// handle is empty.
func (w *Writer) PreCommit(ctx context.Context, id exec.CheckpointID, upTo exec.Offsets) ([]byte, error) {
	if err := w.flush(ctx); err != nil {
		return nil, err
	}
	if !w.cfg.exactlyOnce {
		return json.Marshal(txnHandle{})
	}
	if w.produced == 0 {
		// kgo sends no EndTxn for a transaction it produced nothing in,
		// so offsets staged here would stay in an open transaction that
		// the next checkpoint's records join — and a restart's Recover,
		// seeing the marker short of this checkpoint, would commit those
		// records by this handle's producer id and epoch while the
		// restored state emits them again. Without records the offsets
		// and the marker need no transaction: CommitPending commits them
		// alone once the checkpoint is saved.
		w.pendingOffsets, w.pendingID = upTo, id
		w.prepared = true
		return json.Marshal(txnHandle{TxnID: w.cfg.txnID, Checkpoint: int64(id), Empty: true})
	}
	group, member, gen, _ := w.groupFor(upTo)
	if len(upTo) > 0 && group != "" {
		if err := w.txnCommitOffsets(ctx, group, member, gen, upTo); err != nil {
			return nil, err
		}
	}
	marker := exec.Offsets{offsetKey(w.cfg.topic, 0): int64(id)}
	if err := w.txnCommitOffsets(ctx, w.markerGroup(), "", -1, marker); err != nil {
		return nil, err
	}
	pid, epoch, err := w.cl.ProducerID(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: producer id: %w", err)
	}
	w.prepared = true
	return json.Marshal(txnHandle{TxnID: w.cfg.txnID, ProducerID: pid, Epoch: epoch, Checkpoint: int64(id)})
}

// CommitPending commits the transaction PreCommit prepared and begins the
// next one. A handle whose transaction is no longer open here (committed
// already) is a no-op.
func (w *Writer) CommitPending(ctx context.Context, handle []byte) error {
	if w.closed {
		return errors.New("kafka sink: commit after close")
	}
	if !w.cfg.exactlyOnce || !w.prepared {
		return nil
	}
	if w.produced == 0 {
		// An empty checkpoint (PreCommit staged nothing): the open
		// transaction stays open for the next records.
		w.prepared = false
		upTo, id := w.pendingOffsets, w.pendingID
		w.pendingOffsets = nil
		if group, _, _, reader := w.groupFor(upTo); len(upTo) > 0 && group != "" {
			if err := commitOutsideTxn(ctx, w.adm, reader, group, upTo); err != nil {
				return err
			}
		}
		marker := exec.Offsets{offsetKey(w.cfg.topic, 0): int64(id)}
		return commitOutsideTxn(ctx, w.adm, nil, w.markerGroup(), marker)
	}
	w.prepared, w.inTxn = false, false
	if err := w.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("kafka sink: committing transaction: %w", err)
	}
	return w.begin()
}

// Recover finishes the transaction the restored checkpoint pre-committed
// and then initializes the producer, which aborts whatever a crashed
// incarnation left open beyond it. Whether the transaction committed
// before the crash is read from the marker group; if it did not, it is
// committed now with the producer id and epoch of the handle — possible
// while it is open, that is within the transaction timeout of the crash.
// Without a handle (a fresh start) only the producer is initialized.
func (w *Writer) Recover(ctx context.Context, handle []byte) error {
	if w.closed {
		return errors.New("kafka sink: recover after close")
	}
	var h txnHandle
	if handle != nil {
		if err := json.Unmarshal(handle, &h); err != nil {
			return fmt.Errorf("kafka sink: reading the transaction handle: %w", err)
		}
	}
	if w.cfg.exactlyOnce && h.TxnID != "" && !h.Empty {
		if h.TxnID != w.cfg.txnID {
			return fmt.Errorf("kafka sink: the checkpoint's transaction has 'transactional.id' %q, the sink %q: restore with the same id, or start fresh with a new checkpoint directory", h.TxnID, w.cfg.txnID)
		}
		done, err := w.markerAtLeast(ctx, h.Checkpoint)
		if err != nil {
			return err
		}
		if !done {
			if err := w.endTxn(ctx, h); err != nil {
				return err
			}
		}
	}
	return w.initProducer(ctx)
}

// markerAtLeast reports whether the marker group records checkpoint seq
// or a later one as committed.
func (w *Writer) markerAtLeast(ctx context.Context, seq int64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.connectTimeout)
	defer cancel()
	fetched, err := w.adm.FetchOffsets(ctx, w.markerGroup())
	if errors.Is(err, kerr.GroupIDNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("kafka sink: reading the committed checkpoint of group %q: %w", w.markerGroup(), err)
	}
	o, ok := fetched.Lookup(w.cfg.topic, 0)
	return ok && o.Err == nil && o.At >= seq, nil
}

// endTxn commits the transaction of h as its producer (id and epoch),
// from a plain client: the writer's own client would fence it first.
func (w *Writer) endTxn(ctx context.Context, h txnHandle) error {
	cl, err := kgo.NewClient(w.cfg.clientOpts(kgo.DisableClientMetrics())...)
	if err != nil {
		return fmt.Errorf("kafka sink: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, w.cfg.connectTimeout)
	defer cancel()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = h.TxnID, h.ProducerID, h.Epoch, true
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return fmt.Errorf("kafka sink: committing the transaction of checkpoint %d ('transactional.id' %q): %w; "+
			"its output was aborted (a restart later than the transaction timeout after the crash?) and is lost: "+
			"start fresh with a new checkpoint directory to recompute it", h.Checkpoint, h.TxnID, err)
	}
	return nil
}
