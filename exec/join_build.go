package exec

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// joinBuild is a hash join's build side: every right row, indexed by key.
// Once built it is only read, except the general table's lookups, which
// use the groupers' scratch buffers and so take mu when the build is
// shared by several probing joins.
type joinBuild struct {
	rrec  arrow.Record  // all right rows; nil when the right side is empty
	ints  *joinIntTable // one integer-like key
	table *GroupTable   // any other keys
	head  []int32       // table group → its first right row, -1 = none
	next  []int32       // right row → next row of its group, -1 = end
	mu    sync.Mutex
}

// buildJoin reads right to its end and indexes its rows on keys (of key
// types types; none for a nested-loop join), accounting rows and table to
// acct.
func buildJoin(ctx context.Context, mem memory.Allocator, right Operator, keys []expr.Expr, types []arrow.DataType, acct *Account) (*joinBuild, error) {
	rrec, err := drainConcat(ctx, mem, right, acct)
	if err != nil || rrec == nil {
		return &joinBuild{}, err
	}
	b := &joinBuild{rrec: rrec}
	if len(keys) == 0 {
		return b, nil
	}
	cols, err := evalAll(ctx, mem, rrec, exprList(keys))
	if err != nil {
		b.release()
		return nil, err
	}
	defer releaseArrays(cols)
	if err := decodeDictionaries(ctx, mem, cols); err != nil {
		b.release()
		return nil, err
	}
	if joinIntKey(types) {
		b.ints = newJoinIntTable(cols[0])
		if err := acct.Grow(b.ints.bytes()); err != nil {
			b.release()
			return nil, err
		}
		return b, nil
	}
	if b.table, err = NewGroupTable(types); err != nil {
		b.release()
		return nil, err
	}
	n := int(rrec.NumRows())
	gids := make([]uint32, n)
	newKeys, err := b.table.Assign(ctx, mem, cols, gids, true)
	releaseArrays(newKeys)
	if err != nil {
		b.release()
		return nil, err
	}
	b.head = make([]int32, b.table.NumGroups())
	for i := range b.head {
		b.head[i] = -1
	}
	b.next = make([]int32, n)
	// The build rows were accounted as they arrived; now the table.
	if err := acct.Grow(b.table.Bytes() + 4*int64(len(b.head)+len(b.next))); err != nil {
		b.release()
		return nil, err
	}
	for r := n - 1; r >= 0; r-- {
		b.next[r] = -1
		if anyNull(cols, r) {
			continue
		}
		g := gids[r]
		b.next[r] = b.head[g]
		b.head[g] = int32(r)
	}
	return b, nil
}

// lookup sets gids to the group of each row of probe keys cols in the
// general table (NoGroup: absent).
func (b *joinBuild) lookup(ctx context.Context, mem memory.Allocator, cols []arrow.Array, gids []uint32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	newKeys, err := b.table.Assign(ctx, mem, cols, gids, false)
	releaseArrays(newKeys)
	return err
}

func (b *joinBuild) rows() int {
	if b == nil || b.rrec == nil {
		return 0
	}
	return int(b.rrec.NumRows())
}

func (b *joinBuild) release() {
	if b != nil && b.rrec != nil {
		b.rrec.Release()
		b.rrec = nil
	}
}

// settle computes what Arrow arrays cache on first use (the null count
// of each column, and of a dictionary's values), so instances sharing the
// build only read it: a lazily cached count is a write, and two probes
// taking rows at once raced on it.
func (b *joinBuild) settle() {
	if b.rrec == nil {
		return
	}
	for _, c := range b.rrec.Columns() {
		settleNulls(c)
	}
}

func settleNulls(a arrow.Array) {
	a.NullN()
	switch x := a.(type) {
	case *array.Dictionary:
		settleNulls(x.Dictionary())
	case *array.Struct:
		for i := 0; i < x.NumField(); i++ {
			settleNulls(x.Field(i))
		}
	}
}

// SharedBuild is one hash join build side probed by several HashJoin
// instances at once: the instances of a pipeline that a Gather runs per
// morsel of the probe side (a parallel broadcast join). The first
// instance to need it reads the right input and builds the table; the
// others wait for it and share it read-only. Its owner (the Gather
// running the instances) closes it after the last instance is done.
type SharedBuild struct {
	mem   memory.Allocator
	right Operator
	acct  *Account
	once  sync.Once
	b     *joinBuild
	err   error
	mu    sync.Mutex
	close bool
}

// NewSharedBuild returns a build side over right, not yet opened.
func NewSharedBuild(mem memory.Allocator, right Operator) *SharedBuild {
	return &SharedBuild{mem: mem, right: right}
}

// SetBudget makes the build account its rows and table to a (nil:
// unlimited).
func (s *SharedBuild) SetBudget(a *Account) { s.acct = a }

// Schema is the right input's schema.
func (s *SharedBuild) Schema() *arrow.Schema { return s.right.Schema() }

// Operator is the right input, for a sharing HashJoin's constructor (which
// reads its schema; a sharing join never opens, reads or closes it).
func (s *SharedBuild) Operator() Operator { return s.right }

// get builds the table on the first call (with the join's keys, which
// every instance shares) and returns it.
func (s *SharedBuild) get(ctx context.Context, keys []expr.Expr, types []arrow.DataType) (*joinBuild, error) {
	s.once.Do(func() {
		s.mu.Lock()
		closed := s.close
		s.mu.Unlock()
		if closed {
			s.err = fmt.Errorf("build side closed")
			return
		}
		if err := s.right.Open(ctx); err != nil {
			s.err = fmt.Errorf("open right: %w", err)
			return
		}
		s.b, s.err = buildJoin(ctx, s.mem, s.right, keys, types, s.acct)
		if s.err == nil {
			s.b.settle()
		}
	})
	return s.b, s.err
}

// Close releases the table and closes the right input; idempotent.
func (s *SharedBuild) Close() error {
	s.mu.Lock()
	if s.close {
		s.mu.Unlock()
		return nil
	}
	s.close = true
	s.mu.Unlock()
	s.once.Do(func() {}) // no build may start after this
	s.b.release()
	s.acct.Close()
	return s.right.Close()
}
