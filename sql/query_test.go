package sql

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

func parseQuery(t *testing.T, src string) *Query {
	t.Helper()
	q, ok := parseOne(t, src).(*Query)
	if !ok {
		t.Fatalf("Parse(%q) is not a *Query", src)
	}
	return q
}

func TestEmit(t *testing.T) {
	tests := []struct {
		clause string
		want   *Emit // Pos filled in from the clause's offset
	}{
		{"", nil},
		{"EMIT EVERY 5s", &Emit{Kind: EmitEvery, Interval: 5 * time.Second}},
		{"EMIT EVERY 500ms", &Emit{Kind: EmitEvery, Interval: 500 * time.Millisecond}},
		{"EMIT EVERY 2m", &Emit{Kind: EmitEvery, Interval: 2 * time.Minute}},
		{"emit every 1h full", &Emit{Kind: EmitEvery, Interval: time.Hour, Full: true}},
		{"EMIT EVERY 1d", &Emit{Kind: EmitEvery, Interval: 24 * time.Hour}},
		{"EMIT EVERY INTERVAL '5' SECOND", &Emit{Kind: EmitEvery, Interval: 5 * time.Second}},
		{"EMIT EVERY INTERVAL 3 MINUTE FULL", &Emit{Kind: EmitEvery, Interval: 3 * time.Minute, Full: true}},
		{"EMIT EVERY INTERVAL '250' MILLISECOND", &Emit{Kind: EmitEvery, Interval: 250 * time.Millisecond}},
		{"EMIT EVERY 10 SECONDS", &Emit{Kind: EmitEvery, Interval: 10 * time.Second}},
		{"EMIT CHANGES", &Emit{Kind: EmitChanges}},
		{"EMIT FINAL", &Emit{Kind: EmitFinal}},
	}
	for _, tt := range tests {
		t.Run(tt.clause, func(t *testing.T) {
			src := "SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY a LIMIT 3 " + tt.clause
			q := parseQuery(t, src)
			if tt.want != nil {
				off := strings.Index(src, tt.clause)
				tt.want.Pos = Pos{1, off + 1, off}
			}
			if !reflect.DeepEqual(q.Emit, tt.want) {
				t.Errorf("Emit = %+v, want %+v", q.Emit, tt.want)
			}
			if q.SQL() != strings.TrimSpace(src) {
				t.Errorf("SQL() = %q", q.SQL())
			}
			sel, ok := q.Select.(*ast.SelectStmt)
			if !ok || sel.Limit == nil || sel.GroupBy == nil {
				t.Errorf("TiDB AST lost clauses: %#v", q.Select)
			}
		})
	}
}

func TestEmitAsAliasIsNotAClause(t *testing.T) {
	q := parseQuery(t, "SELECT emit FROM t AS emit WHERE emit > 1")
	if q.Emit != nil {
		t.Errorf("Emit = %+v, want nil", q.Emit)
	}
}

func TestUnionAndWith(t *testing.T) {
	q := parseQuery(t, "SELECT a FROM t UNION ALL SELECT a FROM u EMIT CHANGES")
	if _, ok := q.Select.(*ast.SetOprStmt); !ok || q.Emit == nil {
		t.Errorf("union: %T emit %+v", q.Select, q.Emit)
	}
	q = parseQuery(t, "WITH x AS (SELECT a FROM t) SELECT a FROM x")
	if sel, ok := q.Select.(*ast.SelectStmt); !ok || sel.With == nil {
		t.Errorf("with: %T", q.Select)
	}
	q = parseQuery(t, "(SELECT a FROM t) UNION (SELECT b FROM u)")
	if _, ok := q.Select.(*ast.SetOprStmt); !ok {
		t.Errorf("parenthesised union: %T", q.Select)
	}
}

// tableNames collects the table names TiDB sees in a query, in order.
type tableNames struct{ names []string }

func (v *tableNames) Enter(n ast.Node) (ast.Node, bool) {
	if tn, ok := n.(*ast.TableName); ok {
		v.names = append(v.names, tn.Name.O)
	}
	return n, false
}

func (v *tableNames) Leave(n ast.Node) (ast.Node, bool) { return n, true }

func TestWindowTVFs(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		tables []string // as TiDB sees them
		want   map[string]*WindowTVF
		call   string // text of the first window call, for its Pos
	}{
		{
			name:   "tumble with alias",
			src:    "SELECT window_start, SUM(v) FROM TUMBLE(orders, ts, INTERVAL '5' SECOND) AS w GROUP BY window_start EMIT FINAL",
			tables: []string{"__w0"},
			want:   map[string]*WindowTVF{"__w0": {Kind: Tumble, Table: "orders", TimeColumn: "ts", Size: 5 * time.Second}},
			call:   "TUMBLE(",
		},
		{
			name:   "hop flink form, join after",
			src:    "SELECT * FROM TABLE(HOP(TABLE orders, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL 5 SECOND)) w JOIN dim d ON w.k = d.k",
			tables: []string{"__w0", "dim"},
			want:   map[string]*WindowTVF{"__w0": {Kind: Hop, Table: "orders", TimeColumn: "ts", Slide: time.Second, Size: 5 * time.Second}},
			call:   "TABLE(HOP",
		},
		{
			name:   "session after a comma join, lower case",
			src:    "select * from dim d, session(clicks, `event time`, interval '30' second) s where d.k = s.k",
			tables: []string{"dim", "__w0"},
			want:   map[string]*WindowTVF{"__w0": {Kind: Session, Table: "clicks", TimeColumn: "event time", Gap: 30 * time.Second}},
			call:   "session(",
		},
		{
			name:   "two windows joined, in a subquery, other spellings",
			src:    "SELECT * FROM (SELECT * FROM TUMBLE(a, ts, INTERVAL '500' MILLISECOND)) x JOIN HOP(b, ts, 2m, INTERVAL '1' HOUR) y ON x.k = y.k",
			tables: []string{"__w0", "__w1"},
			want: map[string]*WindowTVF{
				"__w0": {Kind: Tumble, Table: "a", TimeColumn: "ts", Size: 500 * time.Millisecond},
				"__w1": {Kind: Hop, Table: "b", TimeColumn: "ts", Slide: 2 * time.Minute, Size: time.Hour},
			},
			call: "TUMBLE(",
		},
		{
			name:   "function named hop in the select list is left alone",
			src:    "SELECT hop(1), tumble FROM t, TUMBLE(u, ts, INTERVAL 1 DAY)",
			tables: []string{"t", "__w0"},
			want:   map[string]*WindowTVF{"__w0": {Kind: Tumble, Table: "u", TimeColumn: "ts", Size: 24 * time.Hour}},
			call:   "TUMBLE(u",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := parseQuery(t, tt.src)
			for name, w := range tt.want {
				if name == "__w0" {
					off := strings.Index(tt.src, tt.call)
					w.Pos = Pos{1, off + 1, off}
				} else {
					w.Pos = q.Windows[name].Pos // checked by the __w0 case
				}
			}
			if !reflect.DeepEqual(q.Windows, tt.want) {
				t.Errorf("Windows:")
				for k, v := range q.Windows {
					t.Errorf("  got  %s: %+v", k, v)
				}
				for k, v := range tt.want {
					t.Errorf("  want %s: %+v", k, v)
				}
			}
			var v tableNames
			q.Select.Accept(&v)
			if !reflect.DeepEqual(v.names, tt.tables) {
				t.Errorf("TiDB tables %v, want %v", v.names, tt.tables)
			}
		})
	}
}

// TestOffsetsIntoQueryText checks that TiDB's node offsets are offsets
// into the query's own text and that PosOf turns them into positions in
// the whole script, past comments, other statements and multi-byte text.
func TestOffsetsIntoQueryText(t *testing.T) {
	script := "CREATE SOURCE t (valu BIGINT) WITH (connector = 'x');\n" +
		"SELECT 1; -- a comment\n" +
		"SELECT window_start,\n     /* pad */ valu + 1 FROM TUMBLE(t, ts, INTERVAL '5' SECOND) WHERE valu > 0 EMIT FINAL;"
	sts, err := Parse(script)
	if err != nil {
		t.Fatal(err)
	}
	q := sts[2].(*Query)
	sel := q.Select.(*ast.SelectStmt)
	bin := sel.Fields.Fields[1].Expr.(*ast.BinaryOperationExpr)
	col := bin.L.(*ast.ColumnNameExpr)
	if got, want := q.PosOf(col.OriginTextPosition()), (Pos{4, 16, 113}); got != want {
		t.Errorf("select-list column at %+v, want %+v", got, want)
	}
	if got, want := q.SQL()[col.OriginTextPosition():][:4], "valu"; got != want {
		t.Errorf("offset %d of the query text reads %q, want %q", col.OriginTextPosition(), got, want)
	}
	if got, want := PosAt(script, q.Position().Offset+col.OriginTextPosition()), (Pos{4, 16, 113}); got != want {
		t.Errorf("PosAt: %+v, want %+v", got, want)
	}
	where := sel.Where.(*ast.BinaryOperationExpr).L.(*ast.ColumnNameExpr)
	wantOff := strings.LastIndex(script, "valu > 0")
	if got := where.OriginTextPosition() + q.Position().Offset; got != wantOff {
		t.Errorf("WHERE column offset %d, want %d", got, wantOff)
	}
	if got := q.PosOf(where.OriginTextPosition()); got.Line != 4 || got.Col != wantOff-strings.LastIndex(script, "\n") || got.Offset != wantOff {
		t.Errorf("WHERE column at %+v", got)
	}
	if got := q.PosOf(-1); got.Line != 0 {
		t.Errorf("offset outside the query should have no line, got %+v", got)
	}
	if got := q.PosOf(len(q.SQL()) + 1); got.Line != 0 {
		t.Errorf("offset past the query should have no line, got %+v", got)
	}

	// The first line of a query that starts mid-line is shifted by its
	// column; characters, not bytes, are counted.
	sts, err = Parse("SELECT 'é'; SELECT 'héé', nope")
	if err != nil {
		t.Fatal(err)
	}
	q = sts[1].(*Query)
	f := q.Select.(*ast.SelectStmt).Fields.Fields[1]
	if got, want := q.PosOf(f.Offset), (Pos{1, 27, 29}); got != want {
		t.Errorf("second field at %+v, want %+v", got, want)
	}
}

// TestLineIndexAgreesWithPosAt converts every offset of texts with
// several lines and multi-byte characters both ways.
func TestLineIndexAgreesWithPosAt(t *testing.T) {
	texts := []string{"", "a", "ab\ncdé\n\nx", strings.Repeat("é日x\n", 50) + strings.Repeat("ü", 200), "\n\n", "\xff\x80abc\n\xc3"}
	for _, text := range texts {
		ix := newLineIndex(text, Pos{Line: 1, Col: 1})
		for off := 0; off <= len(text); off++ {
			if got, want := ix.pos(off), PosAt(text, off); got != want {
				t.Fatalf("text %q offset %d: index %+v, PosAt %+v", text, off, got, want)
			}
		}
	}
	// A base shifts lines, the first line's columns and offsets.
	ix := newLineIndex("ab\ncd", Pos{Line: 3, Col: 5, Offset: 40})
	for off, want := range []Pos{{3, 5, 40}, {3, 6, 41}, {3, 7, 42}, {4, 1, 43}, {4, 2, 44}, {4, 3, 45}} {
		if got := ix.pos(off); got != want {
			t.Errorf("offset %d: %+v, want %+v", off, got, want)
		}
	}
}

func TestPosAt(t *testing.T) {
	s := "ab\ncdé\n\nx"
	tests := []struct {
		off  int
		want Pos
	}{
		{0, Pos{1, 1, 0}}, {2, Pos{1, 3, 2}}, {3, Pos{2, 1, 3}}, {7, Pos{2, 4, 7}},
		{8, Pos{3, 1, 8}}, {9, Pos{4, 1, 9}}, {-5, Pos{1, 1, 0}}, {100, Pos{4, 2, 10}},
	}
	for _, tt := range tests {
		if got := PosAt(s, tt.off); got != tt.want {
			t.Errorf("PosAt(%d) = %+v, want %+v", tt.off, got, tt.want)
		}
	}
}

func TestComplete(t *testing.T) {
	tests := []struct {
		buf  string
		want bool
	}{
		{"", false},
		{"SELECT 1", false},
		{"SELECT 1;", true},
		{"SELECT 1;  -- done\n", true},
		{"SELECT 1; SELECT 2", false},
		{"SELECT ';", false},
		{"SELECT ';';", true},
		{"SELECT 1 /* ; */", false},
		{"SELECT 1 /* ;", false},
		{"SELECT 1 -- ;", false},
		{"SELECT `a;", false},
	}
	for _, tt := range tests {
		if got := Complete(tt.buf); got != tt.want {
			t.Errorf("Complete(%q) = %v, want %v", tt.buf, got, tt.want)
		}
	}
}

func TestKeywords(t *testing.T) {
	kw := Keywords()
	for _, want := range []string{"SELECT", "EMIT", "TUMBLE", "WATERMARK", "SUM"} {
		found := false
		for _, k := range kw {
			found = found || k == want
		}
		if !found {
			t.Errorf("Keywords() lacks %s", want)
		}
	}
	kw[0] = "changed"
	if Keywords()[0] == "changed" {
		t.Errorf("Keywords() exposes its backing array")
	}
}
