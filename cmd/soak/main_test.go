package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestQuantile: nearest-rank quantiles, and "none" for an empty sample.
func TestQuantile(t *testing.T) {
	var s sample
	if got := s.quantile(0.99); got != -1 {
		t.Errorf("empty sample: %v", got)
	}
	for i := 100; i >= 1; i-- {
		s.lat = append(s.lat, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := s.quantile(tc.q); got != tc.want {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// TestRSS: this process's resident set is read from /proc and is
// plausible (more than 1 MB, less than 64 GB).
func TestRSS(t *testing.T) {
	rss, err := rssBytes(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 || rss > 64<<30 {
		t.Errorf("RSS %d bytes", rss)
	}
	if _, err := rssBytes(-5); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// TestTailBuffer keeps only the last 4 KB.
func TestTailBuffer(t *testing.T) {
	var b tailBuffer
	b.Write([]byte(strings.Repeat("a", 5000)))
	b.Write([]byte("end"))
	if s := b.String(); len(s) != 4096 || !strings.HasSuffix(s, "end") {
		t.Errorf("len %d, suffix %q", len(s), s[len(s)-3:])
	}
}

// TestRowParsers: a window row is due the watermark delay after its end
// and counts its n column; a join row is due at its bid's time and counts
// one; headers, retractions and short rows are skipped.
func TestRowParsers(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(timeLayout, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		parse  func([]string) (time.Time, int64, bool)
		fields string
		due    time.Time
		n      int64
		ok     bool
	}{
		{"window", windowRow, "2026-12-02 02:33:28,c1,412,9000", at("2026-12-02 02:33:28").Add(watermarkDelay), 412, true},
		{"window header", windowRow, "window_end,category,n,total", time.Time{}, 0, false},
		{"window short", windowRow, "2026-12-02 02:33:28,c1", time.Time{}, 0, false},
		{"join", joinRow, "+I,2026-12-02 02:33:28.125,14,9490,1001", at("2026-12-02 02:33:28.125"), 1, true},
		{"join whole second", joinRow, "+I,2026-12-02 02:33:28,14,9490,1001", at("2026-12-02 02:33:28"), 1, true},
		{"join header", joinRow, "op,bid_time,category,price,bidder", time.Time{}, 0, false},
		{"join retraction", joinRow, "-D,2026-12-02 02:33:28,14,9490,1001", time.Time{}, 0, false},
	} {
		due, n, ok := tc.parse(strings.Split(tc.fields, ","))
		if ok != tc.ok || n != tc.n || !due.Equal(tc.due) {
			t.Errorf("%s: got %v %d %v, want %v %d %v", tc.name, due, n, ok, tc.due, tc.n, tc.ok)
		}
	}
}
