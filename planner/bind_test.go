package planner

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

func TestBindErrors(t *testing.T) {
	cat := testCatalog(t)
	tests := []struct {
		query     string
		line, col int
		msg       string
	}{
		{"SELECT valu FROM orders", 1, 8, `unknown column "valu" (did you mean "value"?)`},
		{"SELECT id\nFROM orders, customers", 1, 8, `ambiguous column "id"`},
		{"SELECT x FROM ordrs", 1, 15, `unknown source "ordrs" (did you mean "orders"?)`},
		{"SELECT x FROM nothing_like_it", 1, 15, `unknown source "nothing_like_it"`},
		{"SELECT category, value\nFROM orders GROUP BY category", 1, 18, `column "value" must appear in the GROUP BY clause or be used in an aggregate function`},
		{"SELECT 1 FROM orders\nWHERE SUM(value) > 1", 2, 7, `aggregate functions are not allowed in WHERE`},
		{"SELECT o.id FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY c.id", 1, 8, `column "id" must appear in the GROUP BY clause`},
		{"SELECT 'abc' + true", 1, 8, `cannot apply + to VARCHAR and BOOLEAN`},
		{"SELECT SUM(category) FROM orders", 1, 8, `SUM needs a number or an INTERVAL, got VARCHAR`},
		{"SELECT * FROM orders\n  WHERE ts > 'yesterday'", 2, 14, `cannot convert "yesterday" to TIMESTAMP`},
		{"SELECT o.nope FROM orders o", 1, 8, `unknown column "o.nope"`},
		{"SELECT z.id FROM orders o", 1, 8, `unknown table "z"`},
		{"SELECT category FROM orders ORDER BY 3", 1, 38, `ORDER BY position 3 is not in the select list`},
		{"SELECT DISTINCT category FROM orders ORDER BY value", 1, 47, `must appear in the select list when DISTINCT is used`},
		{"SELECT SUM(SUM(value)) FROM orders", 1, 12, `aggregate function calls cannot be nested`},
		{"SELECT nosuchfn(value) FROM orders", 1, 8, `unknown function "nosuchfn"`},
		{"SELECT category FROM orders WHERE category", 1, 35, `WHERE needs a BOOLEAN, got VARCHAR`},
		{"SELECT 1 FROM orders GROUP BY SUM(value)", 1, 31, `aggregate functions are not allowed in GROUP BY`},
		{"SELECT id FROM orders UNION SELECT id, name FROM customers", 0, 0, `UNION sides have 1 and 2 columns`},
		{"SELECT ts + 1 FROM orders", 1, 8, `cannot apply + to TIMESTAMP and BIGINT`},
		{"SELECT window_start FROM TUMBLE(orders, valu, INTERVAL '5' SECOND)", 1, 26, `unknown column "valu" (did you mean "value"?)`},
		{"SELECT window_start FROM TUMBLE(orders, category, INTERVAL '5' SECOND)", 1, 26, `must be a TIMESTAMP`},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			_, err := PlanQuery(parseQuery(t, tc.query), cat)
			var se *sql.Error
			if !errors.As(err, &se) {
				t.Fatalf("want *sql.Error, got %v", err)
			}
			if se.Kind != sql.BindError {
				t.Errorf("kind = %s, want bind", se.Kind)
			}
			if !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("msg = %q, want it to contain %q", se.Msg, tc.msg)
			}
			if tc.line != 0 && (se.Pos.Line != tc.line || se.Pos.Col != tc.col) {
				t.Errorf("pos = %d:%d, want %d:%d", se.Pos.Line, se.Pos.Col, tc.line, tc.col)
			}
		})
	}
}

func TestBindOutput(t *testing.T) {
	cat := testCatalog(t)
	tests := []struct {
		query string
		names []string
		types []arrow.DataType
	}{
		{"SELECT * FROM customers", []string{"id", "name", "region"}, []arrow.DataType{TypeBigInt, TypeVarchar, TypeVarchar}},
		{"SELECT c.*, o.value FROM orders o JOIN customers c ON o.customer_id = c.id", []string{"id", "name", "region", "value"},
			[]arrow.DataType{TypeBigInt, TypeVarchar, TypeVarchar, TypeBigInt}},
		{"SELECT category AS cat, COUNT(*) AS n, COUNT(DISTINCT id), AVG(value), MIN(ts), SUM(value) FROM orders GROUP BY cat",
			[]string{"cat", "n", "COUNT(DISTINCT id)", "AVG(value)", "MIN(ts)", "SUM(value)"},
			[]arrow.DataType{TypeVarchar, TypeBigInt, TypeBigInt, TypeDouble, TypeTimestamp, TypeBigInt}},
		{"SELECT SUM(price), SUM(score), SUM(n), MAX(price) FROM items", []string{"SUM(price)", "SUM(score)", "SUM(n)", "MAX(price)"},
			[]arrow.DataType{&arrow.Decimal128Type{Precision: 38, Scale: 2}, TypeDouble, TypeBigInt, &arrow.Decimal128Type{Precision: 10, Scale: 2}}},
		{"SELECT 1+1", []string{"1+1"}, []arrow.DataType{TypeBigInt}},
		{"SELECT category, value FROM orders ORDER BY ts", []string{"category", "value"}, []arrow.DataType{TypeVarchar, TypeBigInt}},
		{"SELECT s.total FROM (SELECT category, SUM(value) AS total FROM orders GROUP BY 1) AS s WHERE s.total > 3",
			[]string{"total"}, []arrow.DataType{TypeBigInt}},
		{"SELECT window_start, window_end, category, SUM(value) FROM HOP(orders, ts, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) GROUP BY window_start, window_end, category",
			[]string{"window_start", "window_end", "category", "SUM(value)"}, []arrow.DataType{TypeTimestamp, TypeTimestamp, TypeVarchar, TypeBigInt}},
		{"SELECT id FROM orders UNION ALL SELECT n FROM items", []string{"id"}, []arrow.DataType{TypeBigInt}},
		{"SELECT name, value FROM customers LEFT JOIN orders USING (id)", []string{"name", "value"}, []arrow.DataType{TypeVarchar, TypeBigInt}},
		{"SELECT id FROM customers NATURAL JOIN orders", []string{"id"}, []arrow.DataType{TypeBigInt}},
		{"SELECT category FROM orders GROUP BY category HAVING SUM(value) > 10", []string{"category"}, []arrow.DataType{TypeVarchar}},
		{"SELECT c.*, o.category AS k, COUNT(*) AS n FROM customers c, orders o GROUP BY c.id, c.name, c.region, k HAVING n > 1 ORDER BY n * 2",
			[]string{"id", "name", "region", "k", "n"}, []arrow.DataType{TypeBigInt, TypeVarchar, TypeVarchar, TypeVarchar, TypeBigInt}},
		{"SELECT COUNT(*) FROM orders HAVING COUNT(*) > 0", []string{"COUNT(*)"}, []arrow.DataType{TypeBigInt}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			qp := mustPlan(t, cat, tc.query)
			if got := qp.Output.Names(); strings.Join(got, "|") != strings.Join(tc.names, "|") {
				t.Errorf("names = %q, want %q", got, tc.names)
			}
			for i, f := range qp.Output.Fields {
				if i < len(tc.types) && !arrow.TypeEqual(f.Type, tc.types[i]) {
					t.Errorf("column %d type = %s, want %s", i, f.Type, tc.types[i])
				}
			}
			// The physical output must agree with the user-visible schema.
			ps := qp.Physical.Schema()
			if ps.Len() != qp.Output.Len() {
				t.Fatalf("physical has %d columns, output %d", ps.Len(), qp.Output.Len())
			}
			for i := range ps.Fields {
				if !arrow.TypeEqual(ps.Fields[i].Type, qp.Output.Fields[i].Type) {
					t.Errorf("physical column %d type %s, output %s", i, ps.Fields[i].Type, qp.Output.Fields[i].Type)
				}
			}
		})
	}
}

func TestEventTimeSurvives(t *testing.T) {
	cat := testCatalog(t)
	qp := mustPlan(t, cat, "SELECT window_start, window_end, category, COUNT(*) FROM TUMBLE(orders, ts, INTERVAL '5' SECOND) GROUP BY window_start, window_end, category")
	s := qp.Logical.Schema()
	if s.WindowStart != 0 || s.WindowEnd != 1 {
		t.Errorf("window columns = %d,%d; want 0,1", s.WindowStart, s.WindowEnd)
	}
	qp = mustPlan(t, cat, "SELECT value, ts FROM orders")
	if got := qp.Physical.Schema().EventTime; got != 1 {
		t.Errorf("event time column = %d, want 1", got)
	}
}
