package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// LocalAggregate is the per-batch half of a two-phase streaming GROUP BY
// over an append-only input (planner: PhysGroupAggregate.PreAggregate).
// Apply turns one input batch into one partial state row per group of
// that batch (exec.AggPartial: the keys, then each aggregate's state
// columns), in the order the groups first appear in the batch; nothing is
// kept from one batch to the next. It runs where the batches are decoded,
// one instance per decoding goroutine (exec.ReaderMap, see Clone), so the
// key-partitioned instances of the merging aggregate (Final) see a few
// partial rows per batch instead of every input row.
//
// A GroupAggregate compacts its changes per batch, so one built by Final,
// fed the partial rows of each batch, changes the same groups in the same
// order to the same values as one GroupAggregate fed the batches, and
// emits the same changelog: the planner only pre-aggregates functions
// whose merged value is exactly their one-phase value (no float sums).
type LocalAggregate struct {
	mem      memory.Allocator
	keys     []GroupKey
	keyTypes []arrow.DataType
	aggs     []AggSpec
	phase    *exec.AggPhase
	whole    *aggCore // the one-phase calls, to name them in messages
	accs     []*exec.Accumulator
	schema   *arrow.Schema
	dict     exec.DictGroups // the batch's, when its key is dictionary-encoded
	gids     []uint32
	groups   []uint32
}

// NewLocalAggregate builds the per-batch partial aggregation of keys and
// aggs over batches of schema input (append-only: no op column).
func NewLocalAggregate(mem memory.Allocator, input *arrow.Schema, keys []GroupKey, aggs []AggSpec) (*LocalAggregate, error) {
	if IsChangelog(input) {
		return nil, fmt.Errorf("stream: a changelog cannot be pre-aggregated per batch: its retractions must reach the groups they retract")
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("stream: a per-batch pre-aggregation needs group keys")
	}
	whole, err := newAggCore(mem, aggs, exec.AggOptions{})
	if err != nil {
		return nil, err
	}
	phase, err := exec.NewAggPhase(exec.AggPartial, whole.calls, len(keys))
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	l := &LocalAggregate{mem: mem, keys: keys, aggs: aggs, phase: phase, whole: whole}
	fields := make([]arrow.Field, 0, len(keys)+len(phase.Calls))
	for _, k := range keys {
		l.keyTypes = append(l.keyTypes, k.Expr.DataType())
		fields = append(fields, arrow.Field{Name: k.Name, Type: k.Expr.DataType(), Nullable: true})
	}
	for _, c := range phase.Calls {
		a, err := exec.NewAccumulator(mem, c, exec.AggOptions{})
		if err != nil {
			return nil, fmt.Errorf("stream: %s: %w", c.Name, err)
		}
		l.accs = append(l.accs, a)
	}
	states, err := phase.Fields(l.accs)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	l.schema = arrow.NewSchema(append(fields, states...), nil)
	return l, nil
}

// Clone is a new, independent instance of l for another goroutine.
func (l *LocalAggregate) Clone(input *arrow.Schema) (*LocalAggregate, error) {
	return NewLocalAggregate(l.mem, input, l.keys, l.aggs)
}

// Schema is the partial rows' schema: the keys, then the states.
func (l *LocalAggregate) Schema() *arrow.Schema { return l.schema }

// DictionaryKey is GroupAggregate.DictionaryKey: the input column of a
// single string key that Apply takes dictionary-encoded.
func (l *LocalAggregate) DictionaryKey(input *arrow.Schema) (int, bool) {
	return dictionaryKey(l.keys, l.phase.Calls, input)
}

// PartitionKeys are the key columns of the partial rows, to partition
// them by (they hash as the input's keys do: same values, same types).
func (l *LocalAggregate) PartitionKeys() []Expr {
	out := make([]Expr, len(l.keys))
	for i, k := range l.keys {
		out[i] = expr.Column(i, l.keyTypes[i], k.Name)
	}
	return out
}

// Final builds an aggregate that merges the partial rows into the
// changelog of the groups, the output a GroupAggregate by the same keys
// and aggregates emits over the input batches.
func (l *LocalAggregate) Final() (*GroupAggregate, error) {
	core, err := newFinalAggCore(l.mem, l.aggs, len(l.keys))
	if err != nil {
		return nil, err
	}
	keys := make([]GroupKey, len(l.keys))
	for i, k := range l.keys {
		keys[i] = GroupKey{Expr: expr.Column(i, l.keyTypes[i], k.Name), Name: k.Name}
	}
	return newGroupAggregate(l.mem, keys, l.aggs, core, false), nil
}

// Apply returns the partial rows of rec's groups (an empty record when
// rec has no rows); the caller keeps rec and releases the result.
func (l *LocalAggregate) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
	n := int(rec.NumRows())
	if n == 0 {
		cols := emptyCols(l.mem, l.schema)
		defer releaseArrays(cols)
		return array.NewRecord(l.schema, cols, 0), nil
	}
	table, err := exec.NewGroupTable(l.keyTypes)
	if err != nil {
		return nil, fmt.Errorf("stream: group keys: %w", err)
	}
	// The table is new for each batch, so DictGroups' cached groups are
	// the batch's: dropped (with the dictionary) when it is done.
	defer l.dict.Release()
	l.gids = resize(l.gids, n)
	var keys []arrow.Array
	if da, ok, err := dictKeyOf(rec, l.keys, l.keys[0].Expr); err != nil {
		return nil, err
	} else if ok {
		keys, err = l.dict.Assign(ctx, l.mem, table, da, l.gids)
		da.Release()
		if err != nil {
			return nil, fmt.Errorf("stream: grouping: %w", err)
		}
	} else {
		cols := make([]arrow.Array, 0, len(l.keys))
		for k, key := range l.keys {
			c, err := key.Expr.Eval(ctx, l.mem, rec)
			if err == nil && !arrow.TypeEqual(c.DataType(), l.keyTypes[k]) {
				c.Release()
				err = fmt.Errorf("stream: group key %s evaluated to %s, declared %s", key.Expr, c.DataType(), l.keyTypes[k])
			}
			if err != nil {
				releaseArrays(cols)
				return nil, fmt.Errorf("evaluating %s: %w", key.Expr, err)
			}
			cols = append(cols, c)
		}
		keys, err = table.Assign(ctx, l.mem, cols, l.gids, true)
		releaseArrays(cols)
		if err != nil {
			return nil, fmt.Errorf("stream: grouping: %w", err)
		}
	}
	// Every group of a new table is new: keys are the batch's groups in
	// the order they first appear, which is the order of their ids.
	out := keys
	defer func() { releaseArrays(out) }()
	ng := table.NumGroups()
	l.groups = resize(l.groups, ng)
	for g := range l.groups {
		l.groups[g] = uint32(g)
	}
	res := make([]arrow.Array, 0, len(l.accs))
	defer func() { releaseArrays(res) }()
	for j, a := range l.accs {
		call := l.phase.Calls[j]
		a.Grow(ng)
		var arg arrow.Array
		if call.Arg != nil {
			if arg, err = call.Arg.Eval(ctx, l.mem, rec); err != nil {
				return nil, fmt.Errorf("evaluating %s: %w", call.Arg, err)
			}
		}
		err := a.Update(ctx, l.gids, arg, nil)
		if arg != nil {
			arg.Release()
		}
		var de expr.DataError
		if errors.As(err, &de) {
			return nil, err // complete: it names the call
		}
		if err != nil {
			return nil, fmt.Errorf("aggregate: %s: %w", l.whole.label(l.phase.Of[j]), err)
		}
		r, err := a.Result(l.mem, l.groups)
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", call.Name, err)
		}
		res = append(res, r)
		for _, g := range l.groups {
			a.Reset(g)
		}
	}
	states, err := l.phase.Columns(l.mem, res)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	out = append(out, states...)
	rec2 := array.NewRecord(l.schema, out, int64(ng))
	return rec2, nil
}
