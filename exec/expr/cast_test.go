package expr

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestCast(t *testing.T) {
	cast := func(to arrow.DataType) func(arrow.Record) (Expr, error) { return fn("cast", to, c(0)) }
	one := func(typ arrow.DataType) []arrow.DataType { return []arrow.DataType{typ} }
	runCases(t, []evalCase{
		{name: "int32→int64", types: one(i32), rows: `[{"a":1},{"a":null},{"a":-5}]`, build: cast(i64), wantTyp: i64, want: `[1,null,-5]`},
		{name: "int64→int32 range", types: one(i64), rows: `[{"a":3000000000}]`, build: cast(i32), errIs: ErrOutOfRange},
		{name: "double→bigint rounds half away", types: one(f64), rows: `[{"a":2.5},{"a":-2.5},{"a":1.4},{"a":null}]`, build: cast(i64), wantTyp: i64, want: `[3,-3,1,null]`},
		{name: "double→bigint range", types: one(f64), rows: `[{"a":1e30}]`, build: cast(i64), errIs: ErrOutOfRange},
		{name: "bool→int", types: one(boo), rows: `[{"a":true},{"a":false},{"a":null}]`, build: cast(i64), wantTyp: i64, want: `[1,0,null]`},
		{name: "int→bool", types: one(i64), rows: `[{"a":2},{"a":0},{"a":null}]`, build: cast(boo), wantTyp: boo, want: `[true,false,null]`},
		{name: "int→double", types: one(i64), rows: `[{"a":2},{"a":null}]`, build: cast(f64), wantTyp: f64, want: `[2,null]`},
		{name: "int→decimal", types: one(i64), rows: `[{"a":2},{"a":-7}]`, build: cast(dec(10, 2)), wantTyp: dec(10, 2), want: `["2.00","-7.00"]`},
		{name: "int→decimal overflow", types: one(i64), rows: `[{"a":1000}]`, build: cast(dec(4, 2)), errIs: ErrOutOfRange},
		{name: "int→decimal nulls and edges", types: one(i64), rows: `[{"a":null},{"a":99},{"a":-99},{"a":0}]`, build: cast(dec(4, 2)), wantTyp: dec(4, 2), want: `[null,"99.00","-99.00","0.00"]`},
		{name: "int→decimal overflow after a NULL", types: one(i64), rows: `[{"a":null},{"a":-100}]`, build: cast(dec(4, 2)), errIs: ErrOutOfRange, errText: "DECIMAL(4,2)"},
		{name: "int→decimal(38) extremes", types: one(i64), rows: `[{"a":-9007199254740991},{"a":9007199254740991}]`, build: cast(dec(38, 10)), wantTyp: dec(38, 10), want: `["-9007199254740991.0000000000","9007199254740991.0000000000"]`},
		{name: "decimal→int rounds", types: one(dec(10, 2)), rows: `[{"a":"2.50"},{"a":"-2.50"},{"a":"2.49"}]`, build: cast(i64), wantTyp: i64, want: `[3,-3,2]`},
		{name: "decimal→double", types: one(dec(10, 2)), rows: `[{"a":"2.25"}]`, build: cast(f64), wantTyp: f64, want: `[2.25]`},
		{name: "decimal rescale", types: one(dec(10, 3)), rows: `[{"a":"2.125"},{"a":"-2.125"}]`, build: cast(dec(10, 2)), wantTyp: dec(10, 2), want: `["2.13","-2.13"]`},
		{name: "double→decimal", types: one(f64), rows: `[{"a":2.25}]`, build: cast(dec(10, 2)), wantTyp: dec(10, 2), want: `["2.25"]`},
		{name: "string→bigint", types: one(str), rows: `[{"a":" 42 "},{"a":"-7"},{"a":null},{"a":"2.5"}]`, build: cast(i64), wantTyp: i64, want: `[42,-7,null,3]`},
		{name: "string→bigint error", types: one(str), rows: `[{"a":"abc"}]`, build: cast(i64), errIs: ErrInvalidCast, errText: `cannot cast "abc" to BIGINT`},
		{name: "string→double", types: one(str), rows: `[{"a":"1.5e2"}]`, build: cast(f64), wantTyp: f64, want: `[150]`},
		{name: "string→double error", types: one(str), rows: `[{"a":"x1"}]`, build: cast(f64), errText: `cannot cast "x1" to DOUBLE`},
		{name: "string→decimal", types: one(str), rows: `[{"a":"12.345"}]`, build: cast(dec(10, 2)), wantTyp: dec(10, 2), want: `["12.35"]`},
		{name: "string→decimal error", types: one(str), rows: `[{"a":"zz"}]`, build: cast(dec(10, 2)), errText: `cannot cast "zz" to DECIMAL(10,2)`},
		{name: "string→bool", types: one(str), rows: `[{"a":"true"},{"a":"0"},{"a":"FALSE"}]`, build: cast(boo), wantTyp: boo, want: `[true,false,false]`},
		{name: "string→bool error", types: one(str), rows: `[{"a":"maybe"}]`, build: cast(boo), errIs: ErrInvalidCast},
		{name: "string→timestamp", types: one(str), rows: `[{"a":"2026-01-01 00:00:05"},{"a":"2026-01-01T00:00:05.25"},{"a":"1970-01-01"},{"a":"1969-12-31 23:59:59.000001"}]`,
			build: cast(tsus), wantTyp: tsus, want: `[1767225605000000, 1767225605250000, 0, -999999]`},
		{name: "string→timestamp error", types: one(str), rows: `[{"a":"2026-13-01 00:00:00"}]`, build: cast(tsus), errText: `cannot cast "2026-13-01 00:00:00" to TIMESTAMP`},
		{name: "string→date", types: one(str), rows: `[{"a":"2026-01-02"},{"a":"1969-12-31"}]`, build: cast(d32), wantTyp: d32, want: `[20455, -1]`},
		{name: "timestamp→string", types: one(tsus), rows: `[{"a":1767225605000000},{"a":1767225605250000},{"a":-1},{"a":null}]`, build: cast(str), wantTyp: str,
			want: `["2026-01-01 00:00:05","2026-01-01 00:00:05.25","1969-12-31 23:59:59.999999",null]`},
		{name: "date→string", types: one(d32), rows: `[{"a":20455}]`, build: cast(str), wantTyp: str, want: `["2026-01-02"]`},
		{name: "numbers→string", types: []arrow.DataType{i64, f64, dec(6, 2), boo}, rows: `[{"a":-3,"b":0.1,"c":"1.50","d":true}]`,
			build: fn("concat", str, sub("cast", str, c(0)), sub("cast", str, c(1)), sub("cast", str, c(2)), sub("cast", str, c(3))), wantTyp: str, want: `["-30.11.501"]`},
		{name: "timestamp→date floors", types: one(tsus), rows: `[{"a":-1},{"a":86400000000}]`, build: cast(d32), wantTyp: d32, want: `[-1, 1]`},
		{name: "date→timestamp", types: one(d32), rows: `[{"a":1}]`, build: cast(tsus), wantTyp: tsus, want: `[86400000000]`},
		{name: "timestamp→bigint is YYYYMMDDhhmmss", types: one(tsus), rows: `[{"a":1767225605000000}]`, build: cast(i64), wantTyp: i64, want: `[20260101000005]`},
		{name: "bigint→timestamp", types: one(i64), rows: `[{"a":20260101000005},{"a":20260101}]`, build: cast(tsus), wantTyp: tsus, want: `[1767225605000000, 1767225600000000]`},
		{name: "unsupported", types: one(ivl), rows: `[]`, build: cast(i64), errIs: ErrUnsupportedType},
	})
}
