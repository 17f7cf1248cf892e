package stream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Parallel runs a keyed one-input node as N instances, each with its own
// state and its own checkpoint part: every batch is cut by a hash of its
// key expressions (exec.HashRows and exec.PartitionOf, a pure function of
// the key values and N, as exec.HashPartitioner) and each instance folds
// its rows on its own goroutine (a small batch's parts fold on the
// caller's, see parallelInlineRows).
// Every row of a key reaches the same instance, retractions included, so
// the folded output equals one instance's at any N; each batch's output
// is the instances' outputs in instance order, so it is deterministic
// too. All other messages (marks, ticks, finish, snapshots) reach every
// instance on the caller's goroutine: Push returns only when every
// instance is done, so between messages the instances are idle and a
// checkpoint is a barrier aligned across them.
type Parallel struct {
	mem   memory.Allocator
	keys  []Expr
	insts []Node
	in    *InputMarks
	// hashes are the last batch's row hashes (exec.HashRows), computed
	// once on the caller's goroutine in tight typed loops.
	hashes []uint64
	// pushers[i] is instance i when it folds its rows of a shared batch
	// in place (RowsPusher), nil when it gets a copy of them.
	pushers []RowsPusher
	// shared[i] is instance i when it can write its changes into a
	// builder shared with the others (sharedEmitter); nil unless every
	// instance can. pend[i] are instance i's pending changes' batch rows.
	shared []sharedEmitter
	pend   [][]int32
	// rows[i] are the batch rows of instance i's part of the last Push,
	// in batch order: written by Push before the instances start, read
	// by instance i and by the merge after they finish.
	rows [][]int32
	// all: every instance gets every batch, with or without rows of its
	// keys (a window aggregate's event time follows every row).
	all bool
	// errs[i] is instance i's error of the last batch.
	errs []error

	work    []chan parallelJob
	results chan parallelResult
	wg      sync.WaitGroup
	closed  bool
}

// parallelInlineRows is the batch size below which Parallel folds a
// batch's parts on the caller's goroutine, one instance after another:
// handing a part to an instance's goroutine and waiting for it costs a
// few microseconds of wake-ups and context switches, as much as folding
// about a thousand rows, and a pre-aggregated GROUP BY's batches are a
// few partial rows per key (stream-changes: 100 rows per 8,192 read).
const parallelInlineRows = 2048

// parallelJob is one batch for one instance: its rows are rows[inst].
type parallelJob struct {
	ctx       context.Context
	rec       arrow.Record
	partition int32
}

type parallelResult struct {
	inst int
	rec  arrow.Record
	err  error
}

// fold is instance i's part of a batch: its pending changes (shared) or
// its output.
func (p *Parallel) fold(i int, j parallelJob) (arrow.Record, error) {
	if p.shared != nil {
		rows, err := p.shared[i].FoldRows(j.ctx, j.rec, j.partition, p.rows[i])
		p.pend[i] = rows
		return nil, err
	}
	return p.step(i, j)
}

var (
	_ Node              = (*Parallel)(nil)
	_ PartedSnapshotter = (*Parallel)(nil)
)

// NewParallel builds n instances with build (each its own operator: they
// run concurrently, so they must share no mutable state) behind a hash
// exchange on keys, expressions over the input. It takes ownership of
// the instances.
func NewParallel(mem memory.Allocator, keys []Expr, n int, build func(i int) (Node, error)) (*Parallel, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("stream: a parallel operator needs a key to partition by")
	}
	p := &Parallel{mem: mem, keys: keys, in: NewInputMarks(1), results: make(chan parallelResult, n), rows: make([][]int32, n), errs: make([]error, n)}
	for i := 0; i < n; i++ {
		inst, err := build(i)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.insts = append(p.insts, inst)
		p.pushers = append(p.pushers, operatorAs[RowsPusher](inst))
	}
	for _, inst := range p.insts {
		se := operatorAs[sharedEmitter](inst)
		if se == nil {
			p.shared = nil
			break
		}
		p.shared = append(p.shared, se)
	}
	p.pend = make([][]int32, n)
	for i := range p.insts {
		ch := make(chan parallelJob, 1)
		p.work = append(p.work, ch)
		p.wg.Add(1)
		go p.run(i, ch)
	}
	return p, nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// run is instance i's goroutine.
func (p *Parallel) run(i int, jobs <-chan parallelJob) {
	defer p.wg.Done()
	for j := range jobs {
		rec, err := p.fold(i, j)
		p.results <- parallelResult{inst: i, rec: rec, err: err}
	}
}

// step folds instance i's rows of job j.
func (p *Parallel) step(i int, j parallelJob) (arrow.Record, error) {
	idx := p.rows[i]
	if rp := p.pushers[i]; rp != nil {
		// The instance folds its rows of the shared batch in place.
		return rp.PushRows(j.ctx, j.rec, j.partition, idx)
	}
	var part arrow.Record
	if len(idx) == int(j.rec.NumRows()) {
		j.rec.Retain()
		part = j.rec
	} else {
		r, err := exec.TakeRecord(j.ctx, p.mem, j.rec, idx)
		if err != nil {
			return nil, err
		}
		part = r
	}
	defer part.Release()
	return p.insts[i].Push(j.ctx, 0, exec.Batch{Record: part, Partition: j.partition})
}

// Instances is the number of instances.
func (p *Parallel) Instances() int { return len(p.insts) }

// Schema is the instances' output schema.
func (p *Parallel) Schema() *arrow.Schema { return p.insts[0].Schema() }

// SinkMode is the instances' changelog mode.
func (p *Parallel) SinkMode() exec.SinkMode { return p.insts[0].SinkMode() }

// Push cuts b by key and folds each part in its instance concurrently.
// Instances that share one emission (sharedEmitter: the GROUP BY) give
// their changes in the order one instance would have emitted them;
// other instances' outputs are joined in instance order.
func (p *Parallel) Push(ctx context.Context, _ int, b exec.Batch) (arrow.Record, error) {
	if b.Record.NumRows() == 0 {
		return nil, nil
	}
	outs, err := p.foldBatch(ctx, b)
	if err == nil {
		for _, e := range p.errs {
			if e != nil {
				err = e
				break
			}
		}
	}
	if p.shared != nil {
		return p.emitShared(err)
	}
	if err != nil {
		releaseAll(outs)
		return nil, err
	}
	return p.gather(outs)
}

// foldBatch cuts b (not empty) by key and folds each part in its
// instance, concurrently unless the batch is small; it returns the
// instances' outputs, with their errors in p.errs, or the error of
// cutting the batch.
func (p *Parallel) foldBatch(ctx context.Context, b exec.Batch) ([]arrow.Record, error) {
	rec := b.Record
	n := len(p.insts)
	clear(p.errs)
	cols := make([]arrow.Array, len(p.keys))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, k := range p.keys {
		c, err := k.Eval(ctx, p.mem, rec)
		if err != nil {
			return nil, fmt.Errorf("evaluating partition key %s: %w", k, err)
		}
		cols[i] = c
	}
	h, err := exec.HashRows(ctx, p.mem, cols, p.hashes)
	if err != nil {
		return nil, fmt.Errorf("partitioning by key: %w", err)
	}
	p.hashes = h
	for i := range p.rows {
		p.rows[i] = p.rows[i][:0]
	}
	for r, v := range h {
		q := exec.PartitionOf(v, n)
		p.rows[q] = append(p.rows[q], int32(r))
	}
	outs := make([]arrow.Record, n)
	job := parallelJob{ctx: ctx, rec: rec, partition: b.Partition}
	if rec.NumRows() < parallelInlineRows {
		// Too few rows to pay for waking the instances' goroutines:
		// they fold one after another on this one, which changes
		// nothing but where the work runs (each keeps its own state).
		for i := range p.insts {
			if len(p.rows[i]) == 0 && !p.all {
				continue
			}
			if outs[i], p.errs[i] = p.fold(i, job); p.errs[i] != nil {
				break
			}
		}
		return outs, nil
	}
	for _, c := range rec.Columns() {
		cacheNulls(c)
	}
	sent := 0
	for i, w := range p.work {
		if len(p.rows[i]) > 0 || p.all {
			w <- job
			sent++
		}
	}
	for range sent {
		res := <-p.results
		outs[res.inst], p.errs[res.inst] = res.rec, res.err
	}
	return outs, nil
}

// emitShared writes the instances' pending changes of the last batch
// into one record in the order of the batch rows that caused them (the
// order one instance emits them in), then ends them; err is the folding
// error, if any, which drops them.
func (p *Parallel) emitShared(err error) (arrow.Record, error) {
	defer func() {
		for i, se := range p.shared {
			se.EndPending()
			p.pend[i] = nil
		}
	}()
	if err != nil {
		return nil, err
	}
	total := 0
	for _, rows := range p.pend {
		total += len(rows)
	}
	var rb *array.RecordBuilder
	next := make([]int, len(p.shared))
	for range total {
		best := -1
		for i, rows := range p.pend {
			if next[i] < len(rows) && (best < 0 || rows[next[i]] < p.pend[best][next[best]]) {
				best = i
			}
		}
		if err := p.shared[best].EmitPending(&rb, total, next[best]); err != nil {
			if rb != nil {
				rb.Release()
			}
			return nil, err
		}
		next[best]++
	}
	if rb == nil {
		return nil, nil
	}
	defer rb.Release()
	return rb.NewRecord(), nil
}

// mergeHeld merges the rows instances hold, each instance's in ascending
// order of their order keys ords (one a row), into one list ascending by
// less: the order one operator emits them in. Ties go to the lower
// instance.
func mergeHeld[O any](rows [][][]Value, ords [][]O, less func(a, b O) bool) ([][]Value, error) {
	total := 0
	for i := range rows {
		if len(ords[i]) != len(rows[i]) {
			return nil, fmt.Errorf("stream: instance %d holds %d rows but %d order keys", i, len(rows[i]), len(ords[i]))
		}
		total += len(rows[i])
	}
	out := make([][]Value, 0, total)
	next := make([]int, len(rows))
	for range total {
		best := -1
		for i := range rows {
			if next[i] < len(rows[i]) && (best < 0 || less(ords[i][next[i]], ords[best][next[best]])) {
				best = i
			}
		}
		out = append(out, rows[best][next[best]])
		next[best]++
	}
	return out, nil
}

// cacheNulls makes arr (and its children) count their nulls now: Arrow
// counts them lazily on first use and caches the count in the array, a
// write that must not happen from several instances' goroutines at once.
func cacheNulls(arr arrow.Array) {
	arr.NullN()
	switch a := arr.(type) {
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			cacheNulls(a.Field(i))
		}
	case array.ListLike:
		cacheNulls(a.ListValues())
	case *array.Dictionary:
		cacheNulls(a.Indices())
		cacheNulls(a.Dictionary())
	}
}

// gather joins the instances' outputs (nil ones skipped) into one record.
func (p *Parallel) gather(outs []arrow.Record) (arrow.Record, error) {
	var keep []arrow.Record
	for _, r := range outs {
		if r == nil {
			continue
		}
		if r.NumRows() == 0 {
			r.Release()
			continue
		}
		keep = append(keep, r)
	}
	switch len(keep) {
	case 0:
		return nil, nil
	case 1:
		return keep[0], nil
	}
	defer releaseAll(keep)
	return concatRecords(p.mem, keep)
}

// each sends one message to every instance in turn and gathers the output.
func (p *Parallel) each(f func(Node) (arrow.Record, error)) (arrow.Record, error) {
	outs := make([]arrow.Record, len(p.insts))
	for i, inst := range p.insts {
		r, err := f(inst)
		if err != nil {
			releaseAll(outs)
			return nil, err
		}
		outs[i] = r
	}
	return p.gather(outs)
}

// Advance gives every instance the input's mark.
func (p *Parallel) Advance(ctx context.Context, input int, m Mark) (arrow.Record, error) {
	p.in.Set(input, m)
	return p.each(func(n Node) (arrow.Record, error) { return n.Advance(ctx, input, m) })
}

// Watermark is the input's: the instances see all of its marks.
func (p *Parallel) Watermark() Mark { return p.in.Mark() }

// Tick lets processing time act on every instance.
func (p *Parallel) Tick(ctx context.Context, now time.Time) (arrow.Record, error) {
	return p.each(func(n Node) (arrow.Record, error) { return n.Tick(ctx, now) })
}

// Finish ends the input of every instance.
func (p *Parallel) Finish(ctx context.Context, input int) (arrow.Record, error) {
	p.in.Finish(input)
	return p.each(func(n Node) (arrow.Record, error) { return n.Finish(ctx, input) })
}

// Snapshot is not used: the parts are SnapshotParts'.
func (p *Parallel) Snapshot() ([]byte, error) {
	return nil, fmt.Errorf("stream: a parallel operator checkpoints one part per instance")
}

// Restore is not used: the parts are RestoreParts'.
func (p *Parallel) Restore([]byte) error {
	return fmt.Errorf("stream: a parallel operator restores one part per instance")
}

// instancePart names instance i's part among n: the count is in the
// name, so a checkpoint is never restored into another number of
// instances.
func instancePart(i, n int) string { return fmt.Sprintf("%d-of-%d", i, n) }

// SnapshotParts is each instance's state, named by its index and count.
func (p *Parallel) SnapshotParts() ([]OperatorState, error) { return p.SnapshotPartsDelta(nil) }

// SnapshotPartsDelta is SnapshotParts with deltas where delta allows them
// and the instances can (DeltaSnapshotter).
func (p *Parallel) SnapshotPartsDelta(delta func(part string) bool) ([]OperatorState, error) {
	return snapshotInstances(nil, p.insts, delta)
}

// snapshotInstances appends to parts each instance's part, named by
// instancePart; the partitioned nodes (Parallel, ParallelJoin) share it.
func snapshotInstances[T Snapshotter](parts []OperatorState, insts []T, delta func(part string) bool) ([]OperatorState, error) {
	for i, inst := range insts {
		part, err := SnapshotPart(inst, instancePart(i, len(insts)), delta)
		if err != nil {
			return nil, fmt.Errorf("instance %d: %w", i, err)
		}
		if part.Data != nil {
			parts = append(parts, part)
		}
	}
	return parts, nil
}

// restoreInstance gives part to the instance its name says (instancePart)
// among insts. Keys are spread by a hash modulo the number of instances,
// so a part of another parallelism cannot be split among these and is
// refused; what names the node in the message.
func restoreInstance[T Snapshotter](insts []T, part OperatorState, what string) error {
	var i, n int
	if _, err := fmt.Sscanf(part.Name, "%d-of-%d", &i, &n); err != nil || n != len(insts) || i < 0 || i >= n {
		return fmt.Errorf("the checkpoint holds state part %q of this %s, which runs %d instances: it was taken at another parallelism; run with that SET parallelism, or start from a fresh checkpoint directory", part.Name, what, len(insts))
	}
	if err := RestorePart(insts[i], part); err != nil {
		return fmt.Errorf("instance %d: %w", i, err)
	}
	return nil
}

// sumStats adds up the instances' state sizes.
func sumStats[T interface{ Stats() StateStats }](insts []T) StateStats {
	var st StateStats
	for _, inst := range insts {
		st.Add(inst.Stats())
	}
	return st
}

// RestoreParts gives each instance its own part. Keys are spread by a
// hash modulo the number of instances, so a checkpoint of another
// parallelism cannot be split among these and is refused.
func (p *Parallel) RestoreParts(parts []OperatorState) error {
	for _, part := range parts {
		if err := restoreInstance(p.insts, part, "operator"); err != nil {
			return err
		}
	}
	return nil
}

// Stats adds up the instances' state sizes.
func (p *Parallel) Stats() StateStats { return sumStats(p.insts) }

// Close stops the instances' goroutines and closes them; idempotent.
func (p *Parallel) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	for _, ch := range p.work {
		close(ch)
	}
	p.wg.Wait()
	var err error
	for _, inst := range p.insts {
		if cerr := inst.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
