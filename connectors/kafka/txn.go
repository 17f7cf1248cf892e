package kafka

import (
	"context"
	"fmt"
	"sync"

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
	id, epoch, err := w.cl.ProducerID(ctx)
	if err != nil {
		return fmt.Errorf("kafka sink: producer id: %w", err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = w.cfg.txnID, id, epoch, group
	aresp, err := add.RequestWith(ctx, w.cl)
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
	if err := w.loadTopicIDs(ctx, ko); err != nil {
		return err
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = w.cfg.txnID, group, id, epoch
	req.Generation, req.MemberID = gen, member
	for t, ps := range ko {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic, rt.TopicID = t, w.topicIDs[t]
		for p, eo := range ps {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, eo.Offset
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, w.cl)
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
// topics by.
func (w *Writer) loadTopicIDs(ctx context.Context, ko map[string]map[int32]kgo.EpochOffset) error {
	var missing []string
	for t := range ko {
		if _, ok := w.topicIDs[t]; !ok {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	md, err := w.adm.Metadata(ctx, missing...)
	if err != nil {
		return fmt.Errorf("kafka sink: metadata of %v: %w", missing, err)
	}
	for t, td := range md.Topics {
		w.topicIDs[t] = td.ID
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
