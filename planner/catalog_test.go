package planner

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

func TestCatalog(t *testing.T) {
	cat := NewCatalog()
	sch := arrow.NewSchema([]arrow.Field{{Name: "a", Type: TypeBigInt}}, nil)
	for _, n := range []string{"zeta", "Alpha", "mid"} {
		if err := cat.AddSource(&SourceDef{Name: n, Schema: sch}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cat.AddSource(&SourceDef{Name: "ALPHA", Schema: sch}); err == nil || err.Error() != `source "ALPHA" already exists` {
		t.Errorf("duplicate add: %v", err)
	}
	if s, ok := cat.LookupSource("alpha"); !ok || s.Name != "Alpha" {
		t.Errorf("lookup alpha = %v, %v", s, ok)
	}
	var names []string
	for _, s := range cat.Sources() {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "Alpha,mid,zeta" {
		t.Errorf("sources = %v", names)
	}
	if err := cat.DropSource("MID"); err != nil {
		t.Error(err)
	}
	if err := cat.DropSource("mid"); err == nil || err.Error() != `unknown source "mid"` {
		t.Errorf("second drop: %v", err)
	}
	if err := cat.AddSink(&SinkDef{Name: "out"}); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddSink(&SinkDef{Name: "OUT"}); err == nil {
		t.Error("duplicate sink accepted")
	}
	if _, ok := cat.LookupSink("Out"); !ok {
		t.Error("sink not found")
	}
	if err := cat.DropSink("nope"); err == nil || err.Error() != `unknown sink "nope"` {
		t.Errorf("drop unknown sink: %v", err)
	}
	var zero MemCatalog // the zero value is usable too
	if _, ok := zero.LookupSource("x"); ok {
		t.Error("zero catalog has sources")
	}
}

func parseStmt(t *testing.T, text string) sql.Statement {
	t.Helper()
	stmts, err := sql.Parse(text)
	if err != nil || len(stmts) != 1 {
		t.Fatalf("parse %q: %v", text, err)
	}
	return stmts[0]
}

func TestSourceSchema(t *testing.T) {
	tests := []struct {
		ddl  string
		want *arrow.Schema
	}{
		{"CREATE SOURCE s (a BIGINT, b DECIMAL(10,2), c VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'file')",
			arrow.NewSchema([]arrow.Field{
				{Name: "a", Type: TypeBigInt, Nullable: true},
				{Name: "b", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
				{Name: "c", Type: TypeVarchar, Nullable: true},
				{Name: "ts", Type: TypeTimestamp, Nullable: true},
			}, nil)},
		{"CREATE SOURCE s WITH (connector = 'file')", nil},
	}
	for _, tc := range tests {
		t.Run(tc.ddl, func(t *testing.T) {
			cs := parseStmt(t, tc.ddl).(*sql.CreateSource)
			got, err := SourceSchema(cs)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && !got.Equal(tc.want)) {
				t.Errorf("schema = %v, want %v", got, tc.want)
			}
		})
	}
	// Errors the sql package does not catch itself (it validates names;
	// types and watermark types are the planner's).
	p := sql.Pos{Line: 2, Col: 5, Offset: 20}
	bad := []struct {
		cs  *sql.CreateSource
		msg string
	}{
		{&sql.CreateSource{Columns: []sql.ColumnDef{{Name: "a", Type: "BIGINT"}, {Name: "A", Type: "INT", Pos: p}}}, `duplicate column "A"`},
		{&sql.CreateSource{Columns: []sql.ColumnDef{{Name: "a", Type: "BLOB", Pos: p}}}, `unknown type "BLOB"`},
		{&sql.CreateSource{Columns: []sql.ColumnDef{{Name: "ts", Type: "VARCHAR"}}, Watermark: &sql.Watermark{Column: "ts", Pos: p}}, `must be a TIMESTAMP`},
		{&sql.CreateSource{Columns: []sql.ColumnDef{{Name: "t", Type: "TIMESTAMP"}}, Watermark: &sql.Watermark{Column: "ts", Pos: p}}, `unknown column "ts" in WATERMARK (did you mean "t"?)`},
	}
	for _, tc := range bad {
		t.Run(tc.msg, func(t *testing.T) {
			_, err := SourceSchema(tc.cs)
			var se *sql.Error
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
			if se.Pos != p {
				t.Errorf("pos = %+v, want %+v", se.Pos, p)
			}
		})
	}
}

func TestPlanInsert(t *testing.T) {
	cat := testCatalog(t)
	sinkSchema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: TypeVarchar}, {Name: "total", Type: TypeDouble}}, nil)
	if err := cat.AddSink(&SinkDef{Name: "out", Schema: sinkSchema}); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddSink(&SinkDef{Name: "fresh"}); err != nil {
		t.Fatal(err)
	}
	ins := func(text string) (*QueryPlan, error) {
		st := parseStmt(t, text).(*sql.Insert)
		return PlanInsert(st.Sink, st.Query, cat)
	}
	qp, err := ins("INSERT INTO out SELECT category, SUM(value) FROM orders GROUP BY category")
	if err != nil {
		t.Fatal(err)
	}
	if !qp.Output.Arrow().Equal(arrow.NewSchema([]arrow.Field{{Name: "k", Type: TypeVarchar, Nullable: true}, {Name: "total", Type: TypeDouble, Nullable: true}}, nil)) {
		t.Errorf("output = %v", qp.Output.Arrow())
	}
	if _, err := ins("INSERT INTO fresh SELECT category FROM orders"); err != nil {
		t.Errorf("sink without schema: %v", err)
	}
	for text, msg := range map[string]string{
		"INSERT INTO out SELECT category FROM orders":        `sink "out" has 2 columns but the query produces 1`,
		"INSERT INTO out SELECT value, category FROM orders": `sink "out" column "k" is VARCHAR but the query gives BIGINT`,
		"INSERT INTO ot SELECT category, value FROM orders":  `unknown sink "ot" (did you mean "out"?)`,
	} {
		_, err := ins(text)
		var se *sql.Error
		if !errors.As(err, &se) || !strings.Contains(se.Msg, msg) {
			t.Errorf("%s: err = %v, want %q", text, err, msg)
		}
	}
}

// TestDependencies keeps the planner free of the executor and connectors.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/sluicesql/sluice/exec") || strings.HasPrefix(dep, "github.com/sluicesql/sluice/connectors") {
			t.Errorf("planner depends on %s", dep)
		}
	}
}
