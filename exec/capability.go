package exec

import (
	"context"
	"time"
)

// Capabilities: what a Source, SourceReader or Sink can do beyond its
// interface, declared by implementing one of these named interfaces. The
// engine asks for them with a type assertion on the interface's name,
// never on a connector's name or an anonymous interface, so a new
// connector gains a behaviour by implementing the method and documenting
// it, and a wrapper forwards exactly the capabilities listed here.

// BoundedAtStart is an unbounded Source that a batch query can still read
// to an end: a scan opened with ScanSpec.Bounded set ends by itself (Kafka
// stops at the end offsets listed when the scan opened). The engine refuses
// a batch query over an unbounded source that is not BoundedAtStart,
// since it would never end.
type BoundedAtStart interface {
	// BoundedAtStart reports whether a bounded scan ends; false is the
	// same as not implementing the interface.
	BoundedAtStart() bool
}

// GroupSource is a Source read through a consumer group (Kafka
// 'group.id'): the group stores the offsets a query has committed, and
// when several processes run the same streaming query the group's members
// divide the source's partitions among themselves, so each process sees
// only part of the data.
type GroupSource interface {
	// Group is the consumer group's name; "" when the source reads
	// without one.
	Group() string
	// ScaledOut reports whether the partitions of a streaming scan may be
	// divided among several processes. False when one process reads the
	// whole source and uses the group only to store offsets.
	ScaledOut() bool
}

// PartitionKeyed is a Source whose rows are partitioned by one column:
// every row with a given value of that column is in the same partition
// (Kafka records keyed by it). An aggregate grouped by that column keeps
// every group within one partition, and so within one process when the
// partitions are divided (GroupSource).
type PartitionKeyed interface {
	// PartitionKey is the column's name as the schema spells it; "" when
	// the source does not know how it is partitioned.
	PartitionKey() string
}

// OffsetCommitter is a SourceReader that can store, outside sluice, how
// far a query's output is durable (Kafka: the consumer group's committed
// offsets), so a restart or a rebalance resumes there. The engine calls it
// after the sink committed output covering upTo; it is not a substitute
// for checkpoints.
type OffsetCommitter interface {
	// CommitOffsets records upTo (as returned by Offsets) as processed.
	// Called from the goroutine that reads the source.
	CommitOffsets(ctx context.Context, upTo Offsets) error
}

// BadRowCounter is a SourceReader that, under an 'on_error' policy other
// than failing, skips bad rows or sets bad values to NULL, and counts
// them, so the engine reports them when a query ends rather than letting
// them disappear silently.
type BadRowCounter interface {
	// BadRows returns the rows skipped and the values set to NULL so far.
	BadRows() (skipped, nulled int64)
}

// AppendOnlySink is a Sink that can only append rows (files): it cannot
// take the changelog of an updating query, so the planner requires EMIT
// FINAL or a windowed aggregate in append mode for a streaming query into
// it.
type AppendOnlySink interface {
	// AppendOnly reports whether the sink only appends; false is the same
	// as not implementing the interface.
	AppendOnly() bool
}

// EventTimed is a Source that knows its event-time column and how far out
// of order its rows can arrive (the Nexmark generator), so a stream over
// it gets a watermark without a WATERMARK FOR clause. A WATERMARK FOR in
// the CREATE SOURCE replaces it.
type EventTimed interface {
	// EventTime is the column (as the schema spells it) and the
	// watermark's delay behind it; "" when the source has none.
	EventTime() (column string, delay time.Duration)
}

// ProgressReporter is a SourceReader that reports how much it has read
// and, for a partitioned log such as Kafka, how far each partition's
// position trails its end: what a server's metrics show per query. Its
// methods are safe to call from any goroutine while Next runs.
type ProgressReporter interface {
	// BytesRead is the bytes of input read so far (Kafka: record keys
	// and values).
	BytesRead() int64
	// Lag is, per "topic/partition", how many records the partition holds
	// past the position read: its high watermark at the last fetch minus
	// the next offset to return. Partitions not fetched yet are absent.
	Lag() map[string]int64
}

// StatefulReader is a SourceReader that keeps state of its own: an
// upsert topic's reader remembers each key's live row, to turn an upsert
// into the retraction of the row it replaces. The engine counts it with
// the operators' state (Stats, EXPLAIN ANALYZE, metrics); the reader
// accounts it to ScanSpec.Budget and bounds it by ScanSpec.StateTTL. Its
// method is safe to call from any goroutine while Next runs.
type StatefulReader interface {
	// ReaderState is the keys the reader holds state for and the bytes
	// that state takes.
	ReaderState() (keys int, bytes int64)
}

// ChangelogSource is a Source whose rows are changes rather than appends
// (a Debezium topic): every record its readers return has the op column
// (OpColumn, an int8 Op) first, then the scanned columns, and the source's
// Schema leaves op out. A streaming query reads it as an updating input
// (retractions flow into aggregates and joins); a batch query reads the
// table the changes leave (FoldChangelog).
type ChangelogSource interface {
	// Changelog reports whether the rows are changes; false is the same
	// as not implementing the interface.
	Changelog() bool
}
