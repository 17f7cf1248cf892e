package sql

import (
	"fmt"
	"strconv"
	"strings"
)

func (ps *parseState) createSource(c *cursor, base stmt) (Statement, error) {
	s := &CreateSource{stmt: base}
	var err error
	if s.IfNotExists, err = c.ifNotExists(); err != nil {
		return nil, err
	}
	if s.Name, _, err = c.ident("a source name"); err != nil {
		return nil, err
	}
	if c.acceptPunct("(") {
		if err := c.columnList(s); err != nil {
			return nil, err
		}
		if err := s.checkNotEnforced(); err != nil {
			return nil, err
		}
	}
	if s.Options, err = c.withClause(); err != nil {
		return nil, err
	}
	return s, c.end()
}

func (ps *parseState) createSink(c *cursor, base stmt) (Statement, error) {
	s := &CreateSink{stmt: base}
	var err error
	if s.IfNotExists, err = c.ifNotExists(); err != nil {
		return nil, err
	}
	if s.Name, _, err = c.ident("a sink name"); err != nil {
		return nil, err
	}
	if s.Options, err = c.withClause(); err != nil {
		return nil, err
	}
	if c.accept("AS") {
		if s.Query, err = ps.subquery(c); err != nil {
			return nil, err
		}
	}
	return s, c.end()
}

// ifNotExists consumes an optional IF NOT EXISTS.
func (c *cursor) ifNotExists() (bool, error) {
	if !c.accept("IF") {
		return false, nil
	}
	if err := c.expect("NOT"); err != nil {
		return false, err
	}
	return true, c.expect("EXISTS")
}

// columnList parses `col TYPE, …, WATERMARK FOR ts AS ts - INTERVAL …)`
// after the opening parenthesis.
func (c *cursor) columnList(s *CreateSource) error {
	var wmCol token
	for {
		if c.peek().is("PRIMARY") && c.peekAt(1).is("KEY") {
			t := c.peek()
			if err := c.primaryKey(s); err != nil {
				return err
			}
			s.PrimaryKeyPos = c.ps.pos(t.off)
		} else if c.peek().is("WATERMARK") && c.peekAt(1).is("FOR") {
			t := c.next()
			if s.Watermark != nil {
				return c.errAt(t, "only one WATERMARK is allowed")
			}
			c.next() // FOR
			wm, col, err := c.watermark()
			if err != nil {
				return err
			}
			wm.Pos = c.ps.pos(t.off)
			s.Watermark, wmCol = wm, col
		} else {
			name, nt, err := c.ident("a column name or WATERMARK")
			if err != nil {
				return err
			}
			for _, col := range s.Columns {
				if strings.EqualFold(col.Name, name) {
					return c.errAt(nt, "duplicate column %q", name)
				}
			}
			typ, err := c.columnType()
			if err != nil {
				return err
			}
			col := ColumnDef{Name: name, Type: typ, Pos: c.ps.pos(nt.off)}
			pk, notEnforced, err := c.columnModifiers(&col)
			if err != nil {
				return err
			}
			s.KeyNotEnforced = s.KeyNotEnforced || notEnforced
			if pk.kind != 0 {
				if s.PrimaryKey != nil {
					return c.errAt(pk, "only one PRIMARY KEY is allowed")
				}
				s.PrimaryKey, s.PrimaryKeyPos, s.keyToks = []string{name}, c.ps.pos(pk.off), []token{nt}
			}
			s.Columns = append(s.Columns, col)
		}
		if c.acceptPunct(")") {
			break
		}
		if err := c.expectPunct(","); err != nil {
			return err
		}
	}
	// With only a WATERMARK declared, the columns are inferred from the
	// data and the engine checks the watermark column against them.
	for i, k := range s.PrimaryKey {
		found := len(s.Columns) == 0 // inferred columns: checked by the engine
		for _, col := range s.Columns {
			if strings.EqualFold(col.Name, k) {
				found, s.PrimaryKey[i] = true, col.Name
			}
		}
		if !found {
			return c.errAt(s.keyToks[i], "primary key column %q is not a declared column", k)
		}
	}
	if s.Watermark != nil && len(s.Columns) > 0 {
		found := false
		for _, col := range s.Columns {
			if strings.EqualFold(col.Name, s.Watermark.Column) {
				found = true
				s.Watermark.Column = col.Name
			}
		}
		if !found {
			return c.errAt(wmCol, "watermark column %q is not a declared column", s.Watermark.Column)
		}
	}
	return nil
}

// primaryKey parses `PRIMARY KEY (col, …) [NOT ENFORCED]`: the key of a
// versioned table (temporal joins) or upsert source, which sluice does not
// check, as Flink does not (so a source needs NOT ENFORCED: CheckKey), or
// of an in-memory table, which checks it as DuckDB does.
func (c *cursor) primaryKey(s *CreateSource) error {
	t := c.next()
	c.next() // KEY
	if s.PrimaryKey != nil {
		return c.errAt(t, "only one PRIMARY KEY is allowed")
	}
	if err := c.expectPunct("("); err != nil {
		return err
	}
	for {
		name, nt, err := c.ident("a primary key column")
		if err != nil {
			return err
		}
		s.PrimaryKey = append(s.PrimaryKey, name)
		s.keyToks = append(s.keyToks, nt)
		if c.acceptPunct(")") {
			break
		}
		if err := c.expectPunct(","); err != nil {
			return err
		}
	}
	s.KeyNotEnforced = c.notEnforced()
	return nil
}

// checkNotEnforced refuses a source's PRIMARY KEY without NOT ENFORCED:
// only an in-memory table checks its key.
func (s *CreateSource) checkNotEnforced() error {
	if s.PrimaryKey != nil && !s.KeyNotEnforced {
		return Errorf(ParseError, s.PrimaryKeyPos, "PRIMARY KEY needs NOT ENFORCED: sluice does not check that a source's keys are unique")
	}
	return nil
}

// columnModifiers parses what may follow a column's type: NOT NULL,
// NULL, UNSIGNED, PRIMARY KEY [NOT ENFORCED]; it returns the PRIMARY
// token of a column-level key (zero token: none) and whether it said NOT
// ENFORCED, DEFAULT constant. Other constraints are refused by name.
func (c *cursor) columnModifiers(col *ColumnDef) (token, bool, error) {
	var pk token
	notEnforced := false
	for {
		t := c.peek()
		switch {
		case t.is("NOT") && c.peekAt(1).is("NULL"):
			c.next()
			c.next()
			col.NotNull = true
		case t.is("NULL"):
			c.next()
			if col.NotNull {
				return pk, false, c.errAt(t, "column %q is declared both NOT NULL and NULL", col.Name)
			}
		case t.is("UNSIGNED"):
			c.next()
			switch col.Type {
			case "BIGINT", "INT":
			default:
				return pk, false, c.errAt(t, "UNSIGNED applies to integer columns, not %s", col.Type)
			}
			col.Unsigned = true
		case t.is("PRIMARY") && c.peekAt(1).is("KEY"):
			pk = c.next()
			c.next()
			notEnforced = c.notEnforced()
		case t.is("DEFAULT"):
			c.next()
			if err := c.columnDefault(col, t); err != nil {
				return pk, false, err
			}
		case t.is("UNIQUE") || t.is("CHECK") || t.is("REFERENCES") || t.is("AUTO_INCREMENT") || t.is("COMMENT") || t.is("COLLATE"):
			return pk, false, c.errAt(t, "column %s is not supported (column modifiers: NOT NULL, NULL, UNSIGNED, DEFAULT value, PRIMARY KEY [NOT ENFORCED])", strings.ToUpper(t.text))
		default:
			return pk, notEnforced, nil
		}
	}
}

// columnDefault parses what follows DEFAULT (at tok): a constant — a
// number (signed), a string, TRUE, FALSE or NULL — kept as its text, or
// an expression (CURRENT_TIMESTAMP, now(), 1 + 2, (…)) kept as SQL text
// to be evaluated for each row an INSERT adds; it runs up to the next
// column modifier, comma or closing parenthesis.
func (c *cursor) columnDefault(col *ColumnDef, tok token) error {
	first := c.peek()
	k := 0
	if first.isPunct("-") || first.isPunct("+") {
		k = 1
	}
	if t := c.peekAt(k); (t.kind == tkNumber || k == 0 && (t.kind == tkString || t.is("TRUE") || t.is("FALSE") || t.is("NULL"))) && defaultEnds(c.peekAt(k+1)) {
		c.next()
		if k == 1 {
			c.next()
		}
		switch {
		case t.kind == tkNumber:
			col.Default = strings.TrimPrefix(first.text, "+")
			if k == 0 {
				col.Default = t.text
			} else {
				col.Default += t.text
			}
		case t.kind == tkString:
			col.Default = t.val
		case t.is("NULL"):
			return nil
		default:
			col.Default = strings.ToLower(t.text)
		}
		col.HasDefault, col.DefaultPos = true, c.ps.pos(tok.off)
		return nil
	}
	depth := 0
	var last token
	for !c.eof() {
		t := c.peek()
		if depth == 0 && (t.isPunct(",") || t.isPunct(")") || (last.end > 0 && defaultEnds(t))) {
			break
		}
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		}
		last = c.next()
	}
	if last.end == 0 {
		return c.errAt(c.peek(), "DEFAULT needs a value: a constant or an expression")
	}
	col.DefaultExpr = c.ps.script[first.off:last.end]
	col.HasDefault, col.DefaultPos, col.DefaultExprPos = true, c.ps.pos(tok.off), c.ps.pos(first.off)
	return nil
}

// defaultEnds reports whether t ends a DEFAULT value: the column's next
// modifier, a comma or the closing parenthesis.
func defaultEnds(t token) bool {
	if t.isPunct(",") || t.isPunct(")") || t.end == 0 {
		return true
	}
	switch strings.ToUpper(t.text) {
	case "NOT", "NULL", "UNSIGNED", "PRIMARY", "UNIQUE", "CHECK", "REFERENCES", "AUTO_INCREMENT", "COMMENT", "COLLATE", "DEFAULT":
		return t.kind == tkIdent
	}
	return false
}

// notEnforced consumes an optional NOT ENFORCED (Flink's spelling: the
// key is declared, not checked) and reports whether it was there.
func (c *cursor) notEnforced() bool {
	if c.peek().is("NOT") && c.peekAt(1).is("ENFORCED") {
		c.next()
		c.next()
		return true
	}
	return false
}

// watermark parses `ts AS ts [- interval]` after WATERMARK FOR and returns
// the FOR column's token for error positions.
func (c *cursor) watermark() (*Watermark, token, error) {
	col, ct, err := c.ident("the event-time column")
	if err != nil {
		return nil, ct, err
	}
	if err := c.expect("AS"); err != nil {
		return nil, ct, err
	}
	col2, ct2, err := c.ident("the event-time column")
	if err != nil {
		return nil, ct, err
	}
	if !strings.EqualFold(col, col2) {
		return nil, ct, c.errAt(ct2, "watermark expression must be %s - INTERVAL …, not %s", col, col2)
	}
	wm := &Watermark{Column: col}
	if c.peek().isPunct("-") {
		c.next()
		it := c.peek()
		d, err := c.interval()
		if err != nil {
			return nil, ct, err
		}
		if d < 0 {
			return nil, ct, c.errAt(it, "watermark delay must not be negative")
		}
		wm.Delay = d
	} else if t := c.peek(); !t.isPunct(",") && !t.isPunct(")") {
		return nil, ct, c.unexpected(`"- INTERVAL …", "," or ")"`)
	}
	return wm, ct, nil
}

// typeSynonyms maps accepted type names to the normalised ColumnDef.Type.
var typeSynonyms = map[string]string{
	"BIGINT": "BIGINT", "INT": "INT", "INTEGER": "INT", "SMALLINT": "INT", "TINYINT": "INT",
	"SIGNED": "BIGINT", "UNSIGNED": "BIGINT", // MySQL's CAST spellings
	"DOUBLE": "DOUBLE", "FLOAT": "DOUBLE", "REAL": "DOUBLE",
	"DECIMAL": "DECIMAL", "NUMERIC": "DECIMAL", "DEC": "DECIMAL",
	"VARCHAR": "VARCHAR", "CHAR": "VARCHAR", "TEXT": "VARCHAR", "STRING": "VARCHAR",
	"BINARY": "VARCHAR", "JSON": "VARCHAR", // JSON is kept as its text
	"BOOLEAN": "BOOLEAN", "BOOL": "BOOLEAN",
	"TIMESTAMP": "TIMESTAMP", "DATETIME": "TIMESTAMP", "DATE": "DATE",
}

// columnType parses a type name with its optional (n) or (p,s) arguments,
// and DuckDB's `[]` after it for a list of that type (`INT[]`,
// `DECIMAL(10,2)[]`), and returns the normalised name (`INT[]`).
func (c *cursor) columnType() (string, error) {
	norm, err := c.scalarType()
	if err != nil || !c.peek().isPunct("[") {
		return norm, err
	}
	open := c.next()
	if err := c.expectPunct("]"); err != nil {
		return "", err
	}
	if c.peek().isPunct("[") {
		return "", c.errAt(open, "a list of lists (%s[][]) is not supported", norm)
	}
	return norm + "[]", nil
}

// scalarType is columnType without a list's `[]`.
func (c *cursor) scalarType() (string, error) {
	t := c.peek()
	if t.kind != tkIdent {
		return "", c.unexpected("a column type")
	}
	norm, ok := typeSynonyms[strings.ToUpper(t.text)]
	if !ok {
		return "", c.errAt(t, "unknown type %q (use BIGINT, INT, DOUBLE, DECIMAL(p,s), VARCHAR, BOOLEAN, TIMESTAMP or DATE)", t.text)
	}
	c.next()
	if norm == "DOUBLE" && strings.EqualFold(t.text, "DOUBLE") {
		c.accept("PRECISION")
	}
	if t.is("SIGNED") || t.is("UNSIGNED") {
		if !c.accept("INTEGER") {
			c.accept("INT")
		}
	}
	if !c.acceptPunct("(") {
		if norm == "DECIMAL" {
			return "DECIMAL(10,0)", nil // MySQL's default
		}
		return norm, nil
	}
	var args []int
	for {
		nt := c.peek()
		n, err := strconv.Atoi(nt.text)
		if nt.kind != tkNumber || err != nil || n < 0 {
			return "", c.unexpected("a non-negative integer type argument")
		}
		c.next()
		args = append(args, n)
		if c.acceptPunct(")") {
			break
		}
		if err := c.expectPunct(","); err != nil {
			return "", err
		}
	}
	if norm != "DECIMAL" {
		// Lengths and precisions of other types (VARCHAR(20), TIMESTAMP(3))
		// do not change how sluice stores the value.
		if len(args) > 1 {
			return "", c.errAt(t, "type %s takes at most one argument", strings.ToUpper(t.text))
		}
		return norm, nil
	}
	p, s := args[0], 0
	if len(args) > 2 {
		return "", c.errAt(t, "DECIMAL takes at most two arguments (precision, scale)")
	}
	if len(args) == 2 {
		s = args[1]
	}
	if p < 1 || p > 38 {
		return "", c.errAt(t, "DECIMAL precision %d out of range 1..38", p)
	}
	if s > p {
		return "", c.errAt(t, "DECIMAL scale %d exceeds precision %d", s, p)
	}
	return fmt.Sprintf("DECIMAL(%d,%d)", p, s), nil
}

// withClause parses `WITH (key = value, …)`.
func (c *cursor) withClause() (Options, error) {
	if err := c.expect("WITH"); err != nil {
		return nil, err
	}
	if err := c.expectPunct("("); err != nil {
		return nil, err
	}
	var opts Options
	if c.acceptPunct(")") {
		return opts, nil
	}
	for {
		kt := c.peek()
		key, err := c.optionKey()
		if err != nil {
			return nil, err
		}
		for _, o := range opts {
			if o.Key == key {
				return nil, c.errAt(kt, "duplicate option %q", key)
			}
		}
		if err := c.expectPunct("="); err != nil {
			return nil, err
		}
		val, err := c.optionValue()
		if err != nil {
			return nil, err
		}
		opts = append(opts, Option{Key: key, Value: val, Pos: c.ps.pos(kt.off)})
		if c.acceptPunct(")") {
			return opts, nil
		}
		if err := c.expectPunct(","); err != nil {
			return nil, err
		}
	}
}

// optionKey parses 'quoted.key' or bare.dotted.key, lower-cased.
func (c *cursor) optionKey() (string, error) {
	t := c.peek()
	switch t.kind {
	case tkString, tkQIdent:
		c.next()
		return strings.ToLower(t.val), nil
	case tkIdent:
		c.next()
		key := t.val
		// Only glue dots written without spaces: scan.startup.mode.
		for c.peek().isPunct(".") && c.peek().off == c.toks[c.i-1].end &&
			c.peekAt(1).kind == tkIdent && c.peekAt(1).off == c.peek().end {
			c.next()
			key += "." + c.next().val
		}
		return strings.ToLower(key), nil
	}
	return "", c.unexpected("an option name")
}

// optionValue parses a string, a (signed) number or a bare word.
func (c *cursor) optionValue() (string, error) {
	t := c.peek()
	switch t.kind {
	case tkString, tkNumber, tkIdent:
		c.next()
		return t.val, nil
	case tkPunct:
		if (t.text == "-" || t.text == "+") && c.peekAt(1).kind == tkNumber && c.peekAt(1).off == t.end {
			c.next()
			n := c.next()
			if t.text == "-" {
				return "-" + n.text, nil
			}
			return n.text, nil
		}
	}
	return "", c.unexpected("a value (string, number or word)")
}
