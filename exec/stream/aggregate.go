package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// IsChangelog reports whether records of schema carry a changelog: an int8
// column named exec.OpColumn in first position.
func IsChangelog(schema *arrow.Schema) bool {
	return schema.NumFields() > 0 && schema.Field(0).Name == exec.OpColumn &&
		schema.Field(0).Type.ID() == arrow.INT8
}

// opField is the op column of every changelog schema this package builds.
var opField = arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}

// GroupAggregate is the incremental (updating) aggregation behind EMIT
// CHANGES and EMIT EVERY: per-group accumulators that turn each input batch
// into a changelog of the groups it changed. A group's first row emits +I;
// a change emits -U (old row) then +U (new row); a group whose rows are all
// retracted emits -D. Changes are compacted per batch: a group touched by
// several rows of one batch emits one -U/+U pair (Flink's mini-batch), so
// the changelog folds to the same table at every batch size.
//
// It works a batch at a time: an exec.GroupTable turns the key columns into
// dense group ids, and the accumulators live in slices indexed by id (see
// groupSlots), folded in tight per-aggregate loops.
//
// The input may itself be a changelog (IsChangelog): -U/-D rows subtract.
// Output: op, the group keys, the aggregates.
type GroupAggregate struct {
	mem       memory.Allocator
	keys      []GroupKey
	keyTypes  []arrow.DataType
	core      *aggCore
	changelog bool
	schema    *arrow.Schema
	table     *exec.GroupTable // nil until the first Push or Restore
	// dict groups a single key that arrives dictionary-encoded (a Parquet
	// string column the compiler asked the scan to keep so, see
	// DictionaryKey): each dictionary entry is looked up once.
	dict  exec.DictGroups
	st    groupSlots
	epoch uint64
	// Per-batch scratch.
	slots    []uint32
	signs    []int8
	touches  []touch
	oldSlots []uint32 // touched slots that existed, in touch order
	newSlots []uint32 // every touched slot, in touch order
	oldVals  []Value
	newVals  []Value
	// Ignored counts retractions of groups that have no state.
	Ignored int64
	acct    *exec.Account // memory budget (SetBudget); nil: unlimited
	sp      groupSpill    // groups spilled past the budget (spill.go)
	// deferred (DeferEmit): changes wait for Tick, the touches and old
	// rows gathering over the batches since the last one.
	deferred bool
	// pending (FoldRows): the batch's changes wait for EmitPending,
	// which writes them into a builder shared with the other instances
	// of a Parallel; pendRows are their causing batch rows.
	pending  bool
	pendRows []int32
}

// NewGroupAggregate builds the incremental aggregation of input (a schema
// that may carry an op column) by keys. Key and aggregate expressions are
// evaluated on the input records as they arrive, op column included.
func NewGroupAggregate(mem memory.Allocator, input *arrow.Schema, keys []GroupKey, aggs []AggSpec) (*GroupAggregate, error) {
	changelog := IsChangelog(input)
	core, err := newAggCore(mem, aggs, exec.AggOptions{Retract: changelog, Streaming: true})
	if err != nil {
		return nil, err
	}
	return newGroupAggregate(mem, keys, aggs, core, changelog), nil
}

// newGroupAggregate is a GroupAggregate by keys folding its input through
// core, whose outputs are aggs'.
func newGroupAggregate(mem memory.Allocator, keys []GroupKey, aggs []AggSpec, core *aggCore, changelog bool) *GroupAggregate {
	g := &GroupAggregate{mem: mem, keys: keys, changelog: changelog, core: core}
	fields := []arrow.Field{opField}
	for _, k := range keys {
		g.keyTypes = append(g.keyTypes, k.Expr.DataType())
		fields = append(fields, arrow.Field{Name: k.Name, Type: k.Expr.DataType(), Nullable: true})
	}
	for j, s := range aggs {
		fields = append(fields, arrow.Field{Name: s.Name, Type: core.types[j], Nullable: true})
	}
	g.schema = arrow.NewSchema(fields, nil)
	g.st = newGroupSlots(len(keys), g.core)
	return g
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

// touch is a group slot the current batch changed.
type touch struct {
	row     int32 // the batch row that first touched the group
	slot    uint32
	existed bool // live with rows before the batch: old holds its row
	old     int  // offset of its old aggregate values in oldVals
}

// resetTable drops every group and starts an empty group table.
func (g *GroupAggregate) resetTable() error {
	t, err := exec.NewGroupTable(g.keyTypes)
	if err != nil {
		return fmt.Errorf("stream: group keys: %w", err)
	}
	g.table = t
	g.dict.Release() // its group ids were the old table's
	g.st = newGroupSlots(len(g.keys), g.core)
	return nil
}

// aggBatch is one batch's evaluated key and argument columns.
type aggBatch struct {
	keys    []arrow.Array
	keyRead []func(int) Value
	args    []arrow.Array // nil entry for COUNT(*)
	arrays  []arrow.Array
}

func (b *aggBatch) release() {
	for _, a := range b.arrays {
		a.Release()
	}
}

func (g *GroupAggregate) evalAgg(ctx context.Context, rec arrow.Record) (*aggBatch, error) {
	b := &aggBatch{}
	eval := func(e Expr) (arrow.Array, error) {
		arr, err := e.Eval(ctx, g.mem, rec)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", e, err)
		}
		b.arrays = append(b.arrays, arr)
		return arr, nil
	}
	for k, key := range g.keys {
		if da, ok, err := g.dictKey(ctx, rec, key.Expr); ok || err != nil {
			if err != nil {
				b.release()
				return nil, err
			}
			b.arrays = append(b.arrays, da)
			b.keys, b.keyRead = append(b.keys, da), append(b.keyRead, dictReader(da))
			continue
		}
		arr, err := eval(key.Expr)
		var r func(int) Value
		if err == nil {
			r, err = reader(arr)
		}
		if err == nil && !arrow.TypeEqual(arr.DataType(), g.keyTypes[k]) {
			err = fmt.Errorf("stream: group key %s evaluated to %s, declared %s", key.Expr, arr.DataType(), g.keyTypes[k])
		}
		if err != nil {
			b.release()
			return nil, err
		}
		b.keys, b.keyRead = append(b.keys, arr), append(b.keyRead, r)
	}
	for _, a := range g.core.calls {
		if a.Arg == nil {
			b.args = append(b.args, nil)
			continue
		}
		// The accumulators read the arrays themselves (arguments may be
		// agg_args structs, which have no Value form).
		arr, err := eval(a.Arg)
		if err != nil {
			b.release()
			return nil, err
		}
		b.args = append(b.args, arr)
	}
	return b, nil
}

// Push folds one input batch into the state and returns the changelog it
// caused (nil when nothing changed). The caller keeps ownership of rec and
// releases the result.
func (g *GroupAggregate) Push(ctx context.Context, rec arrow.Record, _ int32) (arrow.Record, error) {
	return g.pushRows(ctx, rec, nil)
}

// PushRows implements RowsPusher: Push of the listed rows of rec only.
func (g *GroupAggregate) PushRows(ctx context.Context, rec arrow.Record, _ int32, rows []int32) (arrow.Record, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	return g.pushRows(ctx, rec, rows)
}

// pushRows folds the rows of rec listed in rows (nil: all of them). The
// other rows weigh 0 and sit in slot 0, which no group uses.
func (g *GroupAggregate) pushRows(ctx context.Context, rec arrow.Record, rows []int32) (arrow.Record, error) {
	n := int(rec.NumRows())
	if n == 0 {
		return nil, nil
	}
	b, err := g.evalAgg(ctx, rec)
	if err != nil {
		return nil, err
	}
	defer b.release()
	var ops *array.Int8
	if g.changelog {
		o, ok := rec.Column(0).(*array.Int8)
		if !ok {
			return nil, fmt.Errorf("stream: changelog op column is %s, not int8", rec.Column(0).DataType())
		}
		ops = o
	}
	if g.table == nil {
		if err := g.resetTable(); err != nil {
			return nil, err
		}
	}
	g.slots = resize(g.slots, n)
	first := g.table.NumGroups()
	var newKeys []arrow.Array
	if da, ok := oneDictKey(b.keys); ok && rows == nil {
		newKeys, err = g.dict.Assign(ctx, g.mem, g.table, da, g.slots)
	} else {
		if rows != nil {
			clear(g.slots)
		}
		newKeys, err = g.table.AssignRows(ctx, g.mem, b.keys, rows, g.slots, true)
	}
	if err != nil {
		return nil, fmt.Errorf("stream: grouping: %w", err)
	}
	for _, a := range newKeys {
		if a != nil {
			a.Release()
		}
	}
	st := &g.st
	st.grow(g.table.NumGroups() + 1)
	if err := g.reload(b, rows, n, first); err != nil {
		return nil, err
	}
	if err := g.account(b, rows, n); err != nil {
		return nil, err
	}
	var signs []int8
	if ops != nil || rows != nil {
		g.signs = resize(g.signs, n)
		signs = g.signs
		var opv []int8
		if ops != nil {
			opv = ops.Int8Values()[:n]
		}
		sign := func(i int) {
			signs[i] = 1
			if opv != nil {
				switch exec.Op(opv[i]) {
				case exec.OpUpdateBefore, exec.OpDelete:
					signs[i] = -1
				}
			}
		}
		if rows == nil {
			for i := range signs {
				sign(i)
			}
		} else {
			clear(signs)
			for _, i := range rows {
				sign(int(i))
			}
		}
	}
	oldFrom := 0 // the touched groups' old rows this batch adds from
	if g.deferred && len(g.touches) > 0 {
		// Still within the interval the last emission started: the
		// batch joins its touches (a group keeps its row as of that
		// emission).
		oldFrom = len(g.oldSlots)
	} else {
		g.epoch++
		g.touches, g.oldSlots, g.newSlots = g.touches[:0], g.oldSlots[:0], g.newSlots[:0]
		g.oldVals = g.oldVals[:0]
	}
	na := g.core.width()
	// Pass 1, row order: create groups, drop retractions of absent groups
	// (weight 0, into slot 0), record each touched group. Groups are only
	// deleted at emit, so a row's fate never depends on a later row.
	cnt := n
	if rows != nil {
		cnt = len(rows)
	}
	for k := 0; k < cnt; k++ {
		r := k
		if rows != nil {
			r = int(rows[k])
		}
		s := g.slots[r] + 1
		sg := int64(1)
		if signs != nil {
			sg = int64(signs[r])
		}
		existed := st.live[s]
		if !existed {
			if sg < 0 {
				g.Ignored++
				g.slots[r], signs[r] = 0, 0
				continue
			}
			st.live[s] = true
			st.nlive++
			key := st.key(s)
			for k, rd := range b.keyRead {
				key[k] = rd(r)
			}
		}
		if st.epoch[s] != g.epoch {
			st.epoch[s] = g.epoch
			t := touch{row: int32(r), slot: s, existed: existed && st.rows[s] > 0, old: len(g.oldSlots) * na}
			if t.existed {
				g.oldSlots = append(g.oldSlots, s)
			}
			g.touches = append(g.touches, t)
			g.newSlots = append(g.newSlots, s)
		}
		st.rows[s] += sg
		g.slots[r] = s
	}
	// The touched groups' rows before the batch, then pass 2: one tight
	// loop per aggregate, then their rows after it.
	if g.oldVals, err = g.core.results(st.accs, g.oldSlots[oldFrom:], g.oldVals); err != nil {
		return nil, err
	}
	if err := g.core.update(ctx, st.accs, g.slots, b.args, signs); err != nil {
		return nil, err
	}
	if g.deferred {
		return nil, nil // Tick emits
	}
	if g.pending {
		// FoldRows: the changes wait for EmitPending.
		g.newVals, err = g.core.results(g.st.accs, g.newSlots, g.newVals[:0])
		return nil, err
	}
	return g.emitTouched()
}

// DeferEmit makes the aggregate hold the changes of the batches it
// folds until its next Tick, which emits them compacted: a group touched
// by several batches since the last Tick emits one -U/+U pair, from its
// row at that Tick to its row now, as if the batches were one. The
// compiler asks for it where the planner says so
// (planner.PhysGroupAggregate.DeferEmit, under EMIT EVERY): the
// micro-batch driver emits only at its trigger, ticking the operator
// first, and folding a changelog per batch cost it more than the
// aggregation. Call it before the first Push; a checkpoint must follow a
// Tick.
func (g *GroupAggregate) DeferEmit() {
	g.deferred = true
}

// emitTouched emits the touched groups' changes (their rows now against
// oldVals) and deletes the groups left without rows.
func (g *GroupAggregate) emitTouched() (arrow.Record, error) {
	var err error
	if g.newVals, err = g.core.results(g.st.accs, g.newSlots, g.newVals[:0]); err != nil {
		return nil, err
	}
	rec, err := g.emit()
	g.touches, g.oldSlots, g.newSlots, g.oldVals = g.touches[:0], g.oldSlots[:0], g.newSlots[:0], g.oldVals[:0]
	return rec, err
}

// DictionaryKey reports the input column of a single group key that may
// arrive dictionary-encoded (its values' type) instead of plain: the key
// is that column itself and no aggregate argument reads it, so nothing
// but the group table sees the dictionary. The compiler asks the scan for
// the column so when the aggregate reads the scan's batches directly.
func (g *GroupAggregate) DictionaryKey(input *arrow.Schema) (int, bool) {
	if g.core.phase != nil {
		return 0, false // it reads partial rows, which carry plain keys
	}
	return dictionaryKey(g.keys, g.core.calls, input)
}

// dictionaryKey is the input column of a single string group key that is
// that column itself and that no call's argument reads (DictionaryKey).
func dictionaryKey(keys []GroupKey, calls []exec.AggCall, input *arrow.Schema) (int, bool) {
	if len(keys) != 1 || keys[0].Expr.DataType().ID() != arrow.STRING {
		return 0, false
	}
	col, ok := columnOf(keys[0].Expr)
	if !ok || col < 0 || col >= input.NumFields() {
		return 0, false
	}
	for _, a := range calls {
		if a.Arg == nil {
			continue
		}
		c, ok := columnOf(a.Arg)
		if !ok || c == col {
			return 0, false
		}
	}
	return col, true
}

// dictKey returns the key column when it arrived dictionary-encoded (see
// DictionaryKey); ok is false for a plain one.
func (g *GroupAggregate) dictKey(_ context.Context, rec arrow.Record, e Expr) (*array.Dictionary, bool, error) {
	return dictKeyOf(rec, g.keys, e)
}

// dictKeyOf returns the column of rec that the single key e reads when
// it arrived dictionary-encoded (retained for the caller); ok is false
// for a plain one or several keys.
func dictKeyOf(rec arrow.Record, keys []GroupKey, e Expr) (*array.Dictionary, bool, error) {
	if len(keys) != 1 {
		return nil, false, nil
	}
	col, ok := columnOf(e)
	if !ok || col < 0 || col >= int(rec.NumCols()) {
		return nil, false, nil
	}
	da, ok := rec.Column(col).(*array.Dictionary)
	if !ok {
		return nil, false, nil
	}
	if !arrow.TypeEqual(da.Dictionary().DataType(), e.DataType()) {
		return nil, false, fmt.Errorf("stream: group key %s is a dictionary of %s, declared %s", e, da.Dictionary().DataType(), e.DataType())
	}
	da.Retain()
	return da, true, nil
}

// oneDictKey returns the single key column when it is dictionary-encoded.
func oneDictKey(keys []arrow.Array) (*array.Dictionary, bool) {
	if len(keys) != 1 {
		return nil, false
	}
	da, ok := keys[0].(*array.Dictionary)
	return da, ok
}

// columnOf reports whether e just reads input column i.
func columnOf(e Expr) (int, bool) {
	x, ok := e.(expr.Expr)
	if !ok {
		return 0, false
	}
	return expr.ColumnIndex(x)
}

// dictReader reads the Values of a dictionary array's rows.
func dictReader(da *array.Dictionary) func(int) Value {
	rd, err := reader(da.Dictionary())
	if err != nil {
		// dictKey checked the value type is the key's, which reader reads.
		panic(fmt.Sprintf("stream: dictionary key: %v", err))
	}
	return func(i int) Value {
		if da.IsNull(i) {
			return Value{}
		}
		return rd(da.GetValueIndex(i))
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// emit turns the touched groups into changelog rows and deletes the groups
// left without rows.
func (g *GroupAggregate) emit() (arrow.Record, error) {
	var rb *array.RecordBuilder
	var err error
	for k := range g.touches {
		if err = g.emitTouch(&rb, len(g.touches), k); err != nil {
			break
		}
	}
	if rb == nil {
		return nil, err
	}
	defer rb.Release()
	if err != nil {
		return nil, err
	}
	return rb.NewRecord(), nil
}

// emitTouch appends the changelog rows of touched group k to *rb (made
// on the first row, with room for reserve groups' -U/+U pairs) and
// deletes the group when it has no rows left.
func (g *GroupAggregate) emitTouch(rb **array.RecordBuilder, reserve, k int) (err error) {
	st, na := &g.st, g.core.width()
	t := g.touches[k]
	s := t.slot
	row := func(op exec.Op, vals []Value) error {
		if *rb == nil {
			*rb = array.NewRecordBuilder(g.mem, g.schema)
			(*rb).Reserve(2 * reserve)
		}
		b := *rb
		b.Field(0).(*array.Int8Builder).Append(int8(op))
		c := 1
		for _, v := range st.key(s) {
			if err := appendValue(b.Field(c), v); err != nil {
				return err
			}
			c++
		}
		for _, v := range vals {
			if err := appendValue(b.Field(c), v); err != nil {
				return err
			}
			c++
		}
		return nil
	}
	nv := g.newVals[k*na : (k+1)*na]
	alive := st.rows[s] > 0
	var old []Value
	if t.existed {
		old = g.oldVals[t.old : t.old+na]
	}
	switch {
	case t.existed && alive:
		if !sameRow(old, nv) {
			if err = row(exec.OpUpdateBefore, old); err == nil {
				err = row(exec.OpUpdateAfter, nv)
			}
		}
	case t.existed:
		err = row(exec.OpDelete, old)
	case alive:
		err = row(exec.OpInsert, nv)
	}
	if !alive {
		st.kill(s)
	}
	return err
}

// FoldRows implements sharedEmitter: PushRows with the changes left
// pending for EmitPending instead of built into a record.
func (g *GroupAggregate) FoldRows(ctx context.Context, rec arrow.Record, partition int32, rows []int32) ([]int32, error) {
	g.pendRows = g.pendRows[:0]
	if len(rows) == 0 {
		return nil, nil
	}
	if g.deferred {
		_, err := g.pushRows(ctx, rec, rows) // Tick emits
		return nil, err
	}
	g.pending = true
	defer func() { g.pending = false }()
	if _, err := g.pushRows(ctx, rec, rows); err != nil {
		return nil, err
	}
	for _, t := range g.touches {
		g.pendRows = append(g.pendRows, t.row)
	}
	return g.pendRows, nil
}

// EmitPending implements sharedEmitter: change k of the last FoldRows
// onto *rb (made on the first row, sized for reserve changes).
func (g *GroupAggregate) EmitPending(rb **array.RecordBuilder, reserve, k int) error {
	return g.emitTouch(rb, reserve, k)
}

// EndPending implements sharedEmitter: the last FoldRows's changes are
// all emitted (or dropped with the query's error).
func (g *GroupAggregate) EndPending() {
	if g.deferred {
		return // the touches wait for Tick
	}
	g.touches, g.oldSlots, g.newSlots, g.oldVals = g.touches[:0], g.oldSlots[:0], g.newSlots[:0], g.oldVals[:0]
	g.pendRows = g.pendRows[:0]
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

// Tick emits the changes held since the last Tick under DeferEmit;
// otherwise it does nothing (updating aggregation does not wait for
// time).
func (g *GroupAggregate) Tick(context.Context, time.Time) (arrow.Record, error) {
	if !g.deferred || len(g.touches) == 0 {
		return nil, nil
	}
	return g.emitTouched()
}

// Finish does nothing: every change was already emitted.
func (g *GroupAggregate) Finish(context.Context) (arrow.Record, error) { return nil, nil }

// Stats reports the number of live groups and their estimated bytes (the
// slots of deleted groups are not counted).
func (g *GroupAggregate) Stats() StateStats {
	st := &g.st
	s := StateStats{Groups: st.nlive}
	for slot := uint32(1); int(slot) < len(st.live); slot++ {
		if !st.live[slot] {
			continue
		}
		s.Bytes += 64
		for _, v := range st.key(slot) {
			s.Bytes += keyBytes(v) + valueBytes(v)
		}
	}
	s.Bytes += accsBytes(st.accs)
	g.sp.stats(&s)
	return s
}

// Close drops the state (and the spilled groups' store).
func (g *GroupAggregate) Close() error {
	g.acct.Close()
	g.table = nil
	g.dict.Release()
	g.st = newGroupSlots(len(g.keys), g.core)
	return g.sp.reset()
}

// AggSpecFromCall converts the batch engine's aggregate call (the shape the
// planner already builds for exec.HashAggregate) into a streaming AggSpec,
// so one physical plan feeds both.
func AggSpecFromCall(c exec.AggCall) (AggSpec, error) {
	s := AggSpec{Arg: c.Arg, Name: c.Name, Distinct: c.Distinct, Type: c.Type, Params: c.Params, SQL: c.SQL, Pos: c.Pos}
	switch {
	case c.Func == "count_star":
		s.Func = AggCountStar
	case c.Func == "count" && c.Distinct:
		s.Func = AggCountDistinct
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
		s.Func, s.FuncName = AggNamed, c.Func
	}
	return s, nil
}
