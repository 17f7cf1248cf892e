package expr

// ColumnIndex reports whether e is a plain column reference (Column) and
// which input column it reads. Operators use it to take shortcuts that
// are only safe when an expression just forwards a column, such as
// HashAggregate grouping a scanned column through its dictionary.
func ColumnIndex(e Expr) (int, bool) {
	if c, ok := e.(*column); ok {
		return c.index, true
	}
	return 0, false
}
