package stream

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// ParallelRankTopN runs a per-key top-N (ROW_NUMBER, RANK or DENSE_RANK
// OVER (PARTITION BY k …) with a rank filter, deduplication included) as
// N RankTopN instances behind a hash exchange on the partition key, each
// with the rows of its keys and its own checkpoint part: a Parallel whose
// instances hold their output for a merge.
//
// Every row of a key reaches one instance, retractions included, and a
// key's numbering depends on that key's rows only, so every key's changes
// are the ones one operator gives. One operator emits a batch's changes
// key by key, in the order the keys first appear in the batch (skipped
// rows included); each instance holds its changes with the batch row
// where their key first appears (rankHeld), and the merge puts them into
// that order, so the output equals one operator's row for row at any N
// and any batch size.
type ParallelRankTopN struct {
	*Parallel
	mem  memory.Allocator
	tops []*RankTopN
}

var (
	_ Node              = (*ParallelRankTopN)(nil)
	_ PartedSnapshotter = (*ParallelRankTopN)(nil)
)

// NewParallelRankTopN builds n per-key top-Ns with build (each its own:
// they run concurrently) behind a hash exchange on keys, expressions over
// the input equal to the top-N's partition columns. It takes ownership
// of the instances.
func NewParallelRankTopN(mem memory.Allocator, keys []Expr, n int, build func(i int) (*RankTopN, error)) (*ParallelRankTopN, error) {
	pr := &ParallelRankTopN{mem: mem}
	p, err := NewParallel(mem, keys, n, func(i int) (Node, error) {
		t, err := build(i)
		if err != nil {
			return nil, err
		}
		if len(t.part) == 0 {
			t.Close()
			return nil, fmt.Errorf("stream: a top-N without PARTITION BY runs as one operator, not as parallel instances")
		}
		t.held = &rankHeld{}
		pr.tops = append(pr.tops, t)
		return OperatorNode(t), nil
	})
	if err != nil {
		return nil, err
	}
	pr.Parallel = p
	return pr, nil
}

// Push cuts the batch by key, folds each part in its instance and
// returns their changes merged into one operator's order.
func (pr *ParallelRankTopN) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	helds := make([]*rankHeld, len(pr.tops))
	for i, t := range pr.tops {
		helds[i] = t.held
	}
	return pushHeld(ctx, pr.Parallel, b, helds, pr.tops[0].schema)
}
