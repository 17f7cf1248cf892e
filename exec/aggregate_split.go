package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec/expr"
)

// The split final aggregate. A parallel GROUP BY runs its partial phase
// on every worker, but the final phase merges all the partial rows on
// one goroutine: over many keys (a million groups, where the adaptive
// partial passes rows through) that one goroutine is most of the query.
// So a final aggregate given workers (SetWorkers) reads its input as
// before, in morsel order, and deals each batch's rows by key hash to
// that many parts, each an aggregate of its own on its own goroutine.
// A key's rows all reach one part, in input order, so every group's
// state folds its rows in the order one aggregate would (FLOAT sums
// included). Each part notes the input row number of each of its
// groups' first row, and build merges the parts' groups by it, which is
// the order of first appearance one aggregate gives. So the result is
// identical, rows and order, at any number of workers. A complete
// aggregate above a gather (DISTINCT aggregates, which have no partial
// state) splits the same way, and so does a keyless COUNT(DISTINCT x),
// dealt by x: each part counts the values only it sees.

// splitQueue is how many batches a part may have waiting.
const splitQueue = 4

// SetWorkers makes a final or complete aggregate with keys, or a keyless
// COUNT(DISTINCT x), group on up to n goroutines (see above and splits);
// others, and n < 2, run on one. Call it before Open.
func (h *HashAggregate) SetWorkers(n int) { h.workers = n }

// splitPart is one part of a split final aggregate.
type splitPart struct {
	agg *HashAggregate // input nil: fed by add
	// first holds, per group id in order, the input row number of its
	// first row: a slice per batch that started groups (one slice grown
	// to a million groups cost a tenth of the part's time in copies).
	first [][]int64
	in    chan splitBatch
	out   arrow.Record // the part's result (nil: no groups)
	err   error        // the part's own failure
}

// splitFailure keeps the first failure of a split's parts: the others
// then fail only because it cancelled them.
type splitFailure struct {
	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
}

func (f *splitFailure) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
	f.cancel()
}

// splitBatch is a part's share of one input batch: rows of rec (nil:
// all of them), whose first row is input row base.
type splitBatch struct {
	rec  arrow.Record
	rows []int32
	base int64
}

// splits reports whether consume deals the input to parts: a final or
// complete aggregate with keys, or one whose calls are all COUNT(DISTINCT
// x) of one x (dealt by x: each part counts values no other part sees,
// and the counts add up), given workers. The parts evaluate the keys and
// arguments at once over the batches they share, so each must be a plain
// column (the expressions are not made for concurrent use).
func (h *HashAggregate) splits() bool {
	if h.workers < 2 || h.mode == AggPartial || h.dedup || h.adaptive || h.dict != nil {
		return false
	}
	for _, k := range h.keys {
		if _, ok := expr.ColumnIndex(k); !ok {
			return false
		}
	}
	for _, a := range h.aggs {
		if _, ok := expr.ColumnIndex(a.Arg); a.Arg != nil && !ok {
			return false
		}
	}
	if h.table == nil && !h.countsDistinct() {
		return false
	}
	// The parts are told apart by HashRows, which refuses nested types.
	for _, k := range h.dealBy() {
		empty := array.MakeArrayOfNull(h.mem, k.DataType(), 0)
		_, err := HashRows(context.Background(), h.mem, []arrow.Array{empty}, nil)
		empty.Release()
		if err != nil {
			return false
		}
	}
	return true
}

// countsDistinct reports calls that are all COUNT(DISTINCT x) of one
// column x, in a complete aggregate.
func (h *HashAggregate) countsDistinct() bool {
	if h.mode != AggComplete || len(h.aggs) == 0 {
		return false
	}
	x, _ := expr.ColumnIndex(h.aggs[0].Arg)
	for _, a := range h.aggs {
		if c, ok := expr.ColumnIndex(a.Arg); a.Func != "count" || !a.Distinct || !ok || c != x {
			return false
		}
	}
	return true
}

// dealBy is what picks a row's part: the keys, or without keys the
// argument of COUNT(DISTINCT x).
func (h *HashAggregate) dealBy() []expr.Expr {
	if h.table == nil {
		return []expr.Expr{h.aggs[0].Arg}
	}
	return h.keys
}

// newParts makes the parts: aggregates like h, without input, each
// accounting its state to h's budget under h's operator name.
func (h *HashAggregate) newParts() error {
	names := make([]string, len(h.keys))
	for i := range names {
		names[i] = h.schema.Field(i).Name
	}
	h.parts = make([]*splitPart, h.workers)
	for p := range h.parts {
		agg, err := NewHashAggregateMode(h.mem, nil, h.mode, h.keys, names, h.orig)
		if err != nil {
			return err
		}
		if h.acct != nil {
			agg.acct = &Account{b: h.acct.b, op: h.acct.op}
		}
		h.parts[p] = &splitPart{agg: agg, in: make(chan splitBatch, splitQueue)}
	}
	return nil
}

// consumeSplit reads the whole input and deals it to the parts, which
// fold it and build their results.
func (h *HashAggregate) consumeSplit(ctx context.Context) error {
	if err := h.newParts(); err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := &splitFailure{cancel: cancel}
	var wg sync.WaitGroup
	for _, part := range h.parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part.run(cctx, fail)
		}()
	}
	err := h.deal(cctx)
	for _, part := range h.parts {
		close(part.in)
	}
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case fail.err != nil:
		// A part's failure cancelled the dealing: it is the error.
		return fmt.Errorf("aggregate: %w", fail.err)
	}
	return err
}

// deal reads the input and sends each batch's rows to their parts.
func (h *HashAggregate) deal(ctx context.Context) error {
	var base int64
	var hashes []uint64
	n := uint64(len(h.parts))
	counts := make([]int, len(h.parts))
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := h.input.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		rows := int(rec.NumRows())
		// Arrow counts an array's NULLs when first asked and keeps the
		// count: the parts share rec, so count here, before they ask.
		for _, c := range rec.Columns() {
			countNulls(c.Data())
		}
		cols, err := evalAll(ctx, h.mem, rec, exprList(h.dealBy()))
		if err == nil {
			hashes, err = HashRows(ctx, h.mem, cols, hashes)
			releaseArrays(cols)
		}
		if err != nil {
			rec.Release()
			return fmt.Errorf("aggregate: %w", err)
		}
		// The high bits pick the part: the parts' own tables hash
		// their keys afresh, and must not see keys sharing low bits.
		clear(counts)
		for i, x := range hashes {
			p, _ := bits.Mul64(x, n)
			hashes[i] = p
			counts[p]++
		}
		idx := make([]int32, rows)
		split := make([][]int32, len(h.parts))
		at := 0
		for p, c := range counts {
			split[p] = idx[at : at : at+c]
			at += c
		}
		for i, p := range hashes {
			split[p] = append(split[p], int32(i))
		}
		for p, part := range h.parts {
			if len(split[p]) == 0 {
				continue
			}
			b := splitBatch{rec: rec, rows: split[p], base: base}
			if len(b.rows) == rows {
				b.rows = nil
			}
			rec.Retain()
			select {
			case part.in <- b:
			case <-ctx.Done():
				rec.Release()
				rec.Release()
				return ctx.Err()
			}
		}
		rec.Release()
		base += int64(rows)
	}
}

// countNulls makes d and its children and dictionary hold their NULL
// counts (an array's NullN counts them into its data when unknown).
func countNulls(d arrow.ArrayData) {
	if d.NullN() < 0 {
		a := array.MakeFromData(d)
		a.NullN()
		a.Release()
	}
	for _, c := range d.Children() {
		countNulls(c)
	}
	if dict, ok := d.Dictionary().(*array.Data); ok && dict != nil {
		countNulls(dict)
	}
}

// run folds the batches sent to the part, then builds its result. After
// a failure it only releases what still comes, and cancels the others.
func (part *splitPart) run(ctx context.Context, fail *splitFailure) {
	for b := range part.in {
		if part.err == nil {
			if part.err = part.fold(ctx, b); part.err != nil {
				fail.set(part.err)
			}
		}
		b.rec.Release()
	}
	if part.err == nil && ctx.Err() == nil {
		if part.out, part.err = part.agg.build(); part.err != nil {
			fail.set(part.err)
		}
	}
}

// fold groups one share of a batch and notes its new groups' first rows.
func (part *splitPart) fold(ctx context.Context, b splitBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	rec := b.rec
	if b.rows != nil {
		var err error
		if rec, err = takeRecord(ctx, part.agg.mem, rec.Schema(), rec, b.rows); err != nil {
			return err
		}
		defer rec.Release()
	}
	if part.agg.table == nil { // COUNT(DISTINCT x): no groups
		return part.agg.add(ctx, rec)
	}
	next := uint32(part.agg.table.NumGroups())
	if err := part.agg.add(ctx, rec); err != nil {
		return err
	}
	// Groups are numbered in order of first appearance, so group next
	// starts at the first row whose group is next, and so on.
	added := part.agg.table.NumGroups() - int(next)
	if added == 0 {
		return nil
	}
	first := make([]int64, 0, added)
	for i, g := range part.agg.gids[:rec.NumRows()] {
		if g == next {
			row := int64(i)
			if b.rows != nil {
				row = int64(b.rows[i])
			}
			first = append(first, b.base+row)
			if next++; len(first) == added {
				break
			}
		}
	}
	part.first = append(part.first, first)
	return nil
}

// buildSplit merges the parts' results in order of their groups' first
// rows (nil for no groups).
func (h *HashAggregate) buildSplit(ctx context.Context) (arrow.Record, error) {
	if h.table == nil {
		return h.addCounts()
	}
	var outs []arrow.Record
	var queues []rowQueue
	total := 0
	for _, part := range h.parts {
		if part.out != nil {
			outs = append(outs, part.out)
			queues = append(queues, rowQueue{rest: part.first})
			total += int(part.out.NumRows())
		}
	}
	switch len(outs) {
	case 0:
		return nil, nil
	case 1:
		outs[0].Retain()
		return outs[0], nil
	}
	// idx lists the rows of the parts' results one after the other, in
	// the merged order.
	idx := make([]int32, 0, total)
	at := make([]int32, len(outs)) // per part: its next row in idx's numbering
	for p := range queues {
		queues[p].next()
		if p > 0 {
			at[p] = at[p-1] + int32(outs[p-1].NumRows())
		}
	}
	for len(idx) < total {
		best := -1
		var row int64
		for p := range queues {
			if q := &queues[p]; len(q.cur) > 0 && (best < 0 || q.cur[0] < row) {
				best, row = p, q.cur[0]
			}
		}
		if best < 0 {
			return nil, fmt.Errorf("aggregate: the parts' first rows cover %d of %d groups", len(idx), total)
		}
		idx = append(idx, at[best])
		at[best]++
		queues[best].cur = queues[best].cur[1:]
		queues[best].next()
	}
	cols := make([]arrow.Array, h.schema.NumFields())
	defer func() { releaseArrays(cols) }()
	parts := make([]arrow.Array, len(outs))
	for c := range cols {
		for p, o := range outs {
			parts[p] = o.Column(c)
		}
		all, err := array.Concatenate(parts, h.mem)
		if err != nil {
			return nil, fmt.Errorf("aggregate: %s: %w", h.schema.Field(c).Name, err)
		}
		cols[c], err = takeArray(ctx, h.mem, all, idx)
		all.Release()
		if err != nil {
			return nil, fmt.Errorf("aggregate: %s: %w", h.schema.Field(c).Name, err)
		}
	}
	return array.NewRecord(h.schema, cols, int64(total)), nil
}

// addCounts is the one row of a split COUNT(DISTINCT x): each column
// the sum of the parts' counts.
func (h *HashAggregate) addCounts() (arrow.Record, error) {
	cols := make([]arrow.Array, h.schema.NumFields())
	defer func() { releaseArrays(cols) }()
	for c := range cols {
		var n int64
		for _, part := range h.parts {
			cnt, ok := part.out.Column(c).(*array.Int64)
			if !ok || cnt.Len() != 1 {
				return nil, fmt.Errorf("aggregate: %s: a part's count is %s", h.schema.Field(c).Name, part.out.Column(c).DataType())
			}
			n += cnt.Value(0)
		}
		cols[c] = newFixedArray(h.mem, arrow.PrimitiveTypes.Int64, []int64{n}, nil)
	}
	return array.NewRecord(h.schema, cols, 1), nil
}

// rowQueue walks a part's first rows in order.
type rowQueue struct {
	cur  []int64 // empty only when rest is
	rest [][]int64
}

// next moves on to the next slice when cur is used up.
func (q *rowQueue) next() {
	for len(q.cur) == 0 && len(q.rest) > 0 {
		q.cur, q.rest = q.rest[0], q.rest[1:]
	}
}

// releaseParts releases the parts' results and state.
func (h *HashAggregate) releaseParts() {
	for _, part := range h.parts {
		if part.out != nil {
			part.out.Release()
			part.out = nil
		}
		part.agg.releaseChunks()
		part.agg.acct.Close()
	}
	h.parts = nil
}
