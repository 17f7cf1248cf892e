package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// findDuckq returns a runnable duckq binary: the -duckq flag, $DUCKQ,
// /tmp/duckq, or one built from ../shared/tools/duckq (relative to the
// module root) into the cache dir. It returns "" with a reason when DuckDB
// is unavailable; the benchmark then prints n/a.
func findDuckq(ctx context.Context, flagPath, cacheDir string, logf func(string, ...any)) (string, string) {
	for _, p := range []string{flagPath, os.Getenv("DUCKQ"), "/tmp/duckq", filepath.Join(cacheDir, "duckq")} {
		if p == "" {
			continue
		}
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, ""
		}
	}
	src := ""
	for _, d := range []string{"../shared/tools/duckq", "../../shared/tools/duckq"} {
		if _, err := os.Stat(filepath.Join(d, "main.go")); err == nil {
			src = d
			break
		}
	}
	if src == "" {
		return "", "duckq not found (set -duckq or $DUCKQ)"
	}
	out := filepath.Join(cacheDir, "duckq")
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err.Error()
	}
	logf("building duckq from %s (cgo, about a minute)", src)
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(bctx, "go", "build", "-o", abs, ".")
	cmd.Dir = src
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("building duckq failed: %v: %s", err, firstLine(string(msg)))
	}
	return abs, ""
}

var minRe = regexp.MustCompile(`min ([0-9.]+) ms`)
var runRe = regexp.MustCompile(`run 1: ([0-9.]+) ms`)

// duckTime runs query in DuckDB with threads threads runs times after the
// untimed pre statements and returns the best run's wall time, the mean
// process CPU time of one run and the printed result. The CPU figure is
// the difference between the CPU time of a duckq process running the
// query 1+k times and one running it once, divided by k, so process
// start-up and the pre statements cancel out; k is runs-1, or 4*runs when
// there are pre statements (a table load), whose own CPU time varies
// enough to swamp a few short runs. It is 0 (n/a) when runs < 2. CPU time
// is what to compare on a shared machine: other processes stealing the
// core inflate wall time, not CPU time.
func duckTime(ctx context.Context, duckq, pre, query string, runs, threads int) (wall, cpu time.Duration, out string, err error) {
	k := runs - 1
	if pre != "" {
		k = 4 * runs
	}
	pre = fmt.Sprintf("SET threads=%d;", threads) + pre
	wall, cpuN, out, err := duckRun(ctx, duckq, pre, query, runs)
	if err != nil || runs < 2 {
		return wall, 0, out, err
	}
	if k != runs-1 {
		if _, cpuN, _, err = duckRun(ctx, duckq, pre, query, 1+k); err != nil {
			return wall, 0, out, err
		}
	}
	_, cpu1, _, err := duckRun(ctx, duckq, pre, query, 1)
	if err != nil {
		return wall, 0, out, err
	}
	if cpuN > cpu1 {
		cpu = (cpuN - cpu1) / time.Duration(k)
	}
	return wall, cpu, out, nil
}

// duckRun runs duckq once with -repeat runs and returns its best timed
// run, the whole process's CPU time and its output.
func duckRun(ctx context.Context, duckq, pre, query string, runs int) (time.Duration, time.Duration, string, error) {
	cmd := exec.CommandContext(ctx, duckq, "-pre", pre, "-e", query, "-time", "-repeat", strconv.Itoa(runs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, "", fmt.Errorf("duckq: %v: %s", err, firstLine(stderr.String()))
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	m := minRe.FindStringSubmatch(stderr.String())
	if m == nil {
		m = runRe.FindStringSubmatch(stderr.String())
	}
	if m == nil {
		return 0, 0, "", fmt.Errorf("duckq: no timing in %q", stderr.String())
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, 0, "", fmt.Errorf("duckq: %w", err)
	}
	return time.Duration(ms * float64(time.Millisecond)), cpu, stdout.String(), nil
}

// parseDuckResult reads duckq's CSV output (header, then category,sum).
func parseDuckResult(out string) (map[string]int64, error) {
	m := map[string]int64{}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ",")
		if !ok {
			return nil, fmt.Errorf("bad duckq line %q", l)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad duckq sum %q: %w", v, err)
		}
		m[k] = n
	}
	return m, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
