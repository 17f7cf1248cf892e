package exec

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
)

// ExchangeHost is a GroupSource whose cluster can carry a scaled-out
// query's exchanges (Kafka: internal repartition and changelog topics in
// the source's consumer group), so that every process sharing the group
// holds whole keys of a keyed operator: the upstream part of each process
// writes its rows to the repartition topic keyed by the operator's key,
// the downstream part reads the repartition partitions the group assigns
// it, and the operator's state per repartition partition lives in a
// changelog that a partition's next owner restores it from.
type ExchangeHost interface {
	GroupSource
	// EnsureInternalTopics creates the repartition topic (partitions
	// partitions, or the source's own count when partitions <= 0) and the
	// compacted changelog topic with as many, when missing, and returns
	// the repartition topic's partition count.
	EnsureInternalTopics(ctx context.Context, repartition, changelog string, partitions int) (int, error)
	// UpstreamSource is the source itself as the upstream part of an
	// exchange reads it: resuming each partition from the group's
	// committed offsets (which the exchange commits in its transactions),
	// whichever process reads it next.
	UpstreamSource() (Source, error)
	// RepartitionSink writes rows of schema to the repartition topic,
	// each keyed by the columns keys (so a key always lands in the same
	// partition), exactly once: the records and the upstream source's
	// offsets commit in one transaction of transactional id txnID.
	RepartitionSink(topic string, keys []string, txnID string) (Sink, error)
	// RepartitionSource reads the repartition topic as a source of
	// schema in the consumer group, committed records only, resuming each
	// partition from the group's committed offsets. With upstream set
	// (per input of the operator, the marks' keys: the source
	// partitions' Offsets keys, SourcePartitions, prefixed per join side)
	// the topic carries watermarks (WatermarkWriter): each batch then
	// reports its partition's per input, the least over the input's
	// active keys of what the watermark records read so far carried
	// (Batch.CarriesWatermark, Batch.Watermarks); its readers are
	// CarryRestorers.
	RepartitionSource(topic string, schema *arrow.Schema, upstream [][]string) (Source, error)
	// SourcePartitions lists the source's partitions by their Offsets
	// keys: a watermark crossing the hop is the least over all of them.
	SourcePartitions(ctx context.Context) ([]string, error)
	// OpenChangelog opens the changelog topic of one operator's state
	// for a process whose transactions use txnID.
	OpenChangelog(ctx context.Context, topic, txnID string) (PartitionStateStore, error)
	// DeleteInternalTopics deletes internal topics (DROP ... CASCADE).
	DeleteInternalTopics(ctx context.Context, topics ...string) error
	// InternalTopics lists the existing topics whose names start with
	// prefix, with their partition counts.
	InternalTopics(ctx context.Context, prefix string) (map[string]int, error)
}

// PartitionStateStore keeps a keyed operator's state per input partition
// (Kafka: a compacted changelog topic with one partition per repartition
// partition), so a partition's state moves with the partition.
type PartitionStateStore interface {
	// Load returns the state last saved for partition (ok false when
	// none was), with the input offsets it covers.
	Load(ctx context.Context, partition int32) (state []byte, upTo Offsets, ok bool, err error)
	// Save stores states (per partition) and commits upTo, the input
	// offsets they cover, atomically with them: a later owner of a
	// partition resumes reading exactly where its restored state ends. A
	// save refused because the partitions moved to another process
	// (fenced) returns ErrFenced: the new owner restores the last save.
	Save(ctx context.Context, states map[int32][]byte, upTo Offsets) error
	// Close releases the store.
	Close() error
}

// TxnStateStore is a PartitionStateStore whose saves can join the open
// transaction of an exactly-once sink writer on the same cluster, so a
// scaled-out query's output, its keyed state and the input offsets both
// cover commit as one transaction: a crash can leave neither the output
// ahead of the state (duplicates after the restore) nor the offsets ahead
// of it (rows lost from the state).
type TxnStateStore interface {
	PartitionStateStore
	// JoinWriter makes every later Save stage its records in w's open
	// transaction, leaving the commit of the transaction and of the
	// input offsets to w.Commit, which the caller then runs. It reports
	// false, changing nothing, when w cannot carry them (not an
	// exactly-once writer of this store's cluster and consumer group).
	JoinWriter(ctx context.Context, w SinkWriter) (bool, error)
}

// ErrFenced is returned by PartitionStateStore.Save when another process
// owns the partitions now.
var ErrFenced = fencedError{}

type fencedError struct{}

func (fencedError) Error() string {
	return "the partitions moved to another process (fenced): its owner resumes from the last save"
}

// RevokeNotifier is a SourceReader whose consumer group may take
// partitions away while it reads: the hook hears of them before the
// reader lets them go, and the group waits for it, so an exactly-once
// writer can commit what it produced from them together with their
// offsets while this process still owns them.
type RevokeNotifier interface {
	// SetRevokeHook sets the hook, called with the revoked partitions'
	// Batch.Partition ids and their Offsets keys.
	SetRevokeHook(hook func(ctx context.Context, revoked map[int32]string))
}

// WatermarkWriter is a repartition sink's writer that carries the
// upstream's watermarks to the downstream readers: a repartition
// partition mixes the rows of many source partitions out of event-time
// order, so the rows' own event times cannot drive a watermark there.
type WatermarkWriter interface {
	// WriteWatermarks writes marks (source partition's Offsets key →
	// its watermark, event-time units) into every partition of the
	// topic, in the open transaction, after the rows written so far;
	// the keys of idle are idle partitions ('watermark.idle_timeout'),
	// which hold no input's watermark back downstream.
	WriteWatermarks(ctx context.Context, marks map[string]int64, idle []string) error
}

// CarryRestorer is a reader of a source that carries watermarks
// (Batch.CarriesWatermark) whose per-partition watermark state can be
// handed back: the next owner of a partition restores the state saved
// with the operator's (Batch.Carried) before it reads on.
type CarryRestorer interface {
	// RestoreCarried merges state, saved from a Batch.Carried of
	// partition id, into the reader's view of that partition.
	RestoreCarried(id int32, state []byte) error
}

// PartitionNamer is a SourceReader that names its Batch.Partition ids
// by their Offsets keys ("topic/partition" for Kafka), which are the same
// in every process reading the source, unlike the ids.
type PartitionNamer interface {
	// PartitionKey is partition id's Offsets key; ok false when unknown.
	PartitionKey(id int32) (key string, ok bool)
}

// LossNotifier is a SourceReader whose consumer group may take its
// partitions away without a revoke: the member's session expired (a
// process paused longer than the session timeout) or the group fenced
// it. Whatever was produced from them since the last commit must then
// be discarded, not committed: their next owner starts from the
// committed offsets.
type LossNotifier interface {
	// SetLostHook sets the hook, called with the lost partitions'
	// Batch.Partition ids and their Offsets keys before the reader
	// forgets them and before the group is joined again.
	SetLostHook(hook func(ctx context.Context, lost map[int32]string))
	// Epoch counts the losses and rewinds so far; read right after Next
	// on the goroutine calling Next, it tells which side of them the
	// batch was read on.
	Epoch() uint64
	// Rewind makes the reader read every partition it holds again from
	// the committed offsets (after a commit the group refused, whose
	// transaction was aborted) unless the epoch moved past epoch, the
	// one of the work discarded, already (a loss: what follows it is
	// read from the committed offsets anyway). It returns the Epoch of
	// the batches read after it.
	Rewind(epoch uint64) uint64
}

// AssignmentAware is a SourceReader of a consumer group that knows where
// its current assignment of each partition began reading. A caller that
// remembers a partition's offset after the group took the partition away
// (the pipeline keeps every partition's last offset) holds, once the
// partition comes back, an offset from the earlier assignment until a
// batch brings the new one: committing that would move the group's
// offset back behind what the partition's owners committed since, and
// its next owner would read again rows whose effects the state it
// restores already holds.
type AssignmentAware interface {
	// OfAssignment returns the entries of offs for the partitions held
	// now, without those behind where their current assignment began.
	OfAssignment(offs Offsets) Offsets
}

// Aborter is a SinkWriter that can take back what it was given since its
// last Commit (an exactly-once Kafka writer aborts its transaction): a
// scaled-out query whose partitions were lost discards what it produced
// from them, which their next owner produces again.
type Aborter interface {
	// Abort discards everything written since the last Commit and
	// makes the writer ready for more; a writer that cannot take back
	// what it sent does nothing.
	Abort(ctx context.Context) error
}
