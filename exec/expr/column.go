package expr

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// column reads one column of the input record; it copies nothing, so a
// projection of plain columns costs a Retain per batch.
type column struct {
	index int
	typ   arrow.DataType
	name  string
}

// Column returns an expression that yields column index of each record,
// retained. typ is the type the planner expects there; Eval reports an error
// when the record disagrees, so schema drift fails loudly instead of
// producing garbage. name is used only by String (EXPLAIN).
func Column(index int, typ arrow.DataType, name string) Expr {
	return &column{index: index, typ: typ, name: name}
}

// Eval implements Expr.
func (c *column) Eval(_ context.Context, _ memory.Allocator, rec arrow.Record) (arrow.Array, error) {
	if c.index < 0 || c.index >= int(rec.NumCols()) {
		return nil, fmt.Errorf("column %s: index %d out of range for record with %d columns", c.name, c.index, rec.NumCols())
	}
	a := rec.Column(c.index)
	if !arrow.TypeEqual(a.DataType(), c.typ) && a.DataType().ID() != c.typ.ID() && !dictionaryOf(a.DataType(), c.typ) {
		return nil, fmt.Errorf("column %s: record has type %s, plan expects %s", c.name, a.DataType(), c.typ)
	}
	a.Retain()
	return a, nil
}

// dictionaryOf reports whether dt is a dictionary of typ values: an
// operator that asked its input for dictionary-encoded columns receives
// them through plain column references and decodes them itself.
func dictionaryOf(dt, typ arrow.DataType) bool {
	d, ok := dt.(*arrow.DictionaryType)
	return ok && arrow.TypeEqual(d.ValueType, typ)
}

// DataType implements Expr.
func (c *column) DataType() arrow.DataType { return c.typ }

// String implements Expr.
func (c *column) String() string {
	if c.name != "" {
		return c.name
	}
	return fmt.Sprintf("#%d", c.index)
}
