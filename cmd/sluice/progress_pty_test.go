package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// boundedGen is a batch input that takes about 1.5 s to read: a paced,
// bounded generator.
const boundedGen = "CREATE SOURCE slow (category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector = 'generator', rows_per_second = '1000', max_rows = '1500');"

// TestProgressOnTerminal: a batch query running over a second shows a
// line with how much of the input's total is read, the rows per second
// and the time elapsed on the terminal, and erases it before the result
// is printed.
func TestProgressOnTerminal(t *testing.T) {
	s := startShellSized(t, t.TempDir(), 80, 24, "--history", "-")
	s.expect("sluice> ")
	s.send(boundedGen + "\r")
	s.expect("source slow created")
	s.send("SELECT COUNT(*) AS n FROM slow;\r")
	s.expect("(1 row)")
	raw := s.raw()
	// The generator knows its total: the rows made of it, the rate and
	// the time, fed by the engine's scan progress.
	shown := regexp.MustCompile(`running · \d+/1500 rows · \d+ rows/s · [0-9.]+s +\d+% \|`).FindString(raw)
	if shown == "" {
		t.Fatalf("no progress of the scan shown while the query ran:\n%q", raw)
	}
	if len(shown) >= 80 {
		t.Errorf("progress line %q is as wide as the terminal", shown)
	}
	scr := s.term().screen()
	if strings.Contains(scr, "running SELECT") {
		t.Errorf("the progress line was left on screen:\n%s", scr)
	}
	if !strings.Contains(scr, "| 1500 |") {
		t.Errorf("no result:\n%s", scr)
	}
}

// TestNoProgressWhenPiped: the same query with stderr piped prints the
// result and nothing else.
func TestNoProgressWhenPiped(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-e", boundedGen+" SELECT COUNT(*) AS n FROM slow;")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice: %v\nstderr: %s", err, stderr.String())
	}
	if stdout.String() != "n\n1500\n" || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q; want the result alone", stdout.String(), stderr.String())
	}
}
