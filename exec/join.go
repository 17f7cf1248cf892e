package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// JoinType is the kind of join: which sides keep unmatched rows.
type JoinType int

// Join types.
const (
	JoinInner JoinType = iota // matched pairs only
	JoinLeft                  // plus unmatched left rows, NULL-extended
	JoinRight                 // plus unmatched right rows, NULL-extended
	JoinFull                  // plus unmatched rows of both sides
)

// String names the join as SQL does.
func (t JoinType) String() string {
	switch t {
	case JoinInner:
		return "INNER"
	case JoinLeft:
		return "LEFT"
	case JoinRight:
		return "RIGHT"
	case JoinFull:
		return "FULL"
	}
	return fmt.Sprintf("JoinType(%d)", int(t))
}

// joinChunk bounds the candidate pairs materialized at once, so a
// many-to-many match or a cross join never builds one huge record.
const joinChunk = 64 * 1024

// HashJoin joins two inputs on key equality: it builds a hash table over
// the right input, then streams the left input through it. NULL keys never
// match. The residual predicate (over left ++ right columns) filters
// matched pairs; an outer row none of whose pairs pass it is emitted
// NULL-extended. Without keys it is a nested-loop join.
type HashJoin struct {
	mem         memory.Allocator
	left, right Operator
	typ         JoinType
	lkeys       []expr.Expr
	rkeys       []expr.Expr
	residual    expr.Expr
	schema      *arrow.Schema
	nleft       int

	built    bool
	rrec     arrow.Record // all right rows; nil when the right side is empty
	table    *GroupTable
	head     []int32 // per group: first right row, -1 = none
	next     []int32 // per right row: next row of its group, -1 = end
	rmatched []bool
	queue    []arrow.Record
	leftDone bool
	done     bool
	gids     []uint32
	once     lifecycle
	acct     *Account // memory budget of the build side (SetBudget)
}

var _ Operator = (*HashJoin)(nil)

// NewHashJoin returns left JOIN right of kind typ on leftKeys[i] =
// rightKeys[i] (types must match; the planner casts) and the residual
// predicate (nil for none). The output columns are left's then right's,
// nullable on an outer join's NULL-extended side.
func NewHashJoin(mem memory.Allocator, left, right Operator, typ JoinType, leftKeys, rightKeys []expr.Expr, residual expr.Expr) (*HashJoin, error) {
	if len(leftKeys) != len(rightKeys) {
		return nil, fmt.Errorf("join: %d left keys, %d right keys", len(leftKeys), len(rightKeys))
	}
	if typ < JoinInner || typ > JoinFull {
		return nil, fmt.Errorf("join: bad join type %d", typ)
	}
	types := make([]arrow.DataType, len(leftKeys))
	for i := range leftKeys {
		lt, rt := valueType(leftKeys[i].DataType()), valueType(rightKeys[i].DataType())
		if !arrow.TypeEqual(lt, rt) {
			return nil, fmt.Errorf("join: key %d is %s on the left but %s on the right", i, lt, rt)
		}
		types[i] = lt
	}
	if residual != nil && residual.DataType().ID() != arrow.BOOL {
		return nil, fmt.Errorf("join: residual %s is %s, not boolean", residual, residual.DataType())
	}
	j := &HashJoin{mem: mem, left: left, right: right, typ: typ, lkeys: leftKeys, rkeys: rightKeys, residual: residual}
	if len(types) > 0 {
		t, err := NewGroupTable(types)
		if err != nil {
			return nil, fmt.Errorf("join: %w", err)
		}
		j.table = t
	}
	lf, rf := left.Schema().Fields(), right.Schema().Fields()
	if typ == JoinRight || typ == JoinFull {
		lf = nullableFields(lf)
	}
	if typ == JoinLeft || typ == JoinFull {
		rf = nullableFields(rf)
	}
	j.nleft = len(lf)
	j.schema = arrow.NewSchema(append(append([]arrow.Field(nil), lf...), rf...), nil)
	return j, nil
}

// Schema is left's columns then right's.
func (j *HashJoin) Schema() *arrow.Schema { return j.schema }

// Open opens both inputs once.
func (j *HashJoin) Open(ctx context.Context) error {
	return j.once.open(func() error {
		if err := j.left.Open(ctx); err != nil {
			return fmt.Errorf("join: open left: %w", err)
		}
		if err := j.right.Open(ctx); err != nil {
			return fmt.Errorf("join: open right: %w", err)
		}
		return nil
	})
}

// Next returns the next batch of joined rows.
func (j *HashJoin) Next(ctx context.Context) (arrow.Record, error) {
	if !j.built {
		j.built = true
		if err := j.build(ctx); err != nil {
			return nil, fmt.Errorf("join: build: %w", err)
		}
		if j.rrec == nil && (j.typ == JoinInner || j.typ == JoinRight) {
			j.done = true // nothing can match; don't read the left side
		}
	}
	for {
		if len(j.queue) > 0 {
			rec := j.queue[0]
			j.queue = j.queue[1:]
			return rec, nil
		}
		if j.done {
			return nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if j.leftDone {
			j.done = true
			if j.typ == JoinRight || j.typ == JoinFull {
				if err := j.emitUnmatchedRight(ctx); err != nil {
					return nil, fmt.Errorf("join: %w", err)
				}
			}
			continue
		}
		rec, err := j.left.Next(ctx)
		if errors.Is(err, io.EOF) {
			j.leftDone = true
			continue
		}
		if err != nil {
			return nil, err
		}
		err = j.probe(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("join: probe: %w", err)
		}
	}
}

// evalKeys evaluates key expressions, decoding dictionaries so both sides
// present the same physical types to the table.
func (j *HashJoin) evalKeys(ctx context.Context, rec arrow.Record, keys []expr.Expr) ([]arrow.Array, error) {
	cols, err := evalAll(ctx, j.mem, rec, exprList(keys))
	if err != nil {
		return nil, err
	}
	for i, c := range cols {
		if c.DataType().ID() == arrow.DICTIONARY {
			d, err := decodeDictionary(ctx, j.mem, c)
			if err != nil {
				releaseArrays(cols)
				return nil, err
			}
			c.Release()
			cols[i] = d
		}
	}
	return cols, nil
}

func anyNull(cols []arrow.Array, i int) bool {
	for _, c := range cols {
		if c.NullN() > 0 && c.IsNull(i) {
			return true
		}
	}
	return false
}

// build reads the right input and indexes its rows by key.
func (j *HashJoin) build(ctx context.Context) error {
	rrec, err := drainConcat(ctx, j.mem, j.right, j.acct)
	if err != nil || rrec == nil {
		return err
	}
	j.rrec = rrec
	n := int(rrec.NumRows())
	j.rmatched = make([]bool, n)
	if j.table == nil {
		return nil
	}
	cols, err := j.evalKeys(ctx, rrec, j.rkeys)
	if err != nil {
		return err
	}
	defer releaseArrays(cols)
	gids := make([]uint32, n)
	newKeys, err := j.table.Assign(ctx, j.mem, cols, gids, true)
	releaseArrays(newKeys)
	if err != nil {
		return err
	}
	j.head = make([]int32, j.table.NumGroups())
	for i := range j.head {
		j.head[i] = -1
	}
	j.next = make([]int32, n)
	// The build rows were accounted as they arrived; now the table.
	if err := j.acct.Grow(j.table.Bytes() + 4*int64(len(j.head)+len(j.next))); err != nil {
		return err
	}
	for r := n - 1; r >= 0; r-- {
		j.next[r] = -1
		if anyNull(cols, r) {
			continue
		}
		g := gids[r]
		j.next[r] = j.head[g]
		j.head[g] = int32(r)
	}
	return nil
}

// probe joins one left batch, queueing the output records.
func (j *HashJoin) probe(ctx context.Context, lrec arrow.Record) error {
	n := int(lrec.NumRows())
	lmatched := make([]bool, n)
	var li, ri []int32
	flush := func() error {
		if len(li) == 0 {
			return nil
		}
		err := j.emitPairs(ctx, lrec, li, ri, lmatched)
		li, ri = li[:0], ri[:0]
		return err
	}
	if j.rrec != nil {
		if j.table == nil {
			nr := int32(j.rrec.NumRows())
			for l := 0; l < n; l++ {
				for r := int32(0); r < nr; r++ {
					li, ri = append(li, int32(l)), append(ri, r)
				}
				if len(li) >= joinChunk {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		} else {
			cols, err := j.evalKeys(ctx, lrec, j.lkeys)
			if err != nil {
				return err
			}
			j.gids = growSlice(j.gids[:0], n)
			gids := j.gids[:n]
			newKeys, err := j.table.Assign(ctx, j.mem, cols, gids, false)
			releaseArrays(newKeys)
			if err != nil {
				releaseArrays(cols)
				return err
			}
			for l, g := range gids {
				if g == NoGroup || anyNull(cols, l) {
					continue
				}
				for r := j.head[g]; r >= 0; r = j.next[r] {
					li, ri = append(li, int32(l)), append(ri, r)
				}
				if len(li) >= joinChunk {
					if err := flush(); err != nil {
						releaseArrays(cols)
						return err
					}
				}
			}
			releaseArrays(cols)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if j.typ == JoinLeft || j.typ == JoinFull {
		var un []int32
		for l, m := range lmatched {
			if !m {
				un = append(un, int32(l))
			}
		}
		if len(un) > 0 {
			lcols, err := takeColumns(ctx, j.mem, lrec.Columns(), un)
			if err != nil {
				return err
			}
			j.enqueue(lcols, j.nullColumns(j.right.Schema(), len(un)), len(un))
		}
	}
	return nil
}

// emitPairs materializes candidate pairs, applies the residual and marks
// the rows that matched.
func (j *HashJoin) emitPairs(ctx context.Context, lrec arrow.Record, li, ri []int32, lmatched []bool) error {
	lcols, err := takeColumns(ctx, j.mem, lrec.Columns(), li)
	if err != nil {
		return err
	}
	rcols, err := takeColumns(ctx, j.mem, j.rrec.Columns(), ri)
	if err != nil {
		releaseArrays(lcols)
		return err
	}
	cols := append(lcols, rcols...)
	rec := array.NewRecord(j.schema, cols, int64(len(li)))
	releaseArrays(cols)
	if j.residual == nil {
		for k := range li {
			lmatched[li[k]] = true
			j.rmatched[ri[k]] = true
		}
		j.queue = append(j.queue, rec)
		return nil
	}
	defer rec.Release()
	m, err := j.residual.Eval(ctx, j.mem, rec)
	if err != nil {
		return fmt.Errorf("residual %s: %w", j.residual, err)
	}
	defer m.Release()
	mask, ok := m.(*array.Boolean)
	if !ok || mask.Len() != len(li) {
		return fmt.Errorf("residual %s: want %d booleans, got %s of %d", j.residual, len(li), m.DataType(), m.Len())
	}
	var keep []int32
	for k := range li {
		if mask.IsValid(k) && mask.Value(k) {
			keep = append(keep, int32(k))
			lmatched[li[k]] = true
			j.rmatched[ri[k]] = true
		}
	}
	if len(keep) == 0 {
		return nil
	}
	out, err := takeRecord(ctx, j.mem, j.schema, rec, keep)
	if err != nil {
		return err
	}
	j.queue = append(j.queue, out)
	return nil
}

// emitUnmatchedRight queues the right rows no left row matched, with NULL
// left columns.
func (j *HashJoin) emitUnmatchedRight(ctx context.Context) error {
	var un []int32
	for r, m := range j.rmatched {
		if !m {
			un = append(un, int32(r))
		}
	}
	for start := 0; start < len(un); start += DefaultBatchSize {
		part := un[start:min(start+DefaultBatchSize, len(un))]
		rcols, err := takeColumns(ctx, j.mem, j.rrec.Columns(), part)
		if err != nil {
			return err
		}
		j.enqueue(j.nullColumns(j.left.Schema(), len(part)), rcols, len(part))
	}
	return nil
}

// enqueue queues a record of left and right columns, taking ownership of
// the arrays.
func (j *HashJoin) enqueue(lcols, rcols []arrow.Array, n int) {
	cols := append(lcols, rcols...)
	j.queue = append(j.queue, array.NewRecord(j.schema, cols, int64(n)))
	releaseArrays(cols)
}

func (j *HashJoin) nullColumns(s *arrow.Schema, n int) []arrow.Array {
	out := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = array.MakeArrayOfNull(j.mem, f.Type, n)
	}
	return out
}

// Close releases the hash table and queued output and closes both inputs;
// idempotent.
func (j *HashJoin) Close() error {
	return j.once.close(func() error {
		releaseAll(j.queue)
		j.queue = nil
		if j.rrec != nil {
			j.rrec.Release()
			j.rrec = nil
		}
		j.table, j.head, j.next, j.rmatched = nil, nil, nil, nil
		j.acct.Close()
		lerr := j.left.Close()
		rerr := j.right.Close()
		if lerr != nil {
			return lerr
		}
		return rerr
	})
}
