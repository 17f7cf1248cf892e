package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestScripts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	csv := write("sales.csv", salesCSV)
	create := "CREATE SOURCE sales WITH (connector = 'file', path = '" + csv + "');\n"
	ok := write("ok.sql", create+"SELECT category, SUM(value) AS total FROM sales GROUP BY category ORDER BY category;\n")
	bad := write("bad.sql", create+"SELECT id\nFROM sales\nWHERE valu > 1;\nSELECT 1 AS after;\n")
	vars := write("vars.sql", create+"SELECT id FROM sales WHERE category = '${cat}' AND value > ${min} ORDER BY id;\n")
	set := write("set.sql", create+"SET cat = 'music';\nSELECT id FROM sales WHERE category = '${cat}';\n")
	comments := write("comments.sql", "SELECT 1 AS a; # note; more\nSELECT /* ; */ 'x;' AS b -- c; d\n;\n")
	unclosed := write("open.sql", "SELECT 1 AS a;\n\nSELECT 'never closed;\n")

	tests := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		out      string // exact stdout
		errHas   []string
		errLacks []string
	}{
		{name: "runs a script", args: []string{"-f", ok}, code: 0,
			out: "category,total\nbooks,19\ngames,30\nmusic,5\n"},
		{name: "json format", args: []string{"--format", "json", "-e", create + "SELECT id FROM sales WHERE id < 3 ORDER BY id;"}, code: 0,
			out: "{\"id\":1}\n{\"id\":2}\n"},
		{name: "stops at the first error with file:line:col", args: []string{"-f", bad}, code: 1,
			out: "", errHas: []string{bad + ":4:7: ", `"valu"`}},
		{name: "continue on error", args: []string{"--continue-on-error", "-f", bad}, code: 1,
			out: "after\n1\n", errHas: []string{bad + ":4:7: ", "1 statement(s) failed"}},
		{name: "--var substitutes ${name}", args: []string{"-f", vars, "--var", "cat=books", "--var", "MIN=10"}, code: 0,
			out: "id\n1\n"},
		{name: "undefined variable", args: []string{"-f", vars, "--var", "cat=books"}, code: 1,
			errHas: []string{"undefined variable ${min}"}},
		{name: "SET defines a variable", args: []string{"-f", set}, code: 0, out: "id\n4\n"},
		{name: "-e: a # comment hides a ;", args: []string{"-e", "SELECT 1 AS a # note; more"}, code: 0,
			out: "a\n1\n"},
		{name: "-f: comments and quotes hide ;", args: []string{"-f", comments}, code: 0,
			out: "a\n1\nb\nx;\n"},
		{name: "-f: an unterminated string runs nothing", args: []string{"-f", unclosed}, code: 1,
			out: "", errHas: []string{unclosed + ":3:8: unterminated string"}},
		{name: "-f - reads stdin", args: []string{"-f", "-"}, stdin: create + "SELECT COUNT(*) AS n FROM sales;", code: 0,
			out: "n\n4\n"},
		{name: "stdin error names <stdin>", args: []string{"-f", "-"}, stdin: "SELECT\n  nope FROM sales;", code: 1,
			errHas: []string{"<stdin>:2:"}},
		{name: "missing file", args: []string{"-f", filepath.Join(dir, "missing.sql")}, code: 1, errHas: []string{"missing.sql"}},
		{name: "bad format", args: []string{"--format", "xml", "-e", "SELECT 1;"}, code: 1, errHas: []string{"unknown --format"}},
		{name: "bad --var", args: []string{"--var", "novalue", "-e", "SELECT 1;"}, code: 1, errHas: []string{"want name=value"}},
		{name: "script files as arguments run in order", args: []string{ok, comments}, code: 0,
			out: "category,total\nbooks,19\ngames,30\nmusic,5\na\n1\nb\nx;\n"},
		{name: "-f runs before argument files", args: []string{"-f", comments, ok}, code: 0,
			out: "a\n1\nb\nx;\ncategory,total\nbooks,19\ngames,30\nmusic,5\n"},
		{name: "a failing file stops the next", args: []string{bad, ok}, code: 1,
			out: "", errHas: []string{bad + ":4:7: "}},
		{name: "continue on error goes on to the next file", args: []string{"--continue-on-error", bad, ok}, code: 1,
			out: "after\n1\ncategory,total\nbooks,19\ngames,30\nmusic,5\n", errHas: []string{bad + ":4:7: "}},
		{name: "a missing argument file runs nothing", args: []string{ok, filepath.Join(dir, "nosuch.sql")}, code: 1,
			out: "", errHas: []string{filepath.Join(dir, "nosuch.sql")}},
		{name: "a directory argument", args: []string{dir}, code: 1, errHas: []string{dir + " is a directory"}},
		{name: "stray argument with -e", args: []string{"-e", "SELECT 1 AS a;", "extra"}, code: 1,
			out: "", errHas: []string{`"extra"`}},
		{name: "a stream piped as tables has no empty trailing table", args: []string{"--format", "table", "-e",
			"CREATE SOURCE g WITH (connector = 'generator', max_rows = '2', rows_per_second = '0', categories = '1');\nSELECT category FROM g EMIT CHANGES;"}, code: 0,
			out: "+----+----------+\n| op | category |\n+----+----------+\n| +I | cat-00   |\n| +I | cat-00   |\n+----+----------+\n"},
		{name: "an empty stream piped as a table prints its header once", args: []string{"--format", "table", "-e",
			"CREATE SOURCE g WITH (connector = 'generator', max_rows = '2', rows_per_second = '0');\nSELECT category FROM g WHERE value < 0 EMIT CHANGES;"}, code: 0,
			out: "+----+----------+\n| op | category |\n+----+----------+\n+----+----------+\n"},
		{name: "a misspelt option exits 1 naming it", args: []string{"-e", "CREATE SOURCE g WITH (connector = 'generator',\n  rows_per_secnd = '5');\nSELECT 1 AS ran;"}, code: 1,
			out: "", errHas: []string{"line 2:3:", `unknown option "rows_per_secnd"`, `did you mean "rows_per_second"?`}},
		{name: "a sink refuses to clobber a file", args: []string{"-e", "CREATE SINK out WITH (connector = 'file', path = '" + csv + "') AS SELECT 1 AS a;"}, code: 1,
			out: "", errHas: []string{"line 1:1: sink out: ", csv + " already exists", "'mode' = 'overwrite'"}},
		{name: "a streaming sink refuses to clobber a file, at its statement", args: []string{"-e", "CREATE SOURCE g WITH (connector = 'generator', max_rows = '2');\nCREATE SINK out WITH (connector = 'file', path = '" + csv + "')\n  AS SELECT category FROM g EMIT CHANGES;"}, code: 1,
			out: "", errHas: []string{"line 3:6: sink out: ", csv + " already exists", "'mode' = 'overwrite'"}, errLacks: []string{"recovery"}},
		{name: "unknown flag", args: []string{"--formatt", "csv", ok}, code: 1,
			out: "", errHas: []string{"flag provided but not defined: -formatt", "Usage of sluice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(csv)
			defer func() {
				if after, _ := os.ReadFile(csv); !bytes.Equal(before, after) {
					t.Errorf("%s changed", csv)
				}
			}()
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if stdout.String() != tc.out {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tc.out)
			}
			for _, w := range tc.errHas {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			for _, w := range tc.errLacks {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q has %q", stderr.String(), w)
				}
			}
		})
	}
}

// TestExplainPipedAsCSV: EXPLAIN piped is a one-column CSV that a CSV
// reader turns back into exactly the plan's lines (commas quoted, nothing
// else), the same lines the table format shows.
func TestExplainPipedAsCSV(t *testing.T) {
	q := "CREATE SOURCE g WITH (connector = 'generator', max_rows = '5');\nEXPLAIN SELECT category, COUNT(*) AS n FROM g WHERE value > 1 GROUP BY category;"
	var out, errb bytes.Buffer
	if code := run([]string{"-e", q}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	recs, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
	if err != nil {
		t.Fatalf("EXPLAIN output is not CSV: %v\n%s", err, out.String())
	}
	if len(recs) < 4 || len(recs[0]) != 1 || recs[0][0] != "plan" {
		t.Fatalf("want a header \"plan\" and one column, got %q", recs)
	}
	var lines []string
	for _, r := range recs[1:] {
		if len(r) != 1 {
			t.Fatalf("row %q has %d columns", r, len(r))
		}
		lines = append(lines, r[0])
	}
	for i, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[1:] {
		if !strings.Contains(lines[i], ",") && l != lines[i] {
			t.Errorf("line %d %q is quoted though it holds no comma", i, l)
		}
	}
	var tbl bytes.Buffer
	if code := run([]string{"--format", "table", "-e", q}, strings.NewReader(""), &tbl, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, l := range lines {
		if !strings.Contains(tbl.String(), l) {
			t.Errorf("plan line %q is not in the table output", l)
		}
	}
}

// TestVersion checks --version names sluice, the Go toolchain and the
// Arrow module version go.mod requires.
func TestVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	arrow := ""
	for _, l := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && strings.HasPrefix(f[0], "github.com/apache/arrow/go/") {
			arrow = f[0] + " " + f[1]
		}
	}
	if arrow == "" {
		t.Fatal("go.mod requires no Arrow module")
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, w := range []string{"sluice ", "go1.", arrow} {
		if !strings.Contains(out, w) {
			t.Errorf("--version output %q lacks %q", out, w)
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("--version wrote to stderr: %s", stderr.String())
	}
}

// TestStreamingScriptSIGTERM runs a script whose last statement streams
// into a file sink, stops it with SIGTERM, and checks that sluice exits
// cleanly with the closed windows written.
func TestStreamingScriptSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no checkpoints", nil},
		{"checkpoints", []string{"--checkpoint-dir", "ckpt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			streamUntilSIGTERM(t, tc.args)
		})
	}
}

func streamUntilSIGTERM(t *testing.T, args []string) {
	dir := t.TempDir()
	script := `CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '100' MILLISECOND)
  WITH (connector = 'generator', rows_per_second = '2000', max_out_of_orderness = '0s');
CREATE SINK counts WITH (connector = 'file', path = 'counts.csv');
INSERT INTO counts
SELECT window_start, category, COUNT(*) AS n
FROM TUMBLE(g, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category
EMIT FINAL;
`
	if err := os.WriteFile(filepath.Join(dir, "stream.sql"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], append([]string{"-f", "stream.sql"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop once the sink has published its first windows (a loaded
	// machine may take longer than the 2-3 s this needs on a quiet one),
	// then bound the rows by the time the generator really ran.
	start := time.Now()
	for time.Since(start) < 60*time.Second {
		// Published windows are lines after the header, which the sink
		// writes first (a slow start can take the 3 s with it alone).
		if b, err := os.ReadFile(filepath.Join(dir, "counts.csv")); err == nil && bytes.Count(b, []byte("\n")) >= 2 && time.Since(start) >= 3*time.Second {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	ran := time.Since(start)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice exited with %v after SIGTERM; stderr: %s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("sluice did not stop within 30s of SIGTERM")
	}
	out, err := os.ReadFile(filepath.Join(dir, "counts.csv"))
	if err != nil {
		t.Fatalf("no sink output after a clean stop: %v (stderr: %s)", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if lines[0] != "window_start,category,n" || len(lines) < 2 {
		t.Fatalf("sink output:\n%s", out)
	}
	total := 0
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		n, err := strconv.Atoi(f[len(f)-1])
		if err != nil || n <= 0 {
			t.Fatalf("bad count in %q", l)
		}
		total += n
	}
	// At 2000 rows/s for ≥ 3s at least one whole second's windows
	// closed, and no more rows than the generator made until the stop.
	if hi := int(2000 * (ran.Seconds() + 1)); total < 1000 || total > hi {
		t.Errorf("windows hold %d rows in all, want between 1000 and %d:\n%s", total, hi, out)
	}
}
