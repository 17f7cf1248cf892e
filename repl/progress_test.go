package repl

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// TestProgressLine: what the progress line says of each known total, the
// rate and the time, always narrower than its room: the statement's words
// go first, then the rate.
func TestProgressLine(t *testing.T) {
	sts, err := sql.Parse("SELECT category, SUM(value) FROM 'sales.csv' GROUP BY category")
	if err != nil {
		t.Fatal(err)
	}
	st := sts[0]
	var bytes, parquet, rows exec.ProgressSnapshot
	bytes.Total[exec.ProgressBytes], bytes.Done[exec.ProgressBytes], bytes.Rows = 40<<20, 10<<20, 250000
	parquet.Total[exec.ProgressRows], parquet.Done[exec.ProgressRows], parquet.Rows = 12_000_000, 3_000_000, 2_900_000
	rows.Total[exec.ProgressRows], rows.Done[exec.ProgressRows] = 1500, 700
	for _, tc := range []struct {
		name string
		snap exec.ProgressSnapshot
		room int
		want string
	}{
		{"bytes, wide", bytes, 120, "running SELECT category, SUM(value) FROM 'sales.csv' GROUP BY category · 10.0 MiB/40.0 MiB · 125k rows/s · 2s"},
		{"bytes, 80 columns", bytes, 56, "running · 10.0 MiB/40.0 MiB · 125k rows/s · 2s"},
		{"parquet rows", parquet, 56, "running · 3.0M/12.0M rows · 1.5M rows/s · 2s"},
		{"generator rows made before returned", rows, 56, "running SELECT cate… · 700/1500 rows · 350 rows/s · 2s"},
		{"narrow drops the rate", bytes, 30, "10.0 MiB/40.0 MiB · 2s"},
		{"no total", exec.ProgressSnapshot{}, 56, "running SELECT category, SUM(value) FROM 'sales.… · 2s"},
	} {
		got := progressLine(st, tc.snap, 2*time.Second, tc.room)
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
		if n := len([]rune(got)); n >= tc.room {
			t.Errorf("%s: %d runes in room %d", tc.name, n, tc.room)
		}
		if !strings.HasSuffix(got, "2s") {
			t.Errorf("%s: no elapsed time in %q", tc.name, got)
		}
	}
}
