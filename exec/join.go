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
	out         []int  // output columns: indices into left ++ right
	lneed       []bool // left columns the output or the residual reads
	rneed       []bool // right columns the output or the residual reads
	full        *arrow.Schema
	dictKey     *joinDictKey // probe key read through its dictionary; nil when off

	types    []arrow.DataType // key types
	built    bool
	b        *joinBuild   // the build side, once built
	shared   *SharedBuild // build side shared with other instances; nil: own
	rmatched []bool       // right rows matched (RIGHT and FULL joins)
	ints     []uint64     // probe scratch: integer keys
	queue    []arrow.Record
	leftDone bool
	done     bool
	gids     []uint32
	li, ri   []int32 // probe scratch: matched pairs (left row, right row)
	lmatched []bool  // probe scratch: left rows that matched
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
	j := &HashJoin{mem: mem, left: left, right: right, typ: typ, lkeys: leftKeys, rkeys: rightKeys, residual: residual, types: types}
	if len(types) > 0 && !joinIntKey(types) {
		if _, err := NewGroupTable(types); err != nil { // the key types are supported
			return nil, fmt.Errorf("join: %w", err)
		}
	}
	lf, rf := left.Schema().Fields(), right.Schema().Fields()
	if typ == JoinRight || typ == JoinFull {
		lf = nullableFields(lf)
	}
	if typ == JoinLeft || typ == JoinFull {
		rf = nullableFields(rf)
	}
	j.nleft = len(lf)
	j.full = arrow.NewSchema(append(append([]arrow.Field(nil), lf...), rf...), nil)
	all := make([]int, j.full.NumFields())
	for i := range all {
		all[i] = i
	}
	if err := j.SetOutput(all); err != nil {
		return nil, err
	}
	return j, nil
}

// SetOutput narrows the join's output to the columns cols (indices into
// left's columns then right's, in any order, each at most once): the
// columns nobody above reads are never gathered. Call it before Open.
func (j *HashJoin) SetOutput(cols []int) error {
	n := j.full.NumFields()
	fields := make([]arrow.Field, len(cols))
	seen := make([]bool, n)
	for i, c := range cols {
		if c < 0 || c >= n || seen[c] {
			return fmt.Errorf("join: output column %d out of range or repeated (%d columns)", c, n)
		}
		seen[c] = true
		fields[i] = j.full.Field(c)
	}
	j.out = append([]int(nil), cols...)
	j.schema = arrow.NewSchema(fields, nil)
	j.lneed = make([]bool, j.nleft)
	j.rneed = make([]bool, n-j.nleft)
	for _, c := range cols {
		if c < j.nleft {
			j.lneed[c] = true
		} else {
			j.rneed[c-j.nleft] = true
		}
	}
	if j.residual != nil {
		// The residual sees whole pairs.
		for i := range j.lneed {
			j.lneed[i] = true
		}
		for i := range j.rneed {
			j.rneed[i] = true
		}
	}
	j.setupDictKey()
	return nil
}

// Schema is left's columns then right's.
func (j *HashJoin) Schema() *arrow.Schema { return j.schema }

// ShareBuild makes the join probe the build side s (built by whichever
// sharing instance gets there first) instead of reading its own right
// input, which it then neither opens nor closes: s's owner does. Only an
// INNER or LEFT join can share, since the unmatched right rows of a
// RIGHT or FULL join are known only after every probe. Call it before
// Open.
func (j *HashJoin) ShareBuild(s *SharedBuild) error {
	if j.typ != JoinInner && j.typ != JoinLeft {
		return fmt.Errorf("join: a %s join cannot share its build side", j.typ)
	}
	if !s.Schema().Equal(j.right.Schema()) {
		return fmt.Errorf("join: shared build side has schema %s, want %s", s.Schema(), j.right.Schema())
	}
	j.shared = s
	return nil
}

// Open opens both inputs once (the left only, with a shared build side).
func (j *HashJoin) Open(ctx context.Context) error {
	return j.once.open(func() error {
		if err := j.left.Open(ctx); err != nil {
			return fmt.Errorf("join: open left: %w", err)
		}
		if j.shared != nil {
			return nil
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
		if j.b.rrec == nil && (j.typ == JoinInner || j.typ == JoinRight) {
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
	if err := decodeDictionaries(ctx, j.mem, cols); err != nil {
		releaseArrays(cols)
		return nil, err
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

// build reads the right input and indexes its rows by key, or waits for
// the shared build side.
func (j *HashJoin) build(ctx context.Context) error {
	var err error
	if j.shared != nil {
		j.b, err = j.shared.get(ctx, j.rkeys, j.types)
	} else {
		j.b, err = buildJoin(ctx, j.mem, j.right, j.rkeys, j.types, j.acct)
	}
	if err != nil {
		return err
	}
	if j.typ == JoinRight || j.typ == JoinFull {
		j.rmatched = make([]bool, j.b.rows())
	}
	return nil
}

// probe joins one left batch, queueing the output records.
func (j *HashJoin) probe(ctx context.Context, lrec arrow.Record) error {
	n := int(lrec.NumRows())
	j.lmatched = growSlice(j.lmatched[:0], n)[:n]
	lmatched := j.lmatched
	clear(lmatched)
	li, ri := j.li[:0], j.ri[:0]
	defer func() { j.li, j.ri = li[:0], ri[:0] }()
	flush := func() error {
		if len(li) == 0 {
			return nil
		}
		err := j.emitPairs(ctx, lrec, li, ri, lmatched)
		li, ri = li[:0], ri[:0]
		return err
	}
	if j.b.rrec != nil {
		switch {
		case len(j.lkeys) == 0:
			nr := int32(j.b.rrec.NumRows())
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
		case j.b.ints != nil:
			cols, err := j.evalKeys(ctx, lrec, j.lkeys)
			if err != nil {
				return err
			}
			col := cols[0]
			j.ints = intValues(col, j.ints)
			nulls := col.NullN() > 0
			t := j.b.ints
			for l, k := range j.ints {
				if nulls && col.IsNull(l) {
					continue // NULL keys never match
				}
				s := t.find(k)
				if s == nil {
					continue
				}
				r := s.row1 - 1
				li, ri = append(li, int32(l)), append(ri, r)
				for c := int32(1); c < s.n; c++ {
					r = t.next[r]
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
		default:
			j.gids = growSlice(j.gids[:0], n)
			gids := j.gids[:n]
			cols, err := j.probeGroups(ctx, lrec, gids)
			if err != nil {
				return err
			}
			for _, c := range cols {
				if c.NullN() == 0 {
					continue
				}
				for l := range gids {
					if c.IsNull(l) {
						gids[l] = NoGroup // NULL keys never match
					}
				}
			}
			for l, g := range gids {
				if g == NoGroup {
					continue
				}
				for r := j.b.head[g]; r >= 0; r = j.b.next[r] {
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
			lcols, err := j.takeSide(ctx, lrec.Columns(), un, j.lneed)
			if err != nil {
				return err
			}
			return j.enqueue(ctx, lcols, j.nullColumns(j.right.Schema(), j.rneed, len(un)), len(un))
		}
	}
	return nil
}

// emitPairs materializes candidate pairs, applies the residual and marks
// the rows that matched.
func (j *HashJoin) emitPairs(ctx context.Context, lrec arrow.Record, li, ri []int32, lmatched []bool) error {
	lcols, err := j.takeSide(ctx, lrec.Columns(), li, j.lneed)
	if err != nil {
		return err
	}
	rcols, err := j.takeSide(ctx, j.b.rrec.Columns(), ri, j.rneed)
	if err != nil {
		releaseArrays(lcols)
		return err
	}
	if j.residual == nil {
		for _, l := range li {
			lmatched[l] = true
		}
		if j.rmatched != nil {
			for _, r := range ri {
				j.rmatched[r] = true
			}
		}
		return j.enqueue(ctx, lcols, rcols, len(li))
	}
	// With a residual every column was gathered (SetOutput): the
	// predicate sees whole pairs, plain strings.
	cols := append(lcols, rcols...)
	if err := decodeDictionaries(ctx, j.mem, cols); err != nil {
		releaseArrays(cols)
		return err
	}
	rec := array.NewRecord(j.full, cols, int64(len(li)))
	releaseArrays(cols)
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
			if j.rmatched != nil {
				j.rmatched[ri[k]] = true
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	kept, err := takeColumns(ctx, j.mem, rec.Columns(), keep)
	if err != nil {
		return err
	}
	return j.enqueue(ctx, kept[:j.nleft], kept[j.nleft:], len(keep))
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
		rcols, err := j.takeSide(ctx, j.b.rrec.Columns(), part, j.rneed)
		if err != nil {
			return err
		}
		if err := j.enqueue(ctx, j.nullColumns(j.left.Schema(), j.lneed, len(part)), rcols, len(part)); err != nil {
			return err
		}
	}
	return nil
}

// enqueue queues a record of the output columns among left's and right's
// (nil where not gathered), decoding dictionary-encoded ones; it takes
// ownership of the arrays.
func (j *HashJoin) enqueue(ctx context.Context, lcols, rcols []arrow.Array, n int) error {
	all := append(append(make([]arrow.Array, 0, len(lcols)+len(rcols)), lcols...), rcols...)
	defer releaseArrays(all)
	cols := make([]arrow.Array, len(j.out))
	for i, c := range j.out {
		if all[c] == nil {
			return fmt.Errorf("output column %s was not gathered", j.full.Field(c).Name)
		}
		all[c].Retain()
		cols[i] = all[c]
	}
	defer releaseArrays(cols)
	if err := decodeDictionaries(ctx, j.mem, cols); err != nil {
		return err
	}
	j.queue = append(j.queue, array.NewRecord(j.schema, cols, int64(n)))
	return nil
}

// nullColumns is n NULL rows of the needed columns of s (nil elsewhere).
func (j *HashJoin) nullColumns(s *arrow.Schema, need []bool, n int) []arrow.Array {
	out := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		if need[i] {
			out[i] = array.MakeArrayOfNull(j.mem, f.Type, n)
		}
	}
	return out
}

// takeSide gathers rows idx of the needed columns of one side (nil
// elsewhere). Rows idx that are one contiguous run of the input, as when
// every probe row matches exactly one build row, are a zero-copy slice.
func (j *HashJoin) takeSide(ctx context.Context, cols []arrow.Array, idx []int32, need []bool) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(cols))
	lo, run := contiguous(idx)
	for i, c := range cols {
		if !need[i] {
			continue
		}
		if run {
			out[i] = array.NewSlice(c, int64(lo), int64(lo)+int64(len(idx)))
			continue
		}
		a, err := takeArray(ctx, j.mem, c, idx)
		if err != nil {
			releaseArrays(out)
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// contiguous reports whether idx is lo, lo+1, …, lo+len(idx)-1 (and not
// empty).
func contiguous(idx []int32) (lo int32, ok bool) {
	if len(idx) == 0 || idx[0] < 0 {
		return 0, false
	}
	lo = idx[0]
	for k, v := range idx {
		if v != lo+int32(k) {
			return 0, false
		}
	}
	return lo, true
}

// Close releases the hash table and queued output and closes both inputs
// (a shared build side is its owner's to close); idempotent.
func (j *HashJoin) Close() error {
	return j.once.close(func() error {
		releaseAll(j.queue)
		j.queue = nil
		if j.shared == nil {
			j.b.release()
		}
		j.b, j.rmatched = nil, nil
		j.dictKey.release()
		j.acct.Close()
		lerr := j.left.Close()
		var rerr error
		if j.shared == nil {
			rerr = j.right.Close()
		}
		if lerr != nil {
			return lerr
		}
		return rerr
	})
}
