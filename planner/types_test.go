package planner

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

func TestParseType(t *testing.T) {
	tests := []struct {
		in   string
		want arrow.DataType
		err  bool
	}{
		{"BIGINT", TypeBigInt, false},
		{"int", TypeInt, false},
		{"DOUBLE", TypeDouble, false},
		{"DECIMAL(10,2)", &arrow.Decimal128Type{Precision: 10, Scale: 2}, false},
		{"decimal( 5 , 0 )", &arrow.Decimal128Type{Precision: 5, Scale: 0}, false},
		{"DECIMAL", &arrow.Decimal128Type{Precision: 10, Scale: 0}, false},
		{"VARCHAR", TypeVarchar, false},
		{"BOOLEAN", TypeBoolean, false},
		{"TIMESTAMP", &arrow.TimestampType{Unit: arrow.Microsecond}, false},
		{"DATE", arrow.FixedWidthTypes.Date32, false},
		{"DECIMAL(40,2)", nil, true},
		{"DECIMAL(4,5)", nil, true},
		{"DECIMAL(x)", nil, true},
		{"BLOB", nil, true},
	}
	for _, tc := range tests {
		got, err := ParseType(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseType(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && !arrow.TypeEqual(got, tc.want) {
			t.Errorf("ParseType(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestCoercion binds expressions over items(n INT, price DECIMAL(10,2),
// score DOUBLE, flag BOOLEAN, d DATE, label VARCHAR) and orders(value
// BIGINT, ts TIMESTAMP) and checks the casts inserted and result types.
func TestCoercion(t *testing.T) {
	cat := testCatalog(t)
	dec := func(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }
	tests := []struct {
		from, expr string
		want       string
		typ        arrow.DataType
	}{
		{"items", "n + n", "CAST(n AS BIGINT) + CAST(n AS BIGINT)", TypeBigInt},
		{"orders", "value + 1", "value + 1", TypeBigInt},
		{"items", "n * score", "CAST(n AS DOUBLE) * score", TypeDouble},
		{"items", "n + price", "CAST(n AS DECIMAL(12,2)) + CAST(price AS DECIMAL(12,2))", dec(13, 2)},
		{"items", "price * 2", "price * 2.00", dec(20, 4)},
		{"items", "price + score", "CAST(price AS DOUBLE) + score", TypeDouble},
		{"items", "n / 2", "CAST(n AS DOUBLE) / 2", TypeDouble},
		{"items", "price / 2", "CAST(price AS DOUBLE) / 2", TypeDouble},
		{"items", "n DIV 2", "CAST(n AS BIGINT) DIV 2", TypeBigInt},
		{"items", "n % 3", "n % 3", TypeInt},
		{"items", "label = 1", "CAST(label AS DOUBLE) = 1", TypeBoolean},
		{"items", "n < 2.5", "CAST(n AS DECIMAL(11,1)) < 2.5", TypeBoolean},
		{"orders", "ts >= '2024-01-02 03:04:05'", "ts >= TIMESTAMP '2024-01-02 03:04:05'", TypeBoolean},
		{"items", "d = '2024-01-02'", "d = DATE '2024-01-02'", TypeBoolean},
		{"orders", "ts + INTERVAL '5' SECOND", "ts + INTERVAL '5' SECOND", TypeTimestamp},
		{"orders", "ts - INTERVAL 1 DAY", "ts - INTERVAL '1' DAY", TypeTimestamp},
		{"items", "d + INTERVAL 1 DAY", "d + INTERVAL '1' DAY", arrow.FixedWidthTypes.Date32},
		{"items", "flag = true", "flag = true", TypeBoolean},
		{"items", "n BETWEEN 1 AND 3", "n >= 1 AND n <= 3", TypeBoolean},
		{"items", "n IN (1, 2.5)", "CAST(n AS DECIMAL(11,1)) IN (1.0, 2.5)", TypeBoolean},
		{"items", "label NOT LIKE 'a%'", "NOT label LIKE 'a%'", TypeBoolean},
		{"items", "CASE WHEN flag THEN n ELSE score END", "CASE WHEN flag THEN CAST(n AS DOUBLE) ELSE score END", TypeDouble},
		{"items", "CASE n WHEN 1 THEN 'a' END", "CASE WHEN n = 1 THEN 'a' END", TypeVarchar},
		{"items", "COALESCE(n, 0)", "coalesce(n, 0)", TypeInt},
		{"items", "IFNULL(label, 'x')", "coalesce(label, 'x')", TypeVarchar},
		{"items", "CAST(label AS SIGNED)", "CAST(label AS BIGINT)", TypeBigInt},
		{"items", "CAST(n AS DECIMAL(8,3))", "CAST(n AS DECIMAL(8,3))", dec(8, 3)},
		{"orders", "date_trunc('HOUR', ts)", "date_trunc('hour', ts)", TypeTimestamp},
		{"orders", "year(ts)", "year(ts)", TypeBigInt},
		{"items", "-n", "-n", TypeInt},
		{"items", "substring(label, 1, 2)", "substring(label, 1, 2)", TypeVarchar},
		{"items", "concat(label, n)", "concat(label, CAST(n AS VARCHAR))", TypeVarchar},
		{"items", "round(score, 1)", "round(score, 1)", TypeDouble},
		{"items", "n + 1", "CAST(n AS BIGINT) + 1", TypeBigInt},
		{"items", "price = 3", "price = 3.00", TypeBoolean},
		{"items", "n IS NOT NULL", "n IS NOT NULL", TypeBoolean},
		{"items", "NOT flag OR n > 1", "NOT flag OR n > 1", TypeBoolean},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			p, err := Bind(parseQuery(t, "SELECT "+tc.expr+" FROM "+tc.from), cat)
			if err != nil {
				t.Fatal(err)
			}
			proj, ok := p.(*Project)
			if !ok {
				t.Fatalf("root is %T", p)
			}
			e := proj.Exprs[0]
			if e.String() != tc.want {
				t.Errorf("bound = %s, want %s", e, tc.want)
			}
			if !arrow.TypeEqual(e.Type(), tc.typ) {
				t.Errorf("type = %s, want %s", e.Type(), tc.typ)
			}
			// Comparison and arithmetic arguments always share one type.
			walkExpr(e, func(x Expr) {
				c, ok := x.(*Call)
				if !ok || len(c.Args) != 2 {
					return
				}
				switch c.Func {
				case "eq", "ne", "lt", "le", "gt", "ge", "add", "sub", "mul", "div", "intdiv", "mod":
					if !arrow.TypeEqual(c.Args[0].Type(), c.Args[1].Type()) {
						t.Errorf("%s mixes %s and %s", c, c.Args[0].Type(), c.Args[1].Type())
					}
				}
			})
		})
	}
}
