package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// SystemTable is a read-only table whose rows describe the catalog
// (information_schema.tables, pg_catalog.pg_class, …): they are computed
// from the catalog the query was planned against each time a query scans
// it, so they are never stale and need no upkeep on DDL. A system table is
// not listed by SHOW SOURCES; a source of the same name hides it.
type SystemTable struct {
	// Name is the name queries use, usually qualified by its schema
	// ("information_schema.tables"). A name qualified by pg_catalog is
	// also found without it, as PostgreSQL's search path finds it.
	Name string
	// Schema are its columns: VARCHAR, BIGINT, INT, SMALLINT, BOOLEAN or
	// DOUBLE.
	Schema *arrow.Schema
	// Rows are its rows over the catalog's relations; a cell is a string,
	// an int64, a bool, a float64 or nil (NULL), of the column's type. ctx
	// is the query's (it carries what the caller put in it: a pgwire
	// connection's user and database).
	Rows func(ctx context.Context, rels []Relation) ([][]any, error)
}

// Relation is one thing a catalog query describes.
type Relation struct {
	// Kind is "source", "table", "view", "sink" or "system".
	Kind string
	// Name is the name as declared (qualified for a system table).
	Name string
	// Connector is the WITH (connector = …) value ("" for views, tables
	// and system tables).
	Connector string
	// Schema are its columns; nil for a sink no query has written to yet
	// or a view whose query no longer plans.
	Schema *arrow.Schema
	// Definition is a view's query text.
	Definition string
}

// ErrSystemTableExists is returned by RegisterSystemTable for a name
// already registered.
var ErrSystemTableExists = errors.New("system table already exists")

// systemSchema is the schema of the default search path's tables:
// qualified by it, a name is found as if unqualified.
const systemSchema = "pg_catalog"

// RegisterSystemTable adds a system table to the session's catalog. It
// fails if one of that name exists.
func (db *Session) RegisterSystemTable(t SystemTable) error {
	if t.Name == "" || t.Schema == nil || t.Rows == nil {
		return fmt.Errorf("system table %q: a name, a schema and rows are needed", t.Name)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	k := strings.ToLower(t.Name)
	if _, ok := db.cat.system[k]; ok {
		return fmt.Errorf("%q: %w", t.Name, ErrSystemTableExists)
	}
	// Copied on write: running queries' snapshots share the old map.
	m := maps.Clone(db.cat.system)
	if m == nil {
		m = map[string]*SystemTable{}
	}
	m[k] = &t
	db.cat.system = m
	return nil
}

// Relations lists what the session's catalog holds (see Relation), sorted
// by name.
func (db *Session) Relations() []Relation {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cat.relations()
}

// systemEntry finds a system table by name: "pg_class" finds
// "pg_catalog.pg_class". The entry's source reads c, the catalog the
// query was planned against.
func (c *Catalog) systemEntry(name string) (*SourceEntry, bool) {
	k := strings.ToLower(name)
	t, ok := c.system[k]
	if !ok {
		t, ok = c.system[systemSchema+"."+k]
	}
	if !ok {
		return nil, false
	}
	def := &planner.SourceDef{Name: t.Name, Schema: t.Schema, Options: map[string]string{"connector": "system"}, Bounded: true}
	return &SourceEntry{Def: def, Source: &systemSource{t: t, cat: c}}, true
}

// relations lists what the catalog holds, sorted by name: sources,
// in-memory tables, views, sinks, and the system tables themselves.
func (c *Catalog) relations() []Relation {
	var out []Relation
	for k, e := range c.sources {
		if c.tables[k] == nil {
			out = append(out, Relation{Kind: "source", Name: e.Def.Name, Connector: e.Def.Options["connector"], Schema: e.Def.Schema})
		}
	}
	for k, e := range c.sinks {
		if c.tables[k] == nil {
			out = append(out, Relation{Kind: "sink", Name: e.Def.Name, Connector: e.Def.Options["connector"], Schema: e.Def.Schema})
		}
	}
	for k, t := range c.tables {
		name := k
		if e := c.sources[k]; e != nil {
			name = e.Def.Name
		}
		out = append(out, Relation{Kind: "table", Name: name, Schema: t.Schema()})
	}
	for _, v := range c.views {
		r := Relation{Kind: "view", Name: v.Name, Definition: strings.TrimSpace(v.Query.SQL())}
		if qp, err := planner.PlanQuery(v.Query, c); err == nil {
			r.Schema = viewColumns(qp.Output.Arrow(), v.Columns)
		}
		out = append(out, r)
	}
	for _, t := range c.system {
		out = append(out, Relation{Kind: "system", Name: t.Name, Schema: t.Schema})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// viewColumns is s with its columns named names (a view's column list),
// or s when there are none.
func viewColumns(s *arrow.Schema, names []string) *arrow.Schema {
	if len(names) != s.NumFields() {
		return s
	}
	fs := make([]arrow.Field, len(names))
	for i, f := range s.Fields() {
		f.Name = names[i]
		fs[i] = f
	}
	return arrow.NewSchema(fs, nil)
}

// systemSource scans a system table: one record built at Open.
type systemSource struct {
	t   *SystemTable
	cat *Catalog
}

var _ exec.Source = (*systemSource)(nil)

func (s *systemSource) Schema() *arrow.Schema { return s.t.Schema }

func (s *systemSource) Bounded() bool { return true }

func (s *systemSource) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	rows, err := s.t.Rows(ctx, s.cat.relations())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.t.Name, err)
	}
	cols := spec.Columns
	if cols == nil {
		cols = make([]int, s.t.Schema.NumFields())
		for i := range cols {
			cols[i] = i
		}
	}
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		if c < 0 || c >= s.t.Schema.NumFields() {
			return nil, fmt.Errorf("%s: no column %d", s.t.Name, c)
		}
		fs[i] = s.t.Schema.Field(c)
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fs, nil))
	defer b.Release()
	for r, row := range rows {
		if len(row) != s.t.Schema.NumFields() {
			return nil, fmt.Errorf("%s: row %d has %d cells for %d columns", s.t.Name, r+1, len(row), s.t.Schema.NumFields())
		}
		for i, c := range cols {
			if err := appendCell(b.Field(i), row[c]); err != nil {
				return nil, fmt.Errorf("%s: row %d column %s: %w", s.t.Name, r+1, fs[i].Name, err)
			}
		}
	}
	return &systemReader{rec: b.NewRecord()}, nil
}

// appendCell appends one Go value to a builder of its column's type.
func appendCell(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		if s, ok := v.(string); ok {
			b.Append(s)
			return nil
		}
	case *array.Int64Builder:
		if n, ok := v.(int64); ok {
			b.Append(n)
			return nil
		}
	case *array.Int32Builder:
		if n, ok := v.(int64); ok {
			b.Append(int32(n))
			return nil
		}
	case *array.Int16Builder:
		if n, ok := v.(int64); ok {
			b.Append(int16(n))
			return nil
		}
	case *array.BooleanBuilder:
		if x, ok := v.(bool); ok {
			b.Append(x)
			return nil
		}
	case *array.Float64Builder:
		if x, ok := v.(float64); ok {
			b.Append(x)
			return nil
		}
	}
	return fmt.Errorf("value %v does not fit a %s column", v, b.Type())
}

// systemReader returns its one record, then io.EOF.
type systemReader struct {
	rec  arrow.Record
	done bool
}

func (r *systemReader) Next(ctx context.Context) (exec.Batch, error) {
	if err := ctx.Err(); err != nil {
		return exec.Batch{}, err
	}
	if r.done || r.rec == nil {
		return exec.Batch{}, io.EOF
	}
	r.done = true
	r.rec.Retain()
	return exec.Batch{Record: r.rec}, nil
}

func (r *systemReader) Offsets() exec.Offsets {
	if r.done {
		return exec.Offsets{"0": 1}
	}
	return exec.Offsets{"0": 0}
}

func (r *systemReader) Partitions() []int32 { return []int32{0} }

func (r *systemReader) Close() error {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	return nil
}
