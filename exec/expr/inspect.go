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

// ColumnsRead calls mark with the index of every input column e reads
// (possibly more than once). It reports false when e holds an expression
// it cannot see into, in which case the caller must assume e reads every
// column. Operators use it to hand columns nobody computes on through
// untouched (a dictionary-encoded string column a projection only
// forwards, say).
func ColumnsRead(e Expr, mark func(col int)) bool {
	switch x := e.(type) {
	case *column:
		mark(x.index)
		return true
	case *literal:
		return true
	case *call:
		for _, a := range x.args {
			if !ColumnsRead(a, mark) {
				return false
			}
		}
		return true
	}
	return false
}
