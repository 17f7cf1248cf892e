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
// columns), in the order the groups first appear in the batch; no state
// is kept from one batch to the next, only the group table (up to
// localMaxGroups keys), so that a dictionary-encoded key's entries are
// looked up once per dictionary, not once per batch. It runs where the batches are decoded,
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
	// table and dict (when the key is dictionary-encoded) outlive a
	// batch; the accumulators are empty between batches.
	table  *exec.GroupTable
	dict   exec.DictGroups
	seen   []uint64 // per group: the last batch (epoch) that touched it
	epoch  uint64
	gids   []uint32
	groups []uint32 // the batch's groups, in first-appearance order
	first  []int32  // the row where each of groups first appears
}

// localMaxGroups bounds the keys a LocalAggregate's group table keeps
// from batch to batch: past it the table starts afresh, so a key of many
// distinct values costs no more memory than one batch's.
const localMaxGroups = 1 << 16

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
	if l.table == nil || l.table.NumGroups() > localMaxGroups {
		if err := l.resetTable(); err != nil {
			return nil, err
		}
	}
	l.gids = resize(l.gids, n)
	var keys []arrow.Array
	da, ok, err := dictKeyOf(rec, l.keys, l.keys[0].Expr)
	if err != nil {
		return nil, err
	}
	if ok {
		defer da.Release()
		newKeys, err := l.dict.Assign(ctx, l.mem, l.table, da, l.gids)
		releaseArrays(newKeys)
		if err != nil {
			return nil, fmt.Errorf("stream: grouping: %w", err)
		}
	} else {
		keys = make([]arrow.Array, 0, len(l.keys))
		defer func() { releaseArrays(keys) }()
		for k, key := range l.keys {
			c, err := key.Expr.Eval(ctx, l.mem, rec)
			if err == nil && !arrow.TypeEqual(c.DataType(), l.keyTypes[k]) {
				c.Release()
				err = fmt.Errorf("stream: group key %s evaluated to %s, declared %s", key.Expr, c.DataType(), l.keyTypes[k])
			}
			if err != nil {
				return nil, fmt.Errorf("evaluating %s: %w", key.Expr, err)
			}
			keys = append(keys, c)
		}
		newKeys, err := l.table.Assign(ctx, l.mem, keys, l.gids, true)
		releaseArrays(newKeys)
		if err != nil {
			return nil, fmt.Errorf("stream: grouping: %w", err)
		}
	}
	// The batch's groups in the order they first appear, and where.
	ng := l.table.NumGroups()
	if len(l.seen) < ng {
		l.seen = append(l.seen, make([]uint64, ng-len(l.seen))...)
	}
	l.epoch++
	l.groups, l.first = l.groups[:0], l.first[:0]
	for r, g := range l.gids[:n] {
		if l.seen[g] != l.epoch {
			l.seen[g] = l.epoch
			l.groups = append(l.groups, g)
			l.first = append(l.first, int32(r))
		}
	}
	out, err := l.groupKeys(ctx, da, keys)
	if err != nil {
		return nil, err
	}
	defer func() { releaseArrays(out) }()
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
	return array.NewRecord(l.schema, out, int64(len(l.groups))), nil
}

// resetTable starts an empty group table with empty accumulators.
func (l *LocalAggregate) resetTable() error {
	t, err := exec.NewGroupTable(l.keyTypes)
	if err != nil {
		return fmt.Errorf("stream: group keys: %w", err)
	}
	l.table = t
	l.dict.Release() // its group ids were the old table's
	l.seen = l.seen[:0]
	for j, c := range l.phase.Calls {
		a, err := exec.NewAccumulator(l.mem, c, exec.AggOptions{})
		if err != nil {
			return fmt.Errorf("stream: %s: %w", c.Name, err)
		}
		l.accs[j] = a
	}
	return nil
}

// groupKeys are the key values of the batch's groups (l.groups), taken
// from the rows where they first appear: from the dictionary of da when
// the key arrived dictionary-encoded, else from the evaluated keys.
func (l *LocalAggregate) groupKeys(ctx context.Context, da *array.Dictionary, keys []arrow.Array) ([]arrow.Array, error) {
	if da == nil {
		return exec.TakeColumns(ctx, l.mem, keys, l.first)
	}
	idx := make([]int32, len(l.first))
	for i, r := range l.first {
		idx[i] = -1 // NULL
		if da.IsValid(int(r)) {
			idx[i] = int32(da.GetValueIndex(int(r)))
		}
	}
	return exec.TakeColumns(ctx, l.mem, []arrow.Array{da.Dictionary()}, idx)
}

// Close drops the group table.
func (l *LocalAggregate) Close() {
	l.dict.Release()
	l.table = nil
}
