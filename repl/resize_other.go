//go:build !unix

package repl

import "os"

// notifyResize has no resize signal to watch here: a live table re-fits
// at its next refresh.
func notifyResize() (<-chan os.Signal, func()) { return nil, func() {} }
