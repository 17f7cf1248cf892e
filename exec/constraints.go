package exec

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Column rules declared in CREATE SOURCE travel with the schema, so every
// connector reads them from the Field it decodes into, as marks in the
// field's metadata. Field.Nullable false alone is not a rule: the planner
// derives it from expressions (a guess a reader must not enforce), and
// Arrow's unsigned types would change the column's SQL type where the
// engine computes in signed integers.
const (
	// NotNullKey marks a column declared NOT NULL.
	NotNullKey = "sluice.not_null"
	// UnsignedKey marks a column declared UNSIGNED.
	UnsignedKey = "sluice.unsigned"
)

// NotNull reports whether f was declared NOT NULL.
func NotNull(f arrow.Field) bool { return marked(f, NotNullKey) }

// Unsigned reports whether f was declared UNSIGNED.
func Unsigned(f arrow.Field) bool { return marked(f, UnsignedKey) }

// MarkNotNull returns f declared NOT NULL (and so not nullable).
func MarkNotNull(f arrow.Field) arrow.Field {
	f.Nullable = false
	return mark(f, NotNullKey)
}

// MarkUnsigned returns f declared UNSIGNED.
func MarkUnsigned(f arrow.Field) arrow.Field { return mark(f, UnsignedKey) }

func marked(f arrow.Field, key string) bool {
	v, ok := f.Metadata.GetValue(key)
	return ok && v == "true"
}

func mark(f arrow.Field, key string) arrow.Field {
	if marked(f, key) {
		return f
	}
	keys, vals := append([]string{key}, f.Metadata.Keys()...), append([]string{"true"}, f.Metadata.Values()...)
	f.Metadata = arrow.NewMetadata(keys, vals)
	return f
}

// Constrained reports whether f carries a rule a reader must check.
func Constrained(f arrow.Field) bool { return NotNull(f) || Unsigned(f) }

// ConstraintChecker is a Source that checks, as it reads, the NOT NULL
// and UNSIGNED rules declared on the columns of the schema it was opened
// with: a row that breaks one fails the scan with an error naming the
// place (file and line, Kafka topic/partition/offset), or is skipped and
// counted under its on_error policy — a NULL is what such a column
// refuses, so on_error = 'null' skips the row too. The engine refuses the
// rules on a source that does not check them rather than promise what
// nobody enforces.
type ConstraintChecker interface {
	// ChecksConstraints reports whether the rules are checked; false is
	// the same as not implementing the interface.
	ChecksConstraints() bool
}

// Violation names the first value at or after row from of column a that
// breaks field f's rules, as "is NOT NULL, but the value is NULL"; row is
// -1 when there is none. Integer columns are the only UNSIGNED ones.
func Violation(f arrow.Field, a arrow.Array, from int) (row int, reason string) {
	if NotNull(f) && a.NullN() > 0 {
		for r := from; r < a.Len(); r++ {
			if a.IsNull(r) {
				return r, "is NOT NULL, but the value is NULL"
			}
		}
	}
	if !Unsigned(f) {
		return -1, ""
	}
	for r := from; r < a.Len(); r++ {
		if a.IsValid(r) && Negative(a, r) {
			return r, fmt.Sprintf("is UNSIGNED, but the value %s is negative", a.ValueStr(r))
		}
	}
	return -1, ""
}

// Negative reports whether row r of an integer column holds a value
// below zero; false for other types.
func Negative(a arrow.Array, r int) bool {
	switch x := a.(type) {
	case *array.Int64:
		return x.Value(r) < 0
	case *array.Int32:
		return x.Value(r) < 0
	case *array.Int16:
		return x.Value(r) < 0
	case *array.Int8:
		return x.Value(r) < 0
	}
	return false
}
