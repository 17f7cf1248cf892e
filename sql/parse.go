package sql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	// The test driver supplies the literal value types the TiDB parser
	// needs; sluice evaluates literals itself, so the lightweight driver is
	// enough.
	_ "github.com/pingcap/tidb/pkg/parser/test_driver"
)

// Parse parses a script of `;`-separated statements. Comments (`--`, `#`,
// `/* */`) and empty statements are skipped; the last statement needs no
// `;`. Any problem is a *Error of Kind ParseError whose Pos is a line and
// column into the whole script. Parsing is linear in the script's length.
func Parse(script string) ([]Statement, error) {
	return ParseAt(script, Pos{Line: 1, Col: 1})
}

// ParseAt parses text that starts at position at of a larger script (a
// statement Split cut out of it, perhaps with ${name} references
// substituted): every position it reports, in errors and statements,
// is a position in that larger script.
func ParseAt(text string, at Pos) ([]Statement, error) {
	ps := newParseState(text, at)
	defer ps.done()
	lr, err := lex(text)
	if err != nil {
		return nil, ps.lexError(err)
	}
	ps.comments = lr.comments
	var out []Statement
	for _, toks := range statements(lr.tokens) {
		st, err := ps.statement(toks)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Chunk is the text of one statement of a script, as Split cuts it.
type Chunk struct {
	// Text runs from the statement's first token to its last, without
	// the `;` and without comments before or after it.
	Text string
	// Pos is where Text starts in the script.
	Pos Pos
}

// Split cuts script into its statements without parsing them, with the
// lexer Parse uses: a `;` ends a statement only outside strings, quoted
// identifiers and `--`, `#` and `/* */` comments, exactly where Parse
// would end it. Statements holding only comments are dropped. The REPL
// and `sluice -f` split first because ${name} references must be
// substituted before a statement can be parsed, and a SET earlier in
// the script may define them; each chunk is then parsed with ParseAt.
// An unterminated string, quoted identifier or comment is a ParseError
// at its start.
func Split(script string) ([]Chunk, error) {
	ps := newParseState(script, Pos{Line: 1, Col: 1})
	lr, err := lex(script)
	if err != nil {
		return nil, ps.lexError(err)
	}
	var out []Chunk
	for _, toks := range statements(lr.tokens) {
		first, last := toks[0], toks[len(toks)-1]
		out = append(out, Chunk{Text: script[first.off:last.end], Pos: ps.pos(first.off)})
	}
	return out, nil
}

// PosOf converts a byte offset into c.Text into a position in the script.
func (c Chunk) PosOf(offset int) Pos {
	return newLineIndex(c.Text, c.Pos).pos(offset)
}

// statements cuts tokens at each `;` into the non-empty statements.
func statements(tokens []token) [][]token {
	var out [][]token
	start := 0
	for i := 0; i <= len(tokens); i++ {
		if i < len(tokens) && !tokens[i].isPunct(";") {
			continue
		}
		if i > start {
			out = append(out, tokens[start:i])
		}
		start = i + 1
	}
	return out
}

// parseState is shared by the statements of one script.
type parseState struct {
	script   string
	ix       *lineIndex // positions of script's offsets in the user's script
	comments []span
	tidb     *parser.Parser // from tidbParsers on first use; not safe for concurrent use
	windows  int            // window placeholders handed out so far
}

// newParseState starts parsing script, which begins at base of the
// user's script.
func newParseState(script string, base Pos) *parseState {
	return &parseState{script: script, ix: newLineIndex(script, base)}
}

// pos is the position of byte offset off of ps.script in the user's script.
func (ps *parseState) pos(off int) Pos { return ps.ix.pos(off) }

// lexError positions an error of lex.
func (ps *parseState) lexError(err error) error {
	var le *lexError
	if errors.As(err, &le) {
		return Errorf(ParseError, ps.pos(le.off), "%s", le.msg)
	}
	return err
}

// cursor walks the tokens of one statement.
type cursor struct {
	ps   *parseState
	toks []token
	i    int
}

// eof reports whether all tokens are consumed.
func (c *cursor) eof() bool { return c.i >= len(c.toks) }

// peek returns the next token; at the end a zero token placed just past the
// statement, so errors there point at the statement's end.
func (c *cursor) peek() token {
	if c.i < len(c.toks) {
		return c.toks[c.i]
	}
	end := 0
	if len(c.toks) > 0 {
		end = c.toks[len(c.toks)-1].end
	}
	return token{off: end, end: end}
}

// peekAt returns the token k places ahead, or a zero token.
func (c *cursor) peekAt(k int) token {
	if c.i+k < len(c.toks) {
		return c.toks[c.i+k]
	}
	return token{}
}

// next consumes and returns the next token.
func (c *cursor) next() token {
	t := c.peek()
	if c.i < len(c.toks) {
		c.i++
	}
	return t
}

// accept consumes the next token if it is the word kw.
func (c *cursor) accept(kw string) bool {
	if c.peek().is(kw) {
		c.i++
		return true
	}
	return false
}

// acceptPunct consumes the next token if it is the punctuation p.
func (c *cursor) acceptPunct(p string) bool {
	if c.peek().isPunct(p) {
		c.i++
		return true
	}
	return false
}

// errAt builds a ParseError at tok.
func (c *cursor) errAt(tok token, format string, args ...any) *Error {
	return Errorf(ParseError, c.ps.pos(tok.off), format, args...)
}

// unexpected reports the next token as out of place.
func (c *cursor) unexpected(want string) *Error {
	t := c.peek()
	if t.kind == 0 {
		return c.errAt(t, "unexpected end of statement, expected %s", want)
	}
	return c.errAt(t, "syntax error at or near %q, expected %s", t.text, want)
}

// expect consumes the word kw or fails.
func (c *cursor) expect(kw string) error {
	if !c.accept(kw) {
		return c.unexpected(kw)
	}
	return nil
}

// expectPunct consumes the punctuation p or fails.
func (c *cursor) expectPunct(p string) error {
	if !c.acceptPunct(p) {
		return c.unexpected(fmt.Sprintf("%q", p))
	}
	return nil
}

// ident consumes an identifier (bare or backquoted) naming a what.
func (c *cursor) ident(what string) (string, token, error) {
	t := c.peek()
	if t.kind != tkIdent && t.kind != tkQIdent {
		return "", t, c.unexpected(what)
	}
	c.i++
	return t.val, t, nil
}

// end fails unless every token is consumed.
func (c *cursor) end() error {
	if !c.eof() {
		t := c.peek()
		return c.errAt(t, "syntax error at or near %q, expected end of statement", t.text)
	}
	return nil
}

// stmtAt builds the common statement part for toks.
func (ps *parseState) stmtAt(toks []token) stmt {
	first, last := toks[0], toks[len(toks)-1]
	return stmt{pos: ps.pos(first.off), text: ps.script[first.off:last.end]}
}

// statement parses the tokens of one statement (without its `;`).
func (ps *parseState) statement(toks []token) (Statement, error) {
	c := &cursor{ps: ps, toks: toks}
	if len(toks) > MaxTokens {
		return nil, c.errAt(toks[0], "statement too long (%d tokens, at most %d)", len(toks), MaxTokens)
	}
	base := ps.stmtAt(toks)
	first := c.peek()
	if isQueryStart(c, 0) {
		return ps.query(toks)
	}
	switch strings.ToUpper(first.text) {
	case "CREATE":
		c.next()
		orReplace := false
		if c.peek().is("OR") {
			c.next()
			if err := c.expect("REPLACE"); err != nil {
				return nil, err
			}
			orReplace = true
		}
		switch {
		case c.accept("VIEW"):
			return ps.createView(c, base, orReplace)
		case c.accept("TABLE"):
			return ps.createTable(c, base, orReplace)
		case orReplace:
			return nil, c.unexpected("VIEW or TABLE after CREATE OR REPLACE")
		case c.accept("SOURCE"):
			return ps.createSource(c, base)
		case c.accept("SINK"):
			return ps.createSink(c, base)
		}
		return nil, c.unexpected("SOURCE, SINK, TABLE or VIEW")
	case "INSERT":
		return ps.insert(c, base)
	case "COPY":
		return ps.copyStmt(c, base)
	case "DROP":
		return ps.drop(c, base)
	case "SHOW":
		return ps.show(c, base)
	case "DESCRIBE", "DESC":
		return ps.describe(c, base)
	case "EXPLAIN":
		return ps.explain(c, base)
	case "SET":
		return ps.set(c, base)
	}
	if first.kind == tkIdent {
		return nil, c.errAt(first, "unsupported statement %q", strings.ToUpper(first.text))
	}
	return nil, c.errAt(first, "syntax error at or near %q", first.text)
}

// isQueryStart reports whether the token k ahead starts a query.
func isQueryStart(c *cursor, k int) bool {
	t := c.peekAt(k)
	return t.is("SELECT") || t.is("WITH") || t.isPunct("(") || t.is("VALUES") || t.is("TABLE")
}

// rest returns the unconsumed tokens and consumes them.
func (c *cursor) rest() []token {
	r := c.toks[c.i:]
	c.i = len(c.toks)
	return r
}

func (ps *parseState) insert(c *cursor, base stmt) (Statement, error) {
	c.next() // INSERT
	if err := c.expect("INTO"); err != nil {
		return nil, err
	}
	name, _, err := c.ident("a sink name")
	if err != nil {
		return nil, err
	}
	ins := &Insert{stmt: base, Sink: name}
	var cols []string
	var colPos []Pos
	if c.peek().isPunct("(") && !isQueryStart(c, 1) {
		c.next()
		for {
			col, t, err := c.ident("a column name")
			if err != nil {
				return nil, err
			}
			cols, colPos = append(cols, col), append(colPos, c.ps.pos(t.off))
			if c.acceptPunct(")") {
				break
			}
			if err := c.expectPunct(","); err != nil {
				return nil, err
			}
		}
	}
	if ins.Query, err = ps.subquery(c); err != nil {
		return nil, err
	}
	ins.Query.InsertColumns, ins.Query.InsertColumnsPos = cols, colPos
	return ins, nil
}

// subquery parses the rest of the statement as a query.
func (ps *parseState) subquery(c *cursor) (*Query, error) {
	if !isQueryStart(c, 0) {
		return nil, c.unexpected("a query (SELECT …)")
	}
	return ps.query(c.rest())
}

func (ps *parseState) drop(c *cursor, base stmt) (Statement, error) {
	c.next() // DROP
	d := &Drop{stmt: base}
	switch {
	case c.accept("SOURCE"):
		d.Kind = "SOURCE"
	case c.accept("SINK"):
		d.Kind = "SINK"
	case c.accept("TABLE"):
		d.Kind = "TABLE"
	case c.accept("VIEW"):
		d.Kind = "VIEW"
	default:
		return nil, c.unexpected("SOURCE, SINK, TABLE or VIEW")
	}
	if c.accept("IF") {
		if err := c.expect("EXISTS"); err != nil {
			return nil, err
		}
		d.IfExists = true
	}
	name, _, err := c.ident("a name")
	if err != nil {
		return nil, err
	}
	d.Name = name
	d.Cascade = c.accept("CASCADE")
	return d, c.end()
}

func (ps *parseState) show(c *cursor, base stmt) (Statement, error) {
	c.next() // SHOW
	s := &Show{stmt: base}
	switch {
	case c.accept("SOURCES"):
		s.Kind = "SOURCES"
	case c.accept("SINKS"):
		s.Kind = "SINKS"
	case c.accept("TABLES"):
		s.Kind = "TABLES"
	case c.accept("INTERNAL"):
		if err := c.expect("TOPICS"); err != nil {
			return nil, err
		}
		s.Kind = "INTERNAL TOPICS"
	case c.accept("OPTIONS"):
		s.Kind = "OPTIONS"
		if c.accept("FOR") {
			t := c.peek()
			if t.kind != tkIdent && t.kind != tkQIdent && t.kind != tkString {
				return nil, c.unexpected("a connector name")
			}
			c.next()
			s.Connector, s.ConnectorPos = strings.ToLower(t.val), c.ps.pos(t.off)
		}
	default:
		return nil, c.unexpected("SOURCES, SINKS, TABLES, INTERNAL TOPICS or OPTIONS")
	}
	return s, c.end()
}

func (ps *parseState) describe(c *cursor, base stmt) (Statement, error) {
	c.next() // DESCRIBE
	name, tok, err := c.ident("a name")
	if err != nil {
		return nil, err
	}
	return &Describe{stmt: base, Name: name, NamePos: c.ps.pos(tok.off)}, c.end()
}

func (ps *parseState) explain(c *cursor, base stmt) (Statement, error) {
	c.next() // EXPLAIN
	e := &Explain{stmt: base}
	e.Analyze = c.accept("ANALYZE")
	q, err := ps.subquery(c)
	if err != nil {
		return nil, err
	}
	e.Query = q
	return e, nil
}

func (ps *parseState) set(c *cursor, base stmt) (Statement, error) {
	c.next() // SET
	name, err := c.optionKey()
	if err != nil {
		return nil, err
	}
	if !c.acceptPunct("=") && !c.accept("TO") {
		return nil, c.unexpected(`"="`)
	}
	val, err := c.optionValue()
	if err != nil {
		return nil, err
	}
	return &Set{stmt: base, Name: name, Value: val}, c.end()
}
