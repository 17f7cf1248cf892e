package main

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestSuiteWorkloadsCompute runs every workload of the suite in process on
// small data and checks its row count and integer checksum against values
// computed row by row from the generator (not by any engine), at
// parallelism 1 and 2, from Parquet and CSV.
func TestSuiteWorkloadsCompute(t *testing.T) {
	const n = 25_000
	d, err := ensureSuiteData(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ rows, sum int64 }
	exp := map[string]want{}
	var sumV, sum2Small, small int64
	counts := map[int64]int64{}
	tumble, hop := map[[2]int64]bool{}, map[[2]int64]bool{}
	var vals []int64
	for i := int64(0); i < n; i++ {
		r := eventAt(i)
		k, _ := row(i)
		sumV += r.Value
		counts[r.Value]++
		vals = append(vals, r.Value)
		if r.Value < 1000 {
			small++
			sum2Small += 2 * r.Value
		}
		sec := r.TS.Unix()
		tumble[[2]int64{sec / 10, int64(k)}] = true
		for s := sec - 9; s <= sec; s++ {
			hop[[2]int64{s, int64(k)}] = true
		}
	}
	var distinctSum int64
	for v := range counts {
		distinctSum += v
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] > vals[j] })
	var top int64
	for _, v := range vals[:10] {
		top += v
	}
	exp["groupby-100"] = want{numKeys, sumV}
	exp["groupby-1M"] = want{int64(len(counts)), distinctSum + n}
	exp["distinct-1M"] = want{1, int64(len(counts))}
	exp["topn-10"] = want{10, top}
	exp["filter-project"] = want{small, sum2Small}
	exp["join-dim-100"] = want{10, 45 + sumV}
	exp["tumble-10s"] = want{int64(len(tumble)), sumV}
	exp["hop-10s/1s"] = want{int64(len(hop)), 10 * sumV}
	exp["stream-tumble-final"] = exp["tumble-10s"]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, w := range workloads {
		for _, in := range []string{"parquet", "csv"} {
			for _, threads := range []int{1, 2} {
				m, err := measureSluice(ctx, d, w, in, threads, 1)
				if err != nil {
					t.Errorf("%s %s p%d: %v", w.name, in, threads, err)
					continue
				}
				e, ok := exp[w.name]
				if !ok { // EMIT EVERY / EMIT CHANGES emit updates: only non-empty
					if m.Rows == 0 {
						t.Errorf("%s %s p%d: no output", w.name, in, threads)
					}
					continue
				}
				if m.Rows != e.rows || m.Checksum != e.sum {
					t.Errorf("%s %s p%d: %d rows Σ%d, want %d rows Σ%d", w.name, in, threads, m.Rows, m.Checksum, e.rows, e.sum)
				}
			}
		}
	}
}

func TestDuckChecksum(t *testing.T) {
	rows, sum := duckChecksum("a,b,c\nx,3,2026-01-01 00:00:00\ny,-4,1.5\n")
	if rows != 2 || sum != -1 {
		t.Errorf("got %d rows Σ%d, want 2 rows Σ-1", rows, sum)
	}
}

// TestDuckExtraRuns: duckTime's second process runs the query often
// enough to span the requested work, at least runs-1 extra times (4*runs
// when a table is loaded first), at most 40; -quick's span asks for fewer.
func TestDuckExtraRuns(t *testing.T) {
	for _, tc := range []struct {
		runs  int
		first time.Duration
		span  time.Duration
		loads bool
		want  int
	}{
		{5, time.Second, duckCPUSpan, false, 4},
		{5, time.Second, duckCPUSpan, true, 20},
		{2, 20 * time.Millisecond, duckCPUSpan, false, 20},
		{2, 20 * time.Millisecond, quickCPUSpan, false, 10},
		{2, time.Millisecond, duckCPUSpan, false, 40},
		{2, 0, quickCPUSpan, false, 40},
	} {
		if got := duckExtraRuns(tc.runs, tc.first, tc.span, tc.loads); got != tc.want {
			t.Errorf("duckExtraRuns(%d, %v, %v, %v) = %d, want %d", tc.runs, tc.first, tc.span, tc.loads, got, tc.want)
		}
	}
}

// TestDuckBestOf: the DuckDB wall time is the best of the first runs runs
// of the process that ran it 1+k times, as sluice's is of runs runs.
func TestDuckBestOf(t *testing.T) {
	p := duckProcess{times: []time.Duration{30, 20, 25, 5, 1}}
	for n, want := range map[int]time.Duration{1: 30, 2: 20, 3: 20, 4: 5, 9: 1} {
		if got := p.bestOf(n); got != want {
			t.Errorf("bestOf(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestMain lets the test binary serve as its own -worker child, as
// sluicebench does (measureAlternating starts os.Executable).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		workerMain(os.Args[2:])
		return
	}
	os.Exit(m.Run())
}

// TestMeasureAlternating runs groupby-100 in two -serve children, at one
// and two threads in turn: each reports the checked result, a best wall
// no longer than its median and a peak RSS.
func TestMeasureAlternating(t *testing.T) {
	const n = 20_000
	dir := t.TempDir()
	if _, err := ensureSuiteData(dir, n); err != nil {
		t.Fatal(err)
	}
	var sumV int64
	for i := int64(0); i < n; i++ {
		sumV += eventAt(i).Value
	}
	w, _ := findWorkload("groupby-100")
	cfg := suiteConfig{rows: n, runs: 3, dir: dir, threads: []int{1, 2}}
	ms := measureAlternating(context.Background(), cfg, w, "parquet")
	if len(ms) != 2 {
		t.Fatalf("%d measurements, want 2", len(ms))
	}
	for i, m := range ms {
		if m.Err != "" {
			t.Fatalf("threads %d: %s", cfg.threads[i], m.Err)
		}
		if m.Rows != numKeys || m.Checksum != sumV {
			t.Errorf("threads %d: %d rows Σ%d, want %d rows Σ%d", cfg.threads[i], m.Rows, m.Checksum, numKeys, sumV)
		}
		if m.Wall <= 0 || m.Median < m.Wall || m.CPU <= 0 || m.RSS <= 0 {
			t.Errorf("threads %d: wall %v median %v cpu %v rss %d", cfg.threads[i], m.Wall, m.Median, m.CPU, m.RSS)
		}
	}
}

// TestServeRunsRefusesUnknownRequest: a worker names what it was asked.
func TestServeRunsRefusesUnknownRequest(t *testing.T) {
	d, err := ensureSuiteData(t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := findWorkload("groupby-100")
	var out strings.Builder
	err = serveRuns(context.Background(), d, w, "csv", 1, strings.NewReader("run\nstop\n"), &out)
	if err == nil || !strings.Contains(err.Error(), `"stop"`) {
		t.Errorf("err = %v, want one naming \"stop\"", err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("output %q, want one result line", out.String())
	}
}

// TestSummarize: best and median wall of all runs, mean CPU of the warm
// ones (the first left out).
func TestSummarize(t *testing.T) {
	m := summarize([]runResult{{Wall: 30, CPU: 100, Rows: 2, Checksum: 7}, {Wall: 10, CPU: 10}, {Wall: 20, CPU: 20}, {Wall: 40, CPU: 30, Rows: 2, Checksum: 7}})
	if m.Wall != 10 || m.Median != 25 || m.CPU != 20 || m.Rows != 2 || m.Checksum != 7 {
		t.Errorf("got wall %v median %v cpu %v rows %d Σ%d, want 10 25 20 2 7", m.Wall, m.Median, m.CPU, m.Rows, m.Checksum)
	}
	if m := summarize([]runResult{{Wall: 5, CPU: 9}}); m.Wall != 5 || m.Median != 5 || m.CPU != 9 {
		t.Errorf("one run: got wall %v median %v cpu %v, want 5 5 9", m.Wall, m.Median, m.CPU)
	}
}
