// Package sql turns SQL text into sluice statements.
//
// Plain SELECT syntax is parsed by the TiDB parser; the streaming extensions
// (CREATE SOURCE/SINK, WATERMARK FOR, WITH (k = v), the EMIT clause, window
// table functions in FROM) are recognised here first and replaced by
// same-length placeholders, so every position the TiDB parser reports still
// points into the user's text. The package knows nothing of Arrow.
package sql

import (
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// Pos is a position in the user's SQL text. Line and Col are 1-based;
// Offset is the 0-based byte offset into the script text.
type Pos struct {
	Line, Col, Offset int
}

// Statement is one parsed statement of a script.
type Statement interface {
	// Position is where the statement starts in the script.
	Position() Pos
	// SQL is the statement's own text, as written.
	SQL() string
}

// Option is one `key = 'value'` pair of a WITH clause, in written order.
type Option struct {
	Key, Value string
	Pos        Pos
}

// Options is a WITH clause. Keys are compared case-insensitively.
type Options []Option

// ColumnDef is one declared column of CREATE SOURCE.
type ColumnDef struct {
	Name string
	// Type is the normalised type name: BIGINT, INT, DOUBLE, DECIMAL(p,s),
	// VARCHAR, BOOLEAN, TIMESTAMP, DATE. Synonyms are mapped (INTEGER→INT,
	// FLOAT/REAL→DOUBLE, TEXT/STRING/CHAR(n)/VARCHAR(n)→VARCHAR, DATETIME→TIMESTAMP,
	// BOOL→BOOLEAN, NUMERIC→DECIMAL, SMALLINT/TINYINT→INT).
	Type string
	Pos  Pos
	// NotNull: declared NOT NULL. A NULL inserted into an in-memory
	// table is an error (so is one in a PRIMARY KEY column).
	NotNull bool
	// Unsigned: declared UNSIGNED (an integer type); a negative value
	// is out of range.
	Unsigned bool
	// Default is the constant of `DEFAULT c` (its text, a string
	// unquoted), the value an INSERT gives a column its column list
	// leaves out; HasDefault says there is one (DEFAULT NULL has none:
	// NULL is what an omitted column gets anyway).
	Default    string
	HasDefault bool
	DefaultPos Pos
	// DefaultExpr is the SQL text of an expression default (`DEFAULT
	// CURRENT_TIMESTAMP`, `DEFAULT (a_constant * 2)`), Default then empty;
	// DefaultExprPos is where the text starts.
	DefaultExpr    string
	DefaultExprPos Pos
}

// Watermark is `WATERMARK FOR col AS col - INTERVAL '5' SECOND`.
type Watermark struct {
	Column string
	// Delay is how far the watermark trails the largest event time seen.
	Delay time.Duration
	Pos   Pos
}

// CreateSource is `CREATE SOURCE [IF NOT EXISTS] name [(cols…, WATERMARK…)] WITH (…)`.
type CreateSource struct {
	stmt
	Name        string
	IfNotExists bool
	Columns     []ColumnDef // empty: infer the schema from the data
	Watermark   *Watermark
	// PrimaryKey names the PRIMARY KEY columns (as declared; nil: none),
	// declared at PrimaryKeyPos. Flink's `PRIMARY KEY (…) NOT ENFORCED`
	// is the key of a versioned table (temporal joins); an in-memory
	// table refuses a duplicate key, as DuckDB does, unless NOT ENFORCED.
	PrimaryKey    []string
	PrimaryKeyPos Pos
	keyToks       []token
	// KeyNotEnforced: the key was declared NOT ENFORCED.
	KeyNotEnforced bool
	Options        Options
	// Table is set for Flink's `CREATE TABLE … WITH (connector = …)`: the
	// table is also a sink of the same name (INSERT INTO it), and a
	// source when its connector can read it already.
	Table bool
}

// CreateSink is `CREATE SINK name WITH (…) [AS query]`.
type CreateSink struct {
	stmt
	Name        string
	IfNotExists bool
	Options     Options
	Query       *Query // nil when the sink is only declared
}

// Insert is `INSERT INTO sink query`.
type Insert struct {
	stmt
	Sink  string
	Query *Query
}

// Drop is `DROP SOURCE|SINK|TABLE|VIEW [IF EXISTS] name`.
type Drop struct {
	stmt
	Kind     string // "SOURCE", "SINK", "TABLE" or "VIEW"
	Name     string
	IfExists bool
	// Cascade (DROP SOURCE name CASCADE) also deletes the internal
	// topics of the scaled-out queries over the source.
	Cascade bool
}

// Show is `SHOW SOURCES`, `SHOW SINKS`, `SHOW TABLES`, `SHOW INTERNAL
// TOPICS` or `SHOW OPTIONS [FOR 'connector']`.
type Show struct {
	stmt
	Kind string // "SOURCES", "SINKS", "TABLES", "INTERNAL TOPICS" or "OPTIONS"
	// Connector is the connector of SHOW OPTIONS FOR name, lower case
	// ("" for every connector); ConnectorPos is where it is written.
	Connector    string
	ConnectorPos Pos
}

// Describe is `DESCRIBE name` (also DESC name).
type Describe struct {
	stmt
	Name string
	// NamePos is where the name is written, for errors about it.
	NamePos Pos
}

// Explain is `EXPLAIN [ANALYZE] query`.
type Explain struct {
	stmt
	Analyze bool
	Query   *Query
}

// Set is `SET name = value` (script variables and session settings).
type Set struct {
	stmt
	Name, Value string
}

// Query is a SELECT (or UNION) with sluice's streaming extensions split out.
type Query struct {
	stmt
	// Select is the TiDB AST: *ast.SelectStmt or *ast.SetOprStmt. Window
	// table functions appear in it as table names that are keys of Windows.
	// Its offsets (OriginTextPosition, SelectField.Offset) are byte
	// offsets into the query's text, SQL(); PosOf converts them.
	Select ast.ResultSetNode
	// Emit is nil for a batch query.
	Emit *Emit
	// InsertColumns is the column list of `INSERT INTO t (a, b) query`
	// (nil: none, the query gives every column in order), where each is
	// written; the columns it leaves out get their DEFAULT or NULL.
	InsertColumns    []string
	InsertColumnsPos []Pos
	// Windows maps placeholder table names found in Select to the window
	// table function they stand for.
	Windows map[string]*WindowTVF
	// FullJoins holds the joins of Select written `FULL [OUTER] JOIN`. The
	// TiDB parser has no full joins, so they reach it as LEFT joins (same
	// length, so positions hold) and appear in Select with Tp LeftJoin;
	// the planner binds the ones listed here as full outer joins.
	FullJoins map[*ast.Join]bool
	// CastTypes maps the offset (into SQL()) of each CAST or CONVERT
	// keyword to its target type, normalised as ColumnDef.Type. The TiDB
	// parser knows only MySQL's few cast types, so it sees a placeholder
	// and the planner reads the type here (see castTypes).
	CastTypes map[int]string
	// Values maps placeholder table names in Select to the VALUES lists
	// in FROM they stand for; Files, to the files read as tables
	// (tablefn.go).
	Values map[string]*ValuesList
	Files  map[string]*FileTable
	// ByAll is set when the query says GROUP BY ALL or ORDER BY ALL,
	// which reach Select as GROUP BY `$` / ORDER BY `$`.
	ByAll bool
	// ListLits are the offsets of DuckDB list literals `[a, b]`, which
	// the TiDB parser reads as `(a, b)` (see listLiterals).
	ListLits map[int]bool
	// Subscripts maps the offset of each operand written with a
	// subscript l[i] or slice l[a:b] after it to that subscript (see
	// Subscript).
	Subscripts map[int]*Subscript
	// Unnests maps placeholder table names in Select to the UNNEST
	// items in FROM they stand for.
	Unnests map[string]*UnnestItem
	// ExtractUnits maps the offset of each EXTRACT keyword whose unit the
	// TiDB parser does not know (EPOCH, DOW, DOY, ISODOW, …) to that unit,
	// lower case; TiDB sees DAY there.
	ExtractUnits map[int]string
	// Intervals maps the offset of the INTERVAL keyword of each interval
	// literal standing as a value of its own to that literal; TiDB sees
	// a parenthesised placeholder there (see standaloneIntervals).
	Intervals map[int]IntervalLit
	// AggFilters maps the offset of each aggregate call's name written
	// `agg(…) FILTER (WHERE cond)` to cond, parsed on its own with offsets
	// into SQL() like Select's; the main parse sees blanks in place of the
	// FILTER clause, which the TiDB parser lacks.
	AggFilters map[int]ast.ExprNode
	// AggOrders maps the offset of each aggregate call's name to the
	// ORDER BY written inside the call or in a WITHIN GROUP clause after
	// it (see AggOrder); the main parse sees blanks there.
	AggOrders map[int]*AggOrder
	// AggNames maps the offset of each aggregate call whose name is a
	// keyword of the TiDB parser (FIRST, LAST) to that name, lower case;
	// the main parse sees a same-length placeholder ("__aaa").
	AggNames map[int]string
	// AggDistinct holds the offsets of aggregate calls written
	// `agg(DISTINCT …)` whose DISTINCT the TiDB parser does not read
	// (BIT_XOR, STRING_AGG, MEDIAN, …): it sees a blank there.
	AggDistinct map[int]bool
	// AggOvers maps the offset of each call of an aggregate the TiDB
	// parser takes no OVER for (MEDIAN, STRING_AGG, ARRAY_AGG, FIRST, …)
	// written `agg(…) OVER (…)` to its window; the main parse sees blanks
	// in place of the OVER clause.
	AggOvers map[int]*ast.WindowSpec
	// SystemTimes are the `FOR SYSTEM_TIME AS OF` clauses of temporal
	// joins, in written order (systemtime.go).
	SystemTimes []*SystemTime

	index    *lineIndex // converts offsets of the parsed text into positions
	indexOff int        // where the query's text starts in index's text
}

// EmitKind says when results are emitted.
type EmitKind int

// EMIT clause kinds.
const (
	EmitEvery   EmitKind = iota + 1 // EMIT EVERY <interval> [FULL]: micro-batch
	EmitChanges                     // EMIT CHANGES: continuous changelog
	EmitFinal                       // EMIT FINAL: continuous, each window once
)

// Emit is the EMIT clause.
type Emit struct {
	Kind     EmitKind
	Interval time.Duration // EmitEvery only
	Full     bool          // EMIT EVERY … FULL
	Pos      Pos
}

// WindowKind is the window table function.
type WindowKind int

// Window table functions.
const (
	Tumble WindowKind = iota + 1
	Hop
	Session
)

// WindowTVF is `TUMBLE(t, ts, size)`, `HOP(t, ts, slide, size)` or
// `SESSION(t, ts, gap)` in FROM.
type WindowTVF struct {
	Kind  WindowKind
	Table string // the source (or placeholder of a nested query, not supported yet)
	// TimeColumn is the event-time column the window is computed from.
	TimeColumn string
	Size       time.Duration // TUMBLE, HOP
	Slide      time.Duration // HOP
	Gap        time.Duration // SESSION
	Pos        Pos
	// PartitionBy are the columns of Flink's `SESSION(TABLE t PARTITION
	// BY k, …)` (or `PARTITION BY (k1, k2)`), with PartitionPos where
	// PARTITION is written; nil when not given.
	PartitionBy  []string
	PartitionPos Pos
}

// stmt carries what every statement has.
type stmt struct {
	pos  Pos
	text string
}

// Position implements Statement.
func (s *stmt) Position() Pos { return s.pos }

// SQL implements Statement.
func (s *stmt) SQL() string { return s.text }
