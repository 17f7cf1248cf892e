package sql

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// parseOne parses src and requires exactly one statement.
func parseOne(t *testing.T, src string) Statement {
	t.Helper()
	sts, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	if len(sts) != 1 {
		t.Fatalf("Parse(%q): got %d statements, want 1", src, len(sts))
	}
	return sts[0]
}

func TestCreateSource(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want *CreateSource
	}{
		{
			name: "full",
			src: `CREATE SOURCE orders (
  category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH (connector = 'kafka', topic = 'orders', 'scan.startup.mode' = 'earliest')`,
			want: &CreateSource{
				Name: "orders",
				Columns: []ColumnDef{
					{Name: "category", Type: "VARCHAR", Pos: Pos{2, 3, 25}},
					{Name: "value", Type: "BIGINT", Pos: Pos{2, 21, 43}},
					{Name: "ts", Type: "TIMESTAMP", Pos: Pos{2, 35, 57}},
				},
				Watermark: &Watermark{Column: "ts", Delay: 5 * time.Second, Pos: Pos{3, 3, 73}},
				Options: Options{
					{Key: "connector", Value: "kafka", Pos: Pos{4, 9, 126}},
					{Key: "topic", Value: "orders", Pos: Pos{4, 30, 147}},
					{Key: "scan.startup.mode", Value: "earliest", Pos: Pos{4, 48, 165}},
				},
			},
		},
		{
			name: "inferred schema, bare dotted keys, numbers and words",
			src:  "CREATE SOURCE IF NOT EXISTS s WITH (CONNECTOR = file, scan.startup.mode = earliest, `Max.Rows` = 10, rate = -1.5, 'a' = \"b\")",
			want: &CreateSource{
				Name: "s", IfNotExists: true,
				Options: Options{
					{Key: "connector", Value: "file", Pos: Pos{1, 37, 36}},
					{Key: "scan.startup.mode", Value: "earliest", Pos: Pos{1, 55, 54}},
					{Key: "max.rows", Value: "10", Pos: Pos{1, 85, 84}},
					{Key: "rate", Value: "-1.5", Pos: Pos{1, 102, 101}},
					{Key: "a", Value: "b", Pos: Pos{1, 115, 114}},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseOne(t, tt.src).(*CreateSource)
			if !ok {
				t.Fatalf("not a *CreateSource")
			}
			tt.want.stmt = stmt{pos: Pos{1, 1, 0}, text: tt.src}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestColumnTypes(t *testing.T) {
	tests := []struct{ typ, want string }{
		{"BIGINT", "BIGINT"}, {"bigint(20)", "BIGINT"}, {"INT", "INT"}, {"INTEGER", "INT"},
		{"SMALLINT", "INT"}, {"TINYINT", "INT"}, {"DOUBLE", "DOUBLE"}, {"DOUBLE PRECISION", "DOUBLE"},
		{"FLOAT", "DOUBLE"}, {"REAL", "DOUBLE"}, {"DECIMAL", "DECIMAL(10,0)"},
		{"DECIMAL(12)", "DECIMAL(12,0)"}, {"decimal(12, 3)", "DECIMAL(12,3)"}, {"NUMERIC(5,2)", "DECIMAL(5,2)"},
		{"VARCHAR", "VARCHAR"}, {"VARCHAR(255)", "VARCHAR"}, {"CHAR(3)", "VARCHAR"}, {"TEXT", "VARCHAR"},
		{"STRING", "VARCHAR"}, {"BOOLEAN", "BOOLEAN"}, {"BOOL", "BOOLEAN"}, {"TIMESTAMP", "TIMESTAMP"},
		{"TIMESTAMP(3)", "TIMESTAMP"}, {"DATETIME", "TIMESTAMP"}, {"DATE", "DATE"},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			st := parseOne(t, "CREATE SOURCE s (c "+tt.typ+") WITH (connector='x')").(*CreateSource)
			if len(st.Columns) != 1 || st.Columns[0].Type != tt.want {
				t.Errorf("got %+v, want type %s", st.Columns, tt.want)
			}
		})
	}
}

func TestWatermarkDelays(t *testing.T) {
	tests := []struct {
		expr string
		want time.Duration
	}{
		{"ts", 0},
		{"ts - INTERVAL '5' SECOND", 5 * time.Second},
		{"ts - INTERVAL 5 SECOND", 5 * time.Second},
		{"ts - INTERVAL '500' MILLISECOND", 500 * time.Millisecond},
		{"ts - INTERVAL '2' MINUTE", 2 * time.Minute},
		{"ts - interval '3' hour", 3 * time.Hour},
		{"ts - INTERVAL '1' DAY", 24 * time.Hour},
		{"ts - INTERVAL '10' SECONDS", 10 * time.Second},
		{"ts - INTERVAL '1.5' SECOND", 1500 * time.Millisecond},
		{"ts - INTERVAL '7 MINUTES'", 7 * time.Minute},
		{"TS - INTERVAL 0 SECOND", 0},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			src := "CREATE SOURCE s (ts TIMESTAMP, WATERMARK FOR ts AS " + tt.expr + ") WITH (connector='x')"
			st := parseOne(t, src).(*CreateSource)
			if st.Watermark == nil || st.Watermark.Delay != tt.want || st.Watermark.Column != "ts" {
				t.Errorf("watermark %+v, want column ts delay %v", st.Watermark, tt.want)
			}
		})
	}
}

func TestOtherStatements(t *testing.T) {
	tests := []struct {
		src  string
		want Statement
	}{
		{"DROP SOURCE orders", &Drop{Kind: "SOURCE", Name: "orders"}},
		{"drop sink if exists `my sink`", &Drop{Kind: "SINK", Name: "my sink", IfExists: true}},
		{"SHOW SOURCES", &Show{Kind: "SOURCES"}},
		{"show sinks", &Show{Kind: "SINKS"}},
		{"SHOW OPTIONS", &Show{Kind: "OPTIONS"}},
		{"SHOW OPTIONS FOR 'Kafka'", &Show{Kind: "OPTIONS", Connector: "kafka", ConnectorPos: Pos{1, 18, 17}}},
		{"show options for file", &Show{Kind: "OPTIONS", Connector: "file", ConnectorPos: Pos{1, 18, 17}}},
		{"DESCRIBE orders", &Describe{Name: "orders", NamePos: Pos{1, 10, 9}}},
		{"DESC orders", &Describe{Name: "orders", NamePos: Pos{1, 6, 5}}},
		{"SET parallelism = 4", &Set{Name: "parallelism", Value: "4"}},
		{"SET 'late.policy' = 'error'", &Set{Name: "late.policy", Value: "error"}},
		{"SET Batch.Size = large", &Set{Name: "batch.size", Value: "large"}},
		{"CREATE SINK out WITH (connector = 'stdout')", &CreateSink{Name: "out", Options: Options{{Key: "connector", Value: "stdout", Pos: Pos{1, 23, 22}}}}},
		{"CREATE SINK IF NOT EXISTS out WITH ()", &CreateSink{Name: "out", IfNotExists: true}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got := parseOne(t, tt.src)
			setStmt(tt.want, stmt{pos: Pos{1, 1, 0}, text: tt.src})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// setStmt fills the embedded stmt of an expected statement.
func setStmt(s Statement, base stmt) {
	switch v := s.(type) {
	case *Drop:
		v.stmt = base
	case *Show:
		v.stmt = base
	case *Describe:
		v.stmt = base
	case *Set:
		v.stmt = base
	case *CreateSink:
		v.stmt = base
	}
}

func TestStatementsWithQueries(t *testing.T) {
	src := "CREATE SINK totals WITH (connector = 'file', path = 'out/') AS SELECT a FROM t EMIT FINAL;\n" +
		"INSERT INTO totals SELECT a FROM t;\n" +
		"EXPLAIN SELECT a FROM t;\n" +
		"EXPLAIN ANALYZE SELECT a FROM t EMIT CHANGES;"
	sts, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 4 {
		t.Fatalf("got %d statements", len(sts))
	}
	cs := sts[0].(*CreateSink)
	if cs.Name != "totals" || len(cs.Options) != 2 || cs.Query == nil || cs.Query.Emit == nil || cs.Query.Emit.Kind != EmitFinal {
		t.Errorf("create sink: %+v", cs)
	}
	if got, want := cs.Query.SQL(), "SELECT a FROM t EMIT FINAL"; got != want {
		t.Errorf("sink query SQL %q, want %q", got, want)
	}
	if got, want := cs.Query.Position(), (Pos{1, 64, 63}); got != want {
		t.Errorf("sink query pos %+v, want %+v", got, want)
	}
	ins := sts[1].(*Insert)
	if ins.Sink != "totals" || ins.Query == nil || ins.Query.Emit != nil {
		t.Errorf("insert: %+v", ins)
	}
	if got, want := ins.Position(), (Pos{2, 1, 91}); got != want {
		t.Errorf("insert pos %+v, want %+v", got, want)
	}
	if got, want := ins.SQL(), "INSERT INTO totals SELECT a FROM t"; got != want {
		t.Errorf("insert SQL %q, want %q", got, want)
	}
	ex := sts[2].(*Explain)
	if ex.Analyze || ex.Query == nil {
		t.Errorf("explain: %+v", ex)
	}
	exa := sts[3].(*Explain)
	if !exa.Analyze || exa.Query.Emit == nil || exa.Query.Emit.Kind != EmitChanges {
		t.Errorf("explain analyze: %+v", exa)
	}
}

func TestScriptSplitting(t *testing.T) {
	src := `-- leading comment; with a semicolon
SELECT 'a;b' AS x, "c;d" AS y; # hash comment ;
/* block ; comment
   over lines */ SELECT ` + "`we;ird`" + ` FROM t;;
SELECT 'it''s' -- trailing; comment
`
	sts, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		text string
		pos  Pos
	}{
		{`SELECT 'a;b' AS x, "c;d" AS y`, Pos{2, 1, 37}},
		{"SELECT `we;ird` FROM t", Pos{4, 18, 121}},
		{"SELECT 'it''s'", Pos{5, 1, 146}},
	}
	if len(sts) != len(want) {
		t.Fatalf("got %d statements, want %d", len(sts), len(want))
	}
	for i, w := range want {
		if sts[i].SQL() != w.text || sts[i].Position() != w.pos {
			t.Errorf("statement %d: %q at %+v, want %q at %+v", i, sts[i].SQL(), sts[i].Position(), w.text, w.pos)
		}
	}
}

func TestEmptyScript(t *testing.T) {
	for _, src := range []string{"", "  ", ";;", "-- only a comment", "/* c */ ; # x"} {
		sts, err := Parse(src)
		if err != nil || len(sts) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want nothing", src, sts, err)
		}
	}
}

func TestErrorIsSQLError(t *testing.T) {
	_, err := Parse("SELEC 1")
	var e *Error
	if !errors.As(err, &e) || e.Kind != ParseError {
		t.Fatalf("error %v is not a ParseError", err)
	}
}

// TestShiftDecimal: the interval rewrite moves the decimal point exactly.
func TestShiftDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
		ok   bool
	}{
		{"20", 3, "0.020", true}, {"1500", 3, "1.500", true}, {"1500.5", 3, "1.5005", true},
		{"-7", 3, "-0.007", true}, {".5", 3, "0.0005", true}, {"1e3", 3, "", false}, {"", 3, "", false},
	} {
		got, ok := shiftDecimal(tc.in, tc.n)
		if got != tc.want || ok != tc.ok {
			t.Errorf("shiftDecimal(%q, %d) = %q, %v; want %q, %v", tc.in, tc.n, got, ok, tc.want, tc.ok)
		}
	}
}

// TestFlinkConnectorNames: a Flink CREATE TABLE's connector names that
// sluice has under its own name are read as those.
func TestFlinkConnectorNames(t *testing.T) {
	for flink, want := range map[string]string{"filesystem": "file", "print": "stdout", "kafka": "kafka"} {
		src := "CREATE TABLE t (a INT) WITH ('connector' = '" + flink + "')"
		got, ok := parseOne(t, src).(*CreateSource)
		if !ok || !got.Table || len(got.Options) != 1 || got.Options[0].Value != want {
			t.Errorf("%s: parsed %+v, want a connector table of connector %q", src, got, want)
		}
	}
}
