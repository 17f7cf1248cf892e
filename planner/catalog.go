package planner

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
)

// WatermarkDef is a source's event-time column and how far the watermark
// trails the largest event time seen.
type WatermarkDef struct {
	Column string
	Delay  time.Duration
}

// SourceDef is a registered source (CREATE SOURCE).
type SourceDef struct {
	Name      string
	Schema    *arrow.Schema
	Options   map[string]string
	Watermark *WatermarkDef // nil: no event time
	Bounded   bool          // files and generators with a row limit end; Kafka does not
}

// SinkDef is a registered sink (CREATE SINK).
type SinkDef struct {
	Name    string
	Options map[string]string
	Schema  *arrow.Schema // nil until the first query into the sink fixes it
}

// Catalog holds the sources and sinks of a session. Names are
// case-insensitive. It is not safe for concurrent mutation; the engine
// serialises DDL.
type Catalog struct {
	sources map[string]*SourceDef
	sinks   map[string]*SinkDef
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{sources: map[string]*SourceDef{}, sinks: map[string]*SinkDef{}}
}

func (c *Catalog) init() {
	if c.sources == nil {
		c.sources = map[string]*SourceDef{}
	}
	if c.sinks == nil {
		c.sinks = map[string]*SinkDef{}
	}
}

// AddSource registers s; it fails if a source of that name exists.
func (c *Catalog) AddSource(s *SourceDef) error {
	c.init()
	k := strings.ToLower(s.Name)
	if _, ok := c.sources[k]; ok {
		return fmt.Errorf("source %q already exists", s.Name)
	}
	c.sources[k] = s
	return nil
}

// DropSource removes a source; it fails if there is none of that name.
func (c *Catalog) DropSource(name string) error {
	c.init()
	k := strings.ToLower(name)
	if _, ok := c.sources[k]; !ok {
		return fmt.Errorf("unknown source %q", name)
	}
	delete(c.sources, k)
	return nil
}

// LookupSource finds a source by name.
func (c *Catalog) LookupSource(name string) (*SourceDef, bool) {
	c.init()
	s, ok := c.sources[strings.ToLower(name)]
	return s, ok
}

// Sources lists the sources sorted by name.
func (c *Catalog) Sources() []*SourceDef {
	c.init()
	out := make([]*SourceDef, 0, len(c.sources))
	for _, s := range c.sources {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// AddSink registers s; it fails if a sink of that name exists.
func (c *Catalog) AddSink(s *SinkDef) error {
	c.init()
	k := strings.ToLower(s.Name)
	if _, ok := c.sinks[k]; ok {
		return fmt.Errorf("sink %q already exists", s.Name)
	}
	c.sinks[k] = s
	return nil
}

// DropSink removes a sink; it fails if there is none of that name.
func (c *Catalog) DropSink(name string) error {
	c.init()
	k := strings.ToLower(name)
	if _, ok := c.sinks[k]; !ok {
		return fmt.Errorf("unknown sink %q", name)
	}
	delete(c.sinks, k)
	return nil
}

// LookupSink finds a sink by name.
func (c *Catalog) LookupSink(name string) (*SinkDef, bool) {
	c.init()
	s, ok := c.sinks[strings.ToLower(name)]
	return s, ok
}

// Sinks lists the sinks sorted by name.
func (c *Catalog) Sinks() []*SinkDef {
	c.init()
	out := make([]*SinkDef, 0, len(c.sinks))
	for _, s := range c.sinks {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}
