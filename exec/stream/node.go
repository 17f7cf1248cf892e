package stream

import (
	"context"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// Node is one operator of a streaming graph (see Graph): any number of
// inputs, numbered from 0 in the order the plan lists them, and one
// changelog output. Joins are two-input nodes, a UNION ALL an n-input one,
// aggregates and top-N one-input ones; a node may sit anywhere in the
// graph, its output feeding any number of other nodes.
//
// Messages reach a node in order, one at a time, on one goroutine: Push
// (data), Advance (an input's watermark or idleness changed), Tick
// (processing time), Finish (an input ended). Each returns the output the
// message caused as one record (op column first when SinkMode is a
// changelog), or nil; the caller owns and releases it. Pushed records stay
// owned by the caller and may be shared with other nodes: a node must not
// change or keep them past the call without a Retain. Not safe for
// concurrent use.
//
// Checkpoints are barriers aligned across inputs: the graph takes one only
// between messages, after every message sent before it on every input has
// been folded, so each node's Snapshot covers exactly the input the
// checkpoint's offsets cover. Snapshot and Restore are the node's own
// state part of the checkpoint (nil from a stateless node; Restore is
// called before the first message, never with nil).
type Node interface {
	// Schema is the schema of every output record.
	Schema() *arrow.Schema
	// SinkMode says whether the output is a changelog, and its key.
	SinkMode() exec.SinkMode
	// Push folds b, which arrived on input. b.Partition is the source
	// partition the rows came from (numbered by UnionPartition across the
	// graph's sources) when the input is fed by a source directly, for
	// nodes that track event time per partition; otherwise 0.
	Push(ctx context.Context, input int, b exec.Batch) (arrow.Record, error)
	// Advance tells the node that input's watermark is now m (watermarks
	// travel beside the data, never as rows: the node sees every batch
	// sent before m first). Marks of one input never move backwards.
	Advance(ctx context.Context, input int, m Mark) (arrow.Record, error)
	// Watermark is the node's output watermark, read by the graph after
	// every message to forward downstream when it moved: for most nodes
	// the minimum over their inputs (InputMarks.Mark); a window aggregate
	// reports the watermark its closed windows reflect.
	Watermark() Mark
	// Tick lets processing time act (e.g. idleness of per-partition
	// watermarks a node keeps itself).
	Tick(ctx context.Context, now time.Time) (arrow.Record, error)
	// Finish says input ended (its watermark is +∞ from now on). When the
	// last input has ended the node returns everything it still holds
	// (open windows, …): no message follows.
	Finish(ctx context.Context, input int) (arrow.Record, error)
	// Snapshot encodes the node's state for a checkpoint; nil if it keeps
	// none.
	Snapshot() ([]byte, error)
	// Restore replaces the state with one Snapshot wrote.
	Restore(state []byte) error
	// Stats is the current state size.
	Stats() StateStats
	// Close drops the state; idempotent.
	Close() error
}

// Mark is an input's (or a node's output) event-time watermark: no row
// with an event time at or before Time is still to come, unless the row is
// late. Idle marks an input that has sent nothing for the idle timeout: it
// does not hold the minimum back until it sends data again. Time is in the
// event-time column's unit (µs for TIMESTAMP(6), ms for BIGINT).
type Mark struct {
	Time int64
	Idle bool
}

// NoMark is the watermark of an input that has not produced one.
var NoMark = Mark{Time: MinWatermark}

// InputMarks combines the marks of a node's inputs: the node's watermark is
// the minimum over its non-idle inputs (every input idle: the maximum of
// them, so the watermark still advances when all input stops), and never
// moves backwards. A finished input counts as +∞.
type InputMarks struct {
	in  []Mark
	out Mark
}

// NewInputMarks returns the combination of n inputs, each at NoMark.
func NewInputMarks(n int) *InputMarks {
	m := &InputMarks{in: make([]Mark, n), out: NoMark}
	for i := range m.in {
		m.in[i] = NoMark
	}
	return m
}

// Set records input's mark and reports whether the combined mark moved.
func (m *InputMarks) Set(input int, mk Mark) bool {
	if mk.Time < m.in[input].Time {
		mk.Time = m.in[input].Time
	}
	m.in[input] = mk
	return m.recompute()
}

// Finish marks input ended (+∞) and reports whether the combined mark moved.
func (m *InputMarks) Finish(input int) bool { return m.Set(input, Mark{Time: MaxWatermark}) }

// Input is input's latest mark.
func (m *InputMarks) Input(input int) Mark { return m.in[input] }

// Mark is the combined watermark.
func (m *InputMarks) Mark() Mark { return m.out }

func (m *InputMarks) recompute() bool {
	lo, hi, active := MaxWatermark, MinWatermark, false
	for _, mk := range m.in {
		hi = max(hi, mk.Time)
		if !mk.Idle {
			active = true
			lo = min(lo, mk.Time)
		}
	}
	next := Mark{Time: lo}
	if !active {
		next = Mark{Time: hi, Idle: len(m.in) > 0}
	}
	if next.Time < m.out.Time {
		next.Time = m.out.Time
	}
	moved := next != m.out
	m.out = next
	return moved
}
