package repl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/sql"
)

func TestCompleter(t *testing.T) {
	c := &completer{tables: func() []sluice.TableInfo {
		return []sluice.TableInfo{
			{Kind: "source", Name: "orders", Columns: []string{"order_id", "customer", "amount"}},
			{Kind: "source", Name: "clicks", Columns: []string{"url", "ts"}},
			{Kind: "sink", Name: "out_counts"},
		}
	}}
	tests := []struct {
		line string
		want []string // whole words offered
	}{
		{"SEL", []string{"SELECT"}},
		{"sel", []string{"select"}},
		{"SELECT cu", []string{"current", "customer"}},
		{"SELECT amo", []string{"amount"}},
		{"SELECT * FROM or", []string{"order", "order_id", "orders"}},
		{"SELECT * FROM cl", []string{"clicks"}},
		{"INSERT INTO out", []string{"out_counts", "outer"}},
		{"SELECT COU", []string{"COUNT"}},
		{"SELECT window_s", []string{"window_start"}},
		{`\des`, []string{`\describe`}},
		{`\describe o`, []string{"orders", "out_counts"}},
		{`\`, []string{`\help`, `\sources`, `\describe`, `\options`, `\format`, `\timing`, `\set`, `\i`, `\q`}},
		{"SELECT ", nil},
		{"SELECT zzz", nil},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			line := []rune(tc.line)
			suffixes, n := c.Do(line, len(line))
			var got []string
			word := string(line[len(line)-n:])
			for _, s := range suffixes {
				got = append(got, word+string(s))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("Do(%q) offers %v, want %v", tc.line, got, tc.want)
			}
		})
	}
}

func TestExplainCaret(t *testing.T) {
	text := "SELECT a,\n\tvalu FROM t;\n"
	err := &sql.Error{Kind: sql.BindError, Pos: sql.Pos{Line: 2, Col: 2}, Msg: `unknown column "valu"`}
	tests := []struct {
		name, file string
		err        error
		want       string
	}{
		{"caret under the column", "", err,
			"ERROR: line 2:2: unknown column \"valu\"\n  2 |  valu FROM t;\n    |  ^\n"},
		{"script name", "q.sql", err,
			"ERROR: q.sql:2:2: unknown column \"valu\"\n  2 |  valu FROM t;\n    |  ^\n"},
		{"no position", "", errors.New("boom"), "ERROR: boom\n"},
		{"line past the text", "", &sql.Error{Pos: sql.Pos{Line: 9, Col: 1}, Msg: "x"}, "ERROR: line 9:1: x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := explain(text, tc.file, tc.err); got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// A secret option's value never reaches the terminal or the history
// file: the excerpt masks it to its length (the caret stays under the
// column) and history keeps '***'.
func TestSecretsStayOutOfExcerptAndHistory(t *testing.T) {
	const pw = "hunter2-s3cr3t"
	text := "CREATE SOURCE o WITH ('properties.sasl.password' = '" + pw + "', connector = 'nope');"
	col := strings.Index(text, "connector") + 1
	got := explain(text, "", &sql.Error{Kind: sql.PlanError, Pos: sql.Pos{Line: 1, Col: col}, Msg: "bad"})
	masked := strings.Replace(text, pw, strings.Repeat("*", len(pw)), 1)
	want := "ERROR: line 1:" + fmt.Sprint(col) + ": bad\n  1 | " + masked + "\n    | " + strings.Repeat(" ", col-1) + "^\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hist := filepath.Join(t.TempDir(), "history")
	var out bytes.Buffer
	if err := Run(context.Background(), db, Config{HistoryFile: hist, Stdin: io.NopCloser(strings.NewReader(text + "\n")), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), pw) || !strings.Contains(string(b), `'properties.sasl.password' = '***'`) {
		t.Errorf("history file: %q", b)
	}
	if strings.Contains(out.String(), pw) {
		t.Errorf("the shell printed the password:\n%s", out.String())
	}
}

// TestScriptSplitsLikeTheParser runs scripts whose `;` hide in comments
// and quotes through Runner.Script: the runner must run exactly the
// statements the parser sees (it ran `more` from a `# note; more` comment).
func TestScriptSplitsLikeTheParser(t *testing.T) {
	tests := []struct {
		name, script string
		out          string // exact CSV output
		errHas       string // "" for success
	}{
		{"hash comment hides a semicolon", "SELECT 1 AS a # note; more\n", "a\n1\n", ""},
		{"dash comment hides a semicolon", "SELECT 1 AS a -- note; more\n;SELECT 2 AS b", "a\n1\nb\n2\n", ""},
		{"dashes without a space start a comment", "SELECT 1 AS a --; more\n", "a\n1\n", ""},
		{"block comment hides a semicolon", "SELECT /* ; more; */ 1 AS a; SELECT 2 AS b /* ; */", "a\n1\nb\n2\n", ""},
		{"quotes hide semicolons", "SELECT 'x;y' AS s, \"p;q\" AS t, 1 AS `c;d`; SELECT 'it''s;' AS u; SELECT 'x\\';y' AS v", "s,t,c;d\nx;y,p;q,1\nu\nit's;\nv\nx';y\n", ""},
		{"only comments", "-- nothing\n# here\n/* either */ ;;", "", ""},
		{"error positions count from the script's start", "SELECT 1 AS a; # c\n\n  SELECT nope", "a\n1\n", "line 3:10: unknown column \"nope\""},
		{"an unterminated string runs nothing", "SELECT 1 AS a;\nSELECT 'oops", "", "line 2:8: unterminated string"},
		{"an undefined variable is placed in the script", "SELECT 1 AS a;\n SELECT ${x}", "a\n1\n", "line 2:9: undefined variable ${x}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			db, err := sluice.Open(sluice.Config{Allocator: mem})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var out, errs bytes.Buffer
			r := &Runner{DB: db, Out: &out, Err: &errs, Format: "csv"}
			err = r.Script(context.Background(), tc.script)
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("error %v, want one containing %q", err, tc.errHas)
			}
			if out.String() != tc.out {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), tc.out)
			}
		})
	}
}

// TestRunPiped drives the shell through pipes (no terminal): statements,
// a variable, a backslash command, and Ctrl-D at the end of input.
func TestRunPiped(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := sluice.Open(sluice.Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := "\\set n 3\n\\timing\nSELECT ${n} * 2\n  AS six;\n\\format json\nSELECT 'x' AS s;\n\\bogus\n"
	var out bytes.Buffer
	err = Run(context.Background(), db, Config{HistoryFile: "-", Stdin: io.NopCloser(strings.NewReader(in)), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"timing is off", "| six |", "|   6 |", "(1 row)\n", "format is json", `{"s":"x"}`, `unknown command \bogus`} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Time:") {
		t.Errorf("\\timing did not turn timing off:\n%s", got)
	}
}
