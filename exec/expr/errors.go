package expr

import (
	"errors"
	"fmt"
)

// kindError is an error with a fixed user-facing message that matches a
// sentinel under errors.Is, so callers can test the kind without string
// compares while users see MySQL-like text.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// outOfRange builds `BIGINT value is out of range in 'a + b'`.
func outOfRange(ec *evalCtx, typeName string) error {
	return &kindError{msg: fmt.Sprintf("%s value is out of range in '%s'", typeName, ec.call), kind: ErrOutOfRange}
}

// OutOfRange is the data error of a value of type typeName leaving its
// type while computing what (the expression as written, `sum(v)`),
// positioned at pos when the planner knew it. Operators outside exec/expr
// (aggregate states) report overflows with it, so they read as an
// expression's do; cause stays reachable with errors.Is.
func OutOfRange(typeName, what string, pos Pos, cause error) error {
	err := &causeError{kindError: kindError{msg: fmt.Sprintf("%s value is out of range in '%s'", typeName, what), kind: ErrOutOfRange}, cause: cause}
	return pos.wrap(err)
}

// causeError is a kindError that also unwraps to the error it replaces.
type causeError struct {
	kindError
	cause error
}

// Unwrap returns the replaced error.
func (e *causeError) Unwrap() error { return e.cause }

// castError builds `cannot cast "abc" to BIGINT`.
func castError(v string, to string) error {
	return &kindError{msg: fmt.Sprintf("cannot cast %q to %s", v, to), kind: ErrInvalidCast}
}

// Pos is a place in the query's SQL text, as the planner found it: the
// line and column (1-based) of an expression. exec/expr knows no parser;
// the engine turns a PosError into its positioned SQL error.
type Pos struct {
	Line, Col int
}

// PosError is a data error (DataError) of the expression written at Pos:
// its message is the inner error's, and the engine prints it as
// `line 3:14: cannot cast "abc" to INT`.
type PosError struct {
	Pos Pos
	Err error
}

// Error implements error: the inner message; the position is the
// engine's to render.
func (e *PosError) Error() string { return e.Err.Error() }

// Unwrap returns the inner error.
func (e *PosError) Unwrap() error { return e.Err }

// DataError implements DataError.
func (e *PosError) DataError() {}

// wrap gives a data error of the call at p its position; the innermost
// call that knows its position wins, so an error keeps the position of
// the expression that failed. Other errors pass unchanged.
func (p Pos) wrap(err error) error {
	if p.Line == 0 {
		return err
	}
	var de DataError
	if !errors.As(err, &de) {
		return err
	}
	var pe *PosError
	if errors.As(err, &pe) {
		return err
	}
	return &PosError{Pos: p, Err: err}
}

// At returns e positioned at pos: a data error of a call e makes (an
// overflow, a bad cast, a bad regular expression) becomes a PosError.
// Expressions other than calls come back unchanged.
func At(e Expr, pos Pos) Expr {
	if c, ok := e.(*call); ok {
		c.pos = pos
	}
	return e
}

// DataError is implemented by errors about the values an expression met
// (an overflow, a bad cast, a scalar subquery's second row). The message
// is complete for the user, naming the expression, so the engine shows it
// without the operators' own wrapping (which names internal operators).
type DataError interface {
	error
	// DataError marks the interface; it does nothing.
	DataError()
}

// DataError implements DataError.
func (e *kindError) DataError() {}
