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
