package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testLog sends the harness's progress lines to t.Log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCrashHarness is the CI form of `make crashtest`: every pipeline with
// 4 SIGKILLs (one random, the others at the chosen moments) and one clean
// stop, on small inputs, against a sluice binary built from this tree. A
// failure names the pipeline, the seed (CRASHTEST_SEED replays its
// schedule) and the lost or duplicated rows. CRASHTEST_RUN=regexp runs
// only the pipelines it matches.
func TestCrashHarness(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "sluice")
	err := buildSluice(ctx, bin, raceEnabled)
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASHTEST_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CRASHTEST_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (CRASHTEST_SEED=%d replays the kill schedules)", seed, seed)
	// A race-detecting sluice is ~15x slower on the CPU-bound file
	// pipelines: their input shrinks so that each run still lasts seconds.
	fileRows := 400_000
	if raceEnabled {
		fileRows = 40_000
	}
	cfg := config{bin: bin, root: t.TempDir(), seed: seed, kills: 4, stops: 1,
		scale:   scale{Seconds: 4, Rate: 2000, FileRows: fileRows, FileRun: 3 * time.Second},
		timeout: 2 * time.Minute, log: testLog{t}}
	// CRASHTEST_RUN (a regexp, as -run) picks pipelines for a targeted run.
	sel := pipelines
	if expr := os.Getenv("CRASHTEST_RUN"); expr != "" {
		if sel, err = selectPipelines(expr); err != nil {
			t.Fatalf("CRASHTEST_RUN: %v", err)
		}
	}
	// Most pipelines wait on paced input, so six at once fit two cores.
	results, err := runAll(ctx, cfg, sel, 6)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	report(&sb, results)
	t.Log("\n" + sb.String())
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("%s: harness error: %v", r.pipeline.name, r.err)
		case len(r.failures) > 0:
			t.Errorf("%s (seed %d): %s", r.pipeline.name, seed, strings.Join(r.failures, "\n"))
		case r.kills() < 3:
			t.Errorf("%s: only %d kills hit a running query, want ≥ 3", r.pipeline.name, r.kills())
		}
	}
}
