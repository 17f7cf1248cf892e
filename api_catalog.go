package sluice

// TableInfo describes one source or sink of a DB, for tools such as the
// REPL's tab completion that need names without running SQL.
type TableInfo struct {
	// Kind is "source" or "sink".
	Kind string
	// Name is the name as declared.
	Name string
	// Connector is the WITH (connector = …) value, or "go" for sources
	// and sinks registered from Go.
	Connector string
	// Columns are the column names; empty for a sink no query has
	// written to yet.
	Columns []string
}

// Tables lists the DB's sources, then its sinks, each sorted by name.
func (db *DB) Tables() []TableInfo {
	var out []TableInfo
	for _, t := range db.s.Tables() {
		ti := TableInfo{Kind: t.Kind, Name: t.Name, Connector: t.Connector}
		if t.Schema != nil {
			for _, f := range t.Schema.Fields() {
				ti.Columns = append(ti.Columns, f.Name)
			}
		}
		out = append(out, ti)
	}
	return out
}
