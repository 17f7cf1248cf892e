package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// BoundKind is one end of a window frame.
type BoundKind int

// Frame bound kinds, in the order they may appear from start to end.
const (
	UnboundedPreceding BoundKind = iota
	Preceding
	CurrentRow
	Following
	UnboundedFollowing
)

// FrameBound is one end of a frame. For Preceding/Following, Offset is
// rows (ROWS) or the distance in the ORDER BY key's physical units
// (RANGE: the integer value, µs of a TIMESTAMP, days of a DATE), or
// FloatOffset for a floating-point key.
type FrameBound struct {
	Kind        BoundKind
	Offset      int64
	FloatOffset float64
}

// Frame is the rows a window function sees around each row: ROWS counts
// rows; RANGE compares the ORDER BY value, and its CURRENT ROW is the row
// with its peers (equal ORDER BY values).
type Frame struct {
	Rows       bool
	Start, End FrameBound
}

// AnalyticFunc is one window function: row_number rank dense_rank
// percent_rank cume_dist ntile (N buckets), lag lead (Args value[,
// default], N the offset), first_value last_value nth_value (N the
// position), or count_star count sum avg min max over Args[0], or any
// other aggregate of the accumulator layer (median, string_agg,
// array_agg, …, "_distinct" appended for DISTINCT; Params its constant
// parts) over Args[0]. Type is the result type the planner chose; the
// operator refuses another.
type AnalyticFunc struct {
	Func   string
	Args   []expr.Expr
	N      int64
	Frame  Frame
	Type   arrow.DataType
	Name   string
	Params AggParams
	// SQL and Pos are the call as the planner prints it and where the
	// user wrote it, for a data error (SUM's overflow) to name.
	SQL string
	Pos expr.Pos
}

// Analytic computes window functions that share one PARTITION BY and
// ORDER BY: it buffers its whole input (as Sort does), sorts it stably by
// the partition keys then the order keys, and outputs every row in that
// order with one more column per function. Results do not depend on how
// the input was cut into batches: ties keep input order. With workers
// (SetWorkers) the sort runs on all of them, and so does the evaluation:
// the sorted partitions are cut into contiguous runs of whole partitions,
// one per worker, and each run's functions are computed on its own
// goroutine; a function reads only its own partition, so every value,
// the row order and the first error are the serial ones.
type Analytic struct {
	mem    memory.Allocator
	input  Operator
	part   []expr.Expr
	order  []SortKey
	funcs  []AnalyticFunc
	schema *arrow.Schema
	outs   []arrow.Record // the result, one record per run of partitions
	pos    int64          // next row of outs[0]
	done   bool
	once   lifecycle
	acct   *Account // memory budget (SetBudget); nil: unlimited
	par    int      // sorting and evaluating goroutines (SetWorkers); 0 or 1: one
}

var _ Operator = (*Analytic)(nil)

// NewAnalytic returns input with the window functions funcs appended,
// partitioned by part and ordered by order within each partition.
func NewAnalytic(mem memory.Allocator, input Operator, part []expr.Expr, order []SortKey, funcs []AnalyticFunc) (*Analytic, error) {
	fs := append([]arrow.Field(nil), input.Schema().Fields()...)
	for _, f := range funcs {
		if err := checkAnalyticType(f); err != nil {
			return nil, err
		}
		fs = append(fs, arrow.Field{Name: f.Name, Type: f.Type, Nullable: true})
	}
	return &Analytic{mem: mem, input: input, part: part, order: order, funcs: funcs, schema: arrow.NewSchema(fs, nil)}, nil
}

// checkAnalyticType refuses a result type the kernels do not produce for
// the function, so a planner/executor disagreement fails at build time.
func checkAnalyticType(f AnalyticFunc) error {
	var want arrow.DataType
	switch f.Func {
	case "row_number", "rank", "dense_rank", "ntile", "count_star":
		want = arrow.PrimitiveTypes.Int64
	case "percent_rank", "cume_dist":
		want = arrow.PrimitiveTypes.Float64
	case "lag", "lead", "first_value", "last_value", "nth_value":
		if len(f.Args) == 0 {
			return fmt.Errorf("%s needs an argument", f.Func)
		}
		want = valueType(f.Args[0].DataType())
	case "count", "sum", "avg", "min", "max":
		if len(f.Args) != 1 {
			return fmt.Errorf("%s needs one argument", f.Func)
		}
		t, err := aggResultType(f.Func, valueType(f.Args[0].DataType()))
		if err != nil {
			return err
		}
		want = t
	default:
		fn, _ := layerWindowAgg(f.Func)
		if _, ok := aggDefs[fn]; !ok || len(f.Args) != 1 {
			return fmt.Errorf("unknown window function %q", f.Func)
		}
		t, err := aggResultType(fn, valueType(f.Args[0].DataType()))
		if err != nil {
			return err
		}
		want = t
	}
	if !arrow.TypeEqual(want, f.Type) {
		return fmt.Errorf("window function %s: result type %s, the executor computes %s", f.Func, f.Type, want)
	}
	return nil
}

// SetBudget accounts the buffered input to a (nil: unlimited).
func (a *Analytic) SetBudget(acct *Account) { a.acct = acct }

// SetWorkers sorts the input into window order, and evaluates the
// functions over runs of whole partitions, on up to n goroutines; the
// order, and so every result, is the same at any n (see sortStable).
func (a *Analytic) SetWorkers(n int) { a.par = n }

// Schema is the input's columns then one per function.
func (a *Analytic) Schema() *arrow.Schema { return a.schema }

// Open opens the input once.
func (a *Analytic) Open(ctx context.Context) error {
	return a.once.open(func() error { return a.input.Open(ctx) })
}

// Next computes every function on the first call, then returns the rows
// in batches of DefaultBatchSize.
func (a *Analytic) Next(ctx context.Context) (arrow.Record, error) {
	if !a.done {
		a.done = true
		outs, err := a.compute(ctx)
		if err != nil {
			return nil, fmt.Errorf("window functions: %w", err)
		}
		a.outs = outs
	}
	for len(a.outs) > 0 && a.pos >= a.outs[0].NumRows() {
		a.outs[0].Release()
		a.outs, a.pos = a.outs[1:], 0
	}
	if len(a.outs) == 0 {
		return nil, io.EOF
	}
	out := a.outs[0]
	end := min(a.pos+DefaultBatchSize, out.NumRows())
	rec := out.NewSlice(a.pos, end)
	a.pos = end
	return rec, nil
}

// Close releases the buffered rows and closes the input; idempotent.
func (a *Analytic) Close() error {
	return a.once.close(func() error {
		releaseAll(a.outs)
		a.outs = nil
		a.acct.Close()
		return a.input.Close()
	})
}

// partitioned is the input in window order: perm[k] is the input row at
// sorted position k; partitions and peer groups are runs of positions.
// It may be one run of whole partitions of the full order (then perm is
// that run's slice of it and positions count from the run's start).
type partitioned struct {
	perm      []int32
	parts     [][2]int32 // [start, end) of each partition
	peerStart []int32    // per position: first position of its peer group
	peerEnd   []int32    // per position: end of its peer group
}

// minParallelEval is the fewest rows worth evaluating on more than one
// goroutine.
const minParallelEval = 1 << 14

// compute sorts the buffered input and evaluates every function, over
// runs of whole partitions on up to a.par goroutines; it returns the
// result in order, one record per run.
func (a *Analytic) compute(ctx context.Context) ([]arrow.Record, error) {
	all, err := drainConcat(ctx, a.mem, a.input, a.acct)
	if err != nil || all == nil {
		return nil, err
	}
	defer all.Release()
	pk := make([]SortKey, len(a.part))
	for i, e := range a.part {
		pk[i] = SortKey{Expr: e, NullsFirst: true}
	}
	partCmp, relPart, err := rowComparator(ctx, a.mem, all, pk)
	if err != nil {
		return nil, err
	}
	defer relPart()
	ordCmp, relOrd, err := rowComparator(ctx, a.mem, all, a.order)
	if err != nil {
		return nil, err
	}
	defer relOrd()
	n := int(all.NumRows())
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	sortStable(perm, a.par, func(x, y int32) int {
		if c := partCmp(int(x), int(y)); c != 0 {
			return c
		}
		return ordCmp(int(x), int(y))
	})
	workers := 1
	if a.par > 1 && n >= minParallelEval {
		workers = a.par
	}
	parts := partitionBounds(perm, workers, partCmp)
	runs := cutRuns(parts, n, workers)
	views := make([]*partitioned, len(runs))
	var wg sync.WaitGroup
	for r, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[r] = peerGroups(perm, parts[run[0]:run[1]], ordCmp)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// cols[r] are run r's input columns in window order, then one column
	// per function.
	cols := make([][]arrow.Array, len(runs))
	defer func() {
		for _, c := range cols {
			releaseArrays(c)
		}
	}()
	if err := eachRun(len(runs), func(r int) error {
		c, err := takeColumns(ctx, a.mem, all.Columns(), views[r].perm)
		cols[r] = c
		return err
	}); err != nil {
		return nil, err
	}
	for _, f := range a.funcs {
		pf, err := a.prepare(ctx, all, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		res := make([]arrow.Array, len(runs))
		err = eachRun(len(runs), func(r int) error {
			var err error
			res[r], err = a.evalFunc(ctx, views[r], pf)
			return err
		})
		pf.release()
		for r, v := range res {
			if v != nil {
				cols[r] = append(cols[r], v)
			}
		}
		if err != nil {
			if errors.Is(err, ErrOverflow) && f.SQL != "" { // the query's data error, at the call
				return nil, expr.OutOfRange(expr.TypeName(f.Type), f.SQL, f.Pos, err)
			}
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	outs := make([]arrow.Record, 0, len(runs))
	for r, c := range cols {
		outs = append(outs, array.NewRecord(a.schema, c, int64(len(views[r].perm))))
	}
	return outs, nil
}

// eachRun calls f(r) for every run r < n, each on its own goroutine when
// there are several, and returns the error of the lowest run that failed
// (the one a serial pass over the runs in order meets first).
func eachRun(n int, f func(r int) error) error {
	if n == 1 {
		return f(0)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for r := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = f(r)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// partitionBounds returns the partitions of the sorted perm as [start,
// end) positions, finding the boundaries on up to workers goroutines.
func partitionBounds(perm []int32, workers int, partCmp func(i, j int) int) [][2]int32 {
	n := len(perm)
	if n == 0 {
		return nil
	}
	cuts := make([][]int32, workers) // per chunk: positions k where a partition starts
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := max(w*n/workers, 1), (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := lo; k < hi; k++ {
				if partCmp(int(perm[k-1]), int(perm[k])) != 0 {
					cuts[w] = append(cuts[w], int32(k))
				}
			}
		}()
	}
	wg.Wait()
	var parts [][2]int32
	start := int32(0)
	for _, c := range cuts {
		for _, k := range c {
			parts = append(parts, [2]int32{start, k})
			start = k
		}
	}
	return append(parts, [2]int32{start, int32(n)})
}

// cutRuns groups consecutive partitions into at most workers runs of
// about n/workers rows each (a partition is never split), as [first,
// last+1) indices into parts.
func cutRuns(parts [][2]int32, n, workers int) [][2]int {
	if workers <= 1 || len(parts) < 2 {
		return [][2]int{{0, len(parts)}}
	}
	var runs [][2]int
	first := 0
	for i, p := range parts {
		// End a run once it reaches its share of the rows.
		if len(runs) < workers-1 && int(p[1]) >= (len(runs)+1)*n/workers && i+1 < len(parts) {
			runs = append(runs, [2]int{first, i + 1})
			first = i + 1
		}
	}
	return append(runs, [2]int{first, len(parts)})
}

// peerGroups is the view of the partitions parts of the sorted perm,
// rebased to start at position 0, with each position's peer group.
func peerGroups(perm []int32, parts [][2]int32, ordCmp func(i, j int) int) *partitioned {
	if len(parts) == 0 {
		return &partitioned{}
	}
	base, end := parts[0][0], parts[len(parts)-1][1]
	p := &partitioned{perm: perm[base:end], parts: make([][2]int32, len(parts)), peerStart: make([]int32, end-base), peerEnd: make([]int32, end-base)}
	for i, pr := range parts {
		p.parts[i] = [2]int32{pr[0] - base, pr[1] - base}
	}
	for _, pr := range p.parts {
		ps := pr[0]
		for k := pr[0]; k < pr[1]; k++ {
			if k > pr[0] && ordCmp(int(p.perm[k-1]), int(p.perm[k])) != 0 {
				ps = k
			}
			p.peerStart[k] = ps
		}
		pe := pr[1]
		for k := pr[1] - 1; k >= pr[0]; k-- {
			if k < pr[1]-1 && ordCmp(int(p.perm[k]), int(p.perm[k+1])) != 0 {
				pe = k + 1
			}
			p.peerEnd[k] = pe
		}
	}
	return p
}

// preparedFunc is one function with what it reads of every input row,
// evaluated once for all runs: its arguments (dictionaries decoded) and,
// for a RANGE frame with an offset, the ORDER BY key.
type preparedFunc struct {
	f    AnalyticFunc
	args []arrow.Array
	rng  *rangeKeys
}

func (pf *preparedFunc) release() { releaseArrays(pf.args) }

// prepare evaluates f's arguments over all the input rows.
func (a *Analytic) prepare(ctx context.Context, all arrow.Record, f AnalyticFunc) (*preparedFunc, error) {
	pf := &preparedFunc{f: f}
	for _, e := range f.Args {
		v, err := e.Eval(ctx, a.mem, all)
		if err != nil {
			pf.release()
			return nil, fmt.Errorf("eval %s: %w", e, err)
		}
		d, err := decodeDictionary(ctx, a.mem, v)
		v.Release()
		if err != nil {
			pf.release()
			return nil, err
		}
		pf.args = append(pf.args, d)
	}
	switch f.Func {
	case "row_number", "rank", "dense_rank", "ntile", "percent_rank", "cume_dist", "lag", "lead":
		return pf, nil
	}
	if fr := f.Frame; !fr.Rows && (isOffset(fr.Start.Kind) || isOffset(fr.End.Kind)) {
		if len(a.order) != 1 {
			pf.release()
			return nil, fmt.Errorf("a RANGE frame with an offset needs one ORDER BY key, got %d", len(a.order))
		}
		rng, err := newRangeKeys(ctx, a.mem, all, a.order[0])
		if err != nil {
			pf.release()
			return nil, err
		}
		pf.rng = rng
	}
	return pf, nil
}

// evalFunc computes one function's column over the partitions of p, in
// their sorted order.
func (a *Analytic) evalFunc(ctx context.Context, p *partitioned, pf *preparedFunc) (arrow.Array, error) {
	f, args := pf.f, pf.args
	switch f.Func {
	case "row_number", "rank", "dense_rank", "ntile", "percent_rank", "cume_dist":
		return rankColumn(a.mem, p, f), nil
	case "lag", "lead":
		return a.lagLead(ctx, p, f, args)
	}
	lo, hi := frames(p, f.Frame, pf.rng)
	switch f.Func {
	case "first_value", "last_value", "nth_value":
		idx := make([]int32, len(p.perm))
		for k := range idx {
			j := int32(-1)
			switch f.Func {
			case "first_value":
				j = lo[k]
			case "last_value":
				j = hi[k] - 1
			default:
				j = lo[k] + int32(min(f.N-1, int64(len(p.perm))))
			}
			if lo[k] < hi[k] && j >= lo[k] && j < hi[k] {
				idx[k] = p.perm[j]
			} else {
				idx[k] = -1
			}
		}
		return takeArray(ctx, a.mem, args[0], idx)
	case "count_star":
		out := make([]int64, len(p.perm))
		for k := range out {
			out[k] = int64(max(hi[k]-lo[k], 0))
		}
		return newFixedArray(a.mem, arrow.PrimitiveTypes.Int64, out, nil), nil
	}
	return frameAggregate(ctx, a.mem, p, f, args[0], lo, hi)
}

// rankColumn computes the ranking functions, which read only positions.
func rankColumn(mem memory.Allocator, p *partitioned, f AnalyticFunc) arrow.Array {
	n := len(p.perm)
	ints := make([]int64, n)
	var floats []float64
	if f.Func == "percent_rank" || f.Func == "cume_dist" {
		floats = make([]float64, n)
	}
	for _, pr := range p.parts {
		ps, m := pr[0], int64(pr[1]-pr[0])
		dense := int64(0)
		for k := pr[0]; k < pr[1]; k++ {
			i := int64(k - ps)
			if p.peerStart[k] == k {
				dense++
			}
			rank := int64(p.peerStart[k]-ps) + 1
			switch f.Func {
			case "row_number":
				ints[k] = i + 1
			case "rank":
				ints[k] = rank
			case "dense_rank":
				ints[k] = dense
			case "ntile":
				ints[k] = ntile(i, m, f.N)
			case "percent_rank":
				if m > 1 {
					floats[k] = float64(rank-1) / float64(m-1)
				}
			case "cume_dist":
				floats[k] = float64(p.peerEnd[k]-ps) / float64(m)
			}
		}
	}
	if floats != nil {
		return newFixedArray(mem, arrow.PrimitiveTypes.Float64, floats, nil)
	}
	return newFixedArray(mem, arrow.PrimitiveTypes.Int64, ints, nil)
}

// ntile is the 1-based bucket of row i of m split into b buckets: the
// first m%b buckets hold one row more than the others (SQL's rule).
func ntile(i, m, b int64) int64 {
	q, r := m/b, m%b
	if q == 0 {
		return i + 1
	}
	if i < r*(q+1) {
		return i/(q+1) + 1
	}
	return r + (i-r*(q+1))/q + 1
}

// lagLead reads the value N rows before (lag) or after (lead) within the
// partition, else the default (NULL without one).
func (a *Analytic) lagLead(ctx context.Context, p *partitioned, f AnalyticFunc, args []arrow.Array) (arrow.Array, error) {
	n := len(p.perm)
	src := args[0]
	if len(args) > 1 {
		c, err := array.Concatenate([]arrow.Array{args[0], args[1]}, a.mem)
		if err != nil {
			return nil, fmt.Errorf("concatenate default: %w", err)
		}
		defer c.Release()
		src = c
	}
	idx := make([]int32, n)
	step := f.N
	if f.Func == "lag" {
		step = -step
	}
	for _, pr := range p.parts {
		for k := pr[0]; k < pr[1]; k++ {
			j := int64(k) + step
			switch {
			case j >= int64(pr[0]) && j < int64(pr[1]):
				idx[k] = p.perm[j]
			case len(args) > 1:
				idx[k] = int32(args[0].Len()) + p.perm[k]
			default:
				idx[k] = -1
			}
		}
	}
	return takeArray(ctx, a.mem, src, idx)
}
