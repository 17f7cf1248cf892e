package repl

import (
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
// line and erased when the statement ends. Use it only when W is a
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
			progressbar.OptionSetDescription("running "+statementLabel(st)),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetSpinnerChangeInterval(0),
			progressbar.OptionThrottle(0),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionUseANSICodes(true),
		)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			bar.Add(0) // redraw: the spinner turns, the elapsed time grows
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

// statementLabel is the first words of st's SQL, to say what runs.
func statementLabel(st sql.Statement) string {
	// Passwords in WITH options stay off the screen.
	s := strings.Join(strings.Fields(sql.RedactOptions(st.SQL(), connectors.IsSecret, false)), " ")
	const max = 40
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}
