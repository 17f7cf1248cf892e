package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDemosRunTheSame: the README's promise for a fresh clone, that `make
// run` twice and `make demo-microbatch` twice print the same thing. The
// first is the real examples/demo.sql (paced, about 6 s); the second is
// examples/microbatch_to_parquet.sql unpaced, run twice in one folder, so
// its second run finds the first's Parquet files and must replace them
// rather than count them twice.
func TestDemosRunTheSame(t *testing.T) {
	runTwice := func(t *testing.T, script string) string {
		t.Helper()
		var outs [2]string
		for i := range outs {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"-f", script}, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("run %d of %s: exit %d: %s", i+1, script, code, stderr.String())
			}
			outs[i] = stdout.String()
		}
		if outs[0] != outs[1] {
			t.Fatalf("%s printed different output on its second run:\n%s\nthen:\n%s", script, outs[0], outs[1])
		}
		return outs[0]
	}
	t.Run("make run", func(t *testing.T) {
		out := runTwice(t, filepath.Join("..", "..", "examples", "demo.sql"))
		// 6 one-second windows (and the one before the first, from the
		// out-of-order rows) of 5 categories, and all 60,000 orders.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 31 || lines[0] != "window_start,category,orders,total" {
			t.Fatalf("demo.sql printed %d lines:\n%s", len(lines), out)
		}
		if n := sumColumn(t, lines[1:], 2); n != 60000 {
			t.Errorf("demo.sql's windows hold %d orders, want all 60000", n)
		}
	})
	t.Run("make demo-microbatch", func(t *testing.T) {
		src, err := os.ReadFile(filepath.Join("..", "..", "examples", "microbatch_to_parquet.sql"))
		if err != nil {
			t.Fatal(err)
		}
		fast := strings.Replace(string(src), "rows_per_second = '2000'", "rows_per_second = '0'", 1)
		if fast == string(src) {
			t.Fatal("microbatch_to_parquet.sql no longer sets rows_per_second = '2000'")
		}
		dir := t.TempDir()
		script := filepath.Join(dir, "microbatch.sql")
		if err := os.WriteFile(script, []byte(fast), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		out := runTwice(t, script)
		if !strings.HasPrefix(out, "category,total\n") || strings.Count(out, "\n") != 5 {
			t.Fatalf("microbatch_to_parquet.sql printed:\n%s", out)
		}
	})
}

// sumColumn adds up column col of CSV lines.
func sumColumn(t *testing.T, lines []string, col int) int64 {
	t.Helper()
	var n int64
	for _, l := range lines {
		v, err := strconv.ParseInt(strings.Split(l, ",")[col], 10, 64)
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		n += v
	}
	return n
}
