// Package engine is a sluice session: the catalog of sources and sinks,
// DDL, planning and compiling queries, batch and streaming runs,
// checkpoint wiring, late-row sinks and EXPLAIN ANALYZE. The root package
// sluice is the public API over it.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	_ "github.com/sluicesql/sluice/connectors/all" // every connector
	"github.com/sluicesql/sluice/connectors/sandbox"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/bufpool"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// Config configures a Session (sluice.Config is this type). The zero value is usable.
type Config struct {
	// Allocator backs every Arrow buffer the session creates; nil means a
	// recycling allocator (exec/bufpool), which measurably beats fresh Go
	// allocations per batch (make bench). Tests pass a
	// memory.CheckedAllocator.
	Allocator memory.Allocator
	// BatchSize is the target rows per record (exec.DefaultBatchSize if 0).
	BatchSize int
	// Parallelism is how many workers a batch query scans, filters,
	// projects and partially aggregates with (morsel by morsel; see
	// planner.Parallelize); 0 means runtime.GOMAXPROCS(0). Results do not
	// depend on it. SET parallelism = N changes it for the session.
	Parallelism int
	// MorselBytes is the target size of the byte-range morsels CSV and
	// JSON-lines scans split into (exec.DefaultMorselBytes if 0); tests
	// make it small so that tiny files split. SET morsel_bytes = N.
	MorselBytes int64
	// BaseDir resolves relative file paths in WITH (path = …); empty
	// means the process's working directory.
	BaseDir string
	// CheckpointDir, when set, makes streaming queries checkpoint their
	// state and source offsets there and resume from it.
	CheckpointDir string
	// CheckpointRetain is how many complete checkpoints each query keeps
	// in its checkpoint directory (stream.DefaultRetain, 3, if ≤ 0): the
	// newest, and older ones to fall back on when the newest is damaged.
	CheckpointRetain int
	// CheckpointCompactEvery is how many incremental checkpoints (only
	// the state changed since the one before) follow a full one
	// (stream.DefaultCompactEvery if 0); negative makes every checkpoint
	// full.
	CheckpointCompactEvery int
	// Log receives operational messages (slow micro-batches, skipped
	// rows); nil means os.Stderr.
	Log io.Writer
	// FileRoot, when set, confines every file the session touches to this
	// directory: file sources (each file a glob or directory expands to),
	// file sinks (so late-row sinks too), the checkpoint directory and
	// Kafka's TLS files. Paths resolve as usual (relative ones against
	// BaseDir or the working directory), then must lie inside FileRoot
	// once symlinks and ".." are resolved; anything else fails with
	// `path "/etc/passwd" is outside the sandbox "/srv/data"`. Set it
	// whenever SQL comes from someone who may not read or write every
	// file the process can: cmd/sluice --sandbox, and always in a server
	// (a future `sluice serve` turns it on by default).
	FileRoot string
	// MemoryLimit caps the bytes the state of the session's queries may
	// hold (group tables of GROUP BY, batch and streaming), shared by
	// every query; a query that would pass it fails with an error naming
	// the operator and the limit. 0 means exec.DefaultMemoryLimit() (half
	// the machine's memory, or of its cgroup limit); negative means no
	// limit. SET memory_limit = '2GB' changes it for later queries.
	MemoryLimit int64
	// SpillDir, when set, lets a streaming GROUP BY whose state reaches
	// MemoryLimit move its cold groups to a local pebble store in a new
	// directory under SpillDir (deleted when the query stops) instead of
	// failing; checkpoints still hold every group. SET spill_dir = 'DIR'
	// changes it for later queries ('' or 'none' turns spilling off).
	SpillDir string
}

// Session is a sluice session: a catalog of sources and sinks and the queries
// run against it. Statements are serialised; a Session is safe for concurrent
// use, and queries run concurrently once started.
type Session struct {
	cfg Config
	mem memory.Allocator

	mu sync.Mutex
	// cat holds every source and sink: definition and opened object.
	cat *Catalog
	// conn is what every connector gets besides its options (the file
	// sandbox); fixed at Open.
	conn connectors.Env
	// budget is Config.MemoryLimit, shared by the session's queries; SET
	// memory_limit replaces it (running queries keep theirs).
	budget *exec.Budget
}

// Open creates a session.
func Open(cfg Config) (*Session, error) {
	mem := cfg.Allocator
	if mem == nil {
		mem = bufpool.New()
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = exec.DefaultBatchSize
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = exec.DefaultMemoryLimit()
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = runtime.GOMAXPROCS(0)
	}
	db := &Session{
		cfg:    cfg,
		mem:    mem,
		cat:    NewCatalog(),
		budget: exec.NewBudget(cfg.MemoryLimit).WithSpill(cfg.SpillDir),
	}
	if cfg.FileRoot != "" {
		root, err := sandbox.New(cfg.FileRoot)
		if err != nil {
			return nil, err
		}
		db.conn.Files = root
		if cfg.CheckpointDir != "" {
			if err := root.Check("checkpoint directory", cfg.CheckpointDir); err != nil {
				return nil, err
			}
		}
		if cfg.SpillDir != "" {
			if err := root.Check("spill directory", cfg.SpillDir); err != nil {
				return nil, err
			}
		}
	}
	return db, nil
}

// Close drops every source and sink. Queries still running keep their
// own references and end when their Rows are closed.
func (db *Session) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.cat = NewCatalog()
	return nil
}

// Exec runs every statement of script in order, draining and discarding
// query results (INSERT and CREATE SINK … AS write to their sinks). It
// stops at the first error.
func (db *Session) Exec(ctx context.Context, script string) error {
	stmts, err := sql.Parse(script)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		rows, err := db.Run(ctx, st)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		err = rows.Err()
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Query runs one statement that returns rows: a SELECT (with or without
// EMIT), EXPLAIN, SHOW or DESCRIBE. ctx bounds the whole query: cancelling
// it stops a streaming query.
func (db *Session) Query(ctx context.Context, query string) (*Rows, error) {
	stmts, err := sql.Parse(query)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("Query takes exactly one statement, got %d", len(stmts))
	}
	return db.Run(ctx, stmts[0])
}

// Run executes one parsed statement. Statements without a result table
// return Rows with no records and a Message.
func (db *Session) Run(ctx context.Context, st sql.Statement) (*Rows, error) {
	switch s := st.(type) {
	case *sql.CreateSource:
		return db.createSource(s)
	case *sql.CreateSink:
		return db.createSink(ctx, s)
	case *sql.Copy:
		return db.copyTo(ctx, s)
	case *sql.CreateView:
		return db.createView(s)
	case *sql.CreateTable:
		return db.createTable(ctx, s)
	case *sql.Drop:
		return db.drop(s)
	case *sql.Show:
		return db.show(s)
	case *sql.Describe:
		return db.describe(s)
	case *sql.Explain:
		return db.explain(ctx, s)
	case *sql.Set:
		return db.set(s)
	case *sql.Insert:
		return db.insert(ctx, s.Sink, s.Query, s.Position())
	case *sql.Query:
		return db.query(ctx, s)
	}
	return nil, sql.Errorf(sql.PlanError, st.Position(), "unsupported statement")
}

func message(msg string) *Rows { return &Rows{Message: msg} }

// options turns WITH options into connector options, resolving relative
// file paths against Config.BaseDir.
func (db *Session) options(o sql.Options) connectors.Options {
	m := connectors.Options{}
	for _, kv := range o {
		m[strings.ToLower(kv.Key)] = kv.Value
	}
	if p, ok := m["path"]; ok && db.cfg.BaseDir != "" && !filepath.IsAbs(p) {
		m["path"] = filepath.Join(db.cfg.BaseDir, p)
		if strings.HasSuffix(p, "/") {
			m["path"] += "/"
		}
	}
	if ps, ok := m["paths"]; ok && db.cfg.BaseDir != "" {
		// The file connector's list of paths (read_csv(['a', 'b'])), each
		// as path; left as it is when it is no list (the connector says so).
		var paths []string
		if json.Unmarshal([]byte(ps), &paths) == nil {
			for i, p := range paths {
				if p != "" && !filepath.IsAbs(p) {
					paths[i] = filepath.Join(db.cfg.BaseDir, p)
					if strings.HasSuffix(p, "/") {
						paths[i] += "/"
					}
				}
			}
			if b, err := json.Marshal(paths); err == nil {
				m["paths"] = string(b)
			}
		}
	}
	return m
}

// connectorError is a connector's refusal of CREATE SOURCE/SINK as a
// statement error: at the offending option's line:col when the error
// names one (connectors.OptionError), else at the statement.
func connectorError(kind, name string, pos sql.Pos, opts sql.Options, err error) error {
	var oe *connectors.OptionError
	named := ""
	if errors.As(err, &oe) {
		named = oe.Option
	}
	return &sql.Error{Kind: sql.ConnectorError, Pos: optionPos(pos, opts, named, err), Msg: fmt.Sprintf("%s %s: %v", kind, name, err), Err: err}
}

// optionPos is where in the statement an option error points: the option
// named, else the option the message quotes first ('max.row.size'), else
// the statement.
func optionPos(pos sql.Pos, opts sql.Options, named string, err error) sql.Pos {
	msg := err.Error()
	for _, o := range opts {
		if named != "" && strings.EqualFold(o.Key, named) {
			return o.Pos
		}
	}
	if named != "" {
		return pos
	}
	best := -1
	for _, o := range opts {
		if i := strings.Index(msg, "'"+strings.ToLower(o.Key)+"'"); i >= 0 && (best < 0 || i < best) {
			best, pos = i, o.Pos
		}
	}
	return pos
}

func (db *Session) createSource(s *sql.CreateSource) (*Rows, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, ok := db.cat.LookupSource(s.Name); ok {
		if s.IfNotExists {
			return message("source " + s.Name + " exists"), nil
		}
		return nil, sql.Errorf(sql.PlanError, s.Position(), "source %q already exists", s.Name)
	}
	var declared *arrow.Schema
	if len(s.Columns) > 0 {
		var err error
		if declared, err = planner.SourceSchema(s); err != nil {
			return nil, err
		}
		declared = declareRules(s, declared)
	}
	opts := db.options(s.Options)
	if strings.EqualFold(opts["format"], "upsert-json") && opts["key"] == "" && len(s.PrimaryKey) > 0 {
		// An upsert topic declared with only its PRIMARY KEY is keyed by
		// it, as Flink's upsert-kafka.
		opts["key"] = strings.Join(s.PrimaryKey, ",")
	}
	src, err := connectors.NewSource(db.conn, opts, declared)
	if err != nil && s.Table && notWrittenYet(opts, err) {
		return db.flinkSinkTable(s, opts, declared, err)
	}
	if err != nil {
		return nil, connectorError("source", s.Name, s.Position(), s.Options, err)
	}
	if err := checkedRules(s, src, opts); err != nil {
		return nil, err
	}
	def := &planner.SourceDef{Name: s.Name, Schema: src.Schema(), Options: opts, Bounded: src.Bounded(), Morsels: splitsIntoMorsels(src)}
	if err := planner.CheckSourceOptions(def, db.cat); err != nil {
		return nil, &sql.Error{Kind: sql.PlanError, Pos: optionPos(s.Position(), s.Options, "", err), Msg: err.Error(), Err: err}
	}
	if cs, ok := src.(exec.ChangelogSource); ok && cs.Changelog() {
		def.Changelog = true
		if kc, ok := src.(exec.KeyedChangelog); ok {
			def.ChangelogKey = kc.ChangelogKey()
		}
	}
	def.ScaleOut = scaleOutDef(src)
	if s.Watermark != nil {
		// Checked here, against the declared or inferred schema.
		if err := planner.CheckWatermark(src.Schema(), s.Watermark); err != nil {
			return nil, err
		}
		col := s.Watermark.Column
		for _, f := range src.Schema().Fields() {
			if strings.EqualFold(f.Name, col) {
				col = f.Name // the data's spelling
			}
		}
		def.Watermark = &planner.WatermarkDef{Column: col, Delay: s.Watermark.Delay}
	} else if et, ok := src.(exec.EventTimed); ok {
		if col, delay := et.EventTime(); col != "" {
			def.Watermark = &planner.WatermarkDef{Column: col, Delay: delay}
		}
	}
	if def.PrimaryKey, err = planner.SourceKey(src.Schema(), s.PrimaryKey); err != nil {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "source %s: %v", s.Name, err)
	}
	if def.Changelog && def.PrimaryKey != nil {
		// The declared key is the changelog's upsert key, unless the
		// connector knows its own ('key' of upsert-json), which must agree.
		if def.ChangelogKey != nil && !sameColumns(def.ChangelogKey, def.PrimaryKey) {
			return nil, sql.Errorf(sql.PlanError, s.PrimaryKeyPos, "source %s: PRIMARY KEY (%s) differs from the changelog's key (%s)", s.Name, strings.Join(def.PrimaryKey, ", "), strings.Join(def.ChangelogKey, ", "))
		}
		def.ChangelogKey = def.PrimaryKey
	} else if def.PrimaryKey == nil && def.ChangelogKey != nil {
		// An upsert topic's key is its primary key: it is a versioned
		// table without declaring it again, as Flink's upsert-kafka.
		def.PrimaryKey = def.ChangelogKey
	}
	if err := db.cat.AddSource(def, src); err != nil {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
	}
	if s.Table {
		if sink, err := connectors.NewSink(db.conn, opts); err == nil {
			if err := db.cat.AddSink(&planner.SinkDef{Name: s.Name, Options: opts, Schema: declared, AppendOnly: appendOnly(sink), Key: def.PrimaryKey}, sink); err != nil {
				_ = db.cat.DropSource(s.Name)
				return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
			}
		}
		return message("table " + s.Name + " created"), nil
	}
	return message("source " + s.Name + " created"), nil
}

func (db *Session) createSink(ctx context.Context, s *sql.CreateSink) (*Rows, error) {
	db.mu.Lock()
	if _, ok := db.cat.LookupSink(s.Name); ok {
		db.mu.Unlock()
		if s.IfNotExists {
			return message("sink " + s.Name + " exists"), nil
		}
		return nil, sql.Errorf(sql.PlanError, s.Position(), "sink %q already exists", s.Name)
	}
	opts := db.options(s.Options)
	sink, err := connectors.NewSink(db.conn, opts)
	if err != nil {
		db.mu.Unlock()
		return nil, connectorError("sink", s.Name, s.Position(), s.Options, err)
	}
	def := &planner.SinkDef{Name: s.Name, Options: opts, AppendOnly: appendOnly(sink)}
	if err := db.cat.AddSink(def, sink); err != nil {
		db.mu.Unlock()
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
	}
	db.mu.Unlock()
	if s.Query == nil {
		return message("sink " + s.Name + " created"), nil
	}
	return db.insert(ctx, s.Name, s.Query, s.Position())
}

func (db *Session) drop(s *sql.Drop) (*Rows, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if s.Kind == "TABLE" || s.Kind == "VIEW" {
		return db.dropTableOrView(s)
	}
	if k := db.cat.nameTaken(s.Name); k == "table" || k == "view" {
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%q is a %s: use DROP %s", s.Name, k, strings.ToUpper(k))
	}
	var err error
	var cascaded int
	if s.Cascade {
		e, ok := db.cat.Source(s.Name)
		if s.Kind != "SOURCE" || !ok && !s.IfExists {
			return nil, sql.Errorf(sql.PlanError, s.Position(), "CASCADE drops the internal topics of a source's scaled-out queries: %s %s is not a source", strings.ToLower(s.Kind), s.Name)
		}
		if ok {
			if cascaded, err = dropInternalTopics(context.Background(), e, s.Position()); err != nil {
				return nil, err
			}
		}
	}
	if s.Kind == "SINK" {
		err = db.cat.DropSink(s.Name)
	} else {
		err = db.cat.DropSource(s.Name)
	}
	if err != nil {
		if s.IfExists {
			return message(strings.ToLower(s.Kind) + " " + s.Name + " does not exist"), nil
		}
		return nil, sql.Errorf(sql.PlanError, s.Position(), "%v", err)
	}
	if s.Cascade {
		return message(fmt.Sprintf("source %s dropped with %d internal topics", s.Name, cascaded)), nil
	}
	return message(strings.ToLower(s.Kind) + " " + s.Name + " dropped"), nil
}

func (db *Session) show(s *sql.Show) (*Rows, error) {
	if s.Kind == "INTERNAL TOPICS" {
		return db.showInternalTopics(context.Background())
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if s.Kind == "TABLES" {
		return db.showTables()
	}
	var rows [][]string
	if s.Kind == "OPTIONS" {
		return db.showOptions(s)
	}
	if s.Kind == "SINKS" {
		for _, d := range db.cat.Sinks() {
			rows = append(rows, []string{d.Name, d.Options["connector"]})
		}
	} else {
		for _, d := range db.cat.Sources() {
			rows = append(rows, []string{d.Name, d.Options["connector"]})
		}
	}
	return db.textRows([]string{"name", "connector"}, rows)
}

// showOptions lists the declared WITH options of one connector or all:
// connector, kind (source or sink), option, type, default and meaning.
func (db *Session) showOptions(s *sql.Show) (*Rows, error) {
	var rows [][]string
	found := false
	for _, kind := range []connectors.Kind{connectors.KindSource, connectors.KindSink} {
		for _, name := range connectors.Connectors(kind) {
			if s.Connector != "" && name != s.Connector {
				continue
			}
			found = true
			decl, _ := connectors.Declared(name, kind)
			for _, o := range decl {
				typ := o.Type
				if o.Type == "enum" {
					typ = strings.Join(o.Values, "|")
				}
				rows = append(rows, []string{name, string(kind), o.Name, typ, o.Default, o.Doc})
			}
		}
	}
	if !found {
		all := append(connectors.Connectors(connectors.KindSource), connectors.Connectors(connectors.KindSink)...)
		msg := fmt.Sprintf("unknown connector %q", s.Connector)
		if sg := connectors.Suggest(s.Connector, all); sg != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sg)
		}
		return nil, sql.Errorf(sql.BindError, s.ConnectorPos, "%s", msg)
	}
	return db.textRows([]string{"connector", "kind", "option", "type", "default", "doc"}, rows)
}

func (db *Session) describe(s *sql.Describe) (*Rows, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	src, ok := db.cat.LookupSource(s.Name)
	var schema *arrow.Schema
	var wm *planner.WatermarkDef
	if ok {
		schema, wm = src.Schema, src.Watermark
	} else if sink, ok := db.cat.LookupSink(s.Name); ok {
		schema = sink.Schema
	} else {
		var names []string
		for _, d := range db.cat.Sources() {
			names = append(names, d.Name)
		}
		for _, d := range db.cat.Sinks() {
			names = append(names, d.Name)
		}
		msg := fmt.Sprintf("unknown source or sink %q", s.Name)
		if sg := connectors.Suggest(s.Name, names); sg != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sg)
		}
		return nil, sql.Errorf(sql.BindError, s.NamePos, "%s", msg)
	}
	var rows [][]string
	if schema != nil {
		for _, f := range schema.Fields() {
			extra := ""
			if wm != nil && strings.EqualFold(wm.Column, f.Name) {
				extra = fmt.Sprintf("WATERMARK AS %s - INTERVAL '%s'", f.Name, wm.Delay)
			}
			rows = append(rows, []string{f.Name, planner.TypeName(f.Type), fmt.Sprint(f.Nullable), extra})
		}
	}
	return db.textRows([]string{"column", "type", "nullable", "extra"}, rows)
}

// textRows builds a one-record result of VARCHAR columns.
func (db *Session) textRows(names []string, rows [][]string) (*Rows, error) {
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: arrow.BinaryTypes.String}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(db.mem, schema)
	defer b.Release()
	for _, r := range rows {
		for i, v := range r {
			b.Field(i).(*array.StringBuilder).Append(v)
		}
	}
	rec := b.NewRecord()
	done := false
	return &Rows{
		schema: schema,
		next: func(context.Context) (arrow.Record, error) {
			if done {
				return nil, io.EOF
			}
			done = true
			rec.Retain()
			return rec, nil
		},
		close: func() error { rec.Release(); return nil },
	}, nil
}

func stderrWriter(db *Session) io.Writer {
	if db.cfg.Log != nil {
		return db.cfg.Log
	}
	return os.Stderr
}

// set applies a session setting. Unknown names are script variables
// (handled by the script runner) and accepted as such.
func (db *Session) set(s *sql.Set) (*Rows, error) {
	switch s.Name {
	case "batch_size":
		n, err := strconv.Atoi(s.Value)
		if err != nil || n <= 0 {
			return nil, sql.Errorf(sql.PlanError, s.Position(), "batch_size must be a positive integer, got %q", s.Value)
		}
		db.mu.Lock()
		db.cfg.BatchSize = n
		db.mu.Unlock()
	case "memory_limit":
		n, err := exec.ParseMemoryLimit(s.Value)
		if err != nil {
			return nil, sql.Errorf(sql.PlanError, s.Position(), "memory_limit: %v", err)
		}
		db.mu.Lock()
		db.cfg.MemoryLimit, db.budget = n, exec.NewBudget(n).WithSpill(db.cfg.SpillDir)
		db.mu.Unlock()
	case "spill_dir":
		dir := s.Value
		if strings.EqualFold(dir, "none") {
			dir = ""
		}
		if dir != "" && db.conn.Files != nil {
			if err := db.conn.Files.Check("spill directory", dir); err != nil {
				return nil, sql.Errorf(sql.PlanError, s.Position(), "spill_dir: %v", err)
			}
		}
		db.mu.Lock()
		db.cfg.SpillDir, db.budget = dir, db.budget.WithSpill(dir)
		db.mu.Unlock()
	case "parallelism":
		n, err := strconv.Atoi(s.Value)
		if err != nil || n <= 0 || n > maxParallelism {
			return nil, sql.Errorf(sql.PlanError, s.Position(), "parallelism must be an integer from 1 to %d, got %q", maxParallelism, s.Value)
		}
		db.mu.Lock()
		db.cfg.Parallelism = n
		db.mu.Unlock()
	case "morsel_bytes":
		n, err := strconv.ParseInt(s.Value, 10, 64)
		if err != nil || n <= 0 {
			return nil, sql.Errorf(sql.PlanError, s.Position(), "morsel_bytes must be a positive integer, got %q", s.Value)
		}
		db.mu.Lock()
		db.cfg.MorselBytes = n
		db.mu.Unlock()
	}
	return message(fmt.Sprintf("%s = %s", s.Name, s.Value)), nil
}

// maxParallelism bounds SET parallelism: each worker holds a pipeline
// and a few batches, so a typo like 10000 should not start that many.
const maxParallelism = 1024

// Parallelism is the session's number of batch workers.
func (db *Session) Parallelism() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cfg.Parallelism
}

// budgetNow is the memory budget new queries get.
func (db *Session) budgetNow() *exec.Budget {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.budget
}

// BatchSize is the session's target rows per record.
func (db *Session) BatchSize() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.cfg.BatchSize
}

// StateBytes is the memory the state of the session's queries holds now
// (group tables, as Config.MemoryLimit counts them): what a server
// reports so that a stopped query can be seen to have freed its state.
// After SET memory_limit it counts the queries started since.
func (db *Session) StateBytes() int64 {
	return db.budgetNow().Used()
}
