// Package valcmp orders two Go values of one SQL type as the planner's
// constants and the executor's top-N bounds hold them (int64, int32,
// float64, string, bool, arrow.Timestamp, arrow.Date32, and decimal128.Num
// of one scale). It is a leaf
// package so that both planner (constant folding) and exec (the top-N
// cut-off) use one compare: exec may not import planner.
package valcmp

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// Compare returns -1, 0 or 1 as a is less than, equal to or greater than
// b, and false when the two are not of one supported type. Doubles order
// as Floats does (NaN equal to NaN, above every number).
func Compare(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		return sign(x < y, x > y), ok
	case int32:
		y, ok := b.(int32)
		return sign(x < y, x > y), ok
	case float64:
		y, ok := b.(float64)
		return Floats(x, y), ok
	case string:
		y, ok := b.(string)
		return strings.Compare(x, y), ok
	case bool:
		y, ok := b.(bool)
		return sign(!x && y, x && !y), ok
	case arrow.Timestamp:
		y, ok := b.(arrow.Timestamp)
		return sign(x < y, x > y), ok
	case arrow.Date32:
		y, ok := b.(arrow.Date32)
		return sign(x < y, x > y), ok
	case decimal128.Num: // of one scale: the values' type is one
		y, ok := b.(decimal128.Num)
		return x.Cmp(y), ok
	}
	return 0, false
}

// Floats orders two doubles as DuckDB, PostgreSQL and Spark do: NaN equals
// NaN and is greater than every number (-0 and +0 are equal). One order
// for filters, ORDER BY and the top-N cut-off, where IEEE's (every
// comparison with NaN false) would let a NaN row pass no filter and sort
// anywhere.
func Floats(a, b float64) int {
	an, bn := a != a, b != b
	switch {
	case an || bn:
		return sign(bn && !an, an && !bn)
	}
	return sign(a < b, a > b)
}

func sign(lt, gt bool) int {
	switch {
	case lt:
		return -1
	case gt:
		return 1
	}
	return 0
}
