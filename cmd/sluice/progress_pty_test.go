package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// boundedGen is a batch input that takes about 1.5 s to read: a paced,
// bounded generator.
const boundedGen = "CREATE SOURCE slow (category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector = 'generator', rows_per_second = '1000', max_rows = '1500');"

// TestProgressOnTerminal: a batch query running over a second shows a
// spinner with what runs and for how long on the terminal, and erases
// it before the result is printed.
func TestProgressOnTerminal(t *testing.T) {
	s := startShellSized(t, t.TempDir(), 80, 24, "--history", "-")
	s.expect("sluice> ")
	s.send(boundedGen + "\r")
	s.expect("source slow created")
	s.send("SELECT COUNT(*) AS n FROM slow;\r")
	s.expect("(1 row)")
	raw := s.raw()
	if !strings.Contains(raw, "running SELECT COUNT(*) AS n FROM slow") {
		t.Fatalf("no progress shown while the query ran:\n%s", s.term().history())
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
