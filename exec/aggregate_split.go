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
// identical, rows and order, at any number of workers.

// splitQueue is how many batches a part may have waiting.
const splitQueue = 4

// SetWorkers makes a final aggregate (AggFinal, with keys) merge on up
// to n goroutines (see above); other aggregates, and n < 2, run on one.
// Call it before Open.
func (h *HashAggregate) SetWorkers(n int) { h.workers = n }

// splitPart is one part of a split final aggregate.
type splitPart struct {
	agg   *HashAggregate // input nil: fed by add
	first []int64        // per group id: the input row number of its first row
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

// splits reports whether consume deals the input to parts.
func (h *HashAggregate) splits() bool {
	if h.workers < 2 || h.mode != AggFinal || h.table == nil || h.dedup || h.adaptive || h.dict != nil {
		return false
	}
	// The parts are told apart by HashRows, which refuses nested keys.
	for _, k := range h.keys {
		empty := array.MakeArrayOfNull(h.mem, k.DataType(), 0)
		_, err := HashRows(context.Background(), h.mem, []arrow.Array{empty}, nil)
		empty.Release()
		if err != nil {
			return false
		}
	}
	return true
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
		cols, err := evalAll(ctx, h.mem, rec, exprList(h.keys))
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
	next := uint32(part.agg.table.NumGroups())
	if err := part.agg.add(ctx, rec); err != nil {
		return err
	}
	// Groups are numbered in order of first appearance, so group next
	// starts at the first row whose group is next, and so on.
	if uint32(part.agg.table.NumGroups()) == next {
		return nil
	}
	for i, g := range part.agg.gids[:rec.NumRows()] {
		if g == next {
			row := int64(i)
			if b.rows != nil {
				row = int64(b.rows[i])
			}
			part.first = append(part.first, b.base+row)
			next++
		}
	}
	return nil
}

// buildSplit merges the parts' results in order of their groups' first
// rows (nil for no groups).
func (h *HashAggregate) buildSplit(ctx context.Context) (arrow.Record, error) {
	var outs []arrow.Record
	var firsts [][]int64
	total := 0
	for _, part := range h.parts {
		if part.out != nil {
			outs = append(outs, part.out)
			firsts = append(firsts, part.first)
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
	offs := make([]int32, len(outs))
	heads := make([]int, len(outs))
	for p := 1; p < len(outs); p++ {
		offs[p] = offs[p-1] + int32(outs[p-1].NumRows())
	}
	for len(idx) < total {
		best := -1
		for p, f := range firsts {
			if heads[p] < len(f) && (best < 0 || f[heads[p]] < firsts[best][heads[best]]) {
				best = p
			}
		}
		idx = append(idx, offs[best]+int32(heads[best]))
		heads[best]++
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
