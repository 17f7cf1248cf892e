package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

var _ exec.ExchangeHost = (*Source)(nil)

// exchangeTxnTimeout bounds how long the open transaction of a process
// that died holds back the readers of the repartition topic (Kafka
// Streams uses 10 s under exactly-once too).
const exchangeTxnTimeout = 10 * time.Second

// internalTxnIDFrom names where the transactional ids of a scaled-out
// query's internal topics come from: its checkpoint directory (the
// query's identity across restarts), else a fresh one per run.
const internalTxnIDFrom = "the checkpoint directory (the query's identity, from which the ids of its internal topics' transactions are made)"

// exchangeSessionTimeout is how soon the group hands a dead process's
// partitions of a scaled-out query to the others: a partition waits that
// long, so it is kept short (Kafka's minimum is 6 s).
const exchangeSessionTimeout = 6 * time.Second

// admin is a short-lived admin client of the source's cluster.
func (s *Source) admin() (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(s.cfg.clientOpts(kgo.DisableClientMetrics())...)
	if err != nil {
		return nil, nil, fmt.Errorf("kafka: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// EnsureInternalTopics creates the repartition topic and the compacted
// changelog topic of one exchange when they are missing. Their partition
// count is partitions, else the source's 'parallelism', else the source
// topics' largest count: as many repartition partitions as source
// partitions lets as many processes share the keyed work as share the
// reading. Existing topics keep their count (a key's partition, and the
// state saved per partition, depend on it), so asking for another is an
// error.
func (s *Source) EnsureInternalTopics(ctx context.Context, repartition, changelog string, partitions int) (int, error) {
	adm, done, err := s.admin()
	if err != nil {
		return 0, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	asked := partitions
	if asked <= 0 {
		asked = s.scale.parallelism
	}
	partitions = asked
	if partitions <= 0 {
		parts, err := s.ping(ctx, adm)
		if err != nil {
			return 0, err
		}
		for _, ps := range parts {
			partitions = max(partitions, len(ps))
		}
	}
	if partitions <= 0 {
		return 0, fmt.Errorf("kafka: no source partitions to size the internal topic %q by", repartition)
	}
	md, err := adm.Metadata(ctx, repartition, changelog)
	if err != nil {
		return 0, fmt.Errorf("kafka: metadata of internal topics: %w", err)
	}
	have := func(t string) (int, bool) {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil {
			return 0, false
		}
		return len(td.Partitions), true
	}
	create := func(t string, configs map[string]*string) error {
		resp, err := adm.CreateTopic(ctx, int32(partitions), -1, configs, t)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka: creating internal topic %q (%d partitions): %w", t, partitions, err)
		}
		return nil
	}
	n, ok := have(repartition)
	if ok && asked > 0 && n != asked {
		return 0, fmt.Errorf("kafka: internal topic %q has %d partitions but 'parallelism' asks for %d: drop the query's internal topics (DROP SOURCE ... CASCADE) to start over with %d, or set 'parallelism' = '%d'", repartition, n, asked, asked, n)
	}
	if !ok {
		if err := create(repartition, nil); err != nil {
			return 0, err
		}
		n = partitions
	}
	if c, ok := have(changelog); ok {
		if c != n {
			return 0, fmt.Errorf("kafka: changelog topic %q has %d partitions but repartition topic %q has %d: delete both (DROP ... CASCADE) to start over", changelog, c, repartition, n)
		}
		return n, nil
	}
	compact := "compact"
	partitions = n
	if err := create(changelog, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return 0, err
	}
	return n, nil
}

// UpstreamSource is s reading in the group from its committed offsets:
// the exchange commits them in each transaction with the records it
// wrote, so a partition's next reader (this process after a restart, or
// another after a rebalance) resumes exactly after what reached the
// repartition topic.
func (s *Source) UpstreamSource() (exec.Source, error) {
	if s.cfg.group == "" {
		return nil, optErr("a scaled-out exchange needs 'group.id'")
	}
	cfg := *s.cfg
	cfg.startMode = StartGroupOffsets
	cfg.sessionTimeout = exchangeSessionTimeout
	up := *s
	up.cfg = &cfg
	return &up, nil
}

// RepartitionSink writes rows to the repartition topic as JSON records
// keyed by keys (the default partitioner hashes the key, so one key
// always lands in one partition), exactly once: each commit is one
// transaction holding the records and the upstream offsets, found through
// the group reader of this process that holds them.
func (s *Source) RepartitionSink(topic string, keys []string, txnID string) (exec.Sink, error) {
	cfg := &sinkConfig{connConfig: s.cfg.connConfig, topic: topic, format: "json", key: keys,
		exactlyOnce: true, txnID: txnID, group: s.cfg.group, partitions: 1, replication: 1,
		txnTimeout: exchangeTxnTimeout, marks: true, txnIDFrom: internalTxnIDFrom}
	return &Sink{cfg: cfg}, nil
}

// RepartitionSource reads the repartition topic in the source's group:
// read_committed (only what an upstream transaction committed), from the
// group's committed offsets, which the changelog commits with the state
// they cover.
func (s *Source) RepartitionSource(topic string, schema *arrow.Schema, upstream [][]string) (exec.Source, error) {
	cfg := &sourceConfig{connConfig: s.cfg.connConfig, topics: []string{topic}, format: "json",
		startMode: StartGroupOffsets, group: s.cfg.group, onError: OnErrorFail, readCommitted: true,
		sessionTimeout: exchangeSessionTimeout, carry: upstream}
	rs := &Source{cfg: cfg, schema: schema, valueFormat: valueFormat{name: "json"}}
	for i, f := range schema.Fields() {
		if metaKindOf(f.Name) != metaNone {
			return nil, fmt.Errorf("kafka: exchange column %q is a metadata column name", f.Name)
		}
		rs.dataIdx = append(rs.dataIdx, i)
	}
	return rs, nil
}

// SourcePartitions implements exec.ExchangeHost: every partition of the
// source's topics, by Offsets key, sorted.
func (s *Source) SourcePartitions(ctx context.Context) ([]string, error) {
	adm, done, err := s.admin()
	if err != nil {
		return nil, err
	}
	defer done()
	parts, err := s.ping(ctx, adm)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range sortedTopics(parts) {
		ps := slices.Clone(parts[t])
		slices.Sort(ps)
		for _, p := range ps {
			out = append(out, offsetKey(t, p))
		}
	}
	return out, nil
}

var _ exec.PartitionNamer = (*Reader)(nil)

// PartitionKey implements exec.PartitionNamer.
func (r *Reader) PartitionKey(id int32) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, st := range r.parts {
		if st.id == id {
			return offsetKey(k.t, k.p), true
		}
	}
	for t, ord := range r.topicOrd {
		if ord == id>>20 {
			return offsetKey(t, id&(1<<20-1)), true
		}
	}
	return "", false
}

// DeleteInternalTopics deletes the named topics; missing ones are no
// error.
func (s *Source) DeleteInternalTopics(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	adm, done, err := s.admin()
	if err != nil {
		return err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	resp, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("kafka: deleting internal topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("kafka: deleting internal topic %q: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// InternalTopics lists the cluster's topics named with prefix and their
// partition counts.
func (s *Source) InternalTopics(ctx context.Context, prefix string) (map[string]int, error) {
	adm, done, err := s.admin()
	if err != nil {
		return nil, err
	}
	defer done()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("kafka: listing topics: %w", err)
	}
	out := map[string]int{}
	for name, d := range td {
		if strings.HasPrefix(name, prefix) && d.Err == nil {
			out[name] = len(d.Partitions)
		}
	}
	return out, nil
}

var _ exec.RevokeNotifier = (*Reader)(nil)

// SetRevokeHook makes the reader call hook with the partitions the group
// revokes (Batch.Partition id → "topic/partition"), in a cooperative
// rebalance while this member still belongs to the group, before it
// forgets them; the rebalance waits for hook, so a caller can commit what
// it produced from those partitions first. Call it before the first
// Next.
func (r *Reader) SetRevokeHook(hook func(ctx context.Context, revoked map[int32]string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revokeHook = hook
}

// onRevokedCommit runs the revoke hook, then forgets the partitions.
// Before the hook runs, Next stops returning the revoked partitions'
// records and the caller has passed on every batch Next returned before
// (it came back for the next one, or the reader closed): so everything
// read from them is in the caller's hands when the hook commits it, and
// nothing read after.
func (r *Reader) onRevokedCommit(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	r.mu.Lock()
	hook := r.revokeHook
	ids := r.markRevoking(revoked)
	var back chan struct{}
	if r.handed && !r.closed {
		back = r.back
	}
	r.mu.Unlock()
	if hook != nil && len(ids) > 0 {
		if back != nil {
			select {
			case <-back:
			case <-ctx.Done():
			}
		}
		hook(ctx, ids)
	}
	r.onRevoked(ctx, cl, revoked)
}

var _ exec.LossNotifier = (*Reader)(nil)

// SetLostHook makes the reader call hook with the partitions the group
// took away without a revoke (a session timeout, a fenced member:
// kgo's OnPartitionsLost, always every partition held), before it
// forgets them. As for a revoke, Next returns none of their records once
// the loss is known and the caller has passed on every batch returned
// before; unlike a revoke, nothing produced from them may be committed
// any more (the group has moved on: their next owner starts from the
// committed offsets), so the hook discards it. The group rejoins only
// after hook returns. Call it before the first Next.
func (r *Reader) SetLostHook(hook func(ctx context.Context, lost map[int32]string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lostHook = hook
}

// Epoch implements exec.LossNotifier: it moves on each loss and each
// Rewind applied. Next changes it only on the goroutine that calls
// Next (a Rewind) or while no batch it returned is held back (a loss
// waits for the caller to come back), so the caller that reads Epoch
// right after Next knows which side of a loss or rewind the batch is on.
func (r *Reader) Epoch() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.epoch
}

// Rewind implements exec.LossNotifier: unless a loss or a rewind moved
// the epoch past epoch already (the batches after it are read from the
// committed offsets), the next Next first moves every held partition
// back to the group's committed offset (where the assignment began when
// nothing was committed), so what was read since the last commit is
// read again. It returns the epoch of the batches read after the
// rewind: those of smaller epochs were read before.
func (r *Reader) Rewind(epoch uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.epoch > epoch {
		return r.epoch
	}
	r.rewind = true
	return r.epoch + 1
}

var _ exec.AssignmentAware = (*Reader)(nil)

// OfAssignment implements exec.AssignmentAware: it keeps the entries of
// offs for the partitions held now (as Offsets reports them) that are
// not behind where the current assignment of their partition began (the
// group's committed offset then). An offset behind it was remembered
// from an earlier time the partition was held here, before another
// member read it on and committed more.
func (r *Reader) OfAssignment(offs exec.Offsets) exec.Offsets {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(exec.Offsets, len(offs))
	for k, st := range r.parts {
		if st.next < 0 {
			continue // not in Offsets either
		}
		key := offsetKey(k.t, k.p)
		if v, ok := offs[key]; ok && (st.start < 0 || v >= st.start) {
			out[key] = v
		}
	}
	return out
}

// applyRewind runs a Rewind, on the goroutine that calls Next, right
// after a poll and before AllowRebalance (kgo.BlockRebalanceOnPoll): no
// rebalance can move a partition between the committed offsets read here
// and SetOffsets, which would move a partition given back to this member
// meanwhile to an offset older than its last owner committed (rows its
// restored state holds read again). It returns the partitions moved back:
// what that poll fetched of them is from before.
func (r *Reader) applyRewind(ctx context.Context) (map[tp]bool, error) {
	committed, err := r.adm.FetchOffsets(ctx, r.src.cfg.group)
	if err != nil {
		return nil, fmt.Errorf("kafka: rewinding to the committed offsets of group %q: %w", r.src.cfg.group, err)
	}
	r.mu.Lock()
	set := map[string]map[int32]kgo.EpochOffset{}
	rewound := map[tp]bool{}
	for k, st := range r.parts {
		off := st.start
		if c, ok := committed.Lookup(k.t, k.p); ok && c.Err == nil && c.At >= 0 {
			off = c.At
		}
		if off < 0 {
			continue // nothing read yet: nothing to read again
		}
		// The watermarks carried so far were read up to where the
		// partition was, past what is read again now: kept, they held
		// back every mark read again (none moved past them), so the
		// operator, restored as of the committed offset, heard of no
		// watermark until the partition got back there and judged the
		// rows read again against its restored one only. Its state's
		// carried watermarks come back with it (RestoreCarried), as for
		// a partition taken over.
		st.next, st.buf, st.carried = off, nil, carried{}
		rewound[k] = true
		if set[k.t] == nil {
			set[k.t] = map[int32]kgo.EpochOffset{}
		}
		set[k.t][k.p] = kgo.EpochOffset{Epoch: -1, Offset: off}
	}
	r.rewinding = false
	r.mu.Unlock()
	r.cl.SetOffsets(set)
	return rewound, nil
}

// markRevoking stops Next from returning the records of the held
// partitions among parts (a revoke or a loss has begun) and returns
// their ids with their offset keys, as the hooks take them. r.mu is held.
func (r *Reader) markRevoking(parts map[string][]int32) map[int32]string {
	ids := map[int32]string{}
	for t, ps := range parts {
		for _, p := range ps {
			if _, ok := r.parts[tp{t, p}]; ok {
				ids[r.partID(t, p)] = offsetKey(t, p)
				if r.revoking == nil {
					r.revoking = map[tp]bool{}
				}
				r.revoking[tp{t, p}] = true
			}
		}
	}
	return ids
}

// onLost runs the lost hook, then forgets the partitions (onRevoked).
func (r *Reader) onLost(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	r.mu.Lock()
	hook := r.lostHook
	ids := r.markRevoking(lost)
	var back chan struct{}
	if hook != nil && r.handed && !r.closed {
		back = r.back
	}
	r.mu.Unlock()
	if back != nil {
		select {
		case <-back:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	// A rewind asked for and not yet run is moot: the next assignment
	// is read from the committed offsets anyway, and its batches carry
	// the epoch Rewind promised.
	r.epoch++
	r.rewind = false
	r.mu.Unlock()
	if hook != nil && len(ids) > 0 {
		hook(ctx, ids)
	}
	r.onRevoked(ctx, cl, lost)
}
