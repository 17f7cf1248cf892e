// Package exec runs physical plans: vectorized operators over Arrow record
// batches, the expression kernels (package exec/expr), and the drivers for
// batch, micro-batch and continuous execution.
package exec

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// DefaultBatchSize is the number of rows operators aim for per record.
// 8192 rows of a few fixed-width columns stay within L2 cache while making
// per-batch overhead (interface calls, allocation) negligible; continuous
// mode uses smaller batches flushed on a linger timer instead.
const DefaultBatchSize = 8192

// Operator is a pull-based, vectorized plan node.
type Operator interface {
	// Schema is the schema of every record Next returns.
	Schema() *arrow.Schema
	// Open opens the operator and its children; a second call is a no-op.
	Open(ctx context.Context) error
	// Next returns the next non-empty batch, or io.EOF when done. The
	// caller owns the record and must Release it.
	Next(ctx context.Context) (arrow.Record, error)
	// Close releases all resources; idempotent, safe if Open never ran.
	Close() error
}

// Offsets is a source position that a checkpoint can store and a source can
// resume from: for Kafka "topic/partition" → next offset, for the generator
// "rows" → rows produced, for files "file:<path>" → rows read.
type Offsets map[string]int64

// Predicate is a filter hint pushed into a scan: Column Op Value, with Op
// one of "eq", "ne", "lt", "le", "gt", "ge", "is_null", "is_not_null". A source
// may use it to skip data that cannot match (Parquet row-group statistics);
// it must never drop a row that could match, because the Filter above the
// scan still applies the full predicate.
type Predicate struct {
	Column int // index into the source's full schema
	Op     string
	// Value is an int64, float64, string, bool, arrow.Timestamp or
	// arrow.Date32 matching the column's type; nil for the null tests.
	Value any
}

// ScanSpec says what a scan wants from a source.
type ScanSpec struct {
	// Columns are indices into Source.Schema() to read, in output order;
	// nil means all columns.
	Columns []int
	// Filters are pushdown hints; see Predicate.
	Filters []Predicate
	// Bound, when set, is the running cut-off of a top-N over the scan:
	// a hint like Filters that tightens while the scan runs (TopNBound).
	Bound *TopNBound
	// BatchSize is the target rows per record (DefaultBatchSize if 0).
	BatchSize int
	// Linger, when positive, makes an unbounded source return a partial
	// batch once the oldest buffered row has waited this long (continuous
	// mode); zero means fill batches.
	Linger time.Duration
	// Bounded asks an unbounded source to stop at its end as of Open
	// (batch mode over Kafka: read to the end offsets at query start).
	Bounded bool
	// From resumes from a checkpoint; nil uses the source's startup mode.
	From Offsets
	// Instance is a stable identity of this run of the query across its
	// restarts (derived from its checkpoint directory), "" when it has
	// none. A source in a consumer group uses it as its static membership
	// id, so a restart after a crash takes the dead member's place at
	// once instead of waiting out its session.
	Instance string
	// MorselBytes is the target size of a morsel when a MorselSource
	// splits the scan by bytes; 0 means DefaultMorselBytes. Tests set it
	// small so that tiny files split.
	MorselBytes int64
	// Progress, when set, receives how far a bounded batch scan has read
	// (see ScanProgress): what the source expects in total and what it
	// has done. nil (streaming, tests) reports nothing.
	Progress *ScanProgress
	// Budget is the memory the reader's own state may hold (a
	// StatefulReader: an upsert topic's live row per key), accounted in
	// an Account of its own; nil is unlimited.
	Budget *Budget
	// StateTTL, when positive, lets a StatefulReader forget state unused
	// for this long (processing time; 'state.ttl').
	StateTTL time.Duration
}

// Batch is one record from a source, from a single partition of it.
type Batch struct {
	// Record is owned by the caller, who must Release it.
	Record arrow.Record
	// Partition identifies the source partition the rows came from;
	// watermarks are tracked per partition and combined by min.
	Partition int32
	// CarriesWatermark says the source carries Partition's watermark
	// itself, rather than leaving it to the rows' event times: a Kafka
	// exchange's repartition partition mixes the rows of many source
	// partitions out of event-time order, and its upstream processes
	// write their watermarks beside the rows. Watermark, in the
	// event-time column's unit, then holds once this batch's rows
	// (possibly none) are folded.
	CarriesWatermark bool
	Watermark        int64
	// Watermarks, set with CarriesWatermark when the source carries
	// the watermarks of several inputs of the operator it feeds (a
	// join's two sides through one repartition topic), is each input's;
	// Watermark is then the least of them.
	Watermarks []int64
	// Carried is the source's own watermark state as of this batch
	// (set with CarriesWatermark): the operator saves it with the
	// state it covers, and a partition's next owner hands it back
	// (exec.CarryRestorer) so that its watermark resumes from there,
	// neither behind (waiting for every source partition to be heard
	// of again) nor ahead of the rows it restored.
	Carried []byte
}

// Source is a table that can be scanned: files, the generator, Kafka.
type Source interface {
	// Schema is the full schema of the source.
	Schema() *arrow.Schema
	// Bounded reports whether a scan ends on its own.
	Bounded() bool
	// Open starts a scan. Each call is an independent reader.
	Open(ctx context.Context, mem memory.Allocator, spec ScanSpec) (SourceReader, error)
}

// SourceReader reads one scan of a Source.
type SourceReader interface {
	// Next blocks until a batch is available, the source ends (io.EOF) or
	// ctx is done (ctx.Err()). Batches hold the columns of ScanSpec.Columns.
	// Data errors name the place: file:row or topic/partition/offset.
	Next(ctx context.Context) (Batch, error)
	// Offsets is the position just after the last batch returned.
	Offsets() Offsets
	// Partitions lists the partitions this reader currently reads, so the
	// watermark can wait for (or time out) each of them.
	Partitions() []int32
	// Close stops the scan; idempotent.
	Close() error
}

// SinkMode says what kind of stream a sink receives.
type SinkMode struct {
	// Changelog is true when records carry an OpColumn and may update or
	// delete earlier rows; false for append-only streams.
	Changelog bool
	// Keys are the column indices that identify a row of an updating
	// result (the group key); upsert sinks key their records by them.
	Keys []int
}

// OpColumn is the name of the changelog operation column: an int8 holding
// one of the Op values. It is the first column of a changelog record.
const OpColumn = "op"

// Op is a changelog operation, as Flink's RowKind.
type Op int8

// Changelog operations.
const (
	OpInsert       Op = 0 // +I
	OpUpdateBefore Op = 1 // -U
	OpUpdateAfter  Op = 2 // +U
	OpDelete       Op = 3 // -D
)

// String renders the op the way changelog output shows it.
func (o Op) String() string {
	switch o {
	case OpInsert:
		return "+I"
	case OpUpdateBefore:
		return "-U"
	case OpUpdateAfter:
		return "+U"
	case OpDelete:
		return "-D"
	}
	return "?"
}

// Sink receives query results: stdout, files, Kafka.
type Sink interface {
	// Open starts writing a result of this schema.
	Open(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, mode SinkMode) (SinkWriter, error)
}

// SinkWriter writes one query's output.
type SinkWriter interface {
	// Write appends rec; it takes no ownership (Retain to keep it).
	Write(ctx context.Context, rec arrow.Record) error
	// Commit makes everything written so far durable and visible, tied
	// to the source position upTo (a checkpoint). File sinks publish
	// their files atomically here; transactional sinks commit.
	Commit(ctx context.Context, upTo Offsets) error
	// Close ends the write. Anything not committed is discarded: a failed
	// query leaves no partial output. Idempotent.
	Close() error
}
