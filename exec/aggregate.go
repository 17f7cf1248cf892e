package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// AggCall is one aggregate in a GROUP BY: Func over Arg.
type AggCall struct {
	// Func is a function of the accumulator layer (aggDefs): sum, count,
	// count_star, avg, min, max, string_agg, median, ….
	Func string
	// Arg is the argument; nil for count_star.
	Arg expr.Expr
	// Distinct aggregates each distinct non-NULL value once per group.
	Distinct bool
	// Type is the result type the planner expects; nil accepts the
	// natural one (see AggResultType). A mismatch is a construction error.
	Type arrow.DataType
	// Name is the output column name.
	Name string
	// Params are the call's constant parts (separator, fraction, order).
	Params AggParams
	// SQL is the call as the planner prints it (`sum(v)`), and Pos where
	// the user wrote it (zero when the planner made the call up): an
	// overflow of the state names both.
	SQL string
	Pos expr.Pos
}

// AggResultType is the type of fn over arguments of type arg (nil for
// count_star): SUM of integers is Int64 (overflow is an error), of floats
// Float64, of DECIMAL(p, s) Decimal128(38, s); AVG is Float64; COUNT is
// Int64; MIN/MAX keep the argument type. Planners call it to type calls
// the way the executor will compute them.
func AggResultType(fn string, arg arrow.DataType) (arrow.DataType, error) {
	if fn == "count_star" {
		return arrow.PrimitiveTypes.Int64, nil
	}
	if arg == nil {
		return nil, fmt.Errorf("%s needs an argument", fn)
	}
	return aggResultType(fn, valueType(arg))
}

// Accumulator is one aggregate call over many groups: the call-level
// wrapper of an AggState that checks the result type the planner expects,
// decodes dictionary arguments and names the call in errors. HashAggregate
// uses one per call, and the streaming GroupAggregate and WindowAggregate
// use the same (built with AggOptions), so batch and streaming compute
// values identically.
type Accumulator struct {
	st      AggState
	typ     arrow.DataType
	sumType arrow.DataType // the type an overflow leaves (AVG's sum is not its result)
	fn      string
	sql     string
	pos     expr.Pos
	mem     memory.Allocator
}

// NewAccumulator returns an empty accumulator for call (call.Arg only
// supplies the argument type here; Update receives evaluated values).
func NewAccumulator(mem memory.Allocator, call AggCall, opts AggOptions) (*Accumulator, error) {
	var argType arrow.DataType
	if call.Arg != nil {
		argType = valueType(call.Arg.DataType())
	}
	typ, err := AggResultType(call.Func, argType)
	if err != nil {
		return nil, err
	}
	if call.Type != nil && !arrow.TypeEqual(call.Type, typ) {
		return nil, fmt.Errorf("%s: planned type %s but computes %s", call.Func, call.Type, typ)
	}
	st, err := NewAggStateParams(mem, call.Func, argType, call.Distinct, call.Params, opts)
	if err != nil {
		return nil, err
	}
	acc := &Accumulator{st: st, typ: typ, sumType: typ, fn: call.Func, sql: call.SQL, pos: call.Pos, mem: mem}
	if st, err := AggResultType("sum", argType); err == nil && call.Func == "avg" {
		acc.sumType = st
	}
	if acc.sql == "" {
		acc.sql = call.Func + "(" + argText(call) + ")"
	}
	return acc, nil
}

func argText(c AggCall) string {
	if c.Arg == nil {
		return "*"
	}
	return c.Arg.String()
}

// dataError makes an overflow of the state the query's data error, naming
// the call and where it is written, as an expression's overflow does.
func (a *Accumulator) dataError(err error) error {
	if err == nil || !errors.Is(err, ErrOverflow) {
		return err
	}
	return expr.OutOfRange(expr.TypeName(a.sumType), a.sql, a.pos, err)
}

// DataType is the type of Result.
func (a *Accumulator) DataType() arrow.DataType { return a.typ }

// Grow makes group ids < n valid; call it before Update with new ids.
func (a *Accumulator) Grow(n int) { a.st.Grow(n) }

// Update folds row i of arg into group gids[i] with weight signs[i] (nil:
// all +1; see AggState.Update); arg is nil for count_star. Dictionary
// arguments are decoded first. It takes no ownership of arg.
func (a *Accumulator) Update(ctx context.Context, gids []uint32, arg arrow.Array, signs []int8) error {
	if signs != nil && len(signs) != len(gids) {
		return fmt.Errorf("%s: %d weights for %d group ids", a.fn, len(signs), len(gids))
	}
	if arg == nil {
		if a.fn != "count_star" {
			return fmt.Errorf("%s: missing argument", a.fn)
		}
		return a.dataError(a.st.Update(gids, nil, signs))
	}
	if arg.Len() != len(gids) {
		return fmt.Errorf("%s: %d values for %d group ids", a.fn, arg.Len(), len(gids))
	}
	if arg.DataType().ID() == arrow.DICTIONARY {
		dec, err := decodeDictionary(ctx, a.mem, arg)
		if err != nil {
			return err
		}
		defer dec.Release()
		arg = dec
	}
	return a.dataError(a.st.Update(gids, arg, signs))
}

// Merge folds group src into dst and empties src (AggState.Merge).
func (a *Accumulator) Merge(dst, src uint32) error { return a.dataError(a.st.Merge(dst, src)) }

// Reset empties group g (AggState.Reset).
func (a *Accumulator) Reset(g uint32) { a.st.Reset(g) }

// Result returns the values of groups (nil: all groups in id order). The
// caller releases the array.
func (a *Accumulator) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	arr, err := a.st.Result(mem, groups)
	return arr, a.dataError(err)
}

// Save appends group g's state to dst (AggState.Save).
func (a *Accumulator) Save(dst []byte, g uint32) ([]byte, error) { return a.st.Save(dst, g) }

// Load sets group g from saved bytes and returns the rest (AggState.Load).
func (a *Accumulator) Load(g uint32, src []byte) ([]byte, error) { return a.st.Load(g, src) }

// GroupTable maps key tuples to dense group ids 0, 1, 2, … in order of
// first appearance; NULL is an ordinary key value. Exported for the
// streaming aggregate and joins.
type GroupTable struct {
	g      grouper
	decode bool // decode dictionaries before the generic row encoder
}

// NewGroupTable returns a table for keys of the given types.
func NewGroupTable(keyTypes []arrow.DataType) (*GroupTable, error) {
	types := keyTypes
	decode := len(keyTypes) > 1
	if decode {
		types = make([]arrow.DataType, len(keyTypes))
		for i, t := range keyTypes {
			types[i] = valueType(t)
		}
	}
	g, err := newGrouper(types)
	if err != nil {
		return nil, err
	}
	return &GroupTable{g: g, decode: decode}, nil
}

// Assign sets gids[i] to the group of row i of the key columns. With
// insert, new keys get new ids and their key values are returned (one
// array per key, dictionary keys decoded; nil when none are new; caller
// releases); without insert unknown keys get NoGroup.
func (t *GroupTable) Assign(ctx context.Context, mem memory.Allocator, keys []arrow.Array, gids []uint32, insert bool) ([]arrow.Array, error) {
	return t.AssignRows(ctx, mem, keys, nil, gids, insert)
}

// AssignRows is Assign for the rows listed in rows only (batch row
// indices, in the order to visit them; nil: every row): it sets
// gids[rows[k]] (gids is as long as the batch; other entries are left
// alone) and groups nothing else. A key-partitioned operator instance
// folds its own rows of a batch it shares with the others this way,
// without a copy of them.
func (t *GroupTable) AssignRows(ctx context.Context, mem memory.Allocator, keys []arrow.Array, rows []int32, gids []uint32, insert bool) ([]arrow.Array, error) {
	if t.decode {
		dec := make([]arrow.Array, len(keys))
		defer releaseArrays(dec)
		for i, k := range keys {
			d, err := decodeDictionary(ctx, mem, k)
			if err != nil {
				return nil, err
			}
			dec[i] = d
		}
		keys = dec
	}
	return t.g.assign(ctx, mem, keys, rows, gids, insert)
}

// NumGroups is the number of distinct keys seen.
func (t *GroupTable) NumGroups() int { return t.g.numGroups() }

// reset forgets every group (grouper.reset).
func (t *GroupTable) reset() { t.g.reset() }

// NoGroup is the id Assign gives unknown keys when not inserting.
const NoGroup = noGroup

// HashAggregate is GROUP BY: it consumes its whole input, then emits one
// row per group (keys, then aggregates) in order of first appearance.
// Without keys it emits exactly one row, even for empty input.
type HashAggregate struct {
	mem    memory.Allocator
	input  Operator
	keys   []expr.Expr
	aggs   []AggCall
	schema *arrow.Schema
	table  *GroupTable
	accs   []*Accumulator
	chunks [][]arrow.Array // per key column: key values of new groups
	gids   []uint32
	out    arrow.Record
	pos    int64
	done   bool
	once   lifecycle
	dict   *dictKey // dictionary fast path; nil when off
	acct   *Account // memory budget (SetBudget); nil: unlimited
	keyMem int64    // bytes of the key values in chunks
	mode   AggMode
	outs   []aggOut // how each output aggregate column comes from accs
	// Pre-dedup (SetDedup) and the adaptive partial phase
	// (aggregate_adaptive.go): dedup and adaptive allow passing rows
	// through, seen counts the rows grouped, judged is set once the
	// choice is made and passing once grouping stopped; held is the rest
	// of the batch the probe ended in.
	dedup, adaptive, judged, passing bool
	seen                             int64
	held                             arrow.Record
	chunkRows                        int64 // rows in the passing partial's chunk
	// raw: the passing partial emits one partial row per input row
	// (nextPartialRaw); onesArr backs its COUNT columns.
	raw     bool
	onesArr arrow.Array
	// The split final (aggregate_split.go): workers is SetWorkers' n,
	// orig the calls as given (the parts are made from them), parts the
	// parts while they exist.
	workers int
	orig    []AggCall
	parts   []*splitPart
}

var _ Operator = (*HashAggregate)(nil)

// NewHashAggregate returns a grouping of input by keys (output names
// keyNames) computing aggs. Dictionary keys come out decoded.
func NewHashAggregate(mem memory.Allocator, input Operator, keys []expr.Expr, keyNames []string, aggs []AggCall) (*HashAggregate, error) {
	return NewHashAggregateMode(mem, input, AggComplete, keys, keyNames, aggs)
}

// NewHashAggregateMode is NewHashAggregate for one phase of a two-phase
// aggregation (see AggMode). In AggFinal mode keys must read the input's
// first len(keys) columns (the partial output) and aggs are the original
// calls: their Arg only supplies the argument type.
func NewHashAggregateMode(mem memory.Allocator, input Operator, mode AggMode, keys []expr.Expr, keyNames []string, aggs []AggCall) (*HashAggregate, error) {
	if len(keyNames) != len(keys) {
		return nil, fmt.Errorf("aggregate: %d key names for %d keys", len(keyNames), len(keys))
	}
	calls, outs, err := phaseCalls(mode, aggs, len(keys))
	if err != nil {
		return nil, fmt.Errorf("aggregate: %w", err)
	}
	h := &HashAggregate{mem: mem, input: input, keys: keys, aggs: calls, mode: mode, outs: outs, orig: aggs}
	fields := make([]arrow.Field, 0, len(keys)+len(aggs))
	types := make([]arrow.DataType, len(keys))
	for i, k := range keys {
		types[i] = k.DataType()
		fields = append(fields, arrow.Field{Name: keyNames[i], Type: valueType(k.DataType()), Nullable: true})
	}
	if len(keys) > 0 {
		t, err := NewGroupTable(types)
		if err != nil {
			return nil, fmt.Errorf("aggregate: %w", err)
		}
		h.table = t
	}
	for _, a := range calls {
		acc, err := NewAccumulator(mem, a, AggOptions{})
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", a.Name, err)
		}
		h.accs = append(h.accs, acc)
	}
	for _, o := range outs {
		f, err := o.field(h.accs)
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", o.name, err)
		}
		fields = append(fields, f)
	}
	h.schema = arrow.NewSchema(fields, nil)
	h.chunks = make([][]arrow.Array, len(keys))
	if h.table != nil {
		h.setupDictKey()
	}
	h.adaptive = mode == AggPartial && h.table != nil && h.dict == nil
	return h, nil
}

// Schema is the keys followed by the aggregates.
func (h *HashAggregate) Schema() *arrow.Schema { return h.schema }

// Open opens the input once.
func (h *HashAggregate) Open(ctx context.Context) error {
	return h.once.open(func() error { return h.input.Open(ctx) })
}

// Next consumes the input on the first call, then returns the result in
// batches of DefaultBatchSize rows.
func (h *HashAggregate) Next(ctx context.Context) (arrow.Record, error) {
	if !h.done {
		out, err := h.consumeAll(ctx)
		if err != nil {
			return nil, err
		}
		h.done = true
		h.out = out
	}
	if h.out == nil || h.pos >= h.out.NumRows() {
		switch {
		case h.raw:
			return h.nextPartialRaw(ctx)
		case h.passing && h.mode == AggPartial:
			return h.nextPartialPassed(ctx)
		case h.passing:
			return h.nextPassed(ctx)
		}
		return nil, io.EOF
	}
	end := min(h.pos+DefaultBatchSize, h.out.NumRows())
	rec := h.out.NewSlice(h.pos, end)
	h.pos = end
	return rec, nil
}

// consumeAll reads the input and builds the result, split across
// workers when it may be (aggregate_split.go).
func (h *HashAggregate) consumeAll(ctx context.Context) (arrow.Record, error) {
	if !h.splits() {
		if err := h.consume(ctx); err != nil {
			return nil, err
		}
		return h.build()
	}
	if err := h.consumeSplit(ctx); err != nil {
		return nil, err
	}
	out, err := h.buildSplit(ctx)
	h.releaseParts()
	return out, err
}

func (h *HashAggregate) consume(ctx context.Context) error {
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
		if cut := h.probeCut(rec.NumRows()); cut > 0 {
			// The judgement falls inside this batch: fold the rows up to
			// the probe row, hold the rest for whichever way it goes.
			h.held = rec.NewSlice(cut, rec.NumRows())
			head := rec.NewSlice(0, cut)
			rec.Release()
			rec = head
		}
		if err := h.fold(ctx, rec); err != nil {
			return err
		}
		if h.judge(); h.passing {
			return nil
		}
		if held := h.held; held != nil {
			h.held = nil
			if err := h.fold(ctx, held); err != nil {
				return err
			}
		}
	}
}

// fold groups one input batch and releases it.
func (h *HashAggregate) fold(ctx context.Context, rec arrow.Record) error {
	h.seen += rec.NumRows()
	err := h.add(ctx, rec)
	rec.Release()
	if err != nil {
		return fmt.Errorf("aggregate: %w", err)
	}
	return nil
}

// add folds one batch into the groups.
func (h *HashAggregate) add(ctx context.Context, rec arrow.Record) error {
	n := int(rec.NumRows())
	h.gids = growSlice(h.gids[:0], n)
	gids := h.gids[:n]
	ng := 1
	if h.table != nil {
		var newKeys []arrow.Array
		if h.dict != nil {
			var err error
			if newKeys, err = h.dictKeyGroups(ctx, rec, gids); err != nil {
				return err
			}
		} else {
			cols, err := evalAll(ctx, h.mem, rec, exprList(h.keys))
			if err != nil {
				return err
			}
			newKeys, err = h.table.Assign(ctx, h.mem, cols, gids, true)
			releaseArrays(cols)
			if err != nil {
				return err
			}
		}
		for i, k := range newKeys {
			h.chunks[i] = append(h.chunks[i], k)
			h.keyMem += arrayBytes(k)
		}
		ng = h.table.NumGroups()
	} else {
		clear(gids)
	}
	for i, acc := range h.accs {
		acc.Grow(ng)
		if h.aggs[i].Arg == nil {
			if err := acc.Update(ctx, gids, nil, nil); err != nil {
				return err
			}
			continue
		}
		arg, err := h.aggs[i].Arg.Eval(ctx, h.mem, rec)
		if err != nil {
			return fmt.Errorf("%s: %w", h.aggs[i].Name, err)
		}
		err = acc.Update(ctx, gids, arg, nil)
		arg.Release()
		if err != nil {
			return fmt.Errorf("%s: %w", h.aggs[i].Name, err)
		}
	}
	return h.account()
}

// build assembles the result record (nil for no groups).
func (h *HashAggregate) build() (arrow.Record, error) {
	ng := 1
	if h.table != nil {
		ng = h.table.NumGroups()
	}
	if ng == 0 {
		return nil, nil
	}
	cols := make([]arrow.Array, 0, h.schema.NumFields())
	defer func() { releaseArrays(cols) }()
	for i, chunks := range h.chunks {
		if len(chunks) == 1 {
			chunks[0].Retain()
			cols = append(cols, chunks[0])
			continue
		}
		k, err := array.Concatenate(chunks, h.mem)
		if err != nil {
			return nil, fmt.Errorf("aggregate: key %d: %w", i, err)
		}
		cols = append(cols, k)
	}
	res := make([]arrow.Array, len(h.accs))
	defer func() { releaseArrays(res) }()
	for i, acc := range h.accs {
		acc.Grow(ng)
		a, err := acc.Result(h.mem, nil)
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", h.aggs[i].Name, err)
		}
		res[i] = a
	}
	for _, o := range h.outs {
		a, err := o.build(h.mem, res)
		if err != nil {
			return nil, fmt.Errorf("aggregate %s: %w", o.name, err)
		}
		cols = append(cols, a)
	}
	h.releaseChunks()
	return array.NewRecord(h.schema, cols, int64(ng)), nil
}

func (h *HashAggregate) releaseChunks() {
	for i, c := range h.chunks {
		releaseArrays(c)
		h.chunks[i] = nil
	}
}

// Close releases the groups and the result and closes the input;
// idempotent.
func (h *HashAggregate) Close() error {
	return h.once.close(func() error {
		h.releaseChunks()
		h.releaseParts()
		h.releaseDict()
		if h.held != nil {
			h.held.Release()
			h.held = nil
		}
		if h.out != nil {
			h.out.Release()
			h.out = nil
		}
		if h.onesArr != nil {
			h.onesArr.Release()
			h.onesArr = nil
		}
		h.accs = nil
		h.table = nil
		h.acct.Close()
		if h.input == nil { // a part of a split final
			return nil
		}
		return h.input.Close()
	})
}
