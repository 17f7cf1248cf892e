package expr

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestCompare(t *testing.T) {
	type tc struct {
		typ  arrow.DataType
		rows string
		// expected for eq, ne, lt, le, gt, ge
		want [6]string
	}
	ops := []string{"eq", "ne", "lt", "le", "gt", "ge"}
	cases := map[string]tc{
		"int64": {i64, `[{"a":1,"b":2},{"a":2,"b":2},{"a":3,"b":2},{"a":null,"b":2},{"a":1,"b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"int32": {i32, `[{"a":1,"b":2},{"a":2,"b":2},{"a":3,"b":2},{"a":null,"b":2},{"a":1,"b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"float": {f64, `[{"a":1.5,"b":2},{"a":2,"b":2},{"a":3,"b":-2},{"a":null,"b":2},{"a":1,"b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"string bytewise": {str, `[{"a":"B","b":"a"},{"a":"x","b":"x"},{"a":"xy","b":"x"},{"a":null,"b":"x"},{"a":"x","b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"bool": {boo, `[{"a":false,"b":true},{"a":true,"b":true},{"a":true,"b":false},{"a":null,"b":true},{"a":true,"b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"timestamp": {tsus, `[{"a":1,"b":2},{"a":2,"b":2},{"a":3,"b":2},{"a":null,"b":2},{"a":1,"b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"date": {d32, `[{"a":1,"b":2},{"a":2,"b":2},{"a":3,"b":2},{"a":null,"b":2},{"a":1,"b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
		"decimal": {dec(5, 2), `[{"a":"1.00","b":"2.00"},{"a":"2.00","b":"2.00"},{"a":"3.00","b":"-2.00"},{"a":null,"b":"2"},{"a":"1","b":null}]`,
			[6]string{`[false,true,false,null,null]`, `[true,false,true,null,null]`, `[true,false,false,null,null]`, `[true,true,false,null,null]`, `[false,false,true,null,null]`, `[false,true,true,null,null]`}},
	}
	var all []evalCase
	for name, k := range cases {
		for i, op := range ops {
			all = append(all, evalCase{name: name + "/" + op, types: []arrow.DataType{k.typ, k.typ}, rows: k.rows,
				build: fn(op, boo, c(0), c(1)), wantTyp: boo, want: k.want[i]})
		}
	}
	// Scalar on either side, and more than 8 rows to cover the packed loop.
	many := `[{"a":1},{"a":5},{"a":10},{"a":11},{"a":null},{"a":20},{"a":-3},{"a":10},{"a":12},{"a":9}]`
	all = append(all,
		evalCase{name: "col > const", types: []arrow.DataType{i64}, rows: many, build: fn("gt", boo, c(0), lit(i64, int64(10))), wantTyp: boo,
			want: `[false,false,false,true,null,true,false,false,true,false]`},
		evalCase{name: "const > col", types: []arrow.DataType{i64}, rows: many, build: fn("gt", boo, lit(i64, int64(10)), c(0)), wantTyp: boo,
			want: `[true,true,false,false,null,false,true,false,false,true]`},
		evalCase{name: "col <= const", types: []arrow.DataType{i64}, rows: many, build: fn("le", boo, c(0), lit(i64, int64(10))), wantTyp: boo,
			want: `[true,true,true,false,null,false,true,true,false,true]`},
		evalCase{name: "col = NULL", types: []arrow.DataType{i64}, rows: many, build: fn("eq", boo, c(0), lit(i64, nil)), wantTyp: boo,
			want: `[null,null,null,null,null,null,null,null,null,null]`},
		evalCase{name: "string const", types: []arrow.DataType{str}, rows: `[{"a":"a"},{"a":"b"},{"a":null}]`, build: fn("ge", boo, c(0), lit(str, "b")), wantTyp: boo,
			want: `[false,true,null]`},
		evalCase{name: "type mismatch", types: []arrow.DataType{i64, str}, rows: `[]`, build: fn("eq", boo, c(0), c(1)), errIs: ErrUnsupportedType},
	)
	runCases(t, all)
}

func TestLogic(t *testing.T) {
	// All nine combinations of TRUE, FALSE, NULL, plus padding past 8 rows.
	rows := `[{"a":true,"b":true},{"a":true,"b":false},{"a":true,"b":null},
	{"a":false,"b":true},{"a":false,"b":false},{"a":false,"b":null},
	{"a":null,"b":true},{"a":null,"b":false},{"a":null,"b":null},{"a":true,"b":true}]`
	bb := []arrow.DataType{boo, boo}
	runCases(t, []evalCase{
		{name: "and", types: bb, rows: rows, build: fn("and", boo, c(0), c(1)), wantTyp: boo,
			want: `[true,false,null, false,false,false, null,false,null, true]`},
		{name: "or", types: bb, rows: rows, build: fn("or", boo, c(0), c(1)), wantTyp: boo,
			want: `[true,true,true, true,false,null, true,null,null, true]`},
		{name: "not", types: bb, rows: rows, build: fn("not", boo, c(0)), wantTyp: boo,
			want: `[false,false,false, true,true,true, null,null,null, false]`},
		{name: "and literal", types: bb, rows: rows, build: fn("and", boo, c(1), lit(boo, nil)), wantTyp: boo,
			want: `[null,false,null, null,false,null, null,false,null, null]`},
		{name: "or literal true", types: bb, rows: rows, build: fn("or", boo, lit(boo, true), c(1)), wantTyp: boo,
			want: `[true,true,true, true,true,true, true,true,true, true]`},
		{name: "is_null", types: bb, rows: rows, build: fn("is_null", boo, c(1)), wantTyp: boo,
			want: `[false,false,true, false,false,true, false,false,true, false]`},
		{name: "is_not_null", types: bb, rows: rows, build: fn("is_not_null", boo, c(0)), wantTyp: boo,
			want: `[true,true,true, true,true,true, false,false,false, true]`},
		{name: "is_null no nulls", types: []arrow.DataType{i64}, rows: `[{"a":1}]`, build: fn("is_null", boo, c(0)), wantTyp: boo, want: `[false]`},
		{name: "and needs bool", types: []arrow.DataType{i64, boo}, rows: `[]`, build: fn("and", boo, c(0), c(1)), errIs: ErrUnsupportedType},
	})
}

func TestIn(t *testing.T) {
	rows := `[{"a":1,"b":1},{"a":2,"b":null},{"a":null,"b":3},{"a":4,"b":4}]`
	ii := []arrow.DataType{i64, i64}
	l := func(v any) func(arrow.Record) Expr { return lit(i64, v) }
	runCases(t, []evalCase{
		{name: "const set", types: ii, rows: rows, build: fn("in", boo, c(0), l(int64(1)), l(int64(4))), wantTyp: boo, want: `[true,false,null,true]`},
		{name: "const set with NULL", types: ii, rows: rows, build: fn("in", boo, c(0), l(int64(1)), l(nil)), wantTyp: boo, want: `[true,null,null,null]`},
		{name: "column list", types: ii, rows: rows, build: fn("in", boo, c(0), c(1), l(int64(2))), wantTyp: boo, want: `[true,true,null,true]`},
		{name: "column list no match with NULL", types: ii, rows: rows, build: fn("in", boo, c(0), c(1), l(int64(9))), wantTyp: boo, want: `[true,null,null,true]`},
		{name: "strings", types: []arrow.DataType{str}, rows: `[{"a":"x"},{"a":"y"},{"a":null}]`, build: fn("in", boo, c(0), lit(str, "x"), lit(str, "z")), wantTyp: boo, want: `[true,false,null]`},
		{name: "float", types: []arrow.DataType{f64}, rows: `[{"a":1.5},{"a":2}]`, build: fn("in", boo, c(0), lit(f64, 1.5)), wantTyp: boo, want: `[true,false]`},
		{name: "decimal", types: []arrow.DataType{dec(5, 1)}, rows: `[{"a":"1.5"},{"a":"15"}]`, build: fn("in", boo, c(0), lit(dec(5, 1), 15)), wantTyp: boo, want: `[false,true]`},
		{name: "bool via fold", types: []arrow.DataType{boo}, rows: `[{"a":true},{"a":false},{"a":null}]`, build: fn("in", boo, c(0), lit(boo, true)), wantTyp: boo, want: `[true,false,null]`},
		{name: "type mismatch", types: []arrow.DataType{i64}, rows: `[]`, build: fn("in", boo, c(0), lit(str, "x")), errIs: ErrUnsupportedType},
	})
}

func TestLike(t *testing.T) {
	rows := `[{"a":"apple"},{"a":"banana"},{"a":"grape_fruit"},{"a":"100%"},{"a":""},{"a":null},{"a":"héllo"}]`
	s := []arrow.DataType{str}
	like := func(p string) func(arrow.Record) (Expr, error) { return fn("like", boo, c(0), lit(str, p)) }
	runCases(t, []evalCase{
		{name: "exact", types: s, rows: rows, build: like("apple"), wantTyp: boo, want: `[true,false,false,false,false,null,false]`},
		{name: "prefix", types: s, rows: rows, build: like("ba%"), wantTyp: boo, want: `[false,true,false,false,false,null,false]`},
		{name: "suffix", types: s, rows: rows, build: like("%e"), wantTyp: boo, want: `[true,false,false,false,false,null,false]`},
		{name: "contains", types: s, rows: rows, build: like("%an%"), wantTyp: boo, want: `[false,true,false,false,false,null,false]`},
		{name: "all", types: s, rows: rows, build: like("%"), wantTyp: boo, want: `[true,true,true,true,true,null,true]`},
		{name: "underscore", types: s, rows: rows, build: like("_pple"), wantTyp: boo, want: `[true,false,false,false,false,null,false]`},
		{name: "underscore is a character", types: s, rows: rows, build: like("h_llo"), wantTyp: boo, want: `[false,false,false,false,false,null,true]`},
		{name: "escaped underscore", types: s, rows: rows, build: like(`%\_%`), wantTyp: boo, want: `[false,false,true,false,false,null,false]`},
		{name: "escaped percent", types: s, rows: rows, build: like(`100\%`), wantTyp: boo, want: `[false,false,false,true,false,null,false]`},
		{name: "general", types: s, rows: rows, build: like("%a%a%a"), wantTyp: boo, want: `[false,true,false,false,false,null,false]`},
		{name: "general backtrack", types: s, rows: rows, build: like("b%na"), wantTyp: boo, want: `[false,true,false,false,false,null,false]`},
		{name: "empty pattern", types: s, rows: rows, build: like(""), wantTyp: boo, want: `[false,false,false,false,true,null,false]`},
		{name: "case sensitive", types: s, rows: rows, build: like("APPLE"), wantTyp: boo, want: `[false,false,false,false,false,null,false]`},
		{name: "null pattern", types: s, rows: rows, build: fn("like", boo, c(0), lit(str, nil)), wantTyp: boo, want: `[null,null,null,null,null,null,null]`},
		{name: "column pattern", types: []arrow.DataType{str, str}, rows: `[{"a":"abc","b":"a%"},{"a":"abc","b":"b%"},{"a":"abc","b":null},{"a":"xbx","b":"_b_"}]`,
			build: fn("like", boo, c(0), c(1)), wantTyp: boo, want: `[true,false,null,true]`},
	})
}
