// Package listtext reads a list written as text the way DuckDB reads it
// and sluice prints one: `[1, 2, NULL]`, brackets around elements
// separated by commas, spaces around an element dropped, an unquoted NULL
// (any case) a NULL element, an element in single or double quotes taken
// as written ('a, b', 'NULL' the string), a backslash taking the next
// character as it is ('it\'s'), and brackets inside an element kept with
// it. `[]` and `[ ]` are empty lists. CAST(s AS T[]) and the text formats
// (a CSV field of a T[] column) share it.
package listtext

import (
	"fmt"
	"strings"
)

// Elem is one element of a list's text: its text, or NULL.
type Elem struct {
	Text string // the element as written, quotes and escapes removed
	Null bool   // an unquoted NULL (any case)
}

// Split splits a list's text into its elements (appended to dst); the
// error says what is malformed.
func Split(dst []Elem, s string) ([]Elem, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return dst, fmt.Errorf("a list is written in brackets, [a, b, …]")
	}
	inner := s[1 : len(s)-1]
	if strings.TrimSpace(inner) == "" {
		return dst, nil
	}
	var buf []byte
	keep := 0 // len(buf) up to the last character not an unquoted space
	quote := byte(0)
	quoted := false // the element has a quoted part
	depth := 0
	flush := func() {
		e := Elem{Text: string(buf[:keep])}
		e.Null = !quoted && strings.EqualFold(e.Text, "NULL")
		dst = append(dst, e)
		buf, keep, quoted = buf[:0], 0, false
	}
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\\':
			if i+1 == len(inner) {
				return dst, fmt.Errorf("a backslash ends the list")
			}
			i++
			buf = append(buf, inner[i])
			keep = len(buf)
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				buf = append(buf, c)
			}
			keep = len(buf)
		case c == '\'' || c == '"':
			quote, quoted = c, true
			keep = len(buf)
		case c == ',' && depth == 0:
			flush()
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(buf) > 0 {
				buf = append(buf, c)
			}
		default:
			switch c {
			case '[':
				depth++
			case ']':
				if depth--; depth < 0 {
					return dst, fmt.Errorf("a ] closes no [")
				}
			}
			buf = append(buf, c)
			keep = len(buf)
		}
	}
	switch {
	case quote != 0:
		return dst, fmt.Errorf("a quote %c is not closed", quote)
	case depth > 0:
		return dst, fmt.Errorf("a [ is not closed")
	}
	flush()
	return dst, nil
}
