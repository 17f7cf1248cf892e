package expr

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestColumnIndex(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Expr
		idx  int
		ok   bool
	}{
		{"column 0", Column(0, arrow.BinaryTypes.String, "a"), 0, true},
		{"column 3", Column(3, arrow.PrimitiveTypes.Int64, "d"), 3, true},
		{"literal", Literal(arrow.PrimitiveTypes.Int64, int64(1)), 0, false},
		{"nil", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, ok := ColumnIndex(tc.e)
			if idx != tc.idx || ok != tc.ok {
				t.Errorf("ColumnIndex = %d, %v; want %d, %v", idx, ok, tc.idx, tc.ok)
			}
		})
	}
}
