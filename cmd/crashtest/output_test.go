package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func multiset(lines ...string) rows {
	r := rows{}
	for _, l := range lines {
		r.add(l)
	}
	return r
}

// TestCompare: loss, duplicates and wrong rows are told apart and counted
// with multiplicity.
func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		want, got                rows
		missing, dup, unexpected int
		summary                  string
	}{
		{"equal", multiset("a", "b", "b"), multiset("b", "a", "b"), 0, 0, 0, "3 rows, identical"},
		{"lost", multiset("a", "b", "c"), multiset("a"), 2, 0, 0, "want 3 rows, got 1: 2 missing (2 distinct)"},
		{"lost copy", multiset("a", "a"), multiset("a"), 1, 0, 0, "want 2 rows, got 1: 1 missing (1 distinct)"},
		{"duplicated", multiset("a", "b"), multiset("a", "a", "a", "b"), 0, 2, 0, "want 2 rows, got 4: 2 duplicated (1 distinct)"},
		{"doubled total", multiset("w1,10"), multiset("w1,20"), 1, 0, 1, "want 1 rows, got 1: 1 missing (1 distinct), 1 unexpected (1 distinct)"},
		{"empty output", multiset("a"), rows{}, 1, 0, 0, "want 1 rows, got 0: 1 missing (1 distinct)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := compare(tc.want, tc.got)
			if sum(d.Missing) != tc.missing || sum(d.Duplicated) != tc.dup || sum(d.Unexpected) != tc.unexpected {
				t.Errorf("missing %v duplicated %v unexpected %v", d.Missing, d.Duplicated, d.Unexpected)
			}
			if d.empty() != (tc.missing+tc.dup+tc.unexpected == 0) {
				t.Errorf("empty() = %v", d.empty())
			}
			if got := d.summary(); got != tc.summary {
				t.Errorf("summary %q, want %q", got, tc.summary)
			}
		})
	}
}

// TestDetailsBounded: a large diff lists a few examples and the count of
// the rest.
func TestDetailsBounded(t *testing.T) {
	want := rows{}
	for _, s := range []string{"r1", "r2", "r3", "r4"} {
		want.add(s)
	}
	got := compare(want, rows{}).details(2)
	if !strings.Contains(got, "missing ×1: r1") || !strings.Contains(got, "… 2 more distinct") || strings.Contains(got, "r3") {
		t.Errorf("details:\n%s", got)
	}
}

// TestUpsertRows: the fold keeps the last value per key, honours
// tombstones, and flags counts that do not grow (a replayed or forgotten
// state) even when the last value is right.
func TestUpsertRows(t *testing.T) {
	rec := func(p int32, off int64, key, val string) record {
		r := record{Partition: p, Offset: off, Key: key}
		if val != "" {
			r.Value = []byte(val)
		}
		return r
	}
	for _, tc := range []struct {
		name string
		recs []record
		want rows
		bad  int
	}{
		{"last wins", []record{rec(0, 0, "a", `{"n":1}`), rec(0, 1, "a", `{"n":2}`), rec(1, 0, "b", `{"n":1}`)},
			multiset(`a => {"n":2}`, `b => {"n":1}`), 0},
		{"tombstone", []record{rec(0, 0, "a", `{"n":1}`), rec(0, 1, "a", "")}, rows{}, 0},
		{"replayed", []record{rec(0, 0, "a", `{"n":1}`), rec(0, 1, "a", `{"n":2}`), rec(0, 2, "a", `{"n":1}`), rec(0, 3, "a", `{"n":2}`)},
			multiset(`a => {"n":2}`), 1},
		{"repeated", []record{rec(0, 0, "a", `{"n":3}`), rec(0, 1, "a", `{"n":3}`)}, multiset(`a => {"n":3}`), 1},
		{"no count", []record{rec(0, 0, "a", `{"m":3}`)}, multiset(`a => {"m":3}`), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, bad := upsertRows(tc.recs, "n")
			if d := compare(tc.want, got); !d.empty() {
				t.Errorf("fold: %s", d.summary())
			}
			if len(bad) != tc.bad {
				t.Errorf("bad %q, want %d", bad, tc.bad)
			}
		})
	}
}

// TestReadCSVDir: visible CSV parts count, headers are skipped, and
// pending or temporary files a crash left behind are not output.
func TestReadCSVDir(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"part-00000.csv":            "a,b\n1,2\n3,4\n",
		"part-00001.csv":            "a,b\n1,2\n",
		".part-00002.csv.tmp-12345": "a,b\n9,9\n",
		"_pending-00003.csv":        "a,b\n8,8\n",
		"part-00004.csv.pending":    "a,b\n7,7\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, left, err := readCSVDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := compare(multiset("1,2", "1,2", "3,4"), got); !d.empty() {
		t.Errorf("%s\n%s", d.summary(), d.details(5))
	}
	if len(left) != 3 {
		t.Errorf("left out %v, want the 3 pending/temporary files", left)
	}
	if r, _, err := readCSVDir(filepath.Join(dir, "missing")); err != nil || r.total() != 0 {
		t.Errorf("a missing directory: %v, %d rows", err, r.total())
	}
}
