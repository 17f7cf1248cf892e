package sql

import (
	"fmt"
	"strings"
)

// tokenKind classifies a token of the small extension lexer.
type tokenKind int

const (
	tkIdent  tokenKind = iota + 1 // bare word: identifier or keyword
	tkQIdent                      // `backquoted` identifier
	tkString                      // 'string' or "string"
	tkNumber                      // 12, 1.5, 1e3, and number-words like 5s
	tkPunct                       // any other character; ; ( ) , = . - +
)

// token is one lexeme of the script. Offsets are into the whole script so
// that every position reported anywhere points into the user's text.
type token struct {
	kind tokenKind
	text string // raw text as written
	val  string // decoded value: unquoted string/identifier, else text
	off  int    // byte offset of the first byte
	end  int    // byte offset just past the last byte
}

// is reports whether t is the bare word kw (case-insensitive).
func (t token) is(kw string) bool {
	return t.kind == tkIdent && strings.EqualFold(t.text, kw)
}

// isPunct reports whether t is the punctuation p.
func (t token) isPunct(p string) bool {
	return t.kind == tkPunct && t.text == p
}

// span is a byte range [off, end) of the script.
type span struct{ off, end int }

// lexResult is what lexing a script yields: the tokens and the comments
// (kept apart so the query handoff can blank them).
type lexResult struct {
	tokens   []token
	comments []span
}

// MaxDepth bounds how deeply a statement may nest: parentheses in the
// text, and the expressions, subqueries and joins the planner binds
// recursively. Go stacks grow until the runtime kills the process, which
// no recover can stop, so a statement nested beyond this fails with a
// positioned error instead. 1000 is DuckDB's max_expression_depth and
// SQLite's SQLITE_MAX_EXPR_DEPTH; long AND/OR chains do not count against
// it (the planner binds them as balanced trees).
const MaxDepth = 1000

// MaxTokens bounds the length of one statement. The TiDB parser walks
// the tree it builds recursively, a stack frame per level, and a chain
// `a OR b OR …` is a level per operator: a 450,000-term chain measured
// under 32 MB of stack, so a million tokens stays far below the runtime's
// fatal 1 GB while leaving room for a 200,000-term OR or a 500,000-value
// IN list.
const MaxTokens = 1_000_000

// lexError is an error of lex at byte offset off of its input; the parser
// turns it into a positioned ParseError.
type lexError struct {
	off int
	msg string
}

// Error implements error.
func (e *lexError) Error() string { return e.msg }

// lex splits script into tokens. It never panics; an unterminated string,
// quoted identifier or block comment is a *lexError at its opening quote,
// and so is a parenthesis nested more than MaxDepth deep.
func lex(script string) (lexResult, error) {
	var res lexResult
	i, n := 0, len(script)
	depth := 0
	for i < n {
		c := script[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || (c == '-' && i+1 < n && script[i+1] == '-'):
			// Line comment. `--` starts a comment even without a following
			// space (as in Flink and PostgreSQL), unlike MySQL.
			j := strings.IndexByte(script[i:], '\n')
			end := n
			if j >= 0 {
				end = i + j
			}
			res.comments = append(res.comments, span{i, end})
			i = end
		case c == '/' && i+1 < n && script[i+1] == '*':
			j := strings.Index(script[i+2:], "*/")
			if j < 0 {
				return res, &lexError{i, "unterminated /* comment"}
			}
			end := i + 2 + j + 2
			res.comments = append(res.comments, span{i, end})
			i = end
		case c == '\'' || c == '"' || c == '`':
			t, err := lexQuoted(script, i)
			if err != nil {
				return res, err
			}
			res.tokens = append(res.tokens, t)
			i = t.end
		case isDigit(c) || (c == '.' && i+1 < n && isDigit(script[i+1])):
			j := i
			for j < n && isDigit(script[j]) {
				j++
			}
			if j < n && script[j] == '.' {
				j++
				for j < n && isDigit(script[j]) {
					j++
				}
			}
			if j+1 < n && (script[j] == 'e' || script[j] == 'E') &&
				(isDigit(script[j+1]) || ((script[j+1] == '+' || script[j+1] == '-') && j+2 < n && isDigit(script[j+2]))) {
				j += 2
				for j < n && isDigit(script[j]) {
					j++
				}
			}
			// A number directly followed by letters (5s, 500ms, 0x1F) is one
			// token: the EMIT shorthand needs it whole.
			for j < n && isIdentByte(script[j]) {
				j++
			}
			res.tokens = append(res.tokens, token{kind: tkNumber, text: script[i:j], val: script[i:j], off: i, end: j})
			i = j
		case isIdentByte(c):
			j := i
			for j < n && isIdentByte(script[j]) {
				j++
			}
			res.tokens = append(res.tokens, token{kind: tkIdent, text: script[i:j], val: script[i:j], off: i, end: j})
			i = j
		default:
			switch c {
			case '(':
				if depth++; depth > MaxDepth {
					return res, &lexError{i, fmt.Sprintf("parentheses nested too deeply (more than %d levels)", MaxDepth)}
				}
			case ')':
				depth = max(0, depth-1)
			case ';':
				depth = 0
			}
			res.tokens = append(res.tokens, token{kind: tkPunct, text: script[i : i+1], val: script[i : i+1], off: i, end: i + 1})
			i++
		}
	}
	return res, nil
}

// lexQuoted reads a quoted string or identifier starting at script[i]. A
// doubled quote stands for itself; in strings a backslash escapes the next
// byte, as in MySQL's default mode (so the split agrees with TiDB's lexer).
func lexQuoted(script string, i int) (token, error) {
	q := script[i]
	var b strings.Builder
	j := i + 1
	for j < len(script) {
		c := script[j]
		switch {
		case c == q && j+1 < len(script) && script[j+1] == q:
			b.WriteByte(q)
			j += 2
		case c == q:
			kind := tkString
			if q == '`' {
				kind = tkQIdent
			}
			return token{kind: kind, text: script[i : j+1], val: b.String(), off: i, end: j + 1}, nil
		case c == '\\' && q != '`' && j+1 < len(script):
			b.WriteString(unescape(script[j+1]))
			j += 2
		default:
			b.WriteByte(c)
			j++
		}
	}
	what := "string"
	if q == '`' {
		what = "quoted identifier"
	}
	return token{}, &lexError{i, "unterminated " + what}
}

// unescape decodes the MySQL backslash escape `\c`.
func unescape(c byte) string {
	switch c {
	case '0':
		return "\x00"
	case 'b':
		return "\b"
	case 'n':
		return "\n"
	case 'r':
		return "\r"
	case 't':
		return "\t"
	case 'Z':
		return "\x1a"
	case '%', '_':
		return "\\" + string(c) // MySQL keeps these for LIKE patterns
	}
	return string(c)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isIdentByte reports whether c may appear in a bare identifier; bytes of
// multi-byte UTF-8 characters count, as in MySQL.
func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}
