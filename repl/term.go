package repl

import (
	"io"
	"os"

	"golang.org/x/term"
)

// TermSize returns the Runner.Size of w: the size of the terminal w is,
// read afresh at every call so a live table follows a resize; nil when
// w is not a terminal.
func TermSize(w io.Writer) func() (cols, rows int, ok bool) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func() (int, int, bool) {
		c, r, err := term.GetSize(int(f.Fd()))
		return c, r, err == nil && c > 0 && r > 0
	}
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
