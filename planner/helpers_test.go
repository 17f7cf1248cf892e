package planner

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

// testCatalog has three sources used across the tests.
func testCatalog(t testing.TB) *MemCatalog {
	t.Helper()
	cat := NewCatalog()
	add := func(name string, wm *WatermarkDef, fields ...arrow.Field) {
		for i := range fields {
			fields[i].Nullable = true
		}
		if err := cat.AddSource(&SourceDef{Name: name, Schema: arrow.NewSchema(fields, nil), Watermark: wm, Bounded: true}); err != nil {
			t.Fatal(err)
		}
	}
	add("orders", &WatermarkDef{Column: "ts"},
		arrow.Field{Name: "id", Type: TypeBigInt},
		arrow.Field{Name: "category", Type: TypeVarchar},
		arrow.Field{Name: "value", Type: TypeBigInt},
		arrow.Field{Name: "ts", Type: TypeTimestamp},
		arrow.Field{Name: "customer_id", Type: TypeBigInt})
	add("customers", nil,
		arrow.Field{Name: "id", Type: TypeBigInt},
		arrow.Field{Name: "name", Type: TypeVarchar},
		arrow.Field{Name: "region", Type: TypeVarchar})
	add("items", nil,
		arrow.Field{Name: "n", Type: TypeInt},
		arrow.Field{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}},
		arrow.Field{Name: "score", Type: TypeDouble},
		arrow.Field{Name: "flag", Type: TypeBoolean},
		arrow.Field{Name: "d", Type: TypeDate},
		arrow.Field{Name: "label", Type: TypeVarchar})
	return cat
}

// parseQuery parses one query with the sql package.
func parseQuery(t testing.TB, text string) *sql.Query {
	t.Helper()
	stmts, err := sql.Parse(text)
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	if len(stmts) != 1 {
		t.Fatalf("parse %q: %d statements", text, len(stmts))
	}
	q, ok := stmts[0].(*sql.Query)
	if !ok {
		t.Fatalf("parse %q: %T is not a query", text, stmts[0])
	}
	return q
}

// mustPlan plans text or fails the test.
func mustPlan(t *testing.T, cat Catalog, text string) *QueryPlan {
	t.Helper()
	qp, err := PlanQuery(parseQuery(t, text), cat)
	if err != nil {
		t.Fatalf("plan %q: %v", text, err)
	}
	return qp
}
