package sql

// CreateView is `CREATE [OR REPLACE] VIEW name [(col, …)] AS query`.
type CreateView struct {
	stmt
	Name      string
	OrReplace bool
	// Columns rename the query's columns (nil: the query's names).
	Columns []string
	Query   *Query
}

// CreateTable is `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name (…)`
// or `… AS query`: an in-memory table that INSERT INTO appends to. With
// a WITH clause it is Flink's connector DDL and the parser returns a
// CreateSource instead (see createTable).
type CreateTable struct {
	stmt
	Name        string
	OrReplace   bool
	IfNotExists bool
	Columns     []ColumnDef // empty with AS
	Query       *Query      // nil without AS
	// PrimaryKey names the key columns (nil: none); an INSERT of a
	// duplicate key fails, as in DuckDB, unless KeyNotEnforced.
	PrimaryKey     []string
	KeyNotEnforced bool
}

// createView parses the rest of CREATE [OR REPLACE] VIEW.
func (ps *parseState) createView(c *cursor, base stmt, orReplace bool) (Statement, error) {
	v := &CreateView{stmt: base, OrReplace: orReplace}
	var err error
	if v.Name, _, err = c.ident("a view name"); err != nil {
		return nil, err
	}
	if c.acceptPunct("(") {
		for {
			name, _, err := c.ident("a column name")
			if err != nil {
				return nil, err
			}
			v.Columns = append(v.Columns, name)
			if c.acceptPunct(")") {
				break
			}
			if err := c.expectPunct(","); err != nil {
				return nil, err
			}
		}
	}
	if err := c.expect("AS"); err != nil {
		return nil, err
	}
	if v.Query, err = ps.subquery(c); err != nil {
		return nil, err
	}
	if v.Query.Emit != nil {
		return nil, Errorf(ParseError, v.Query.Emit.Pos, "a view cannot have an EMIT clause: give it to the query that reads the view")
	}
	return v, nil
}

// createTable parses the rest of CREATE [OR REPLACE] TABLE. A column list
// followed by WITH (connector = …) is Flink's connector DDL, read as the
// CREATE SOURCE it declares.
func (ps *parseState) createTable(c *cursor, base stmt, orReplace bool) (Statement, error) {
	t := &CreateTable{stmt: base, OrReplace: orReplace}
	var err error
	if t.IfNotExists, err = c.ifNotExists(); err != nil {
		return nil, err
	}
	if t.Name, _, err = c.ident("a table name"); err != nil {
		return nil, err
	}
	if c.accept("AS") {
		if t.Query, err = ps.subquery(c); err != nil {
			return nil, err
		}
		if t.Query.Emit != nil {
			return nil, Errorf(ParseError, t.Query.Emit.Pos, "CREATE TABLE … AS runs a batch query: drop the EMIT clause (or CREATE SINK … AS for a stream)")
		}
		return t, nil
	}
	open := c.peek()
	if err := c.expectPunct("("); err != nil {
		return nil, err
	}
	src := &CreateSource{stmt: base, Name: t.Name, IfNotExists: t.IfNotExists}
	if err := c.columnList(src); err != nil {
		return nil, err
	}
	if c.peek().is("WITH") {
		if orReplace {
			return nil, c.errAt(open, "CREATE OR REPLACE TABLE … WITH (connector = …) is not supported: DROP SOURCE first")
		}
		src.Table = true
		if err := src.checkNotEnforced(); err != nil {
			return nil, err
		}
		if src.Options, err = c.withClause(); err != nil {
			return nil, err
		}
		for i, o := range src.Options {
			if name, ok := flinkConnectors[o.Value]; ok && o.Key == "connector" {
				src.Options[i].Value = name
			}
		}
		return src, c.end()
	}
	if src.Watermark != nil {
		return nil, Errorf(ParseError, src.Watermark.Pos, "an in-memory table has no event time: declare a source (CREATE SOURCE … WITH (…)) for WATERMARK")
	}
	t.Columns, t.PrimaryKey, t.KeyNotEnforced = src.Columns, src.PrimaryKey, src.KeyNotEnforced
	return t, c.end()
}

// flinkConnectors are Flink's names of connectors sluice has under its
// own, so a Flink CREATE TABLE runs unchanged.
var flinkConnectors = map[string]string{"filesystem": "file", "print": "stdout"}
