package connectors

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestMatchColumns: declared columns map to the made ones by name in any
// case and order; a wrong type or an unknown name is an error naming the
// column (and, for an unknown one, what the source makes).
func TestMatchColumns(t *testing.T) {
	full := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "dateTime", Type: arrow.FixedWidthTypes.Timestamp_us}, {Name: "name", Type: arrow.BinaryTypes.String}}, nil)
	schema := func(fs ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fs, nil) }
	for _, tc := range []struct {
		name     string
		declared *arrow.Schema
		want     []int
		err      []string
	}{
		{"subset in another order and case", schema(arrow.Field{Name: "NAME", Type: arrow.BinaryTypes.String}, arrow.Field{Name: "datetime", Type: arrow.FixedWidthTypes.Timestamp_us}), []int{2, 1}, nil},
		{"wrong type", schema(arrow.Field{Name: "id", Type: arrow.BinaryTypes.String}), nil, []string{`"id"`, "BIGINT", "VARCHAR"}},
		{"unknown", schema(arrow.Field{Name: "nosuch", Type: arrow.PrimitiveTypes.Int64}), nil, []string{`"nosuch"`, "id, dateTime, name"}},
	} {
		got, err := MatchColumns(tc.declared, full)
		if tc.err != nil {
			for _, w := range tc.err {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %v, want one containing %q", tc.name, err, w)
				}
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}
