package exec

import (
	"fmt"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec/expr"
)

// plainOp hides its operator's optional interfaces (dictionaryKeeper), so
// a scan under it always returns plain strings: the reference run.
type plainOp struct{ Operator }

// TestHashJoinDictionaryProbe joins a scan whose string key arrives
// dictionary-encoded (several dictionaries, NULL keys, NULL and unmatched
// dictionary entries) at every join type and several output selections,
// with and without a residual reading the key, and compares with the same
// join over plain strings.
func TestHashJoinDictionaryProbe(t *testing.T) {
	src := func(asked *bool) *dictSource {
		return (&dictSource{
			dicts: [][]string{{"x", "y", "z"}, {"q", "y"}, {"x"}, {"y", "w"}},
			idx:   [][]int{{2, 0, -1, 1}, {1, 0, 0}, {0, 0}, {1, 0, -1, 0}},
			vals:  [][]int64{{1, 2, 3, 4}, {5, 6, 7}, {8, 9}, {10, 11, 12, 13}},
		}).withAsked(asked)
	}
	rs := schemaOf(f("k", str), f("label", i64))
	rdata := `[{"k":"y","label":1},{"k":"x","label":2},{"k":"y","label":3},{"k":null,"label":4},{"k":"r","label":5}]`
	residual := func(t *testing.T) expr.Expr {
		return mustCall(t, "ne", arrow.FixedWidthTypes.Boolean, col(0, str), expr.Literal(str, "x"))
	}
	for _, typ := range []JoinType{JoinInner, JoinLeft, JoinRight, JoinFull} {
		for _, out := range [][]int{nil, {1, 3}, {3, 0}, {2}} {
			for _, withResidual := range []bool{false, true} {
				name := fmt.Sprintf("%s/out%v/residual=%v", typ, out, withResidual)
				t.Run(name, func(t *testing.T) {
					mem := newMem(t)
					run := func(plain bool) []string {
						asked := false
						scan, err := NewScan(mem, src(&asked), ScanSpec{})
						if err != nil {
							t.Fatal(err)
						}
						var left Operator = scan
						if plain {
							left = plainOp{scan}
						}
						var res expr.Expr
						if withResidual {
							res = residual(t)
						}
						j, err := NewHashJoin(mem, left, input(t, mem, rs, rdata, 2), typ, []expr.Expr{col(0, str)}, []expr.Expr{col(0, str)}, res)
						if err != nil {
							t.Fatal(err)
						}
						if out != nil {
							if err := j.SetOutput(out); err != nil {
								t.Fatal(err)
							}
						}
						got := collect(t, j)
						if asked == plain {
							t.Errorf("plain=%v: dictionaries asked %v", plain, asked)
						}
						for _, f := range j.Schema().Fields() {
							if f.Type.ID() == arrow.DICTIONARY {
								t.Errorf("output field %s is %s", f.Name, f.Type)
							}
						}
						return sorted(got)
					}
					want := run(true)
					if len(want) == 0 {
						t.Fatal("reference join returned no rows")
					}
					eq(t, run(false), want)
				})
			}
		}
	}
}

func TestHashJoinSetOutputErrors(t *testing.T) {
	mem := newMem(t)
	ls := schemaOf(f("id", i64))
	j, err := NewHashJoin(mem, input(t, mem, ls, `[{"id":1}]`, 1), input(t, mem, ls, `[{"id":1}]`, 1), JoinInner, []expr.Expr{col(0, i64)}, []expr.Expr{col(0, i64)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	for _, cols := range [][]int{{2}, {-1}, {0, 0}} {
		if err := j.SetOutput(cols); err == nil {
			t.Errorf("SetOutput(%v): no error", cols)
		}
	}
	if err := j.SetOutput([]int{1}); err != nil {
		t.Fatal(err)
	}
	eq(t, collect(t, j), []string{"1"})
}
