package sql

import "strings"

// Copy is DuckDB's `COPY (query) TO 'path' [(FORMAT parquet, HEADER
// true, DELIMITER ';')]`, also `COPY name TO 'path' …` for a whole source
// or table. The format comes from the path's extension unless given.
type Copy struct {
	stmt
	Query *Query // nil when Table is set
	Table string
	Path  string
	// Options are the parenthesised options, keys lower-cased; a key
	// written without a value (HEADER) is "true".
	Options Options
}

func (ps *parseState) copyStmt(c *cursor, base stmt) (Statement, error) {
	c.next() // COPY
	cp := &Copy{stmt: base}
	if c.peek().isPunct("(") {
		open := c.i
		close := matchParen(c.toks, open)
		if close < 0 {
			return nil, c.errAt(c.peek(), "unclosed ( after COPY")
		}
		if close == open+1 {
			return nil, c.errAt(c.toks[close], "COPY ( needs a query")
		}
		q, err := ps.query(c.toks[open+1 : close])
		if err != nil {
			return nil, err
		}
		if q.Emit != nil {
			return nil, Errorf(ParseError, q.Emit.Pos, "COPY runs a batch query: drop the EMIT clause (or CREATE SINK … AS for a stream)")
		}
		cp.Query = q
		c.i = close + 1
	} else {
		name, _, err := c.ident("a query in parentheses or a table name")
		if err != nil {
			return nil, err
		}
		cp.Table = name
	}
	if err := c.expect("TO"); err != nil {
		return nil, err
	}
	p := c.next()
	if p.kind != tkString {
		return nil, c.errAt(p, "expected a quoted file path after TO, found %q", p.text)
	}
	cp.Path = p.val
	if c.acceptPunct("(") {
		for !c.acceptPunct(")") {
			k := c.next()
			if k.kind != tkIdent && k.kind != tkQIdent {
				return nil, c.errAt(k, "expected a COPY option name, found %q", k.text)
			}
			o := Option{Key: strings.ToLower(k.val), Value: "true", Pos: c.ps.pos(k.off)}
			if v := c.peek(); !v.isPunct(",") && !v.isPunct(")") {
				c.next()
				if v.kind != tkIdent && v.kind != tkString && v.kind != tkNumber {
					return nil, c.errAt(v, "expected a value for COPY option %s, found %q", o.Key, v.text)
				}
				o.Value = v.val
			}
			cp.Options = append(cp.Options, o)
			if !c.acceptPunct(",") && !c.peek().isPunct(")") {
				return nil, c.unexpected(`"," or ")"`)
			}
		}
	}
	return cp, c.end()
}
