package repl

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/sql"
)

// Progress is told when a batch statement (a query without EMIT, COPY,
// a batch INSERT) starts; the function Start returns is called when the
// statement has its result or has failed, before anything is printed.
type Progress interface {
	Start(st sql.Statement) (done func())
}

// progressDelay is how long a statement runs before its progress shows:
// a quick one never flickers a bar.
const progressDelay = time.Second

// Bar is the Progress of a terminal: once a statement has run for a
// second, a spinner on W with what runs and for how long, redrawn on one
// line and erased when the statement ends. (The engine reports no
// progress of a batch scan yet, so it cannot show bytes of a total.) Use it only when W is a
// terminal (IsTerminal): piped output never gets one.
type Bar struct {
	W io.Writer
	// Delay overrides progressDelay (tests).
	Delay time.Duration
}

// Start implements Progress.
func (b *Bar) Start(st sql.Statement) func() {
	delay := b.Delay
	if delay <= 0 {
		delay = progressDelay
	}
	start := time.Now()
	width := 40
	if size := TermSize(b.W); size != nil {
		if cols, _, ok := size(); ok {
			width = min(width, cols-24) // the spinner, the time, a margin
		}
	}
	label := "running " + statementLabel(st, max(width, 8))
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		select {
		case <-stop:
			return
		case <-time.After(delay):
		}
		bar := progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(b.W),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetElapsedTime(false),
			// Redrawn here, not by the bar's own goroutine, so
			// nothing writes after done returns.
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionThrottle(0),
		)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			// The spinner turns; the time is the statement's, not the bar's.
			bar.Describe(fmt.Sprintf("%s · %s", label, time.Since(start).Round(100*time.Millisecond)))
			bar.RenderBlank()
			select {
			case <-stop:
				bar.Clear()
				bar.Exit()
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
