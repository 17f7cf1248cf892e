package pgwire

import (
	"fmt"
	"strconv"
	"strings"
)

// placeholders finds the $n parameter markers of query outside string
// literals, quoted identifiers and comments. It returns each marker's
// byte span and number, and the highest number used.
func placeholders(query string) (spans [][3]int, max int) {
	for i := 0; i < len(query); i++ {
		switch c := query[i]; {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(query, i, c)
		case c == '-' && strings.HasPrefix(query[i:], "--"), c == '#':
			for i < len(query) && query[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			if end := strings.Index(query[i+2:], "*/"); end >= 0 {
				i += 2 + end + 1
			} else {
				i = len(query)
			}
		case c == '$':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			if j == i+1 {
				continue
			}
			n, err := strconv.Atoi(query[i+1 : j])
			if err != nil || n == 0 {
				continue
			}
			spans = append(spans, [3]int{i, j, n})
			if n > max {
				max = n
			}
			i = j - 1
		}
	}
	return spans, max
}

// skipQuoted returns the index of the quote closing the literal that
// starts at i (a doubled quote or a backslash escapes one).
func skipQuoted(s string, i int, q byte) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			if j+1 < len(s) && s[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return len(s)
}

// bound is a query with its parameters written in as literals, and the
// edits made, so an error position in it maps back to the client's text.
type bound struct {
	text  string
	edits []edit
}

// edit replaced the client's bytes [from, from+oldLen) by newLen bytes.
type edit struct{ from, oldLen, newLen int }

// bind writes params into query's $n markers as SQL literals: a quoted
// string (NULL for a NULL parameter). A quoted literal is what PostgreSQL
// calls a constant of unknown type, resolved by its context, and sluice's
// binder does the same (a > '5' compares numbers), so the client's
// parameter types need not be known.
func bind(query string, params [][]byte) (bound, error) {
	spans, max := placeholders(query)
	if max > len(params) {
		return bound{}, fmt.Errorf("the query uses $%d but only %d parameter(s) were bound", max, len(params))
	}
	var b strings.Builder
	var edits []edit
	last := 0
	for _, sp := range spans {
		b.WriteString(query[last:sp[0]])
		lit := literal(params[sp[2]-1])
		edits = append(edits, edit{from: sp[0], oldLen: sp[1] - sp[0], newLen: len(lit)})
		b.WriteString(lit)
		last = sp[1]
	}
	b.WriteString(query[last:])
	return bound{text: b.String(), edits: edits}, nil
}

// literal quotes v as a MySQL-dialect string literal.
func literal(v []byte) string {
	if v == nil {
		return "NULL"
	}
	var b strings.Builder
	b.WriteByte('\'')
	for _, c := range string(v) {
		switch c {
		case '\'':
			b.WriteString("''")
		case '\\':
			b.WriteString(`\\`)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// original maps a byte offset in the bound text back to the client's
// text; an offset inside a parameter maps to its marker.
func (b bound) original(off int) int {
	shift := 0
	for _, e := range b.edits {
		start := e.from + shift
		if off < start {
			break
		}
		if off < start+e.newLen {
			return e.from
		}
		shift += e.newLen - e.oldLen
	}
	return off - shift
}
