package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/file"
	"github.com/sluicesql/sluice/connectors/memtable"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// nameTaken says what already goes by name ("" if nothing): views share
// the sources' names (a query reads either), tables take both a source's
// and a sink's.
func (c *Catalog) nameTaken(name string) string {
	k := strings.ToLower(name)
	switch {
	case c.views[k] != nil:
		return "view"
	case c.tables[k] != nil:
		return "table"
	case c.sources[k] != nil:
		return "source"
	case c.sinks[k] != nil:
		return "sink"
	}
	return ""
}

// createView checks the view's query against the catalog and stores it;
// queries inline it at each reference.
func (db *Session) createView(s *sql.CreateView) (*Rows, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	v := &planner.ViewDef{Name: s.Name, Query: s.Query, Columns: s.Columns}
	switch kind := db.cat.nameTaken(s.Name); {
	case kind == "view" && s.OrReplace:
	case kind != "" && kind != "sink":
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%s %q already exists", kind, s.Name)
	}
	if _, err := planner.BindView(v, db.cat); err != nil {
		return nil, err
	}
	db.cat.views[strings.ToLower(s.Name)] = v
	return message("view " + s.Name + " created"), nil
}

// createTable makes an in-memory table: empty with the declared columns,
// or filled by a batch query (CREATE TABLE … AS). OR REPLACE swaps the
// new table in only once it is complete.
func (db *Session) createTable(ctx context.Context, s *sql.CreateTable) (*Rows, error) {
	db.mu.Lock()
	kind := db.cat.nameTaken(s.Name)
	db.mu.Unlock()
	switch {
	case kind != "" && s.IfNotExists:
		return message(kind + " " + s.Name + " exists"), nil
	case kind == "table" && s.OrReplace:
	case kind != "":
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%s %q already exists", kind, s.Name)
	}
	var t *memtable.Table
	n := int64(0)
	if s.Query == nil {
		schema, err := planner.SourceSchema(&sql.CreateSource{Name: s.Name, Columns: s.Columns})
		if err != nil {
			return nil, err
		}
		t = memtable.NewConstrained(s.Name, schema, tableConstraints(s))
	} else {
		qp, _, err := db.plan(s.Query, "")
		if err != nil {
			return nil, err
		}
		t = memtable.New(qp.Output.Arrow())
		// Filled under a name no statement can spell, then renamed.
		tmp := "$create " + s.Name
		db.mu.Lock()
		err = db.cat.AddSink(&planner.SinkDef{Name: tmp, Options: map[string]string{"connector": "table"}, Schema: t.Schema(), AppendOnly: true}, t.Sink())
		db.mu.Unlock()
		if err != nil {
			return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
		}
		_, err = db.insert(ctx, tmp, s.Query, s.Position())
		db.mu.Lock()
		_ = db.cat.DropSink(tmp)
		db.mu.Unlock()
		if err != nil {
			return nil, err
		}
		n = t.Rows()
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if kind := db.cat.nameTaken(s.Name); kind == "table" && s.OrReplace {
		db.cat.dropTable(s.Name)
	} else if kind != "" {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%s %q already exists", kind, s.Name)
	}
	if err := db.cat.addTable(s.Name, t); err != nil {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
	}
	if s.Query != nil {
		return message(fmt.Sprintf("table %s created with %d rows", s.Name, n)), nil
	}
	return message("table " + s.Name + " created"), nil
}

// tableConstraints are the NOT NULL, UNSIGNED and PRIMARY KEY rules of
// a declared table, by column index.
func tableConstraints(s *sql.CreateTable) memtable.Constraints {
	var c memtable.Constraints
	c.NotNull = make([]bool, len(s.Columns))
	c.Unsigned = make([]bool, len(s.Columns))
	for i, col := range s.Columns {
		c.NotNull[i], c.Unsigned[i] = col.NotNull, col.Unsigned
		for _, k := range s.PrimaryKey {
			if strings.EqualFold(k, col.Name) && !s.KeyNotEnforced {
				c.Key = append(c.Key, i)
			}
		}
	}
	return c
}

// addTable registers t as the source and the sink name.
func (c *Catalog) addTable(name string, t *memtable.Table) error {
	opts := map[string]string{"connector": "table"}
	if err := c.AddSource(&planner.SourceDef{Name: name, Schema: t.Schema(), Options: opts, Bounded: true}, t); err != nil {
		return err
	}
	if err := c.AddSink(&planner.SinkDef{Name: name, Options: opts, Schema: t.Schema(), AppendOnly: true}, t.Sink()); err != nil {
		_ = c.DropSource(name)
		return err
	}
	c.tables[strings.ToLower(name)] = t
	return nil
}

// dropTable removes a table's source, sink and entry.
func (c *Catalog) dropTable(name string) {
	_ = c.DropSource(name)
	_ = c.DropSink(name)
	delete(c.tables, strings.ToLower(name))
}

// dropTableOrView handles DROP TABLE and DROP VIEW; the lock is held.
func (db *Session) dropTableOrView(s *sql.Drop) (*Rows, error) {
	kind := strings.ToLower(s.Kind)
	if db.cat.nameTaken(s.Name) != kind {
		if s.IfExists {
			return message(kind + " " + s.Name + " does not exist"), nil
		}
		return nil, sql.Errorf(sql.PlanError, s.Position(), "unknown %s %q", kind, s.Name)
	}
	if kind == "view" {
		delete(db.cat.views, strings.ToLower(s.Name))
	} else {
		db.cat.dropTable(s.Name)
	}
	return message(kind + " " + s.Name + " dropped"), nil
}

// showTables lists every name a query can read or write: sources, sinks,
// tables and views, one column name (DuckDB's SHOW TABLES).
func (db *Session) showTables() (*Rows, error) {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if k := strings.ToLower(n); !seen[k] {
			seen[k] = true
			names = append(names, n)
		}
	}
	for _, d := range db.cat.Sources() {
		add(d.Name)
	}
	for _, d := range db.cat.Sinks() {
		add(d.Name)
	}
	for _, v := range db.cat.Views() {
		add(v.Name)
	}
	sort.Slice(names, func(i, j int) bool { return strings.ToLower(names[i]) < strings.ToLower(names[j]) })
	rows := make([][]string, len(names))
	for i, n := range names {
		rows[i] = []string{n}
	}
	return db.textRows([]string{"name"}, rows)
}

// notWrittenYet reports whether a Flink connector table's source error
// means its connector has nothing to read yet, so the table is the sink
// it declares: a file path holding no data (file.ErrNoData, decided by
// the file connector, which a sink writing there agrees with), or a
// connector without a path (a topic, a sink-only connector), whose
// source errors were always taken so. A path that holds data the source
// cannot read (a declared column missing from the file) is the source's
// error, not a sink.
func notWrittenYet(opts connectors.Options, err error) bool {
	return opts["path"] == "" || errors.Is(err, file.ErrNoData)
}

// flinkSinkTable registers a Flink connector table its connector cannot
// read yet (an output file not written, a sink-only connector) as the
// sink it is. srcErr is the reason it is not a source: reported when it
// cannot be a sink either.
func (db *Session) flinkSinkTable(s *sql.CreateSource, opts connectors.Options, declared *arrow.Schema, srcErr error) (*Rows, error) {
	if s.Watermark != nil {
		return nil, &sql.Error{Kind: sql.ConnectorError, Pos: s.Position(), Msg: fmt.Sprintf("table %s: %v", s.Name, srcErr), Err: srcErr}
	}
	sink, err := connectors.NewSink(db.conn, opts)
	if err != nil {
		return nil, &sql.Error{Kind: sql.ConnectorError, Pos: s.Position(), Msg: fmt.Sprintf("table %s: %v", s.Name, srcErr), Err: srcErr}
	}
	if _, ok := db.cat.LookupSink(s.Name); ok {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "sink %q already exists", s.Name)
	}
	key, err := planner.SourceKey(declared, s.PrimaryKey)
	if err != nil {
		return nil, sql.Errorf(sql.PlanError, s.PrimaryKeyPos, "table %s: %v", s.Name, err)
	}
	if err := db.cat.AddSink(&planner.SinkDef{Name: s.Name, Options: opts, Schema: declared, AppendOnly: appendOnly(sink), Key: key}, sink); err != nil {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
	}
	return message("table " + s.Name + " created (as a sink: " + srcErr.Error() + ")"), nil
}
