package format

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// TestDeclaredRules: a row breaking a column's declared NOT NULL or
// UNSIGNED rule fails with a message naming the column and the rule, or
// is skipped and counted under skip and null (NULL is what the column
// refuses), on the CSV bulk path, its slow path and JSON alike.
func TestDeclaredRules(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		exec.MarkNotNull(arrow.Field{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true}),
		exec.MarkUnsigned(arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true}),
		{Name: "note", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	csv := "a,1,x\n,2,y\nc,-3,\nd,zz,w\ne,4,\n"
	json := `{"name":"a","n":1,"note":"x"}` + "\n" + `{"n":2,"note":"y"}` + "\n" + `{"name":"c","n":-3}` + "\n" +
		`{"name":"d","n":"zz","note":"w"}` + "\n" + `{"name":"e","n":4}` + "\n"
	for _, tc := range []struct {
		policy  ErrorPolicy
		rows    []string
		errs    []string
		skipped int64
		nulled  int64
	}{
		{OnErrorFail, []string{"a 1 x", "e 4 NULL"}, []string{
			`line 2: column "name" is NOT NULL, but the value is NULL or missing`,
			`line 3: column "n" is UNSIGNED, but the value -3 is negative`,
			`line 4: column "n": cannot parse "zz" as BIGINT`}, 0, 0},
		{OnErrorSkip, []string{"a 1 x", "e 4 NULL"}, nil, 3, 0},
		{OnErrorNull, []string{"a 1 x", "d NULL w", "e 4 NULL"}, nil, 2, 1},
	} {
		for _, in := range []string{"csv bulk", "csv", "json"} {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			var rec arrow.Record
			var errs []string
			var skipped, nulled int64
			if in == "json" {
				d, err := NewJSONDecoder(mem, schema)
				if err != nil {
					t.Fatal(err)
				}
				d.SetOnError(tc.policy)
				for i, l := range strings.Split(strings.TrimSpace(json), "\n") {
					if err := d.Append([]byte(l)); err != nil {
						errs = append(errs, fmt.Sprintf("line %d: %v", i+1, err))
					}
				}
				rec, skipped, nulled = d.NewRecord(), d.Skipped(), d.Nulled()
				d.Release()
			} else {
				rec, errs, _ = decodeCSV(t, mem, schema, nil, tc.policy, csv, in == "csv bulk")
				skipped, nulled = -1, -1 // decodeCSV keeps its decoder's counts to itself
			}
			var got []string
			for r := 0; r < int(rec.NumRows()); r++ {
				var vals []string
				for c := 0; c < int(rec.NumCols()); c++ {
					a := rec.Column(c)
					if a.IsNull(r) {
						vals = append(vals, "NULL")
					} else {
						vals = append(vals, a.ValueStr(r))
					}
				}
				got = append(got, strings.Join(vals, " "))
			}
			rec.Release()
			mem.AssertSize(t, 0)
			if strings.Join(got, "|") != strings.Join(tc.rows, "|") {
				t.Errorf("%s policy %d: rows %q, want %q", in, tc.policy, got, tc.rows)
			}
			if strings.Join(errs, "|") != strings.Join(tc.errs, "|") {
				t.Errorf("%s policy %d: errors %q, want %q", in, tc.policy, errs, tc.errs)
			}
			if skipped >= 0 && (skipped != tc.skipped || nulled != tc.nulled) {
				t.Errorf("%s policy %d: skipped %d nulled %d, want %d and %d", in, tc.policy, skipped, nulled, tc.skipped, tc.nulled)
			}
		}
	}
}
