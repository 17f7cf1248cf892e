package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// ParallelTopN is a global streaming top-N (ORDER BY … LIMIT n without a
// partition key) in two phases: N local TopN instances behind a hash
// exchange on the rows' values, each keeping the top n of its rows, and
// one merging TopN over the changelog of their top sets.
//
// It is exact, retractions included. Equal rows hash alike, so all the
// inserts and retractions of a row reach one instance, which keeps that
// row's count as one operator would (a retraction of a row never
// inserted is ignored by the instance that would hold it). Every row of
// the global top n is in its instance's top n (fewer rows rank above it
// there than overall), with at least the count the global top takes, so
// the union of the local top sets holds the global top n, and its first
// n rows are the global top n. The merge sees each batch's local
// changes in one Push, so it emits, per batch, the difference between
// the global top sets before and after the batch: what one operator
// emits, row for row, at any N. State: each instance what one operator
// keeps of its rows (n rows over an append-only input, every live row
// over a changelog), and the merge at most N·n rows.
type ParallelTopN struct {
	par   *Parallel
	merge *TopN
}

var (
	_ Node                   = (*ParallelTopN)(nil)
	_ DeltaPartedSnapshotter = (*ParallelTopN)(nil)
	_ StateSizer             = (*ParallelTopN)(nil)
)

// topNMergePart names the merging top-N's checkpoint part.
const topNMergePart = "merge"

// NewParallelTopN builds the two-phase top-N of limit rows by keys (sort
// columns of input, op included when it is a changelog) as n local
// instances behind a hash exchange on hash (expressions over the input
// that equal rows agree on: value columns) and one merge.
func NewParallelTopN(mem memory.Allocator, input *arrow.Schema, keys []SortKey, limit int, hash []Expr, n int) (*ParallelTopN, error) {
	p, err := NewParallel(mem, hash, n, func(int) (Node, error) {
		t, err := NewTopN(mem, input, keys, limit)
		if err != nil {
			return nil, err
		}
		return OperatorNode(t), nil
	})
	if err != nil {
		return nil, err
	}
	// The merge reads the instances' changelog: op, then the input's
	// value columns.
	mkeys := keys
	if !IsChangelog(input) {
		mkeys = make([]SortKey, len(keys))
		for i, k := range keys {
			mkeys[i] = SortKey{Col: k.Col + 1, Desc: k.Desc}
		}
	}
	m, err := NewTopN(mem, p.Schema(), mkeys, limit)
	if err != nil {
		p.Close()
		return nil, err
	}
	return &ParallelTopN{par: p, merge: m}, nil
}

// Instances is the number of local instances.
func (t *ParallelTopN) Instances() int { return t.par.Instances() }

// Schema is op followed by the input's value columns.
func (t *ParallelTopN) Schema() *arrow.Schema { return t.merge.Schema() }

// SinkMode is a changelog identified by whole rows.
func (t *ParallelTopN) SinkMode() exec.SinkMode { return t.merge.SinkMode() }

// Push folds the batch in the local instances and their changes in the
// merge, returning the merge's: the global top set's changes.
func (t *ParallelTopN) Push(ctx context.Context, input int, b exec.Batch) (arrow.Record, error) {
	local, err := t.par.Push(ctx, input, b)
	if err != nil || local == nil {
		return nil, err
	}
	defer local.Release()
	return t.merge.Push(ctx, local, 0)
}

// Advance passes the input's mark on: a top-N waits for no time.
func (t *ParallelTopN) Advance(ctx context.Context, input int, m Mark) (arrow.Record, error) {
	return t.par.Advance(ctx, input, m)
}

// Watermark is the input's.
func (t *ParallelTopN) Watermark() Mark { return t.par.Watermark() }

// Tick does nothing: every change was emitted as it came.
func (t *ParallelTopN) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }

// Finish ends the input; nothing is left to emit.
func (t *ParallelTopN) Finish(ctx context.Context, input int) (arrow.Record, error) {
	return t.par.Finish(ctx, input)
}

// Snapshot is not used: the parts are SnapshotParts'.
func (t *ParallelTopN) Snapshot() ([]byte, error) { return t.par.Snapshot() }

// Restore is not used: the parts are RestoreParts'.
func (t *ParallelTopN) Restore(data []byte) error { return t.par.Restore(data) }

// SnapshotParts is each local instance's state (instancePart) and the
// merge's.
func (t *ParallelTopN) SnapshotParts() ([]OperatorState, error) { return t.SnapshotPartsDelta(nil) }

// SnapshotPartsDelta is SnapshotParts with deltas where delta allows.
func (t *ParallelTopN) SnapshotPartsDelta(delta func(part string) bool) ([]OperatorState, error) {
	parts, err := t.par.SnapshotPartsDelta(delta)
	if err != nil {
		return nil, err
	}
	m, err := SnapshotPart(t.merge, topNMergePart, delta)
	if err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	if m.Data != nil {
		parts = append(parts, m)
	}
	return parts, nil
}

// RestoreParts gives each local instance its part and the merge its
// own; parts of another parallelism are refused.
func (t *ParallelTopN) RestoreParts(parts []OperatorState) error {
	var local []OperatorState
	for _, part := range parts {
		if part.Name != topNMergePart {
			local = append(local, part)
			continue
		}
		if err := RestorePart(t.merge, part); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	return t.par.RestoreParts(local)
}

// Stats adds up the local instances' and the merge's state.
func (t *ParallelTopN) Stats() StateStats {
	s := t.par.Stats()
	s.Add(t.merge.Stats())
	return s
}

// StateBytes is the local instances' and the merge's running state size
// (StateSizer).
func (t *ParallelTopN) StateBytes() (int64, bool) {
	n, _ := t.par.StateBytes()
	m, _ := t.merge.StateBytes()
	return n + m, true
}

// Close stops and closes the instances and the merge; idempotent.
func (t *ParallelTopN) Close() error {
	err := t.par.Close()
	if merr := t.merge.Close(); err == nil {
		err = merr
	}
	return err
}
