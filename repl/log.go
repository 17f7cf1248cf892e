package repl

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// logHeld bounds the messages held while a live table is on screen;
// past it only the newest are kept, and the rest counted.
const logHeld = 20

// Log is where the engine's operational messages go (sluice.Config.Log:
// warnings, slow micro-batches, state growth): straight to W, except
// while a live table is on screen. A line written then would scroll the
// table and break its redraw in place, so it is held, the table shows
// the newest under it, and the held lines are printed when the table is
// done. It is safe for concurrent use.
type Log struct {
	W io.Writer

	mu      sync.Mutex
	holding bool
	partial []byte
	held    []string
	skipped int
}

// Write implements io.Writer.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.holding {
		return l.W.Write(p)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.held = append(l.held, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		if len(l.held) > logHeld {
			l.held = l.held[1:]
			l.skipped++
		}
	}
	return len(p), nil
}

// hold starts holding lines; it is a no-op on a nil Log.
func (l *Log) hold() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.holding = true
	l.mu.Unlock()
}

// latest is the newest held line, "" if none.
func (l *Log) latest() string {
	if l == nil {
		return ""
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		return ""
	}
	return l.held[len(l.held)-1]
}

// release prints the held lines and stops holding.
func (l *Log) release() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.skipped > 0 {
		fmt.Fprintf(l.W, "(%d earlier messages not shown)\n", l.skipped)
	}
	for _, s := range l.held {
		fmt.Fprintln(l.W, s)
	}
	if len(l.partial) > 0 {
		l.W.Write(l.partial)
	}
	l.holding, l.held, l.partial, l.skipped = false, nil, nil, 0
}
