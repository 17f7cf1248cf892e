package expr

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// Edge cases of the MySQL-style string, regex, JSON, time and math
// kernels (the golden files run them over files; these pin the corners).
func TestScalarFunctionKernels(t *testing.T) {
	ts := tsus
	s3 := []arrow.DataType{str, str, i64}
	rows := `[{"a":"héllo wörld","b":"ö","c":2},{"a":"a.b.c","b":".","c":-2},{"a":null,"b":"x","c":1},{"a":"abc","b":"","c":0}]`
	tsRows := `[{"a":"2024-01-31 10:00:00","b":"2024-02-29 09:59:59"},{"a":"2024-03-31 00:00:00","b":"2023-01-01 00:00:00"},{"a":"1969-12-31 23:59:59.5","b":null}]`
	runCases(t, []evalCase{
		{name: "lpad truncates and counts characters", types: s3, rows: rows, build: fn("lpad", str, c(0), lit(i64, int64(3)), c(1)), wantTyp: str, want: `["hél","a.b",null,"abc"]`},
		{name: "rpad pads with a cycled pad", types: s3, rows: rows, build: fn("rpad", str, c(1), lit(i64, int64(4)), lit(str, "xy")), wantTyp: str, want: `["öxyx",".xyx","xxyx","xyxy"]`},
		{name: "lpad empty pad needed is NULL", types: s3, rows: rows, build: fn("lpad", str, c(0), lit(i64, int64(20)), lit(str, "")), wantTyp: str, want: `[null,null,null,null]`},
		{name: "locate counts characters", types: s3, rows: rows, build: fn("locate", i64, c(1), c(0)), wantTyp: i64, want: `[8,2,null,1]`},
		{name: "locate from a position", types: s3, rows: rows, build: fn("locate", i64, c(1), c(0), lit(i64, int64(3))), wantTyp: i64, want: `[8,4,null,3]`},
		{name: "substring_index both ways", types: s3, rows: rows, build: fn("substring_index", str, c(0), c(1), c(2)), wantTyp: str, want: `["héllo wörld","b.c",null,""]`},
		{name: "split_part from the end", types: s3, rows: rows, build: fn("split_part", str, c(0), lit(str, "."), lit(i64, int64(-1))), wantTyp: str, want: `["héllo wörld","c",null,"abc"]`},
		{name: "repeat", types: s3, rows: rows, build: fn("repeat", str, c(1), c(2)), wantTyp: str, want: `["öö","","x",""]`},
		{name: "repeat too long fails", types: s3, rows: rows, build: fn("repeat", str, c(0), lit(i64, int64(1<<40))), errIs: ErrInvalidArgument},
		{name: "regexp_substr occurrence", types: s3, rows: rows, build: fn("regexp_substr", str, c(0), lit(str, "[a-c]"), lit(i64, int64(1)), lit(i64, int64(2))), wantTyp: str, want: `[null,"b",null,"b"]`},
		{name: "regexp_replace groups as $1 and \\1", types: s3, rows: rows, build: fn("regexp_replace", str, c(0), lit(str, "([a-c])\\.([a-c])"), lit(str, `\2$1`)), wantTyp: str, want: `["héllo wörld","ba.c",null,"abc"]`},
		{name: "regexp pattern from a column, bad one fails", types: s3, rows: `[{"a":"x","b":"(","c":1}]`, build: fn("regexp_like", boo, c(0), c(1)), errIs: ErrInvalidArgument},
		{name: "json_extract keeps quotes", types: []arrow.DataType{str}, rows: `[{"a":"{\"k\": \"v\", \"n\": [1, {\"z\": null}]}"},{"a":"[]"},{"a":null}]`, build: fn("json_extract", str, c(0), lit(str, "$.n[1]")), wantTyp: str, want: `["{\"z\": null}",null,null]`},
		{name: "json_value unquotes", types: []arrow.DataType{str}, rows: `[{"a":"{\"k\": \"v\\u00e9\"}"}]`, build: fn("json_value", str, c(0), lit(str, "$.k")), wantTyp: str, want: `["vé"]`},
		{name: "json bad text fails", types: []arrow.DataType{str}, rows: `[{"a":"{\"k\": }"}]`, build: fn("json_length", i64, c(0)), errIs: ErrInvalidArgument},
		{name: "timestampdiff month is whole months", types: []arrow.DataType{ts, ts}, rows: tsRows, build: fn("timestampdiff", i64, lit(str, "month"), c(0), c(1)), wantTyp: i64, want: `[0,-14,null]`},
		{name: "timestampdiff second truncates toward zero", types: []arrow.DataType{ts, ts}, rows: tsRows, build: fn("timestampdiff", i64, lit(str, "day"), c(0), c(1)), wantTyp: i64, want: `[28,-455,null]`},
		{name: "extract before 1970", types: []arrow.DataType{ts, ts}, rows: tsRows, build: fn("extract", i64, lit(str, "second"), c(0)), wantTyp: i64, want: `[0,0,59]`},
		{name: "extract week mode 0", types: []arrow.DataType{ts, ts}, rows: tsRows, build: fn("extract", i64, lit(str, "week"), c(0)), wantTyp: i64, want: `[4,13,52]`},
		{name: "date_format", types: []arrow.DataType{ts, ts}, rows: tsRows, build: fn("date_format", str, c(0), lit(str, "%D %b %Y %h:%i %p %f %x")), wantTyp: str, want: `["31st Jan 2024 10:00 AM 000000 2024","31st Mar 2024 12:00 AM 000000 2024","31st Dec 1969 11:59 PM 500000 1970"]`},
		{name: "greatest is NULL with a NULL", types: []arrow.DataType{f64, f64}, rows: `[{"a":1,"b":2},{"a":3,"b":null}]`, build: fn("greatest", f64, c(0), c(1)), wantTyp: f64, want: `[2,null]`},
		{name: "sqrt and ln outside the domain are NULL", types: []arrow.DataType{f64}, rows: `[{"a":-1},{"a":0},{"a":4}]`, build: fn("ln", f64, c(0)), wantTyp: f64, want: `[null,null,1.3862943611198906]`},
	})
}
