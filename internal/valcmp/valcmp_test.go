package valcmp

import (
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// TestCompare covers every supported type in both directions, equality,
// NaN and mismatched or unsupported types.
func TestCompare(t *testing.T) {
	cases := []struct {
		a, b any
		want int
		ok   bool
	}{
		{int64(1), int64(2), -1, true},
		{int64(2), int64(1), 1, true},
		{int64(3), int64(3), 0, true},
		{int32(-5), int32(4), -1, true},
		{1.5, 0.5, 1, true},
		{math.NaN(), 1.0, 1, true},
		{1.0, math.NaN(), -1, true},
		{math.NaN(), math.Inf(1), 1, true},
		{math.NaN(), math.NaN(), 0, true},
		{math.Copysign(0, -1), 0.0, 0, true},
		{"abc", "abd", -1, true},
		{"b", "a", 1, true},
		{false, true, -1, true},
		{true, false, 1, true},
		{true, true, 0, true},
		{arrow.Timestamp(10), arrow.Timestamp(20), -1, true},
		{arrow.Date32(9), arrow.Date32(8), 1, true},
		{decimal128.FromI64(-15), decimal128.FromI64(3), -1, true},
		{decimal128.FromI64(7), decimal128.FromI64(7), 0, true},
		{decimal128.FromI64(7), int64(7), 0, false},
		{int64(1), int32(1), 0, false},
		{"1", int64(1), 0, false},
		{uint8(1), uint8(2), 0, false},
	}
	for _, c := range cases {
		got, ok := Compare(c.a, c.b)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("Compare(%v (%T), %v (%T)) = %d, %v; want %d, %v", c.a, c.a, c.b, c.b, got, ok, c.want, c.ok)
		}
	}
}
