package engine

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/connectors/memtable"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
)

// SourceEntry is one source of the catalog: what the planner binds
// against and the opened connector object a scan reads, kept together so
// DDL adds and drops both at once.
type SourceEntry struct {
	Def    *planner.SourceDef
	Source exec.Source
}

// SinkEntry is one sink of the catalog: its definition and the opened
// connector object queries write to.
type SinkEntry struct {
	Def  *planner.SinkDef
	Sink exec.Sink
}

// Catalog holds a session's sources and sinks, one entry per name
// (case-insensitive). It implements planner.Catalog over the entries'
// definitions. It is not safe for concurrent use: the Session's lock
// guards it, and a running query reads a snapshot. Make one with
// NewCatalog.
type Catalog struct {
	sources map[string]*SourceEntry
	sinks   map[string]*SinkEntry
	views   map[string]*planner.ViewDef
	// tables are the in-memory tables (CREATE TABLE), each also a source
	// and a sink of the same name.
	tables map[string]*memtable.Table
	// system are the system tables (RegisterSystemTable), found after
	// the sources (systemEntry).
	system map[string]*SystemTable
}

var (
	_ planner.Catalog     = (*Catalog)(nil)
	_ planner.ViewCatalog = (*Catalog)(nil)
)

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{sources: map[string]*SourceEntry{}, sinks: map[string]*SinkEntry{}, views: map[string]*planner.ViewDef{}, tables: map[string]*memtable.Table{}}
}

// LookupView implements planner.ViewCatalog.
func (c *Catalog) LookupView(name string) (*planner.ViewDef, bool) {
	v, ok := c.views[strings.ToLower(name)]
	return v, ok
}

// Views lists the views sorted by name.
func (c *Catalog) Views() []*planner.ViewDef {
	out := make([]*planner.ViewDef, 0, len(c.views))
	for _, v := range c.views {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// Table finds an in-memory table by name.
func (c *Catalog) Table(name string) (*memtable.Table, bool) {
	t, ok := c.tables[strings.ToLower(name)]
	return t, ok
}

// AddSource registers a source; it fails if one of that name exists.
func (c *Catalog) AddSource(def *planner.SourceDef, src exec.Source) error {
	k := strings.ToLower(def.Name)
	if _, ok := c.sources[k]; ok {
		return fmt.Errorf("source %q already exists", def.Name)
	}
	c.sources[k] = &SourceEntry{Def: def, Source: src}
	return nil
}

// AddSink registers a sink; it fails if one of that name exists.
func (c *Catalog) AddSink(def *planner.SinkDef, sink exec.Sink) error {
	k := strings.ToLower(def.Name)
	if _, ok := c.sinks[k]; ok {
		return fmt.Errorf("sink %q already exists", def.Name)
	}
	c.sinks[k] = &SinkEntry{Def: def, Sink: sink}
	return nil
}

// DropSource removes a source; it fails if there is none of that name.
func (c *Catalog) DropSource(name string) error {
	k := strings.ToLower(name)
	if _, ok := c.sources[k]; !ok {
		return fmt.Errorf("unknown source %q", name)
	}
	delete(c.sources, k)
	return nil
}

// DropSink removes a sink; it fails if there is none of that name.
func (c *Catalog) DropSink(name string) error {
	k := strings.ToLower(name)
	if _, ok := c.sinks[k]; !ok {
		return fmt.Errorf("unknown sink %q", name)
	}
	delete(c.sinks, k)
	return nil
}

// Source finds a source's entry by name.
func (c *Catalog) Source(name string) (*SourceEntry, bool) {
	if e, ok := c.sources[strings.ToLower(name)]; ok {
		return e, true
	}
	return c.systemEntry(name)
}

// Sink finds a sink's entry by name.
func (c *Catalog) Sink(name string) (*SinkEntry, bool) {
	e, ok := c.sinks[strings.ToLower(name)]
	return e, ok
}

// LookupSource implements planner.Catalog.
func (c *Catalog) LookupSource(name string) (*planner.SourceDef, bool) {
	if e, ok := c.Source(name); ok {
		return e.Def, true
	}
	return nil, false
}

// LookupSink implements planner.Catalog.
func (c *Catalog) LookupSink(name string) (*planner.SinkDef, bool) {
	if e, ok := c.Sink(name); ok {
		return e.Def, true
	}
	return nil, false
}

// Sources implements planner.Catalog: the definitions sorted by name.
func (c *Catalog) Sources() []*planner.SourceDef {
	out := make([]*planner.SourceDef, 0, len(c.sources))
	for _, e := range c.sources {
		out = append(out, e.Def)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// Sinks implements planner.Catalog: the definitions sorted by name.
func (c *Catalog) Sinks() []*planner.SinkDef {
	out := make([]*planner.SinkDef, 0, len(c.sinks))
	for _, e := range c.sinks {
		out = append(out, e.Def)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// snapshot copies the name tables (the entries are shared), so a query
// planned against it keeps its sources while DDL changes the session.
func (c *Catalog) snapshot() *Catalog {
	return &Catalog{sources: maps.Clone(c.sources), sinks: maps.Clone(c.sinks), views: maps.Clone(c.views), tables: maps.Clone(c.tables), system: c.system}
}
