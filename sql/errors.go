package sql

import "fmt"

// ErrorKind says which stage rejected a statement.
type ErrorKind string

// Error kinds.
const (
	ParseError     ErrorKind = "parse"
	BindError      ErrorKind = "bind"
	PlanError      ErrorKind = "plan"
	ExecError      ErrorKind = "exec"
	ConnectorError ErrorKind = "connector"
)

// Error is the one user-facing error type for SQL problems: it carries the
// stage, the position in the user's text and a message. Error() renders
// `line 3:14: unknown column "valu" (did you mean "value"?)`.
type Error struct {
	Kind ErrorKind
	Pos  Pos // zero Line means no position is known
	Msg  string
	Err  error // wrapped cause, if any
}

// Error implements error.
func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return e.Msg
	}
	return fmt.Sprintf("line %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error of kind at pos.
func Errorf(kind ErrorKind, pos Pos, format string, args ...any) *Error {
	return &Error{Kind: kind, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
