package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// liveRun starts the shell on a cols x rows pty, creates the generator
// source g (with a watermark, so windows close) with the given
// categories, runs query for d, stops it with Ctrl-C and returns the
// terminal once the shell is back at its prompt.
func liveRun(t *testing.T, cols, rows, categories int, query string, d time.Duration) *vterm {
	t.Helper()
	s := startShellSized(t, t.TempDir(), cols, rows, "--history", "-")
	s.expect("sluice> ")
	s.send(fmt.Sprintf("CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP,\r"+
		" WATERMARK FOR ts AS ts) WITH (connector='generator',\r"+
		" rows_per_second='20000', categories='%d');\r", categories))
	s.expect("source g created")
	s.send(query + "\r")
	s.expect("Ctrl-C to stop")
	time.Sleep(d)
	s.send("\x03")
	s.expect("query stopped after")
	s.expect("sluice> ")
	s.send("\\q\r")
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	return s.term()
}

var (
	statusLine = regexp.MustCompile(`(?m)^(\d+) rows · in \d+`)
	moreLine   = regexp.MustCompile(`(?m)^… (\d+) more rows`)
	dataRow    = regexp.MustCompile(`(?m)^\| .* \|$`)
)

// checkFits asserts what every frame must be: within the terminal's
// width, one copy of the table in the whole scrollback, and when not all
// rows fit, a count of the others that adds up to the status's total.
func checkFits(t *testing.T, v *vterm, header string) (rows []string) {
	t.Helper()
	hist := v.history()
	if n := strings.Count(hist, header); n != 1 {
		t.Fatalf("the scrollback holds %d copies of the header %q, want 1:\n%s", n, header, hist)
	}
	// The last frame: from the top border over the header to the status
	// line. (After Ctrl-C and the prompt, its top may have scrolled into
	// the scrollback.)
	at := strings.Index(hist, header)
	at = strings.LastIndex(hist[:at], "\n+") + 1
	frame := hist[at:]
	st := statusLine.FindStringSubmatchIndex(frame)
	if st == nil {
		t.Fatalf("no status line under the table:\n%s", frame)
	}
	end := st[1] + strings.Index(frame[st[1]:], "\n")
	frame = frame[:end]
	n := strings.Count(frame, "\n") + 1
	if n > v.rows-1 {
		t.Errorf("the table and status take %d lines of a %d-line terminal:\n%s", n, v.rows, frame)
	}
	if moreLine.MatchString(frame) && n != v.rows-1 {
		t.Errorf("rows are left out, yet the frame takes %d lines of a %d-line terminal:\n%s", n, v.rows, frame)
	}
	for _, l := range strings.Split(frame, "\n") {
		if len([]rune(l)) >= v.cols {
			t.Errorf("a line of %d columns on a %d-column terminal (it would wrap): %q", len([]rune(l)), v.cols, l)
		}
	}
	for _, r := range dataRow.FindAllString(frame, -1) {
		if !strings.Contains(r, header) {
			rows = append(rows, r)
		}
	}
	total, _ := strconv.Atoi(frame[st[2]:st[3]])
	if m := moreLine.FindStringSubmatch(frame); m != nil {
		more, _ := strconv.Atoi(m[1])
		if more+len(rows) != total {
			t.Errorf("%d rows shown and %d more, but the status says %d:\n%s", len(rows), more, total, frame)
		}
	} else if len(rows) != total {
		t.Errorf("%d rows shown, the status says %d, and no line counts the rest:\n%s", len(rows), total, frame)
	}
	return rows
}

// TestLiveTableFitsTheTerminal runs an aggregate in update mode (EMIT
// CHANGES and EMIT EVERY) with 30 and 1000 keys at 80x24 and 60x24: the
// table is redrawn in place, one row per key, within the terminal, so
// the scrollback holds one copy of it; what does not fit is counted.
func TestLiveTableFitsTheTerminal(t *testing.T) {
	for _, tc := range []struct {
		cols, rows, keys int
		emit             string
		d                time.Duration
	}{
		{80, 24, 30, "EMIT CHANGES", 5 * time.Second},
		{80, 24, 1000, "EMIT CHANGES", 2 * time.Second},
		{60, 24, 30, "EMIT EVERY INTERVAL '200' MILLISECOND", 2 * time.Second},
		{60, 24, 1000, "EMIT EVERY INTERVAL '200' MILLISECOND", 2 * time.Second},
	} {
		t.Run(fmt.Sprintf("%dx%d/%d keys/%s", tc.cols, tc.rows, tc.keys, tc.emit), func(t *testing.T) {
			v := liveRun(t, tc.cols, tc.rows, tc.keys,
				"SELECT category, COUNT(*) AS n, SUM(value) AS total FROM g GROUP BY category "+tc.emit+";", tc.d)
			rows := checkFits(t, v, "| op | category |")
			seen := map[string]bool{}
			for _, r := range rows {
				f := strings.Fields(r)
				if f[1] != "+I" && f[1] != "+U" {
					t.Errorf("row without its last op: %q", r)
				}
				if seen[f[3]] {
					t.Errorf("category %s shown twice: an update was appended, not applied in place", f[3])
				}
				seen[f[3]] = true
			}
		})
	}
}

// TestLiveAppendShowsNewest: an append stream (windows closed by the
// watermark, EMIT FINAL) shows its newest rows at the bottom, in order,
// and its status counts all of them.
func TestLiveAppendShowsNewest(t *testing.T) {
	v := liveRun(t, 80, 24, 3,
		"SELECT window_start, COUNT(*) AS n FROM TUMBLE(g, ts, INTERVAL '10' MILLISECOND) GROUP BY window_start EMIT FINAL;",
		3*time.Second)
	rows := checkFits(t, v, "| window_start ")
	if len(rows) < 24-8 {
		t.Fatalf("%d rows shown, want a screenful:\n%s", len(rows), v.history())
	}
	st := statusLine.FindStringSubmatch(v.history())
	total, _ := strconv.Atoi(st[1])
	// Windows are 10 ms from 2026-01-01 00:00:00: the last one shown is
	// the newest, total-1 windows after the first.
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := start.Add(time.Duration(total-1) * 10 * time.Millisecond).Format("2006-01-02 15:04:05.000")
	last := rows[len(rows)-1]
	if !strings.Contains(last, strings.TrimRight(strings.TrimRight(want, "0"), ".")) {
		t.Errorf("the last row shown is %q, want the newest window %s of %d", last, want, total)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i] <= rows[i-1] {
			t.Errorf("rows out of arrival order: %q after %q", rows[i], rows[i-1])
		}
	}
}

// TestLiveTopNInOrder: ORDER BY … LIMIT n EMIT CHANGES is shown in the
// query's order, n rows.
func TestLiveTopNInOrder(t *testing.T) {
	v := liveRun(t, 80, 24, 5,
		"SELECT value, category FROM g ORDER BY value DESC LIMIT 5 EMIT CHANGES;", 2*time.Second)
	rows := checkFits(t, v, "| op | value |")
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5:\n%s", len(rows), v.history())
	}
	prev := int64(1 << 62)
	for _, r := range rows {
		n, err := strconv.ParseInt(strings.Fields(r)[3], 10, 64)
		if err != nil || n > prev {
			t.Fatalf("rows not in descending value order:\n%s", v.history())
		}
		prev = n
	}
}

// TestLiveResize: after the terminal shrinks (SIGWINCH), the live table
// is redrawn to the new size at once.
func TestLiveResize(t *testing.T) {
	s := startShellSized(t, t.TempDir(), 80, 24, "--history", "-")
	s.expect("sluice> ")
	s.send("CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP)\r WITH (connector='generator', categories='100');\r")
	s.expect("source g created")
	s.send("SELECT category, COUNT(*) AS n, SUM(value) AS total FROM g GROUP BY category EMIT CHANGES;\r")
	s.expect("Ctrl-C to stop")
	time.Sleep(500 * time.Millisecond)
	s.resize(50, 14)
	time.Sleep(700 * time.Millisecond)
	s.send("\x03")
	s.expect("query stopped after")
	s.expect("sluice> ")
	// The last frame, from its top border to its status line, is drawn
	// for the new size. (Shrinking pushed the old frame's top into the
	// scrollback, as a terminal does.)
	hist := s.term().history()
	at := strings.LastIndex(hist, "| op | category |")
	if at < 0 {
		t.Fatalf("no table:\n%s", hist)
	}
	frame := hist[strings.LastIndex(hist[:at], "\n+")+1:]
	frame = frame[:strings.Index(frame, "query stopped")]
	lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
	if len(lines) > 14-1 {
		t.Errorf("the last frame has %d lines on a 14-row screen:\n%s", len(lines), frame)
	}
	for _, l := range lines {
		if len([]rune(l)) >= 50 {
			t.Errorf("a line of %d columns after resizing to 50: %q", len([]rune(l)), l)
		}
	}
	if !moreLine.MatchString(frame) || !statusLine.MatchString(frame) {
		t.Errorf("the last frame lacks its count of rows not shown or its status:\n%s", frame)
	}
}

// TestShellCtrlCAfterCompletionList: Ctrl-C discards the line even while
// Tab's list of completions shows (readline alone would only close it).
func TestShellCtrlCAfterCompletionList(t *testing.T) {
	s := startShellSized(t, t.TempDir(), 80, 24, "--history", "-")
	s.expect("sluice> ")
	s.send("CREATE SOURCE orders WITH (connector='generator');\r")
	s.expect("source orders created")
	s.send("SELECT * FROM o\t")
	s.expect("orders")
	time.Sleep(200 * time.Millisecond)
	s.send("\x03")
	time.Sleep(200 * time.Millisecond)
	s.send("SELECT 6 * 7 AS answer;\r")
	out := s.expect("(1 row)")
	if strings.Contains(out, "ERROR") || !strings.Contains(out, "42") {
		t.Fatalf("the line was not cleared by Ctrl-C:\n%s", out)
	}
}
