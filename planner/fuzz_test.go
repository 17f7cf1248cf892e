package planner

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

// FuzzFrontEnd runs scripts through the whole SQL front end — parse, bind,
// optimise, lower, streaming analysis, EXPLAIN — over a catalog with a few
// sources (plus those the script declares). It must never panic, and every
// error must be a *sql.Error whose position is a real line:col in the
// script. The seed corpus is every statement of the golden files, and
// every crasher found is kept in testdata/fuzz/FuzzFrontEnd.
func FuzzFrontEnd(f *testing.F) {
	for _, s := range goldenStatements(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		defer hangGuard()()
		checkFrontEnd(t, script)
	})
}

// hangAfter is how long one input may take while fuzzing before the
// worker crashes on purpose: Go's fuzzer restarts a hung worker without
// saving the input (runs here showed 20-second stalls, unexplained), so a blow-up
// on a small input would go unreported. The crash makes the fuzzer save
// the input under testdata/fuzz like any crasher. Plain test runs (the
// seeds in CI) set no deadline.
const hangAfter = 20 * time.Second

// hangGuard arms the deadline when fuzzing; call the result when the
// input is done.
func hangGuard() (stop func()) {
	if fl := flag.Lookup("test.fuzz"); fl == nil || fl.Value.String() == "" {
		return func() {}
	}
	debug.SetTraceback("all")
	tm := time.AfterFunc(hangAfter, func() {
		panic(fmt.Sprintf("one input ran for more than %s: a hang", hangAfter))
	})
	return func() { tm.Stop() }
}

// fuzzCatalog is testCatalog plus the sources the golden files read
// (sales is unbounded with a watermark, so streaming plans are reached).
func fuzzCatalog(t *testing.T) *MemCatalog {
	t.Helper()
	cat := testCatalog(t)
	nullable := func(fs ...arrow.Field) *arrow.Schema {
		for i := range fs {
			fs[i].Nullable = true
		}
		return arrow.NewSchema(fs, nil)
	}
	for _, def := range []*SourceDef{
		{Name: "sales", Watermark: &WatermarkDef{Column: "ts"}, Schema: nullable(
			arrow.Field{Name: "id", Type: TypeBigInt},
			arrow.Field{Name: "category", Type: TypeVarchar},
			arrow.Field{Name: "value", Type: TypeBigInt},
			arrow.Field{Name: "price", Type: TypeDouble},
			arrow.Field{Name: "ts", Type: TypeTimestamp},
			arrow.Field{Name: "region", Type: TypeVarchar})},
		{Name: "fn", Bounded: true, Schema: nullable(
			arrow.Field{Name: "id", Type: TypeBigInt},
			arrow.Field{Name: "s", Type: TypeVarchar},
			arrow.Field{Name: "j", Type: TypeVarchar},
			arrow.Field{Name: "ts", Type: TypeTimestamp},
			arrow.Field{Name: "price", Type: TypeDouble},
			arrow.Field{Name: "x", Type: TypeDouble},
			arrow.Field{Name: "n", Type: TypeBigInt},
			arrow.Field{Name: "pat", Type: TypeVarchar})},
		{Name: "cats", Bounded: true, Schema: nullable(
			arrow.Field{Name: "category", Type: TypeVarchar},
			arrow.Field{Name: "label", Type: TypeVarchar},
			arrow.Field{Name: "parent", Type: TypeVarchar})},
		{Name: "categories", Bounded: true, Schema: nullable(
			arrow.Field{Name: "category", Type: TypeVarchar},
			arrow.Field{Name: "label", Type: TypeVarchar},
			arrow.Field{Name: "parent", Type: TypeVarchar})},
		{Name: "t", Bounded: true, Schema: nullable(
			arrow.Field{Name: "a", Type: TypeBigInt},
			arrow.Field{Name: "b", Type: TypeBigInt},
			arrow.Field{Name: "s", Type: TypeVarchar})},
		{Name: "totals", Bounded: true, Schema: nullable(
			arrow.Field{Name: "category", Type: TypeVarchar},
			arrow.Field{Name: "total", Type: TypeBigInt},
			arrow.Field{Name: "n", Type: TypeBigInt})},
	} {
		if err := cat.AddSource(def); err != nil {
			t.Fatal(err)
		}
	}
	// The files golden queries read as tables ('data/sales.csv', read_csv(…))
	// bind by placeholder name, as the engine registers them.
	for _, name := range []string{"_f0", "_f1"} {
		sales, _ := cat.LookupSource("sales")
		if err := cat.AddSource(&SourceDef{Name: name, Schema: sales.Schema, Bounded: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := cat.AddSink(&SinkDef{Name: "out"}); err != nil {
		t.Fatal(err)
	}
	return cat
}

// checkFrontEnd parses script and plans every statement that plans, the
// way the engine does, failing t on a badly reported error.
func checkFrontEnd(t *testing.T, script string) {
	t.Helper()
	stmts, err := sql.Parse(script)
	if err != nil {
		checkError(t, script, "parse", err)
		return
	}
	cat := fuzzCatalog(t)
	for _, st := range stmts {
		var qp *QueryPlan
		var err error
		switch s := st.(type) {
		case *sql.CreateSource:
			schema, err := SourceSchema(s)
			if err != nil {
				checkError(t, script, "CREATE SOURCE", err)
				continue
			}
			if schema != nil {
				_ = cat.AddSource(&SourceDef{Name: s.Name, Schema: schema})
			}
			continue
		case *sql.CreateSink:
			_ = cat.AddSink(&SinkDef{Name: s.Name})
			if s.Query == nil {
				continue
			}
			qp, err = PlanInsert(s.Name, s.Query, cat)
		case *sql.Insert:
			qp, err = PlanInsert(s.Sink, s.Query, cat)
		case *sql.Explain:
			qp, err = PlanQuery(s.Query, cat)
		case *sql.Query:
			qp, err = PlanQuery(s, cat)
		default:
			continue
		}
		if err != nil {
			checkError(t, script, "plan", err)
			continue
		}
		if Explain(qp) == "" {
			t.Fatalf("%q: empty EXPLAIN", st.SQL())
		}
	}
}

// goTypeName matches what a Go type or a fmt mistake looks like in a
// message: `*ast.Join`, `planner.Call`, `%!d(string=x)`.
var goTypeName = regexp.MustCompile(`\*?\b(ast|sql|planner|arrow|opcode|test_driver|parser)\.[A-Z]\w*|%!`)

// quoted matches the quoted user text of a message, which may spell anything.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// checkError fails t unless err is a *sql.Error positioned at a real
// line:col of script, with a message free of Go type names.
func checkError(t *testing.T, script, stage string, err error) {
	t.Helper()
	var se *sql.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s of %q: error %v (a %T) is not a *sql.Error", stage, script, err, err)
	}
	if se.Pos.Line < 1 || se.Pos.Offset < 0 || se.Pos.Offset > len(script) {
		t.Fatalf("%s of %q: error %q has no position in the script: %+v", stage, script, se.Error(), se.Pos)
	}
	if want := sql.PosAt(script, se.Pos.Offset); want != se.Pos {
		t.Fatalf("%s of %q: error %q is at %+v but its offset is at %+v", stage, script, se.Error(), se.Pos, want)
	}
	if se.Msg == "" {
		t.Fatalf("%s of %q: error without a message", stage, script)
	}
	if m := goTypeName.FindString(quoted.ReplaceAllString(se.Msg, `""`)); m != "" {
		t.Fatalf("%s of %q: message %q shows %q", stage, script, se.Msg, m)
	}
}

// goldenStatements returns every statement of the golden files under
// ../testdata/sql, and each file's statements as one script.
func goldenStatements(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob("../testdata/sql/*/*.test")
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden files found (%v)", err)
	}
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			tb.Fatal(err)
		}
		var script, cur strings.Builder
		in := false // inside a record's SQL
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		flush := func() {
			if in {
				add(cur.String())
				script.WriteString(cur.String() + ";\n")
			}
			cur.Reset()
			in = false
		}
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "statement ") || strings.HasPrefix(line, "query "):
				flush()
				in = true
			case line == "----" || strings.TrimSpace(line) == "":
				flush()
			case in:
				cur.WriteString(line + "\n")
			}
		}
		flush()
		f.Close()
		if err := sc.Err(); err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		add(script.String())
	}
	if len(out) < 50 {
		tb.Fatalf("only %d golden statements found", len(out))
	}
	return out
}

// TestFrontEndGolden runs every golden statement through checkFrontEnd
// (the fuzzer's seeds, run by plain go test) and checks that most plan:
// the fuzz catalog must resemble the golden files' sources for the
// seeds to reach the planner.
func TestFrontEndGolden(t *testing.T) {
	planned, queries := 0, 0
	for _, s := range goldenStatements(t) {
		checkFrontEnd(t, s)
		stmts, err := sql.Parse(s)
		if err != nil || len(stmts) != 1 {
			continue
		}
		if q, ok := stmts[0].(*sql.Query); ok {
			queries++
			if _, err := PlanQuery(q, fuzzCatalog(t)); err == nil {
				planned++
			}
		}
	}
	if queries == 0 || planned*2 < queries {
		t.Fatalf("only %d of %d golden queries plan over the fuzz catalog", planned, queries)
	}
}
