package exec

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Unnest repeats each input row once per element of its lists and
// appends one column per list holding the element, as DuckDB's UNNEST:
// several lists are zipped (as many rows as the longest, the shorter
// padded with NULL), and a row whose lists are all NULL or empty gives
// no row. It is stateless, so over a changelog (op column at opCol ≥ 0)
// each change unnests to changes of the same kind, except that a -U/+U
// pair whose lists differ in length no longer pairs up row for row:
// updates come out as -D and +I (a retract stream), as Replicate's do.
type Unnest struct {
	mem    memory.Allocator
	input  Operator
	lists  []expr.Expr
	opCol  int
	outer  bool // a row whose lists are all NULL or empty gives one row of NULL elements
	schema *arrow.Schema
	once   lifecycle

	rec   arrow.Record  // the input record being unnested, nil when none
	arrs  []*array.List // its lists
	row   int           // its next row
	elem  int64         // the next element of that row
	count int64         // elements of that row (the longest list's), -1 when not yet counted
}

var _ Operator = (*Unnest)(nil)

// NewUnnest returns the unnesting of lists (list-typed expressions over
// input's rows) into columns named names after input's; opCol is the op
// column's index, or -1 for an append-only input. With outer (LEFT JOIN
// UNNEST(…) ON TRUE) a row whose lists are all NULL or empty is kept
// once, its elements NULL.
func NewUnnest(mem memory.Allocator, input Operator, lists []expr.Expr, names []string, opCol int, outer bool) (*Unnest, error) {
	if len(lists) == 0 || len(names) != len(lists) {
		return nil, fmt.Errorf("unnest: %d names for %d lists", len(names), len(lists))
	}
	in := input.Schema()
	if opCol >= in.NumFields() || (opCol >= 0 && in.Field(opCol).Type.ID() != arrow.INT8) {
		return nil, fmt.Errorf("unnest: column %d is not an op column", opCol)
	}
	fields := append([]arrow.Field(nil), in.Fields()...)
	for i, l := range lists {
		lt, ok := l.DataType().(*arrow.ListType)
		if !ok {
			return nil, fmt.Errorf("unnest: %s is not a list", l)
		}
		fields = append(fields, arrow.Field{Name: names[i], Type: lt.Elem(), Nullable: true})
	}
	md := in.Metadata()
	return &Unnest{mem: mem, input: input, lists: lists, opCol: opCol, outer: outer, schema: arrow.NewSchema(fields, &md)}, nil
}

// Schema is the input's columns, then one element column per list.
func (u *Unnest) Schema() *arrow.Schema { return u.schema }

// Open opens the input once.
func (u *Unnest) Open(ctx context.Context) error {
	return u.once.open(func() error { return u.input.Open(ctx) })
}

// Next returns up to DefaultBatchSize unnested rows.
func (u *Unnest) Next(ctx context.Context) (arrow.Record, error) {
	for {
		if u.rec == nil {
			if err := u.load(ctx); err != nil {
				return nil, err
			}
		}
		rows, elems := u.indices()
		if len(rows) == 0 {
			u.drop()
			continue
		}
		out, err := u.take(ctx, rows, elems)
		if u.row >= int(u.rec.NumRows()) {
			u.drop()
		}
		return out, err
	}
}

// load reads the next input record and evaluates its lists.
func (u *Unnest) load(ctx context.Context) error {
	rec, err := u.input.Next(ctx)
	if err != nil {
		return err
	}
	u.rec, u.row, u.elem, u.count = rec, 0, 0, -1
	u.arrs = make([]*array.List, len(u.lists))
	for i, l := range u.lists {
		a, err := l.Eval(ctx, u.mem, rec)
		if err != nil {
			u.drop()
			return err
		}
		la, ok := a.(*array.List)
		if !ok {
			a.Release()
			u.drop()
			return fmt.Errorf("unnest: %s is not a list", l)
		}
		u.arrs[i] = la
	}
	return nil
}

// drop releases the record in progress and its lists.
func (u *Unnest) drop() {
	for _, a := range u.arrs {
		if a != nil {
			a.Release()
		}
	}
	u.arrs = nil
	if u.rec != nil {
		u.rec.Release()
		u.rec = nil
	}
}

// indices lists the next batch's input rows and, per list, the element
// each output row takes (an index into the list's values, -1 for NULL),
// advancing the position; empty when the record is used up.
func (u *Unnest) indices() (rows []int32, elems [][]int32) {
	elems = make([][]int32, len(u.arrs))
	n := int(u.rec.NumRows())
	for u.row < n && len(rows) < DefaultBatchSize {
		if u.count < 0 {
			u.count = 0
			for _, l := range u.arrs {
				if l.IsValid(u.row) {
					s, e := l.ValueOffsets(u.row)
					u.count = max(u.count, e-s)
				}
			}
			if u.outer {
				u.count = max(u.count, 1) // one row of NULL elements
			}
		}
		for ; u.elem < u.count && len(rows) < DefaultBatchSize; u.elem++ {
			rows = append(rows, int32(u.row))
			for i, l := range u.arrs {
				at := int32(-1)
				if l.IsValid(u.row) {
					if s, e := l.ValueOffsets(u.row); u.elem < e-s {
						at = int32(s + u.elem)
					}
				}
				elems[i] = append(elems[i], at)
			}
		}
		if u.elem >= u.count {
			u.row, u.elem, u.count = u.row+1, 0, -1
		}
	}
	return rows, elems
}

// take gathers the output rows: input rows rows, then each list's
// elements, turning update ops into -D/+I.
func (u *Unnest) take(ctx context.Context, rows []int32, elems [][]int32) (arrow.Record, error) {
	cols, err := takeColumns(ctx, u.mem, u.rec.Columns(), rows)
	if err != nil {
		return nil, err
	}
	for i, l := range u.arrs {
		a, err := takeArray(ctx, u.mem, l.ListValues(), elems[i])
		if err != nil {
			releaseArrays(cols)
			return nil, err
		}
		cols = append(cols, a)
	}
	defer releaseArrays(cols)
	if u.opCol >= 0 {
		ops := retractOps(u.mem, cols[u.opCol].(*array.Int8))
		cols[u.opCol].Release()
		cols[u.opCol] = ops
	}
	return array.NewRecord(u.schema, cols, int64(len(rows))), nil
}

// Close releases a record in progress and closes the input; idempotent.
func (u *Unnest) Close() error {
	u.drop()
	return u.once.close(u.input.Close)
}
