package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

var runRe = regexp.MustCompile(`(?m)^run [0-9]+: ([0-9.]+) ms`)

// duckTiming is one duckTime measurement.
type duckTiming struct {
	wall, cpu time.Duration
	rss       int64 // peak RSS of the process that ran the query runs times
	out       string
}

// duckTime runs query in DuckDB with threads threads after the untimed
// pre statements and returns the best run's wall time, the mean process
// CPU time of one run, the peak RSS and the printed result. It runs two
// duckq processes: one that runs the query once, then one that runs it
// 1+k times. The CPU figure is the difference of their CPU times divided
// by k, so process start-up and the pre statements cancel out; the best
// wall time (of its first runs runs, as sluice's is of runs runs), the
// RSS and the result are the second process's. (It ran three processes,
// one of them only for the wall time: make bench-quick spent most of its
// time in DuckDB processes.) k
// (duckExtraRuns) is runs-1, or 4*runs when there are pre statements that
// load a table, whose own CPU time varies enough to swamp a few short
// runs, and at least enough runs for about span of work, judged by the
// first process's run: a process's start-up CPU varies by tens of
// milliseconds, as much as a whole query over a million rows, so one
// extra run would measure mostly that noise. The CPU is 0 (n/a) when
// runs < 2. CPU time is what to compare on a shared machine: other
// processes stealing the core inflate wall time, not CPU time.
func duckTime(ctx context.Context, duckq, pre, query string, runs, threads int, span time.Duration) (duckTiming, error) {
	pre = fmt.Sprintf("SET threads=%d;", threads) + pre
	r1, err := duckRun(ctx, duckq, pre, query, 1)
	if err != nil || runs < 2 {
		return duckTiming{wall: r1.bestOf(1), rss: r1.rss, out: r1.out}, err
	}
	k := duckExtraRuns(runs, r1.bestOf(1), span, strings.Contains(strings.ToUpper(pre), "CREATE TABLE"))
	rk, err := duckRun(ctx, duckq, pre, query, 1+k)
	if err != nil {
		return duckTiming{}, err
	}
	t := duckTiming{wall: rk.bestOf(runs), rss: rk.rss, out: rk.out}
	if rk.cpu > r1.cpu {
		t.cpu = (rk.cpu - r1.cpu) / time.Duration(k)
	}
	return t, nil
}

// duckExtraRuns is duckTime's k for a query whose one run took first.
func duckExtraRuns(runs int, first, span time.Duration, loads bool) int {
	k := runs - 1
	if loads {
		k = 4 * runs
	}
	return max(k, duckRepeats(first, span))
}

// duckProcess is one duckq process's figures.
type duckProcess struct {
	times []time.Duration // of each run, in order
	cpu   time.Duration
	rss   int64
	out   string
}

// bestOf is the fastest of the first n runs.
func (p duckProcess) bestOf(n int) time.Duration {
	return slices.Min(p.times[:min(n, len(p.times))])
}

// duckRun runs duckq once with -repeat runs and returns the time of each
// run, the whole process's CPU time and peak RSS, and its output.
func duckRun(ctx context.Context, duckq, pre, query string, runs int) (duckProcess, error) {
	cmd := exec.CommandContext(ctx, duckq, "-pre", pre, "-e", query, "-time", "-repeat", strconv.Itoa(runs))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	rss, err := runWatched(cmd)
	if err != nil {
		return duckProcess{}, fmt.Errorf("duckq: %v: %s", err, firstLine(stderr.String()))
	}
	p := duckProcess{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), out: stdout.String(), rss: rss}
	for _, m := range runRe.FindAllStringSubmatch(stderr.String(), -1) {
		ms, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return duckProcess{}, fmt.Errorf("duckq: %w", err)
		}
		p.times = append(p.times, time.Duration(ms*float64(time.Millisecond)))
	}
	if len(p.times) == 0 {
		return duckProcess{}, fmt.Errorf("duckq: no timing in %q", stderr.String())
	}
	return p, nil
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

// duckCPUSpan is the work the CPU difference of duckTime should span;
// quickCPUSpan is -quick's, on 20 times fewer rows, where a longer span
// made the DuckDB runs most of make bench-quick's time.
const (
	duckCPUSpan  = 400 * time.Millisecond
	quickCPUSpan = 200 * time.Millisecond
)

// duckRepeats is how many extra runs of a query whose run took best span
// about span, at most 40.
func duckRepeats(best, span time.Duration) int {
	if best <= 0 {
		return 40
	}
	return min(40, int((span+best-1)/best))
}
