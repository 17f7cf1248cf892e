package planner

import "github.com/sluicesql/sluice/sql"

// WindowKind is a window table function (TUMBLE, HOP, SESSION) as plans
// carry it: the binder translates the parser's kind once, so the executor
// and the compiler below the planner never see a parser type.
type WindowKind int

// Window kinds.
const (
	WindowTumble WindowKind = iota + 1
	WindowHop
	WindowSession
)

// windowKindOf translates the parser's window kind (0 for an unknown one).
func windowKindOf(k sql.WindowKind) WindowKind {
	switch k {
	case sql.Tumble:
		return WindowTumble
	case sql.Hop:
		return WindowHop
	case sql.Session:
		return WindowSession
	}
	return 0
}
