package expr

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestStringFunctions(t *testing.T) {
	s := []arrow.DataType{str, str, str}
	rows := `[{"a":"Hello","b":"l","c":"L"},{"a":" x y ","b":"","c":"z"},{"a":null,"b":"a","c":"b"},{"a":"héllo","b":"é","c":"e"}]`
	runCases(t, []evalCase{
		{name: "upper", types: s, rows: rows, build: fn("upper", str, c(0)), wantTyp: str, want: `["HELLO"," X Y ",null,"HÉLLO"]`},
		{name: "lower", types: s, rows: rows, build: fn("lower", str, c(0)), wantTyp: str, want: `["hello"," x y ",null,"héllo"]`},
		{name: "length chars", types: s, rows: rows, build: fn("length", i64, c(0)), wantTyp: i64, want: `[5,5,null,5]`},
		{name: "trim", types: s, rows: rows, build: fn("trim", str, c(0)), wantTyp: str, want: `["Hello","x y",null,"héllo"]`},
		{name: "ltrim", types: s, rows: rows, build: fn("ltrim", str, c(0)), wantTyp: str, want: `["Hello","x y ",null,"héllo"]`},
		{name: "rtrim", types: s, rows: rows, build: fn("rtrim", str, c(0)), wantTyp: str, want: `["Hello"," x y",null,"héllo"]`},
		{name: "concat NULL if any NULL", types: s, rows: rows, build: fn("concat", str, c(0), c(1), lit(str, "!")), wantTyp: str, want: `["Hellol!"," x y !",null,"hélloé!"]`},
		{name: "concat with NULL literal", types: s, rows: rows, build: fn("concat", str, c(1), lit(str, nil)), wantTyp: str, want: `[null,null,null,null]`},
		{name: "replace", types: s, rows: rows, build: fn("replace", str, c(0), c(1), c(2)), wantTyp: str, want: `["HeLLo"," x y ",null,"hello"]`},
		{name: "length type", types: s, rows: rows, build: fn("length", str, c(0)), errIs: ErrUnsupportedType},
	})
}

func TestSubstring(t *testing.T) {
	rows := `[{"a":"Quadratically"},{"a":"héllo"},{"a":null}]`
	s := []arrow.DataType{str}
	l := func(v int64) func(arrow.Record) Expr { return lit(i64, v) }
	runCases(t, []evalCase{
		{name: "from 5", types: s, rows: rows, build: fn("substring", str, c(0), l(5)), wantTyp: str, want: `["ratically","o",null]`},
		{name: "from 5 for 6", types: s, rows: rows, build: fn("substring", str, c(0), l(5), l(6)), wantTyp: str, want: `["ratica","o",null]`},
		{name: "negative start", types: s, rows: rows, build: fn("substring", str, c(0), l(-3)), wantTyp: str, want: `["lly","llo",null]`},
		{name: "negative start with len", types: s, rows: rows, build: fn("substring", str, c(0), l(-5), l(3)), wantTyp: str, want: `["cal","hél",null]`},
		{name: "zero start", types: s, rows: rows, build: fn("substring", str, c(0), l(0)), wantTyp: str, want: `["","",null]`},
		{name: "start past end", types: s, rows: rows, build: fn("substring", str, c(0), l(50)), wantTyp: str, want: `["","",null]`},
		{name: "negative len", types: s, rows: rows, build: fn("substring", str, c(0), l(1), l(-1)), wantTyp: str, want: `["","",null]`},
		{name: "multibyte", types: s, rows: rows, build: fn("substring", str, c(0), l(2), l(2)), wantTyp: str, want: `["ua","él",null]`},
		{name: "too far negative", types: s, rows: rows, build: fn("substring", str, c(0), l(-50)), wantTyp: str, want: `["","",null]`},
	})
}

func TestMath(t *testing.T) {
	f := []arrow.DataType{f64, i64, dec(10, 3)}
	rows := `[{"a":2.5,"b":-7,"c":"2.345"},{"a":-2.5,"b":1250,"c":"-2.345"},{"a":null,"b":null,"c":null},{"a":-0.4,"b":-1251,"c":"0.500"}]`
	l := func(v int64) func(arrow.Record) Expr { return lit(i64, v) }
	runCases(t, []evalCase{
		{name: "abs float", types: f, rows: rows, build: fn("abs", f64, c(0)), wantTyp: f64, want: `[2.5,2.5,null,0.4]`},
		{name: "abs int", types: f, rows: rows, build: fn("abs", i64, c(1)), wantTyp: i64, want: `[7,1250,null,1251]`},
		{name: "abs decimal", types: f, rows: rows, build: fn("abs", dec(10, 3), c(2)), wantTyp: dec(10, 3), want: `["2.345","2.345",null,"0.500"]`},
		{name: "floor float", types: f, rows: rows, build: fn("floor", f64, c(0)), wantTyp: f64, want: `[2,-3,null,-1]`},
		{name: "ceil float→bigint", types: f, rows: rows, build: fn("ceil", i64, c(0)), wantTyp: i64, want: `[3,-2,null,0]`},
		{name: "floor decimal", types: f, rows: rows, build: fn("floor", dec(10, 0), c(2)), wantTyp: dec(10, 0), want: `["2","-3",null,"0"]`},
		{name: "ceil decimal", types: f, rows: rows, build: fn("ceil", i64, c(2)), wantTyp: i64, want: `[3,-2,null,1]`},
		{name: "round float", types: f, rows: rows, build: fn("round", f64, c(0)), wantTyp: f64, want: `[3,-3,null,-0]`},
		{name: "round float digits", types: f, rows: `[{"a":1.2345,"b":0,"c":"0"}]`, build: fn("round", f64, c(0), l(2)), wantTyp: f64, want: `[1.23]`},
		{name: "round int negative digits", types: f, rows: rows, build: fn("round", i64, c(1), l(-2)), wantTyp: i64, want: `[0,1300,null,-1300]`},
		{name: "round decimal", types: f, rows: rows, build: fn("round", dec(10, 1), c(2), l(1)), wantTyp: dec(10, 1), want: `["2.3","-2.3",null,"0.5"]`},
		{name: "round decimal keeps scale", types: f, rows: rows, build: fn("round", dec(10, 3), c(2), l(2)), wantTyp: dec(10, 3), want: `["2.350","-2.350",null,"0.500"]`},
		{name: "round decimal to int", types: f, rows: rows, build: fn("round", i64, c(2)), wantTyp: i64, want: `[2,-2,null,1]`},
		{name: "abs overflow", types: f, rows: rows, build: fn("abs", i64, sub("sub", i64, lit(i64, int64(-9223372036854775807)), lit(i64, int64(1)))), errIs: ErrOutOfRange},
	})
}
