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
	// Morsels is set when a bounded scan of the source splits into
	// pieces read independently (exec.MorselSource: files): a streaming
	// scan of it is decoded by up to the session's parallelism
	// goroutines, in scan order (exec.OpenOrdered).
	Morsels bool
	// Changelog is set when the source's rows are changes (a Debezium
	// topic, exec.ChangelogSource): streaming reads it as an updating
	// input, batch reads the table the changes leave.
	Changelog bool
	// ChangelogKey names the columns of which each value has at most one
	// live row in a changelog source (an upsert topic's key,
	// exec.KeyedChangelog); nil when no key is known.
	ChangelogKey []string
	// ScaleOut is set when several processes may split the source's
	// partitions among them (a Kafka consumer group, exec.GroupSource):
	// a keyed streaming operator over it that needs rows by another key
	// repartitions them through the source's cluster (PhysExchange).
	ScaleOut *ScaleOutDef
	// PrimaryKey is the declared `PRIMARY KEY (…) NOT ENFORCED` (nil:
	// none), in the data's spelling: the key of a versioned table.
	PrimaryKey []string
}

// ScaleOutDef is how a scaled-out source's partitions are divided.
type ScaleOutDef struct {
	// Group names the processes sharing the work (the consumer group);
	// internal topics are named after it, so every process agrees.
	Group string
	// PartitionKey is the column records are partitioned by ("" when
	// not declared): an operator keyed by it needs no exchange.
	PartitionKey string
}

// SourceKey resolves a declared primary key against the source's schema
// (declared or inferred), returning the columns in the data's spelling.
func SourceKey(s *arrow.Schema, key []string) ([]string, error) {
	var out []string
	for _, k := range key {
		found := ""
		for _, f := range s.Fields() {
			if strings.EqualFold(f.Name, k) {
				found = f.Name
			}
		}
		if found == "" {
			return nil, fmt.Errorf("primary key column %q is not a column of the source", k)
		}
		out = append(out, found)
	}
	return out, nil
}

// SinkDef is a registered sink (CREATE SINK).
type SinkDef struct {
	Name    string
	Options map[string]string
	Schema  *arrow.Schema // nil until the first query into the sink fixes it
	// AppendOnly is set when the sink can only append rows (files; the
	// engine asks the sink, exec.AppendOnlySink), so it cannot take the
	// changelog of an updating query.
	AppendOnly bool
	// Key is the declared `PRIMARY KEY (…) NOT ENFORCED` of a Flink-style
	// table written to (nil: none): the sink upserts rows by it, as
	// Flink's upsert sinks do.
	Key []string
}

// Catalog is what planning reads of a session's sources and sinks: their
// definitions, looked up by case-insensitive name. The engine's catalog
// implements it (its entries also hold the opened connector objects,
// which the planner never sees); MemCatalog is definitions alone. The
// planner only reads: an implementation need not be safe for concurrent
// mutation while a query is planned.
type Catalog interface {
	// LookupSource finds a source by name, ignoring case.
	LookupSource(name string) (*SourceDef, bool)
	// Sources lists the sources sorted by name (for suggestions).
	Sources() []*SourceDef
	// LookupSink finds a sink by name, ignoring case.
	LookupSink(name string) (*SinkDef, bool)
	// Sinks lists the sinks sorted by name.
	Sinks() []*SinkDef
}

var _ Catalog = (*MemCatalog)(nil)

// MemCatalog is a Catalog of definitions alone, for planning without a
// session (tests, tools). Names are case-insensitive. It is not safe for
// concurrent mutation.
type MemCatalog struct {
	sources map[string]*SourceDef
	sinks   map[string]*SinkDef
}

// NewCatalog returns an empty MemCatalog.
func NewCatalog() *MemCatalog {
	return &MemCatalog{sources: map[string]*SourceDef{}, sinks: map[string]*SinkDef{}}
}

func (c *MemCatalog) init() {
	if c.sources == nil {
		c.sources = map[string]*SourceDef{}
	}
	if c.sinks == nil {
		c.sinks = map[string]*SinkDef{}
	}
}

// AddSource registers s; it fails if a source of that name exists.
func (c *MemCatalog) AddSource(s *SourceDef) error {
	c.init()
	k := strings.ToLower(s.Name)
	if _, ok := c.sources[k]; ok {
		return fmt.Errorf("source %q already exists", s.Name)
	}
	c.sources[k] = s
	return nil
}

// DropSource removes a source; it fails if there is none of that name.
func (c *MemCatalog) DropSource(name string) error {
	c.init()
	k := strings.ToLower(name)
	if _, ok := c.sources[k]; !ok {
		return fmt.Errorf("unknown source %q", name)
	}
	delete(c.sources, k)
	return nil
}

// LookupSource finds a source by name.
func (c *MemCatalog) LookupSource(name string) (*SourceDef, bool) {
	c.init()
	s, ok := c.sources[strings.ToLower(name)]
	return s, ok
}

// Sources lists the sources sorted by name.
func (c *MemCatalog) Sources() []*SourceDef {
	c.init()
	out := make([]*SourceDef, 0, len(c.sources))
	for _, s := range c.sources {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// AddSink registers s; it fails if a sink of that name exists.
func (c *MemCatalog) AddSink(s *SinkDef) error {
	c.init()
	k := strings.ToLower(s.Name)
	if _, ok := c.sinks[k]; ok {
		return fmt.Errorf("sink %q already exists", s.Name)
	}
	c.sinks[k] = s
	return nil
}

// DropSink removes a sink; it fails if there is none of that name.
func (c *MemCatalog) DropSink(name string) error {
	c.init()
	k := strings.ToLower(name)
	if _, ok := c.sinks[k]; !ok {
		return fmt.Errorf("unknown sink %q", name)
	}
	delete(c.sinks, k)
	return nil
}

// LookupSink finds a sink by name.
func (c *MemCatalog) LookupSink(name string) (*SinkDef, bool) {
	c.init()
	s, ok := c.sinks[strings.ToLower(name)]
	return s, ok
}

// Sinks lists the sinks sorted by name.
func (c *MemCatalog) Sinks() []*SinkDef {
	c.init()
	out := make([]*SinkDef, 0, len(c.sinks))
	for _, s := range c.sinks {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}
