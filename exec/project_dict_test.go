package exec

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec/expr"
)

func mustCall(t testing.TB, name string, ret arrow.DataType, args ...expr.Expr) expr.Expr {
	t.Helper()
	e, err := expr.Call(name, args, ret)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFilterProjectDictionaries runs Scan → Filter → Project over a source
// that returns its string column dictionary-encoded when asked: a
// projection that only forwards the column asks (through the filter) and
// decodes the survivors; one that computes on it does not ask. The rows
// equal those of the same plan over plain strings.
func TestFilterProjectDictionaries(t *testing.T) {
	src := func() *dictSource {
		return &dictSource{
			dicts: [][]string{{"x", "y", "z"}, {"q", "y"}, {"x"}},
			idx:   [][]int{{2, 0, -1, 1}, {1, 0, 0}, {0, 0}},
			vals:  [][]int64{{1, 20, 30, 4}, {50, 6, 70}, {8, 90}},
		}
	}
	keepBig := func() expr.Expr {
		return mustCall(t, "gt", arrow.FixedWidthTypes.Boolean, col(1, i64), expr.Literal(i64, int64(5)))
	}
	for _, tc := range []struct {
		name      string
		pred      func() expr.Expr
		exprs     func() []expr.Expr
		wantAsked bool
		want      []string
	}{
		{"forwarded string", keepBig, func() []expr.Expr {
			return []expr.Expr{col(0, str), mustCall(t, "mul", i64, col(1, i64), expr.Literal(i64, int64(2)))}
		}, true, []string{"x|40", "NULL|60", "y|100", "q|12", "q|140", "x|16", "x|180"}},
		{"forwarded twice", keepBig, func() []expr.Expr {
			return []expr.Expr{col(0, str), col(1, i64), col(0, str)}
		}, true, []string{"x|20|x", "NULL|30|NULL", "y|50|y", "q|6|q", "q|70|q", "x|8|x", "x|90|x"}},
		{"computed on: plain strings", keepBig, func() []expr.Expr {
			return []expr.Expr{col(0, str), mustCall(t, "eq", arrow.FixedWidthTypes.Boolean, col(0, str), expr.Literal(str, "q"))}
		}, false, []string{"x|false", "NULL|NULL", "y|false", "q|true", "q|true", "x|false", "x|false"}},
		{"predicate reads it: plain strings", func() expr.Expr {
			return mustCall(t, "ne", arrow.FixedWidthTypes.Boolean, col(0, str), expr.Literal(str, "y"))
		}, func() []expr.Expr { return []expr.Expr{col(0, str), col(1, i64)} },
			false, []string{"z|1", "x|20", "q|6", "q|70", "x|8", "x|90"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			asked := false
			scan, err := NewScan(mem, src().withAsked(&asked), ScanSpec{})
			if err != nil {
				t.Fatal(err)
			}
			exprs := tc.exprs()
			names := make([]string, len(exprs))
			for i := range names {
				names[i] = string(rune('a' + i))
			}
			p, err := NewProject(mem, NewFilter(mem, scan, tc.pred()), exprs, names)
			if err != nil {
				t.Fatal(err)
			}
			got := collect(t, p)
			if asked != tc.wantAsked {
				t.Errorf("dictionaries asked: %v, want %v", asked, tc.wantAsked)
			}
			eq(t, got, tc.want)
			for _, f := range p.Schema().Fields() {
				if f.Type.ID() == arrow.DICTIONARY {
					t.Errorf("output field %s is %s", f.Name, f.Type)
				}
			}
		})
	}
}
