package stream

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// batchMatches are the partners of every row of one input batch: for
// row i, rows[start[i]:start[i+1]] are the other side's rows it matches
// (same key, within the interval bounds, residual true), in bucket order.
//
// A batch's rows all come from one side and folding them changes only
// that side's buckets (and the partners' counters), so the candidates of
// every row can be found before the first row is folded, and the
// residual evaluated once over all the batch's candidate pairs instead of
// once per row through a one-row record. The one change the fold makes
// to the other side is freeing rows as the watermark advances row by row
// (expire): partners handles that by skipping rows no longer live, which
// is what a row-by-row probe would have found.
type batchMatches struct {
	// keys holds the rows' join keys (appendKey encodings), row i's
	// ending at keyEnd[i].
	keys   []byte
	keyEnd []int32
	null   []bool
	start  []int32
	rows   []int32    // slots of the other side's store
	other  *joinStore // the other side's store
}

// key is row i's join key encoding.
func (m *batchMatches) key(i int) []byte {
	from := int32(0)
	if i > 0 {
		from = m.keyEnd[i-1]
	}
	return m.keys[from:m.keyEnd[i]]
}

// partners returns row i's partners still held.
func (m *batchMatches) partners(i int) []int32 {
	ps := m.rows[m.start[i]:m.start[i+1]]
	for k, p := range ps {
		if m.other.m(p).live {
			continue
		}
		kept := ps[:k]
		for _, q := range ps[k+1:] {
			if m.other.m(q).live {
				kept = append(kept, q)
			}
		}
		return kept
	}
	return ps
}

// matchBatch finds the partners of every row of rec (side's batch);
// keyOf reads the join keys, tsOf the event time (interval joins).
func (j *Join) matchBatch(ctx context.Context, side int, rec arrow.Record, keyOf []func(int) Value, tsOf func(int) Value) (*batchMatches, error) {
	n := int(rec.NumRows())
	other := j.sides[1-side].st
	m := &batchMatches{keys: j.keyBuf[:0], keyEnd: make([]int32, n), null: make([]bool, n), start: make([]int32, n+1), rows: j.matchBuf[:0]}
	interval := j.spec.Timing == IntervalJoin
	lo, hi := int64(j.spec.Lower)/max(j.unit, 1), int64(j.spec.Upper)/max(j.unit, 1)
	theirTime := j.timeCol(1 - side) // a column of their store: no op column
	if j.sides[1-side].changelog {
		theirTime--
	}
	probe := j.probeIdx[:0]
	for i := range n {
		from := len(m.keys)
		for _, k := range keyOf {
			v := k(i)
			m.null[i] = m.null[i] || v.IsNull()
			m.keys = appendKey(m.keys, v)
		}
		m.keyEnd[i] = int32(len(m.keys))
		m.start[i] = int32(len(m.rows))
		if m.null[i] {
			continue
		}
		b := other.findBucket(m.keys[from:])
		if b < 0 {
			continue
		}
		var mine int64
		if interval {
			mine = tsOf(i).I
		}
		for p := other.bucket(b).head; p >= 0; p = other.m(p).next {
			if interval {
				// Only rows within the time bounds can match: test
				// them before the residual (which holds the exact
				// condition).
				d := *other.cols[theirTime].num.at(p) - mine // right − left
				if side == 1 {
					d = -d
				}
				if d < lo || d > hi {
					continue
				}
			}
			m.rows = append(m.rows, p)
			probe = append(probe, int32(i))
		}
	}
	m.start[n] = int32(len(m.rows))
	m.other = other
	j.probeIdx, j.keyBuf, j.matchBuf = probe, m.keys, m.rows
	if j.spec.Residual == nil || len(m.rows) == 0 {
		return m, nil
	}
	keep, err := j.residualPairs(ctx, side, rec, probe, m.rows)
	if err != nil {
		return nil, err
	}
	w, from := int32(0), int32(0)
	for i := range n {
		to := m.start[i+1]
		m.start[i] = w
		for k := from; k < to; k++ {
			if keep[k] {
				m.rows[w] = m.rows[k]
				w++
			}
		}
		from = to
	}
	m.start[n] = w
	m.rows = m.rows[:w]
	return m, nil
}

// residualPairs evaluates the residual over the joined rows of the
// candidate pairs (row probe[k] of rec, held row theirs[k]), in one
// record: rec's value columns taken by probe, the held rows' columns
// built from their Values. NULL keeps nothing.
func (j *Join) residualPairs(ctx context.Context, side int, rec arrow.Record, probe []int32, theirs []int32) ([]bool, error) {
	first := 0
	if j.sides[side].changelog {
		first = 1
	}
	reads := j.residualReads()
	mineOff := 0 // where rec's value columns start in the pair
	if side == 1 {
		mineOff = j.nvals[0]
	}
	// Columns the residual does not read are NULL: taking or building
	// them was most of the work (every column of an auction, for a
	// condition on two of them).
	var mine []arrow.Array
	defer func() { releaseArrays(mine) }()
	for c, col := range rec.Columns()[first:] {
		if reads != nil && !reads[mineOff+c] {
			mine = append(mine, array.MakeArrayOfNull(j.mem, col.DataType(), len(probe)))
			continue
		}
		taken, err := exec.TakeColumns(ctx, j.mem, []arrow.Array{col}, probe)
		if err != nil {
			return nil, err
		}
		mine = append(mine, taken[0])
	}
	fields := j.pair.Fields()
	theirFields := fields[:j.nvals[0]]
	theirOff := 0
	if side == 0 {
		theirFields, theirOff = fields[j.nvals[0]:], j.nvals[0]
	}
	rb := array.NewRecordBuilder(j.mem, arrow.NewSchema(theirFields, nil))
	defer rb.Release()
	st := j.sides[1-side].st
	for c := range theirFields {
		b := rb.Field(c)
		if reads != nil && !reads[theirOff+c] {
			b.AppendNulls(len(theirs))
			continue
		}
		b.Reserve(len(theirs))
		appendSlot := newSlotAppender(b, &st.cols[c])
		for _, p := range theirs {
			if err := appendSlot(p); err != nil {
				return nil, err
			}
		}
	}
	built := rb.NewRecord()
	defer built.Release()
	cols := append(append([]arrow.Array(nil), mine...), built.Columns()...)
	if side == 1 {
		cols = append(append([]arrow.Array(nil), built.Columns()...), mine...)
	}
	pair := array.NewRecord(j.pair, cols, int64(len(probe)))
	defer pair.Release()
	arr, err := j.spec.Residual.Eval(ctx, j.mem, pair)
	if err != nil {
		return nil, fmt.Errorf("evaluating join condition %s: %w", j.spec.Residual, err)
	}
	defer arr.Release()
	b, ok := arr.(*array.Boolean)
	if !ok {
		return nil, fmt.Errorf("stream: join condition %s is %s, not BOOLEAN", j.spec.Residual, arr.DataType())
	}
	keep := make([]bool, len(probe))
	for k := range keep {
		keep[k] = b.IsValid(k) && b.Value(k)
	}
	return keep, nil
}

// residualReads marks the columns of the joined row (j.pair) the
// residual reads, or is nil when it cannot tell (then it reads all).
func (j *Join) residualReads() []bool {
	if j.readsKnown {
		return j.reads
	}
	j.readsKnown = true
	e, ok := j.spec.Residual.(expr.Expr)
	if !ok {
		return nil
	}
	reads := make([]bool, j.pair.NumFields())
	if !expr.ColumnsRead(e, func(c int) {
		if c >= 0 && c < len(reads) {
			reads[c] = true
		}
	}) {
		return nil
	}
	j.reads = reads
	return reads
}
