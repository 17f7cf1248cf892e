package stream

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// OverChangelog runs window functions over an updating input (a
// changelog: a per-key top-N's, a regular join's): a change to a
// partition can change the value of any of its rows (every later row's
// frame, an earlier one's under FOLLOWING), so the operator keeps the
// live rows of each partition, recomputes a partition the batch kernel's
// way whenever a batch changes it, and emits the difference to what it
// emitted before: -U/-D for output rows that are gone, +U/+I for new
// ones. The folded output is the kernel over the folded input, the
// batch result, whatever the batch sizes. It waits for no watermark.
// State: every live input row. Not safe for concurrent use.
type OverChangelog struct {
	mem    memory.Allocator
	in     *arrow.Schema // the input, op column first
	vals   *arrow.Schema // its value columns: the kernel's input
	out    *arrow.Schema // op, then the kernel's columns
	part   []int         // PARTITION BY columns, over the values
	kernel func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error)
	// parts are the partitions' live rows and emitted output rows.
	parts map[string]*overPart
	// dirty are the partitions recomputed since the last snapshot: the
	// next SnapshotDelta writes them (or that they are gone).
	dirty map[string]bool
	buf   []byte
	// bytes is the partitions' running size (StateBytes), each
	// measured as it is recomputed.
	bytes int64
	// held is set on an instance of a ParallelOverChangelog, which
	// merges the instances' changes itself (see rankHeld).
	held *rankHeld
}

// overPart is one partition of an OverChangelog: its live input rows
// and the output rows last emitted for them, each keyed by its values'
// encoding with its multiplicity.
type overPart struct {
	Rows map[string]*overRow
	Outs map[string]*overRow
	// bytes is what Rows and Outs hold, as last measured (not
	// checkpointed: Restore measures it).
	bytes int64
}

// measure sets p's size and returns how much it changed.
func (p *overPart) measure() int64 {
	n := heldRowsBytes(p.Rows) + heldRowsBytes(p.Outs)
	d := n - p.bytes
	p.bytes = n
	return d
}

// heldRowsBytes is what the held rows of m take (as Stats counts them).
func heldRowsBytes(m map[string]*overRow) int64 {
	var n int64
	for _, h := range m {
		n += heldRowBytes(h.Vals)
	}
	return n
}

// overRow is a row held with its multiplicity.
type overRow struct {
	Vals []Value
	N    int64
}

var (
	_ Operator    = (*OverChangelog)(nil)
	_ Snapshotter = (*OverChangelog)(nil)
)

// NewOverChangelog builds the window functions of kernel (the batch
// operator: value rows in, the rows with the functions' columns appended
// out, schema out without an op column) over the changelog of schema in,
// partitioned by the value columns part.
func NewOverChangelog(mem memory.Allocator, in *arrow.Schema, part []int, kernel func(ctx context.Context, rec arrow.Record) ([]arrow.Record, error), out *arrow.Schema) (*OverChangelog, error) {
	if !IsChangelog(in) {
		return nil, fmt.Errorf("stream: OverChangelog needs a changelog input")
	}
	vals := DropOp(in)
	for _, c := range part {
		if c < 0 || c >= vals.NumFields() {
			return nil, fmt.Errorf("stream: OVER partition column %d out of range", c)
		}
	}
	if out.NumFields() < vals.NumFields() {
		return nil, fmt.Errorf("stream: OVER output has %d columns, fewer than its input's %d", out.NumFields(), vals.NumFields())
	}
	return &OverChangelog{mem: mem, in: in, vals: vals, out: arrow.NewSchema(append([]arrow.Field{opField}, out.Fields()...), nil),
		part: part, kernel: kernel, parts: map[string]*overPart{}, dirty: map[string]bool{}}, nil
}

// Schema is op, the input's value columns, then one per window function.
func (o *OverChangelog) Schema() *arrow.Schema { return o.out }

// SinkMode is a changelog identified by whole rows.
func (o *OverChangelog) SinkMode() exec.SinkMode { return exec.SinkMode{Changelog: true} }

// Push applies a batch of changes and returns the changes of the output
// of the partitions it touched, or nil. The caller keeps rec.
func (o *OverChangelog) Push(ctx context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	return o.push(ctx, rec, nil)
}

// PushRows implements RowsPusher for a ParallelOverChangelog instance:
// Push of the rows of rec listed (ascending), whose changes are held
// with the batch row where their partition first appears (the order one
// operator emits partitions in). rec is read-only.
func (o *OverChangelog) PushRows(ctx context.Context, rec arrow.Record, _ int32, rows []int32) (arrow.Record, error) {
	if rows == nil {
		rows = []int32{}
	}
	return o.push(ctx, rec, rows)
}

// push is Push (own nil: every row) or PushRows (own: the rows listed).
func (o *OverChangelog) push(ctx context.Context, rec arrow.Record, own []int32) (arrow.Record, error) {
	if rec.NumRows() == 0 || own != nil && len(own) == 0 {
		return nil, nil
	}
	if err := sameTypes(rec.Schema(), o.in); err != nil {
		return nil, fmt.Errorf("stream: OVER input: %w", err)
	}
	rows, err := readRowsAt(rec, rowIndices(own))
	if err != nil {
		return nil, err
	}
	touched := map[string]bool{}
	var order []string
	var firsts []int32 // the batch row where order[i] first appears
	for i, r := range rows {
		sign := int64(1)
		if op := exec.Op(r[0].I); op == exec.OpUpdateBefore || op == exec.OpDelete {
			sign = -1
		}
		vals := r[1:]
		k := o.partKey(vals)
		p := o.parts[k]
		if p == nil {
			p = &overPart{Rows: map[string]*overRow{}, Outs: map[string]*overRow{}}
			o.parts[k] = p
		}
		o.buf = rowKey(o.buf[:0], vals)
		id := string(o.buf)
		h := p.Rows[id]
		switch {
		case h == nil && sign < 0:
			continue // a retraction of a row not held: nothing to undo
		case h == nil:
			h = &overRow{Vals: vals}
			p.Rows[id] = h
		}
		h.N += sign
		if h.N <= 0 {
			delete(p.Rows, id)
		}
		if !touched[k] {
			touched[k] = true
			order = append(order, k)
			first := int32(i)
			if own != nil {
				first = own[i]
			}
			firsts = append(firsts, first)
		}
	}
	var out [][]Value
	for i, k := range order {
		n := len(out)
		if out, err = o.recompute(ctx, k, out); err != nil {
			return nil, err
		}
		if o.held != nil {
			for range len(out) - n {
				o.held.ords = append(o.held.ords, firsts[i])
			}
		}
	}
	if o.held != nil {
		o.held.rows = append(o.held.rows, out...)
		return nil, nil
	}
	if len(out) == 0 {
		return nil, nil
	}
	rb := array.NewRecordBuilder(o.mem, o.out)
	defer rb.Release()
	return buildRecord(rb, out)
}

// recompute runs the kernel over partition k's live rows and appends to
// out the difference to the rows emitted for it before.
func (o *OverChangelog) recompute(ctx context.Context, k string, out [][]Value) ([][]Value, error) {
	p := o.parts[k]
	next := map[string]*overRow{}
	if len(p.Rows) > 0 {
		var rows [][]Value
		for _, h := range sortedRows(p.Rows) {
			for n := int64(0); n < h.N; n++ {
				rows = append(rows, h.Vals)
			}
		}
		rb := array.NewRecordBuilder(o.mem, o.vals)
		rec, err := buildRecord(rb, rows)
		rb.Release()
		if err != nil {
			return nil, err
		}
		outs, err := o.kernel(ctx, rec)
		rec.Release()
		defer releaseAll(outs)
		if err != nil {
			return nil, err
		}
		for _, r := range outs {
			got, err := readRows(r)
			if err != nil {
				return nil, err
			}
			for _, g := range got {
				o.buf = rowKey(o.buf[:0], g)
				if h := next[string(o.buf)]; h != nil {
					h.N++
				} else {
					next[string(o.buf)] = &overRow{Vals: g, N: 1}
				}
			}
		}
	}
	// Gone (or fewer) rows first, then new (or more): -U/+U when the
	// partition both loses and gains rows, -D or +I when it only does one.
	var gone, added [][]Value
	for _, id := range sortedIDs(p.Outs) {
		h, n := p.Outs[id], int64(0)
		if x := next[id]; x != nil {
			n = x.N
		}
		for i := n; i < h.N; i++ {
			gone = append(gone, h.Vals)
		}
	}
	for _, id := range sortedIDs(next) {
		h, n := next[id], int64(0)
		if x := p.Outs[id]; x != nil {
			n = x.N
		}
		for i := n; i < h.N; i++ {
			added = append(added, h.Vals)
		}
	}
	del, ins := exec.OpDelete, exec.OpInsert
	if len(gone) > 0 && len(added) > 0 {
		del, ins = exec.OpUpdateBefore, exec.OpUpdateAfter
	}
	for _, g := range gone {
		out = append(out, append([]Value{Int(int64(del))}, g...))
	}
	for _, a := range added {
		out = append(out, append([]Value{Int(int64(ins))}, a...))
	}
	p.Outs = next
	o.bytes += p.measure()
	o.dirty[k] = true
	if len(p.Rows) == 0 {
		delete(o.parts, k)
	}
	return out, nil
}

// sortedIDs are the keys of m in order, so that output is reproducible.
func sortedIDs(m map[string]*overRow) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// sortedRows are the rows of m by their keys.
func sortedRows(m map[string]*overRow) []*overRow {
	rows := make([]*overRow, 0, len(m))
	for _, id := range sortedIDs(m) {
		rows = append(rows, m[id])
	}
	return rows
}

func (o *OverChangelog) partKey(vals []Value) string {
	o.buf = o.buf[:0]
	for _, c := range o.part {
		o.buf = appendKey(o.buf, vals[c])
	}
	return string(o.buf)
}

// Tick does nothing: the operator waits for no time.
func (o *OverChangelog) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }

// Finish has nothing left to emit: every change was emitted as it came.
func (o *OverChangelog) Finish(context.Context) (arrow.Record, error) { return nil, nil }

// Stats counts the live rows and the output rows held.
func (o *OverChangelog) Stats() StateStats {
	var s StateStats
	for _, p := range o.parts {
		for _, m := range []map[string]*overRow{p.Rows, p.Outs} {
			s.Groups += len(m)
			s.Bytes += heldRowsBytes(m)
		}
	}
	return s
}

// Close drops the state; idempotent.
func (o *OverChangelog) Close() error {
	o.parts, o.bytes = map[string]*overPart{}, 0
	clear(o.dirty)
	return nil
}

// StateBytes is what the live and emitted rows hold (StateSizer), from
// the partitions' sizes measured as each is recomputed (which walks it
// anyway), so the OVER operator over an updating input is checked
// against the memory budget after every message. It equals
// Stats().Bytes.
func (o *OverChangelog) StateBytes() (int64, bool) { return o.bytes, true }

// Snapshot encodes every partition's live rows and emitted rows.
// It is the baseline of the next SnapshotDelta.
func (o *OverChangelog) Snapshot() ([]byte, error) {
	clear(o.dirty)
	return encode(o.parts)
}

// Restore replaces the state with a snapshot; call it before the first
// Push.
func (o *OverChangelog) Restore(data []byte) error {
	parts := map[string]*overPart{}
	if err := decode(data, &parts); err != nil {
		return err
	}
	if err := o.checkParts(parts); err != nil {
		return err
	}
	o.parts, o.bytes = parts, 0
	for _, p := range parts {
		o.bytes += p.measure()
	}
	clear(o.dirty)
	return nil
}

// checkParts refuses partitions of another query's shape and fills in
// the maps an encoding leaves nil.
func (o *OverChangelog) checkParts(parts map[string]*overPart) error {
	for _, p := range parts {
		for _, h := range p.Rows {
			if len(h.Vals) != o.vals.NumFields() {
				return fmt.Errorf("stream: restoring an OVER aggregate: a row with %d columns, want %d (was the query changed?)", len(h.Vals), o.vals.NumFields())
			}
		}
		if p.Rows == nil {
			p.Rows = map[string]*overRow{}
		}
		if p.Outs == nil {
			p.Outs = map[string]*overRow{}
		}
	}
	return nil
}

// overChangelogDelta is an OverChangelog's incremental checkpoint: the
// partitions recomputed since the last snapshot, whole, and those of
// them that are gone (no live row left).
type overChangelogDelta struct {
	Parts map[string]*overPart
	Gone  []string
}

var _ DeltaSnapshotter = (*OverChangelog)(nil)

// SnapshotDelta encodes the partitions a change touched since the last
// Snapshot, SnapshotDelta, Restore or RestoreDelta (nil if none): a
// checkpoint costs what the input changed, not every live row.
func (o *OverChangelog) SnapshotDelta() ([]byte, error) {
	if len(o.dirty) == 0 {
		return nil, nil
	}
	d := overChangelogDelta{Parts: map[string]*overPart{}}
	for k := range o.dirty {
		if p, ok := o.parts[k]; ok {
			d.Parts[k] = p
		} else {
			d.Gone = append(d.Gone, k)
		}
	}
	sort.Strings(d.Gone)
	clear(o.dirty)
	return encode(d)
}

// RestoreDelta applies a SnapshotDelta over the state restored so far.
func (o *OverChangelog) RestoreDelta(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var d overChangelogDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	if err := o.checkParts(d.Parts); err != nil {
		return err
	}
	for _, k := range d.Gone {
		if p, ok := o.parts[k]; ok {
			o.bytes -= p.bytes
			delete(o.parts, k)
		}
	}
	for k, p := range d.Parts {
		if old, ok := o.parts[k]; ok {
			o.bytes -= old.bytes
		}
		p.bytes = 0
		o.bytes += p.measure()
		o.parts[k] = p
	}
	clear(o.dirty)
	return nil
}
