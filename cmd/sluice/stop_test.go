package main

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopLine is the one line a stopped streaming query prints on stderr,
// whatever stopped it.
var stopLine = regexp.MustCompile(`(?m)^query stopped after [0-9.]+m?s \(([^)]+)\): (\d+) rows in, (\d+) rows out$`)

const genSource = "CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP) WITH (connector = 'generator', rows_per_second = '2000', categories = '3');"

// TestDurationStopsEachStream: --duration stops a streaming query like
// Ctrl-C, with the same summary line, exit 0, and the next statement runs.
func TestDurationStopsEachStream(t *testing.T) {
	cmd := exec.Command(os.Args[0], "--duration", "700ms", "-e",
		genSource+" SELECT category, COUNT(*) AS n FROM g GROUP BY category EMIT CHANGES; SELECT 6 * 7 AS answer;")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sluice: %v\nstderr: %s", err, stderr.String())
	}
	m := stopLine.FindStringSubmatch(stderr.String())
	if m == nil || m[1] != "--duration 700ms" || m[2] == "0" || m[3] == "0" {
		t.Fatalf("stderr lacks the stop summary of a --duration stop:\n%s", stderr.String())
	}
	if !strings.HasSuffix(stdout.String(), "answer\n42\n") || !strings.HasPrefix(stdout.String(), "op,category,n\n") {
		t.Errorf("stdout: the changelog, then the next statement's result; got:\n%s", stdout.String())
	}
}

// TestInterruptStopsWithSummary: SIGINT (Ctrl-C) of a piped streaming
// query prints the same summary line as --duration, exits 0, and runs
// nothing after it.
func TestInterruptStopsWithSummary(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-e",
		genSource+" SELECT category, COUNT(*) AS n FROM g GROUP BY category EMIT CHANGES; SELECT 6 * 7 AS answer;")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "+U,") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice exited with %v after SIGINT\nstderr: %s", err, stderr.String())
	}
	m := stopLine.FindStringSubmatch(stderr.String())
	if m == nil || m[1] != "interrupted" || m[2] == "0" || m[3] == "0" {
		t.Fatalf("stderr lacks the stop summary of an interrupted query:\n%s", stderr.String())
	}
	if strings.Contains(stdout.String(), "answer") {
		t.Errorf("a statement ran after Ctrl-C:\n%s", stdout.String())
	}
}

// syncBuffer is a bytes.Buffer a child process writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
