package stream

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
)

// Capabilities of streaming operators beyond Operator, declared by
// implementing these named interfaces (see exec/capability.go for those of
// sources and sinks). A wrapper around an Operator forwards each of them,
// and Snapshotter, through the named interface.

// PartitionAware is an Operator that keeps per-partition state (the
// per-partition watermark): the pipeline tells it which source partitions
// its reader reads before the first batch and whenever that set changes
// (a consumer-group rebalance), so a partition that has sent no data yet
// holds the watermark back.
type PartitionAware interface {
	// SetPartitions replaces the set of partitions; parts is not retained.
	SetPartitions(parts []int32)
}

// WatermarkReporter is an Operator that tracks event time. The pipeline
// reads its watermark after each batch, for trigger statistics.
type WatermarkReporter interface {
	// Watermark is the operator's tracker; nil when it has none (a
	// wrapper around an operator without event time).
	Watermark() *WatermarkTracker
}

// EventTimer is an Operator that judges rows late against a watermark
// (a windowed aggregate, an interval or window join): the engine reports
// its watermark and late-row count in Stats and EXPLAIN ANALYZE.
type EventTimer interface {
	// Late is the number of late rows dropped (or routed) so far.
	Late() int64
	// Watermark is the tracker whose watermark the operator is at.
	Watermark() *WatermarkTracker
}

var (
	_ EventTimer        = (*WindowAggregate)(nil)
	_ EventTimer        = (*Join)(nil)
	_ PartitionAware    = (*WindowAggregate)(nil)
	_ WatermarkReporter = (*WindowAggregate)(nil)
)

// RowsPusher is a one-input operator that can fold some rows of a batch
// only: a key-partitioned instance (Parallel) folds the rows it owns of
// the batch it shares with the other instances, with no copy of them.
type RowsPusher interface {
	// PushRows is Push of the rows of rec listed in rows (ascending batch
	// row indices). rec is shared with other goroutines: read-only.
	PushRows(ctx context.Context, rec arrow.Record, partition int32, rows []int32) (arrow.Record, error)
}

var _ RowsPusher = (*GroupAggregate)(nil)

// operatorAs is node n's adapted operator as a T (a capability such as
// RowsPusher), the zero T if n adapts none or its operator lacks it.
func operatorAs[T any](n Node) T {
	var zero T
	if on, ok := n.(*opNode); ok {
		if t, ok := on.op.(T); ok {
			return t
		}
	}
	return zero
}

// sharedEmitter is a RowsPusher whose changes of one batch can go into a
// builder shared with the other instances of a Parallel, in the order of
// the batch rows that caused them, so that no instance builds a record
// of its own that the Parallel would then have to cut and merge.
type sharedEmitter interface {
	RowsPusher
	// FoldRows folds the rows of rec listed in rows (as PushRows) and
	// keeps their changes pending; it returns the batch row that caused
	// each pending change, ascending, valid until EndPending (none when
	// the operator holds its changes for Tick).
	FoldRows(ctx context.Context, rec arrow.Record, partition int32, rows []int32) ([]int32, error)
	// EmitPending appends pending change k to *rb, making it (of the
	// operator's schema, sized for reserve changes) if it is nil.
	EmitPending(rb **array.RecordBuilder, reserve, k int) error
	// EndPending drops what is left of the pending changes.
	EndPending()
}

var _ sharedEmitter = (*GroupAggregate)(nil)

// BatchPusher is an Operator that takes a whole exec.Batch, so that what
// a source carries beside the rows (its own watermark,
// exec.Batch.CarriesWatermark) reaches the nodes: the pipeline pushes
// through it when the operator has it.
type BatchPusher interface {
	// PushBatch is Push of b.Record with b's other fields.
	PushBatch(ctx context.Context, b exec.Batch) (arrow.Record, error)
}

var _ BatchPusher = (*Graph)(nil)

// MarkFollower is an Operator whose watermark follows the marks of its
// input (a source that carries its watermark, exec.Batch.
// CarriesWatermark) rather than its rows' event times: the window
// aggregate behind a Kafka exchange, whose rows come from many source
// partitions out of event-time order. The node running it forwards each
// mark.
type MarkFollower interface {
	// FollowMark moves the watermark to wm (event-time units; never
	// back) and returns the output that closed, or nil; an operator
	// not set to follow marks ignores it.
	FollowMark(ctx context.Context, wm int64) (arrow.Record, error)
}

var _ MarkFollower = (*WindowAggregate)(nil)
