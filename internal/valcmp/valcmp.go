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
// b, and false when the two are not of one supported type. NaN compares
// equal to everything, as Go's < and > leave it; callers that must order
// NaN handle it before calling.
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
		return sign(x < y, x > y), ok
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

func sign(lt, gt bool) int {
	switch {
	case lt:
		return -1
	case gt:
		return 1
	}
	return 0
}
