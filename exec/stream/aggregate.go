package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// IsChangelog reports whether records of schema carry a changelog: an int8
// column named exec.OpColumn in first position.
func IsChangelog(schema *arrow.Schema) bool {
	return schema.NumFields() > 0 && schema.Field(0).Name == exec.OpColumn &&
		schema.Field(0).Type.ID() == arrow.INT8
}

// opField is the op column of every changelog schema this package builds.
var opField = arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}

// batchEval holds one batch's evaluated keys, aggregate arguments and ops.
type batchEval struct {
	keys   []func(int) Value
	args   []func(int) Value // nil entry for COUNT(*)
	ops    *array.Int8       // nil for append-only input
	arrays []arrow.Array
}

func (b *batchEval) release() {
	for _, a := range b.arrays {
		a.Release()
	}
}

// sign is +1 for rows that add (+I, +U) and −1 for rows that retract.
func (b *batchEval) sign(i int) int64 {
	if b.ops == nil {
		return 1
	}
	switch exec.Op(b.ops.Value(i)) {
	case exec.OpUpdateBefore, exec.OpDelete:
		return -1
	}
	return 1
}

func evalBatch(ctx context.Context, mem memory.Allocator, rec arrow.Record, keys []GroupKey, aggs []aggFn, changelog bool) (*batchEval, error) {
	b := &batchEval{}
	eval := func(e Expr) (func(int) Value, error) {
		arr, err := e.Eval(ctx, mem, rec)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", e, err)
		}
		b.arrays = append(b.arrays, arr)
		return reader(arr)
	}
	for _, k := range keys {
		r, err := eval(k.Expr)
		if err != nil {
			b.release()
			return nil, err
		}
		b.keys = append(b.keys, r)
	}
	for _, a := range aggs {
		if a.arg == nil {
			b.args = append(b.args, nil)
			continue
		}
		r, err := eval(a.arg)
		if err != nil {
			b.release()
			return nil, err
		}
		b.args = append(b.args, r)
	}
	if changelog {
		ops, ok := rec.Column(0).(*array.Int8)
		if !ok {
			b.release()
			return nil, fmt.Errorf("stream: changelog op column is %s, not int8", rec.Column(0).DataType())
		}
		b.ops = ops
	}
	return b, nil
}

// group is one GROUP BY group's accumulators.
type group struct {
	key   []Value
	accs  []acc
	rows  int64 // net rows (insertions − retractions)
	epoch uint64
}

func (g *group) fold(aggs []aggFn, b *batchEval, i int, sign int64) {
	g.rows += sign
	for j := range aggs {
		var v Value
		if b.args[j] != nil {
			v = b.args[j](i)
		}
		aggs[j].add(&g.accs[j], v, sign)
	}
}

func (g *group) results(aggs []aggFn, dst []Value) []Value {
	for j := range aggs {
		dst = append(dst, aggs[j].result(&g.accs[j]))
	}
	return dst
}

func groupBytes(g *group) int64 {
	n := int64(64)
	for _, v := range g.key {
		n += valueBytes(v)
	}
	for j := range g.accs {
		n += accBytes(&g.accs[j])
	}
	return n
}

// GroupAggregate is the incremental (updating) aggregation behind EMIT
// CHANGES and EMIT EVERY: per-group accumulators that turn each input batch
// into a changelog of the groups it changed. A group's first row emits +I;
// a change emits -U (old row) then +U (new row); a group whose rows are all
// retracted emits -D. Changes are compacted per batch: a group touched by
// several rows of one batch emits one -U/+U pair (Flink's mini-batch), so
// the changelog folds to the same table at every batch size.
//
// The input may itself be a changelog (IsChangelog): -U/-D rows subtract.
// Output: op, the group keys, the aggregates.
type GroupAggregate struct {
	mem       memory.Allocator
	keys      []GroupKey
	aggs      []aggFn
	changelog bool
	schema    *arrow.Schema
	groups    map[string]*group
	epoch     uint64
	buf       []byte
	// Ignored counts retractions of groups that have no state.
	Ignored int64
}

// NewGroupAggregate builds the incremental aggregation of input (a schema
// that may carry an op column) by keys. Key and aggregate expressions are
// evaluated on the input records as they arrive, op column included.
func NewGroupAggregate(mem memory.Allocator, input *arrow.Schema, keys []GroupKey, aggs []AggSpec) (*GroupAggregate, error) {
	g := &GroupAggregate{mem: mem, keys: keys, changelog: IsChangelog(input), groups: map[string]*group{}}
	fields := []arrow.Field{opField}
	for _, k := range keys {
		fields = append(fields, arrow.Field{Name: k.Name, Type: k.Expr.DataType(), Nullable: true})
	}
	for _, s := range aggs {
		f, err := resolveAgg(s, g.changelog)
		if err != nil {
			return nil, err
		}
		g.aggs = append(g.aggs, f)
		fields = append(fields, arrow.Field{Name: s.Name, Type: f.out, Nullable: true})
	}
	g.schema = arrow.NewSchema(fields, nil)
	return g, nil
}

// Schema is the changelog schema of the output.
func (g *GroupAggregate) Schema() *arrow.Schema { return g.schema }

// SinkMode says the output is a changelog keyed by the group columns.
func (g *GroupAggregate) SinkMode() exec.SinkMode {
	keys := make([]int, len(g.keys))
	for i := range keys {
		keys[i] = i + 1
	}
	return exec.SinkMode{Changelog: true, Keys: keys}
}

type touched struct {
	g       *group
	k       string
	existed bool
	old     []Value
}

// Push folds one input batch into the state and returns the changelog it
// caused (nil when nothing changed). The caller keeps ownership of rec and
// releases the result.
func (g *GroupAggregate) Push(ctx context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	if rec.NumRows() == 0 {
		return nil, nil
	}
	b, err := evalBatch(ctx, g.mem, rec, g.keys, g.aggs, g.changelog)
	if err != nil {
		return nil, err
	}
	defer b.release()
	g.epoch++
	var touches []touched
	key := make([]Value, len(g.keys))
	for i := 0; i < int(rec.NumRows()); i++ {
		g.buf = g.buf[:0]
		for j, r := range b.keys {
			key[j] = r(i)
			g.buf = appendKey(g.buf, key[j])
		}
		sign := b.sign(i)
		gr, ok := g.groups[string(g.buf)]
		if !ok {
			if sign < 0 {
				g.Ignored++
				continue
			}
			gr = &group{key: append([]Value(nil), key...), accs: make([]acc, len(g.aggs))}
			g.groups[string(g.buf)] = gr
		}
		if gr.epoch != g.epoch {
			gr.epoch = g.epoch
			t := touched{g: gr, k: string(g.buf), existed: ok && gr.rows > 0}
			if t.existed {
				t.old = gr.results(g.aggs, nil)
			}
			touches = append(touches, t)
		}
		gr.fold(g.aggs, b, i, sign)
	}
	return g.emit(touches)
}

func (g *GroupAggregate) emit(touches []touched) (arrow.Record, error) {
	var rows [][]Value
	row := func(op exec.Op, gr *group, vals []Value) []Value {
		r := make([]Value, 0, 1+len(gr.key)+len(vals))
		r = append(r, Int(int64(op)))
		r = append(r, gr.key...)
		return append(r, vals...)
	}
	for _, t := range touches {
		alive := t.g.rows > 0
		if !alive {
			delete(g.groups, t.k)
		}
		switch {
		case t.existed && alive:
			nv := t.g.results(g.aggs, nil)
			if !sameRow(t.old, nv) {
				rows = append(rows, row(exec.OpUpdateBefore, t.g, t.old), row(exec.OpUpdateAfter, t.g, nv))
			}
		case t.existed:
			rows = append(rows, row(exec.OpDelete, t.g, t.old))
		case alive:
			rows = append(rows, row(exec.OpInsert, t.g, t.g.results(g.aggs, nil)))
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	rb := array.NewRecordBuilder(g.mem, g.schema)
	defer rb.Release()
	return buildRecord(rb, rows)
}

func sameRow(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Tick does nothing: updating aggregation does not wait for time.
func (g *GroupAggregate) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }

// Finish does nothing: every change was already emitted.
func (g *GroupAggregate) Finish(context.Context) (arrow.Record, error) { return nil, nil }

// Stats reports the number of groups and their estimated bytes.
func (g *GroupAggregate) Stats() StateStats {
	s := StateStats{Groups: len(g.groups)}
	for k, gr := range g.groups {
		s.Bytes += int64(len(k)) + groupBytes(gr)
	}
	return s
}

// Close drops the state.
func (g *GroupAggregate) Close() error {
	g.groups = map[string]*group{}
	return nil
}

// AggSpecFromCall converts the batch engine's aggregate call (the shape the
// planner already builds for exec.HashAggregate) into a streaming AggSpec,
// so one physical plan feeds both.
func AggSpecFromCall(c exec.AggCall) (AggSpec, error) {
	s := AggSpec{Arg: c.Arg, Name: c.Name}
	switch {
	case c.Func == "count_star":
		s.Func = AggCountStar
	case c.Func == "count" && c.Distinct:
		s.Func = AggCountDistinct
	case c.Distinct:
		return s, fmt.Errorf("stream: %s(DISTINCT) is not supported in streaming", c.Func)
	case c.Func == "count":
		s.Func = AggCount
	case c.Func == "sum":
		s.Func = AggSum
	case c.Func == "avg":
		s.Func = AggAvg
	case c.Func == "min":
		s.Func = AggMin
	case c.Func == "max":
		s.Func = AggMax
	default:
		return s, fmt.Errorf("stream: aggregate %q is not supported in streaming", c.Func)
	}
	return s, nil
}
