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

// castError builds `cannot cast "abc" to BIGINT`.
func castError(v string, to string) error {
	return &kindError{msg: fmt.Sprintf("cannot cast %q to %s", v, to), kind: ErrInvalidCast}
}

var _ = errors.Is

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
