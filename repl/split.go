package repl

import "strings"

// chunk is one statement's text and where it starts in the script.
type chunk struct {
	start int // byte offset into the script
	text  string
}

// split cuts script into statements at each `;` outside strings, quoted
// identifiers and comments, without parsing them: ${name} references
// must be substituted before a statement can be parsed, and a SET earlier
// in the script may define them. Chunks holding only whitespace and
// comments are dropped.
func split(script string) []chunk {
	var out []chunk
	start := 0
	emit := func(end int) {
		text := script[start:end]
		if hasCode(text) {
			out = append(out, chunk{start: start, text: text})
		}
		start = end
	}
	for i := 0; i < len(script); i++ {
		switch c := script[i]; c {
		case '\'', '"', '`':
			i = skipQuoted(script, i)
		case '-':
			if i+1 < len(script) && script[i+1] == '-' {
				for i < len(script) && script[i] != '\n' {
					i++
				}
			}
		case '/':
			if i+1 < len(script) && script[i+1] == '*' {
				end := strings.Index(script[i+2:], "*/")
				if end < 0 {
					i = len(script)
				} else {
					i += 2 + end + 1
				}
			}
		case ';':
			emit(i + 1)
		}
	}
	emit(len(script))
	return out
}

// skipQuoted returns the index of the quote closing the one at i (or the
// end of script); a doubled quote or, in strings, a backslash escapes.
func skipQuoted(script string, i int) int {
	q := script[i]
	for j := i + 1; j < len(script); j++ {
		switch script[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			if j+1 < len(script) && script[j+1] == q {
				j++
				continue
			}
			return j
		}
	}
	return len(script)
}

// hasCode reports whether text holds anything but whitespace, comments
// and semicolons.
func hasCode(text string) bool {
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ';':
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return false
			}
			i += 2 + end + 1
		default:
			return true
		}
	}
	return false
}

// blank replaces every character of s but newlines by a space, so a
// statement parsed after blank(script[:start]) reports positions in the
// whole script.
func blank(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c != '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
