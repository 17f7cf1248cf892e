package engine

import (
	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// Statement is one parsed SQL statement (sql.Parse), as Run takes it.
type Statement = sql.Statement

// Watermark is a source's event-time column and how far the watermark
// trails the largest event time seen.
type Watermark = planner.WatermarkDef

// TimestampType is the Arrow type of a SQL TIMESTAMP, for Go sources that
// derive a schema from Go types.
var TimestampType = planner.TypeTimestamp

// goConnector is the connector name of sources and sinks registered from
// Go, as SHOW SOURCES lists them.
const goConnector = "go"

// splitsIntoMorsels reports a bounded source whose scans split into
// morsels (planner.SourceDef.Morsels).
func splitsIntoMorsels(src exec.Source) bool {
	_, ok := src.(exec.MorselSource)
	return ok && src.Bounded()
}

// RegisterSource adds a source made by Go code, next to the ones CREATE
// SOURCE makes. wm, when not nil, gives it event time.
func (db *Session) RegisterSource(name string, src exec.Source, wm *Watermark) error {
	def := &planner.SourceDef{
		Name:      name,
		Schema:    src.Schema(),
		Options:   map[string]string{"connector": goConnector},
		Bounded:   src.Bounded(),
		Morsels:   splitsIntoMorsels(src),
		Watermark: wm,
		ScaleOut:  scaleOutDef(src),
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cat.AddSource(def, src)
}

// RegisterSink adds a sink made by Go code; INSERT INTO name … and CREATE
// SINK … AS write to it.
func (db *Session) RegisterSink(name string, sink exec.Sink) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	def := &planner.SinkDef{Name: name, Options: map[string]string{"connector": goConnector}, AppendOnly: appendOnly(sink)}
	return db.cat.AddSink(def, sink)
}

// Table describes one catalog entry for tools that list names without
// running SQL.
type Table struct {
	// Kind is "source" or "sink".
	Kind string
	// Name is the name as declared.
	Name string
	// Connector is the WITH (connector = …) value, or "go" for Go code.
	Connector string
	// Schema is nil for a sink no query has written to yet.
	Schema *arrow.Schema
}

// Tables lists the sources, then the sinks, each sorted by name.
func (db *Session) Tables() []Table {
	db.mu.Lock()
	defer db.mu.Unlock()
	var out []Table
	for _, s := range db.cat.Sources() {
		out = append(out, Table{Kind: "source", Name: s.Name, Connector: s.Options["connector"], Schema: s.Schema})
	}
	for _, s := range db.cat.Sinks() {
		out = append(out, Table{Kind: "sink", Name: s.Name, Connector: s.Options["connector"], Schema: s.Schema})
	}
	return out
}
