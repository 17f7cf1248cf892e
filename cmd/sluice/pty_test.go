package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestMain lets the tests run this binary as the sluice command: with
// SLUICE_TEST_MAIN=1 the test binary is sluice, so the REPL tests drive the
// real program (flags, signals, terminal) through a pseudo-terminal.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// screen is a sluice process on a pseudo-terminal and everything it has
// printed.
type screen struct {
	t    *testing.T
	tty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	mark int // Expect searches output after this offset
	done chan struct{}
	// cols and rows are the pty's size at the start; sizes are the
	// resizes since and the output offset each came at, so a replay
	// resizes where the pty did.
	cols, rows int
	sizes      []sizeAt
}

type sizeAt struct{ at, cols, rows int }

// term replays the output so far onto a terminal of the pty's size,
// resized where the pty was, and returns it.
func (s *screen) term() *vterm {
	raw := s.raw()
	s.mu.Lock()
	sizes := append([]sizeAt(nil), s.sizes...)
	s.mu.Unlock()
	v := newVterm(s.cols, s.rows)
	from := 0
	for _, sz := range sizes {
		v.write(raw[from:sz.at])
		v.resize(sz.cols, sz.rows)
		from = sz.at
	}
	v.write(raw[from:])
	return v
}

// resize changes the pty's size; the kernel sends sluice SIGWINCH.
func (s *screen) resize(cols, rows int) {
	s.t.Helper()
	s.mu.Lock()
	s.sizes = append(s.sizes, sizeAt{at: s.out.Len(), cols: cols, rows: rows})
	s.mu.Unlock()
	if err := pty.Setsize(s.tty, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)}); err != nil {
		s.t.Fatalf("resize the pty: %v", err)
	}
}

func startShell(t *testing.T, dir string, args ...string) *screen {
	t.Helper()
	return startShellSized(t, dir, 160, 60, args...)
}

// startShellSized starts sluice on a pty of cols x rows.
func startShellSized(t *testing.T, dir string, cols, rows int, args ...string) *screen {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1", "TERM=xterm", "HOME="+dir)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: uint16(rows), Cols: uint16(cols)})
	if err != nil {
		t.Fatalf("start sluice on a pty: %v", err)
	}
	s := &screen{t: t, tty: tty, cmd: cmd, done: make(chan struct{}), cols: cols, rows: rows}
	go func() {
		defer close(s.done)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			s.mu.Lock()
			s.out.Write(buf[:n])
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		tty.Close()
		<-s.done
		if t.Failed() {
			t.Logf("scrollback and screen:\n%s", s.term().history())
		}
	})
	return s
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\r`)

// text is the output without terminal escapes, from offset from of
// that text on.
func (s *screen) text(from int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.ReplaceAllString(s.out.String(), "")[from:]
}

// raw is the output as the terminal received it.
func (s *screen) raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *screen) send(keys string) {
	if _, err := s.tty.Write([]byte(keys)); err != nil {
		s.t.Fatalf("type %q: %v", keys, err)
	}
}

// expect waits until the output since the last expect contains want,
// and returns that output.
func (s *screen) expect(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		txt := s.text(s.mark)
		if i := strings.Index(txt, want); i >= 0 {
			s.mark += i + len(want)
			return txt[:i+len(want)]
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.t.Fatalf("timed out waiting for %q; screen since last match:\n%s", want, s.text(s.mark))
	return ""
}

// wait waits for the process to exit and returns its exit code.
func (s *screen) wait() int {
	s.t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- s.cmd.Wait() }()
	select {
	case err := <-ch:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(15 * time.Second):
		s.t.Fatal("sluice did not exit")
	}
	return -1
}

const salesCSV = `id,category,value
1,books,12
2,games,30
3,books,7
4,music,5
`

func TestShellSession(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/sales.csv", []byte(salesCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	hist := dir + "/history"
	s := startShell(t, dir, "--history", hist)
	s.expect("sluice> ")

	// A statement over several lines: the continuation prompt, then the
	// result table with its row count.
	s.send("CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv');\r")
	s.expect("source sales created")
	s.send("SELECT category,\r")
	s.expect("     -> ")
	s.send("  SUM(value) AS total\r")
	s.send("FROM sales GROUP BY category ORDER BY total DESC;\r")
	out := s.expect("(3 rows)")
	for _, want := range []string{"| category | total |", "| games    |    30 |", "| books    |    19 |", "| music    |     5 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("result lacks %q:\n%s", want, out)
		}
	}

	// Backslash commands.
	s.send("\\describe sales\r")
	out = s.expect("(3 rows)")
	if !regexp.MustCompile(`\| value\s+\| BIGINT`).MatchString(out) {
		t.Errorf("\\describe lacks the value column:\n%s", out)
	}
	s.send("\\format csv\r")
	s.expect("format is csv")
	s.send("SELECT id FROM sales WHERE value > 10 ORDER BY id;\r")
	out = s.expect("(2 rows)")
	if !strings.Contains(out, "id\n1\n2\n") {
		t.Errorf("csv output wrong:\n%s", out)
	}
	s.send("\\nope\r")
	s.expect("unknown command \\nope")

	// An error shows the line with a caret under the column.
	s.send("SELECT category,\r  valu FROM sales;\r")
	out = s.expect("^")
	if !strings.Contains(out, "ERROR: line 2:3:") || !strings.Contains(out, "  2 |   valu FROM sales;\n    |   ^") {
		t.Errorf("error display wrong:\n%s", out)
	}

	// Ctrl-C at the prompt drops the half-typed statement.
	s.send("SELECT 1\r")
	s.expect("-> ")
	s.send("\x03")
	s.expect("sluice> ")
	s.send("\\q\r")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	h, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), "SELECT category,\n  SUM(value) AS total") && !strings.Contains(string(h), "SUM(value) AS total") {
		t.Errorf("history lacks the multi-line statement:\n%s", h)
	}
}

func TestShellCtrlDExits(t *testing.T) {
	s := startShell(t, t.TempDir(), "--history", "-")
	s.expect("sluice> ")
	s.send("\x04")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestShellStreamingCtrlC runs a continuous query, checks that the live
// table redraws in place with a status line, stops it with Ctrl-C and
// checks that the shell is still there.
func TestShellStreamingCtrlC(t *testing.T) {
	s := startShell(t, t.TempDir(), "--history", "-")
	s.expect("sluice> ")
	s.send("CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector='generator', rows_per_second='1000');\r")
	s.expect("source g created")
	s.send("SELECT category, COUNT(*) AS n\r FROM g GROUP BY category EMIT CHANGES;\r")
	s.expect("Ctrl-C to stop")
	time.Sleep(700 * time.Millisecond) // a few redraws
	s.send("\x03")
	s.expect("query stopped after")
	s.expect("sluice> ")
	s.send("SELECT 40 + 2 AS answer;\r")
	s.expect("(1 row)")
	s.send("\\q\r")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	scr := s.term().history() // what a terminal shows and keeps
	// Redrawn in place: one header, however many refreshes ran.
	if n := strings.Count(scr, "| category |"); n != 1 {
		t.Errorf("the live table header is on screen %d times, want 1:\n%s", n, scr)
	}
	m := regexp.MustCompile(`(?m)^(\d+) rows · in (\d+) .*· out (\d+)`).FindStringSubmatch(scr)
	if m == nil {
		t.Fatalf("no final status line:\n%s", scr)
	}
	if m[2] == "0" || m[3] == "0" {
		t.Errorf("status line shows no progress: %q", m[0])
	}
	// The final table has one row per category, with positive counts.
	rows := regexp.MustCompile(`(?m)^\| [+-][IUD] \| (cat-\d+)\s+\|\s+(\d+) \|$`).FindAllStringSubmatch(scr, -1)
	if len(rows) == 0 {
		t.Fatalf("no result rows on screen:\n%s", scr)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r[1]] {
			t.Errorf("category %s shown twice (an update was not applied in place):\n%s", r[1], scr)
		}
		seen[r[1]] = true
	}
	if !strings.Contains(scr, "| answer |") || !strings.Contains(scr, "|     42 |") {
		t.Errorf("the shell did not run a query after Ctrl-C:\n%s", scr)
	}
}

// TestShellTranscript is the session shown in the README: set
// SLUICE_TRANSCRIPT=file to save the screen it ends with.
func TestShellTranscript(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/sales.csv", []byte(salesCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startShell(t, dir, "--history", "-")
	s.expect("\nsluice> ")
	s.send("CREATE SOURCE sales WITH (connector = 'file', path = 'sales.csv');\r")
	s.expect("\nsluice> ")
	s.send("\\describe sales\r")
	s.expect("\nsluice> ")
	s.send("SELECT category, SUM(value) AS total\r  FROM sales\r  GROUP BY category ORDER BY total DESC;\r")
	s.expect("\nsluice> ")
	s.send("SELECT categry FROM sales;\r")
	s.expect("\nsluice> ")
	s.send("CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP)\r  WITH (connector = 'generator', rows_per_second = '1000', categories = '4');\r")
	s.expect("\nsluice> ")
	s.send("SELECT category, COUNT(*) AS n, SUM(value) AS total\r  FROM g GROUP BY category EMIT CHANGES;\r")
	s.expect("Ctrl-C to stop")
	time.Sleep(2 * time.Second)
	s.send("\x03")
	s.expect("query stopped")
	s.expect("\nsluice> ")
	s.send("\\q\r")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	scr := s.term().history()
	for _, want := range []string{"| games    |    30 |", "ERROR: line 1:8:", "query stopped after", "| category | n "} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	if p := os.Getenv("SLUICE_TRANSCRIPT"); p != "" {
		if err := os.WriteFile(p, []byte(scr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
