package expr

import (
	"context"
	"github.com/apache/arrow/go/v17/arrow/array"
	"math"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

func TestArithmetic(t *testing.T) {
	ints := []arrow.DataType{i64, i64}
	rows := `[{"a": 7, "b": 2}, {"a": -7, "b": 2}, {"a": null, "b": 1}, {"a": 5, "b": 0}, {"a": 100, "b": null}]`
	runCases(t, []evalCase{
		{name: "add", types: ints, rows: rows, build: fn("add", i64, c(0), c(1)), wantTyp: i64, want: `[9, -5, null, 5, null]`},
		{name: "sub", types: ints, rows: rows, build: fn("sub", i64, c(0), c(1)), wantTyp: i64, want: `[5, -9, null, 5, null]`},
		{name: "mul", types: ints, rows: rows, build: fn("mul", i64, c(0), c(1)), wantTyp: i64, want: `[14, -14, null, 0, null]`},
		{name: "intdiv by zero is NULL", types: ints, rows: rows, build: fn("intdiv", i64, c(0), c(1)), wantTyp: i64, want: `[3, -3, null, null, null]`},
		{name: "mod sign of dividend", types: ints, rows: rows, build: fn("mod", i64, c(0), c(1)), wantTyp: i64, want: `[1, -1, null, null, null]`},
		{name: "add const", types: ints, rows: rows, build: fn("add", i64, c(1), lit(i64, int64(10))), wantTyp: i64, want: `[12, 12, 11, 10, null]`},
		{name: "const minus col", types: ints, rows: rows, build: fn("sub", i64, lit(i64, int64(10)), c(1)), wantTyp: i64, want: `[8, 8, 9, 10, null]`},
		{name: "add NULL const", types: ints, rows: rows, build: fn("add", i64, c(0), lit(i64, nil)), wantTyp: i64, want: `[null, null, null, null, null]`},
		{name: "neg", types: ints, rows: rows, build: fn("neg", i64, c(1)), wantTyp: i64, want: `[-2, -2, -1, 0, null]`},
		// JSON numbers pass through float64, so boundary values come from literals.
		{name: "add overflow", types: ints, rows: `[{"a": 1, "b": 1}]`, build: fn("add", i64, lit(i64, int64(math.MaxInt64)), c(1)), errIs: ErrOutOfRange, errText: "BIGINT value is out of range in '9223372036854775807 + b'"},
		{name: "add overflow col col", types: ints, rows: `[{"a": 1, "b": 1}]`, build: fn("add", i64, sub("add", i64, c(0), lit(i64, int64(math.MaxInt64-1))), c(1)), errIs: ErrOutOfRange, errText: "in '(a + 9223372036854775806) + b'"},
		{name: "sub overflow", types: ints, rows: `[{"a": -1, "b": 1}]`, build: fn("sub", i64, lit(i64, int64(math.MinInt64)), c(1)), errIs: ErrOutOfRange},
		{name: "sub overflow col", types: ints, rows: `[{"a": -1, "b": 1}]`, build: fn("sub", i64, c(0), lit(i64, int64(math.MaxInt64))), wantTyp: i64, want: `[-9223372036854775808]`},
		{name: "mul overflow", types: ints, rows: `[{"a": 2, "b": 1}]`, build: fn("mul", i64, c(0), lit(i64, int64(1<<62))), errIs: ErrOutOfRange},
		{name: "mul big ok", types: ints, rows: `[{"a": 2, "b": -2}]`, build: fn("mul", i64, lit(i64, int64(1<<62)), c(1)), wantTyp: i64, want: `[-9223372036854775808]`},
		{name: "neg overflow", types: ints, rows: `[{"a": -1, "b": 1}]`, build: fn("neg", i64, sub("sub", i64, c(0), lit(i64, int64(math.MaxInt64)))), errIs: ErrOutOfRange},
		{name: "intdiv overflow", types: ints, rows: `[{"a": -1, "b": -1}]`, build: fn("intdiv", i64, lit(i64, int64(math.MinInt64)), c(1)), errIs: ErrOutOfRange},
		{name: "int32 add overflow", types: []arrow.DataType{i32, i32}, rows: `[{"a": 2147483647, "b": 1}]`, build: fn("add", i32, c(0), c(1)), errText: "INT value is out of range"},
		{name: "int32 mul", types: []arrow.DataType{i32, i32}, rows: `[{"a": 46340, "b": 46340}, {"a": null, "b": 3}]`, build: fn("mul", i32, c(0), c(1)), wantTyp: i32, want: `[2147395600, null]`},
		{name: "int32 mul overflow", types: []arrow.DataType{i32, i32}, rows: `[{"a": 46341, "b": 46341}]`, build: fn("mul", i32, c(0), c(1)), errIs: ErrOutOfRange},
		{name: "float", types: []arrow.DataType{f64, f64}, rows: `[{"a": 1.5, "b": 0.5}, {"a": 1, "b": 0}, {"a": null, "b": 2}]`, build: fn("div", f64, c(0), c(1)), wantTyp: f64, want: `[3, null, null]`},
		{name: "float add const", types: []arrow.DataType{f64}, rows: `[{"a": 1.5}, {"a": null}]`, build: fn("add", f64, c(0), lit(f64, 0.25)), wantTyp: f64, want: `[1.75, null]`},
		{name: "float mod", types: []arrow.DataType{f64, f64}, rows: `[{"a": 7.5, "b": 2}, {"a": -7.5, "b": 2}, {"a": 1, "b": 0}]`, build: fn("mod", f64, c(0), c(1)), wantTyp: f64, want: `[1.5, -1.5, null]`},
		{name: "float intdiv", types: []arrow.DataType{f64, f64}, rows: `[{"a": 7.5, "b": 2}, {"a": -7.5, "b": 2}, {"a": 1, "b": 0}]`, build: fn("intdiv", i64, c(0), c(1)), wantTyp: i64, want: `[3, -3, null]`},
		{name: "unknown function", types: ints, rows: rows, build: fn("frobnicate", i64, c(0)), errIs: ErrUnknownFunction},
		{name: "mismatched types", types: []arrow.DataType{i64, f64}, rows: `[]`, build: fn("add", i64, c(0), c(1)), errIs: ErrUnsupportedType},
		{name: "wrong arity", types: ints, rows: rows, build: fn("add", i64, c(0)), errText: "takes 2 arguments"},
	})
}

func TestDecimalArithmetic(t *testing.T) {
	d := []arrow.DataType{dec(10, 2), dec(10, 1)}
	rows := `[{"a": "1.25", "b": "2.5"}, {"a": "-1.25", "b": "0.1"}, {"a": null, "b": "1.0"}, {"a": "3.00", "b": "0.0"}]`
	runCases(t, []evalCase{
		{name: "add rescales", types: d, rows: rows, build: fn("add", dec(12, 2), c(0), c(1)), wantTyp: dec(12, 2), want: `["3.75", "-1.15", null, "3.00"]`},
		{name: "sub", types: d, rows: rows, build: fn("sub", dec(12, 2), c(0), c(1)), wantTyp: dec(12, 2), want: `["-1.25", "-1.35", null, "3.00"]`},
		{name: "mul", types: d, rows: rows, build: fn("mul", dec(20, 3), c(0), c(1)), wantTyp: dec(20, 3), want: `["3.125", "-0.125", null, "0.000"]`},
		{name: "div rounds, zero NULL", types: d, rows: rows, build: fn("div", dec(20, 4), c(0), c(1)), wantTyp: dec(20, 4), want: `["0.5000", "-12.5000", null, null]`},
		{name: "div rounding", types: []arrow.DataType{dec(10, 0), dec(10, 0)}, rows: `[{"a": "2", "b": "3"}, {"a": "-2", "b": "3"}]`, build: fn("div", dec(10, 4), c(0), c(1)), wantTyp: dec(10, 4), want: `["0.6667", "-0.6667"]`},
		{name: "neg", types: d, rows: rows, build: fn("neg", dec(10, 2), c(0)), wantTyp: dec(10, 2), want: `["-1.25", "1.25", null, "-3.00"]`},
		{name: "add literal", types: d, rows: rows, build: fn("add", dec(10, 2), c(0), lit(dec(10, 2), decimal128.FromI64(100))), wantTyp: dec(10, 2), want: `["2.25", "-0.25", null, "4.00"]`},
		{name: "precision overflow", types: []arrow.DataType{dec(4, 2), dec(4, 2)}, rows: `[{"a": "99.99", "b": "99.99"}]`, build: fn("add", dec(4, 2), c(0), c(1)), errIs: ErrOutOfRange, errText: "DECIMAL value is out of range"},
		{name: "mod", types: []arrow.DataType{dec(10, 2), dec(10, 2)}, rows: `[{"a": "7.50", "b": "2.00"}, {"a": "-7.50", "b": "2.00"}, {"a": "1.00", "b": "0.00"}]`, build: fn("mod", dec(10, 2), c(0), c(1)), wantTyp: dec(10, 2), want: `["1.50", "-1.50", null]`},
		{name: "compare", types: []arrow.DataType{dec(10, 2), dec(10, 2)}, rows: `[{"a": "1.25", "b": "1.30"}, {"a": "-1.00", "b": "-2.00"}, {"a": null, "b": "1"}]`, build: fn("lt", boo, c(0), c(1)), wantTyp: boo, want: `[true, false, null]`},
	})
}

// TestOverflowUnderNullIgnored puts MaxInt64 under a NULL slot: adding one
// must not fail, because that row's value is meaningless.
func TestOverflowUnderNullIgnored(t *testing.T) {
	mem := newMem(t)
	b := array.NewInt64Builder(mem)
	b.AppendValues([]int64{math.MaxInt64, 1}, []bool{false, true})
	a := b.NewArray()
	b.Release()
	defer a.Release()
	rec := array.NewRecord(arrow.NewSchema([]arrow.Field{{Name: "a", Type: i64, Nullable: true}}, nil), []arrow.Array{a}, 2)
	defer rec.Release()
	for _, op := range []string{"add", "mul"} {
		e, err := Call(op, []Expr{Column(0, i64, "a"), Literal(i64, int64(2))}, i64)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Eval(context.Background(), mem, rec)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		g := got.(*array.Int64)
		if !g.IsNull(0) || g.Value(1) != 3 && op == "add" || g.Value(1) != 2 && op == "mul" {
			t.Fatalf("%s: got %v", op, got)
		}
		got.Release()
	}
}
