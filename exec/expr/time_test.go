package expr

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

func us(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func TestTimeFunctions(t *testing.T) {
	rows := fmt.Sprintf(`[{"a":%d,"b":%d},{"a":%d,"b":%d},{"a":null,"b":null},{"a":%d,"b":%d}]`,
		us("2026-03-15 13:45:30.5"), 20527, us("1969-12-31 23:59:59.75"), -1, us("2024-02-29 00:00:00"), 19782)
	tb := []arrow.DataType{tsus, d32}
	mdn := func(m, d int32, ns int64) func(arrow.Record) Expr {
		return lit(ivl, arrow.MonthDayNanoInterval{Months: m, Days: d, Nanoseconds: ns})
	}
	unit := func(u string) func(arrow.Record) Expr { return lit(str, u) }
	runCases(t, []evalCase{
		{name: "year", types: tb, rows: rows, build: fn("year", i64, c(0)), wantTyp: i64, want: `[2026,1969,null,2024]`},
		{name: "month", types: tb, rows: rows, build: fn("month", i64, c(0)), wantTyp: i64, want: `[3,12,null,2]`},
		{name: "day", types: tb, rows: rows, build: fn("day", i64, c(0)), wantTyp: i64, want: `[15,31,null,29]`},
		{name: "hour", types: tb, rows: rows, build: fn("hour", i64, c(0)), wantTyp: i64, want: `[13,23,null,0]`},
		{name: "minute", types: tb, rows: rows, build: fn("minute", i64, c(0)), wantTyp: i64, want: `[45,59,null,0]`},
		{name: "second", types: tb, rows: rows, build: fn("second", i64, c(0)), wantTyp: i64, want: `[30,59,null,0]`},
		{name: "year of date", types: tb, rows: rows, build: fn("year", i64, c(1)), wantTyp: i64, want: `[2026,1969,null,2024]`},
		{name: "day of date", types: tb, rows: rows, build: fn("day", i64, c(1)), wantTyp: i64, want: `[15,31,null,29]`},
		{name: "date", types: tb, rows: rows, build: fn("date", d32, c(0)), wantTyp: d32,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 00:00:00")/86400e6, -1, us("2024-02-29 00:00:00")/86400e6)},
		{name: "unix_timestamp floors", types: tb, rows: rows, build: fn("unix_timestamp", i64, c(0)), wantTyp: i64,
			want: fmt.Sprintf(`[%d,-1,null,%d]`, us("2026-03-15 13:45:30")/1e6, us("2024-02-29 00:00:00")/1e6)},
		{name: "from_unixtime", types: []arrow.DataType{i64}, rows: `[{"a":1767225605},{"a":null}]`, build: fn("from_unixtime", tsus, c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,null]`, us("2026-01-01 00:00:05"))},
		{name: "trunc second", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("second"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 13:45:30"), us("1969-12-31 23:59:59"), us("2024-02-29 00:00:00"))},
		{name: "trunc minute", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("minute"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 13:45:00"), us("1969-12-31 23:59:00"), us("2024-02-29 00:00:00"))},
		{name: "trunc hour", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("hour"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 13:00:00"), us("1969-12-31 23:00:00"), us("2024-02-29 00:00:00"))},
		{name: "trunc day", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("day"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 00:00:00"), us("1969-12-31 00:00:00"), us("2024-02-29 00:00:00"))},
		{name: "trunc month", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("MONTH"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-01 00:00:00"), us("1969-12-01 00:00:00"), us("2024-02-01 00:00:00"))},
		{name: "trunc year", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("year"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-01-01 00:00:00"), us("1969-01-01 00:00:00"), us("2024-01-01 00:00:00"))},
		{name: "trunc week (Monday)", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("week"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-09 00:00:00"), us("1969-12-29 00:00:00"), us("2024-02-26 00:00:00"))},
		{name: "trunc quarter", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("quarter"), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-01-01 00:00:00"), us("1969-10-01 00:00:00"), us("2024-01-01 00:00:00"))},
		{name: "trunc bad unit", types: tb, rows: rows, build: fn("date_trunc", tsus, unit("fortnight"), c(0)), errText: `unknown unit "fortnight"`},
		{name: "date_add seconds", types: tb, rows: rows, build: fn("date_add", tsus, c(0), mdn(0, 0, 5e9)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 13:45:35.5"), us("1970-01-01 00:00:04.75"), us("2024-02-29 00:00:05"))},
		{name: "date_sub month clamps", types: tb, rows: rows, build: fn("date_sub", tsus, c(0), mdn(1, 0, 0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-02-15 13:45:30.5"), us("1969-11-30 23:59:59.75"), us("2024-01-29 00:00:00"))},
		{name: "date_add year to leap day", types: tb, rows: rows, build: fn("date_add", tsus, c(0), mdn(12, 1, 0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2027-03-16 13:45:30.5"), us("1971-01-01 23:59:59.75"), us("2025-03-01 00:00:00"))},
		{name: "date + interval days on DATE", types: tb, rows: rows, build: fn("add", d32, c(1), mdn(0, 2, 0)), wantTyp: d32, want: `[20529,1,null,19784]`},
		{name: "ts - interval", types: tb, rows: rows, build: fn("sub", tsus, c(0), mdn(0, 0, 500_000_000)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-15 13:45:30"), us("1969-12-31 23:59:59.25"), us("2024-02-28 23:59:59.5"))},
		{name: "interval + ts", types: tb, rows: rows, build: fn("add", tsus, mdn(0, 1, 0), c(0)), wantTyp: tsus,
			want: fmt.Sprintf(`[%d,%d,null,%d]`, us("2026-03-16 13:45:30.5"), us("1970-01-01 23:59:59.75"), us("2024-03-01 00:00:00"))},
		{name: "year needs temporal", types: []arrow.DataType{i64}, rows: `[]`, build: fn("year", i64, c(0)), errIs: ErrUnsupportedType},
	})
}

// TestCivilRoundTrip checks the calendar code against the time package over
// random instants spanning several centuries.
func TestCivilRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		u := r.Int63n(2*8e15) - 8e15 // ±250 years in µs
		tm := time.UnixMicro(u).UTC()
		y, m, d := civilFromDays(floorDiv(u, microsPerDay))
		if y != int64(tm.Year()) || m != int(tm.Month()) || d != tm.Day() {
			t.Fatalf("%d: got %d-%d-%d want %v", u, y, m, d, tm)
		}
		if got := formatTimestamp(u); got != strings.TrimSuffix(strings.TrimRight(tm.Format("2006-01-02 15:04:05.000000"), "0"), ".") {
			t.Fatalf("format %d: %s vs %v", u, got, tm)
		}
		back, ok := parseTimestamp(formatTimestamp(u))
		if !ok || back != u {
			t.Fatalf("parse(format(%d)) = %d %v", u, back, ok)
		}
	}
}

func TestConditionals(t *testing.T) {
	rows := `[{"a":1,"b":10,"c":"x"},{"a":2,"b":null,"c":"y"},{"a":null,"b":30,"c":null},{"a":4,"b":4,"c":"z"}]`
	tt := []arrow.DataType{i64, i64, str}
	l := func(v any) func(arrow.Record) Expr { return lit(i64, v) }
	runCases(t, []evalCase{
		{name: "case when else", types: tt, rows: rows,
			build:   fn("case", str, sub("eq", boo, c(0), l(int64(1))), lit(str, "one"), sub("gt", boo, c(0), l(int64(1))), c(2), lit(str, "other")),
			wantTyp: str, want: `["one","y","other","z"]`},
		{name: "case no else is NULL", types: tt, rows: rows,
			build: fn("case", i64, sub("gt", boo, c(1), l(int64(5))), c(0)), wantTyp: i64, want: `[1,null,null,null]`},
		{name: "case first true wins", types: tt, rows: rows,
			build: fn("case", i64, sub("gt", boo, c(0), l(int64(0))), l(int64(1)), sub("gt", boo, c(0), l(int64(1))), l(int64(2))), wantTyp: i64, want: `[1,1,null,1]`},
		{name: "coalesce", types: tt, rows: rows, build: fn("coalesce", i64, c(1), c(0), l(int64(-1))), wantTyp: i64, want: `[10,2,30,4]`},
		{name: "coalesce all null", types: tt, rows: rows, build: fn("coalesce", str, c(2), lit(str, nil)), wantTyp: str, want: `["x","y",null,"z"]`},
		{name: "if", types: tt, rows: rows, build: fn("if", i64, sub("gt", boo, c(1), c(0)), c(1), c(0)), wantTyp: i64, want: `[10,2,null,4]`},
		{name: "if bool", types: tt, rows: rows, build: fn("if", boo, sub("is_null", boo, c(1)), lit(boo, true), lit(boo, nil)), wantTyp: boo, want: `[null,true,null,null]`},
		{name: "nullif", types: tt, rows: rows, build: fn("nullif", i64, c(0), c(1)), wantTyp: i64, want: `[1,2,null,null]`},
		{name: "nullif string", types: tt, rows: rows, build: fn("nullif", str, c(2), lit(str, "y")), wantTyp: str, want: `["x",null,null,"z"]`},
		{name: "case decimal", types: []arrow.DataType{dec(5, 2)}, rows: `[{"a":"1.50"},{"a":null}]`,
			build: fn("case", dec(5, 2), sub("is_null", boo, c(0)), lit(dec(5, 2), 0), c(0)), wantTyp: dec(5, 2), want: `["1.50","0.00"]`},
		{name: "case needs bool when", types: tt, rows: rows, build: fn("case", i64, c(0), c(1)), errText: "want BOOLEAN"},
	})
}

func TestLiteralAndColumn(t *testing.T) {
	mem := newMem(t)
	rec := record(t, mem, []arrow.DataType{i64}, `[{"a":1},{"a":2},{"a":3}]`)
	defer rec.Release()
	cases := []struct {
		e    Expr
		typ  arrow.DataType
		want string
		str  string
	}{
		{Literal(i64, int64(7)), i64, `[7,7,7]`, "7"},
		{Literal(i32, int32(7)), i32, `[7,7,7]`, "7"},
		{Literal(f64, 1.5), f64, `[1.5,1.5,1.5]`, "1.5"},
		{Literal(str, "it's"), str, `["it's","it's","it's"]`, "'it''s'"},
		{Literal(boo, true), boo, `[true,true,true]`, "TRUE"},
		{Literal(boo, nil), boo, `[null,null,null]`, "NULL"},
		{Literal(dec(5, 2), 3), dec(5, 2), `["3.00","3.00","3.00"]`, "3.00"},
		{Literal(tsus, arrow.Timestamp(5_000_000)), tsus, `[5000000,5000000,5000000]`, "TIMESTAMP '1970-01-01 00:00:05'"},
		{Literal(d32, arrow.Date32(1)), d32, `[1,1,1]`, "DATE '1970-01-02'"},
		{Column(0, i64, "a"), i64, `[1,2,3]`, "a"},
	}
	for _, tc := range cases {
		got, err := tc.e.Eval(context.Background(), mem, rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.e, err)
		}
		want, _, _ := array.FromJSON(mem, tc.typ, strings.NewReader(tc.want))
		if !array.Equal(got, want) {
			t.Errorf("%s: got %v want %v", tc.e, got, want)
		}
		if tc.e.String() != tc.str {
			t.Errorf("String() = %q want %q", tc.e.String(), tc.str)
		}
		got.Release()
		want.Release()
	}
	if _, err := Literal(i64, "x").Eval(context.Background(), mem, rec); err == nil {
		t.Error("mismatched literal should fail")
	}
	if _, err := Column(3, i64, "z").Eval(context.Background(), mem, rec); err == nil {
		t.Error("bad column index should fail")
	}
	if _, err := Column(0, str, "a").Eval(context.Background(), mem, rec); err == nil {
		t.Error("column type drift should fail")
	}
}
