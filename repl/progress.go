package repl

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// Progress is told when a batch statement (a query without EMIT, COPY,
// a batch INSERT) starts, with where the engine reports how far its
// scans have read (polled from another goroutine); the function Start
// returns is called when the statement has its result or has failed,
// before anything is printed.
type Progress interface {
	Start(st sql.Statement, scans *exec.ScanProgress) (done func())
}

// progressDelay is how long a statement runs before its progress shows:
// a quick one never flickers a bar.
const progressDelay = time.Second

// Bar is the Progress of a terminal: once a statement has run for a
// second, a line on W with what runs, how much of its input it has read
// of the total (bytes of text files, rows of Parquet files and of a
// generator; a bar when a total is known, a spinner otherwise), the rows per
// second the scans return and the time elapsed, redrawn in place and
// erased when the statement ends. Use it only when W is a terminal
// (IsTerminal): piped output never gets one.
type Bar struct {
	W io.Writer
	// Delay overrides progressDelay (tests).
	Delay time.Duration
}

// barWidth is the bar's own width in cells when a total is known.
const barWidth = 12

// Start implements Progress.
func (b *Bar) Start(st sql.Statement, scans *exec.ScanProgress) func() {
	delay := b.Delay
	if delay <= 0 {
		delay = progressDelay
	}
	start := time.Now()
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-stop:
			return
		case <-time.After(delay):
		}
		var bar *progressbar.ProgressBar
		var unit exec.ProgressUnit = -1
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			cols := 80
			if size := TermSize(b.W); size != nil {
				if c, _, ok := size(); ok {
					cols = c
				}
			}
			snap := scans.Snapshot()
			u := primaryUnit(snap)
			if bar == nil || u != unit {
				if bar != nil {
					bar.Clear()
				}
				unit = u
				bar = newBar(b.W, u, snap)
			}
			// The bar, when there is one, takes its width, the percent
			// and a margin; the description the rest, less than a line.
			room := cols - 2
			if u >= 0 {
				room -= barWidth + 10
			}
			bar.Describe(progressLine(st, snap, time.Since(start), room))
			if u >= 0 {
				_ = bar.Set64(snap.Done[u])
			}
			_ = bar.RenderBlank()
			select {
			case <-stop:
				_ = bar.Clear()
				_ = bar.Exit()
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-finished
		})
	}
}

// newBar is a bar over unit u's total, or a spinner when u < 0 (no
// source knows a total). It is redrawn by Start's loop, never by the
// library's own goroutine, so nothing writes after done returns.
func newBar(w io.Writer, u exec.ProgressUnit, snap exec.ProgressSnapshot) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetElapsedTime(false),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(0),
	}
	if u < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14), progressbar.OptionSetSpinnerChangeInterval(0))
		return progressbar.NewOptions64(-1, opts...)
	}
	opts = append(opts, progressbar.OptionSetWidth(barWidth))
	return progressbar.NewOptions64(snap.Total[u], opts...)
}

// primaryUnit is the unit the bar measures: bytes of text files, else
// rows (Parquet, a generator); -1 when no scan knows a total.
func primaryUnit(s exec.ProgressSnapshot) exec.ProgressUnit {
	for _, u := range []exec.ProgressUnit{exec.ProgressBytes, exec.ProgressRows} {
		if s.Total[u] > 0 {
			return u
		}
	}
	return -1
}

// progressLine is what the bar says: the statement, what is read of each
// known total, the rows per second and the time elapsed, in fewer than
// room cells (the statement's words are cut first).
func progressLine(st sql.Statement, s exec.ProgressSnapshot, elapsed time.Duration, room int) string {
	var counts []string
	if t := s.Total[exec.ProgressBytes]; t > 0 {
		counts = append(counts, bytesText(s.Done[exec.ProgressBytes])+"/"+bytesText(t))
	}
	if t := s.Total[exec.ProgressRows]; t > 0 {
		counts = append(counts, fmt.Sprintf("%s/%s rows", countText(s.Done[exec.ProgressRows]), countText(t)))
	}
	rate := ""
	// A source may count rows it has made before a scan returns them
	// (a generator filling a batch).
	if rows, secs := max(s.Rows, s.Done[exec.ProgressRows]), elapsed.Seconds(); secs > 0 && rows > 0 {
		rate = countText(int64(float64(rows)/secs)) + " rows/s"
	}
	took := elapsed.Round(100 * time.Millisecond).String()
	join := func(parts ...string) string {
		var keep []string
		for _, p := range parts {
			if p != "" {
				keep = append(keep, p)
			}
		}
		return strings.Join(keep, " · ")
	}
	all := join(append(counts, rate, took)...)
	// The longest that fits: the statement's first words (at least a
	// few), then the bare word, then fewer figures.
	if n := room - len([]rune(all)) - len("running  · ") - 1; n >= 12 {
		return "running " + statementLabel(st, n) + " · " + all
	}
	for _, line := range []string{"running · " + all, all, join(append(counts, took)...), join(counts[:min(len(counts), 1)]...) + " · " + took} {
		if len([]rune(line)) < room {
			return line
		}
	}
	return took
}

// countText writes n in at most four figures and a suffix: 950, 12.5k,
// 223k, 3.2M.
func countText(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1e5:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	case n >= 1e4:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprintf("%d", n)
}

// statementLabel is the first words of st's SQL, at most max runes, to
// say what runs.
func statementLabel(st sql.Statement, max int) string {
	// Passwords in WITH options stay off the screen.
	s := strings.Join(strings.Fields(sql.RedactOptions(st.SQL(), connectors.IsSecret, false)), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
