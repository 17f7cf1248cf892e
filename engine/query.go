package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/engine/compile"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// plan plans a query under the session lock and snapshots the sources it
// needs, so DDL running meanwhile cannot change a query in flight.
func (db *Session) plan(q *sql.Query, sink string) (*planner.QueryPlan, *Catalog, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	var qp *planner.QueryPlan
	var err error
	cat := db.cat.snapshot()
	if err := db.addFileTables(q, cat); err != nil {
		return nil, nil, err
	}
	if sink != "" {
		qp, err = planner.PlanInsert(sink, q, cat)
	} else {
		qp, err = planner.PlanQuery(q, cat)
	}
	if err != nil {
		return nil, nil, err
	}
	return qp, cat, nil
}

func (db *Session) env(srcs *Catalog) compile.Env {
	db.mu.Lock()
	batch, budget := db.cfg.BatchSize, db.budget
	par, morsel := db.cfg.Parallelism, db.cfg.MorselBytes
	db.mu.Unlock()
	return compile.Env{
		Mem:         db.mem,
		BatchSize:   batch,
		Budget:      budget,
		Parallelism: par,
		MorselBytes: morsel,
		Source: func(name string) (exec.Source, error) {
			e, ok := srcs.Source(name)
			if !ok {
				return nil, fmt.Errorf("unknown source %q", name)
			}
			return e.Source, nil
		},
	}
}

// execError wraps a runtime error. An error of an expression (an
// overflow, a bad cast or regular expression: expr.PosError) carries the
// line:col where the user wrote it; errors about a source's data name
// their own place (file:row, topic/partition/offset) instead.
func execError(err error) error {
	var se *sql.Error
	if errors.As(err, &se) || errors.Is(err, context.Canceled) {
		return err
	}
	var pe *expr.PosError
	if errors.As(err, &pe) {
		return &sql.Error{Kind: sql.ExecError, Pos: sql.Pos{Line: pe.Pos.Line, Col: pe.Pos.Col}, Msg: pe.Error(), Err: err}
	}
	var de expr.DataError
	if errors.As(err, &de) {
		return &sql.Error{Kind: sql.ExecError, Msg: de.Error(), Err: err}
	}
	return &sql.Error{Kind: sql.ExecError, Msg: err.Error(), Err: err}
}

// writeError wraps an error of writing into sink. A data error (a row
// breaking a table's constraint) and a refusal by one of the sink's options
// (its path exists under 'mode' = 'error') are the statement's, at pos.
func writeError(sink string, pos sql.Pos, err error) error {
	var de expr.DataError
	if errors.As(err, &de) {
		return &sql.Error{Kind: sql.ExecError, Pos: pos, Msg: de.Error(), Err: err}
	}
	var oe *connectors.OptionError
	if errors.As(err, &oe) {
		return openSinkError(sink, pos, err)
	}
	return execError(fmt.Errorf("sink %s: %w", sink, err))
}

// openSinkError wraps a sink's refusal to open (its path exists under
// 'mode' = 'error', a folder cannot be written, a topic is missing): the
// message names the user's object, and the error is the statement's, at
// pos, since nothing of the query has run yet.
func openSinkError(sink string, pos sql.Pos, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &sql.Error{Kind: sql.ExecError, Pos: pos, Msg: fmt.Sprintf("sink %s: %v", sink, err), Err: err}
}

// scanTracker remembers the scans of a batch query so that, at the end,
// bad rows skipped or nulled under 'on_error' are reported rather than
// silently lost. A parallel scan makes one Scan per morsel, from worker
// goroutines; report sums them per source, and runs after the plan is
// closed (the workers have stopped).
type scanTracker struct {
	db    *Session
	mu    sync.Mutex
	scans []*exec.Scan
	names []string
}

func (t *scanTracker) hook(env *compile.Env) {
	env.Scan = func(n *planner.PhysScan, src exec.Source, spec exec.ScanSpec) (exec.Operator, error) {
		op, err := exec.NewScan(env.Mem, src, spec)
		if err == nil {
			t.mu.Lock()
			t.scans = append(t.scans, op)
			t.names = append(t.names, n.Source)
			t.mu.Unlock()
		}
		return op, err
	}
}

// report writes the skip counts to the session log (stderr by default).
func (t *scanTracker) report() {
	t.mu.Lock()
	defer t.mu.Unlock()
	var order []string
	sums := map[string]*[2]int64{} // skipped, nulled
	for i, s := range t.scans {
		r, ok := s.Reader().(exec.BadRowCounter)
		if !ok {
			continue
		}
		skipped, nulled := r.BadRows()
		sum := sums[t.names[i]]
		if sum == nil {
			sum = &[2]int64{}
			sums[t.names[i]] = sum
			order = append(order, t.names[i])
		}
		sum[0] += skipped
		sum[1] += nulled
	}
	for _, name := range order {
		st := sums[name]
		if st[0] > 0 {
			fmt.Fprintf(stderrWriter(t.db), "sluice: source %s: skipped %d bad row(s) ('on_error' = 'skip')\n", name, st[0])
		}
		if st[1] > 0 {
			fmt.Fprintf(stderrWriter(t.db), "sluice: source %s: set %d bad value(s) to NULL ('on_error' = 'null')\n", name, st[1])
		}
	}
}

func (db *Session) query(ctx context.Context, q *sql.Query) (*Rows, error) {
	qp, srcs, err := db.plan(q, "")
	if err != nil {
		return nil, err
	}
	if qp.Emit != nil {
		return db.stream(ctx, q, qp, srcs)
	}
	if err := db.checkBounded(q, qp); err != nil {
		return nil, err
	}
	env := db.env(srcs)
	env.Progress = exec.ScanProgressOf(ctx)
	scans := &scanTracker{db: db}
	scans.hook(&env)
	op, err := compile.Plan(env, qp.Physical)
	if err != nil {
		return nil, execError(err)
	}
	if err := op.Open(ctx); err != nil {
		op.Close()
		return nil, execError(err)
	}
	schema := renamed(op.Schema(), qp.Output)
	return &Rows{
		ctx:    ctx,
		schema: schema,
		next: func(ctx context.Context) (arrow.Record, error) {
			rec, err := op.Next(ctx)
			if err != nil {
				return nil, execError(err)
			}
			return withSchema(rec, schema), nil
		},
		close: func() error {
			err := op.Close()
			scans.report()
			return err
		},
	}, nil
}

// renamed gives the operator's schema the user-facing column names.
func renamed(s *arrow.Schema, out *planner.Schema) *arrow.Schema {
	if out == nil || out.Len() != s.NumFields() {
		return s
	}
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		f.Name = out.Fields[i].Name
		fields[i] = f
	}
	return arrow.NewSchema(fields, nil)
}

// withSchema relabels rec's columns with schema (same types), taking
// ownership of rec.
func withSchema(rec arrow.Record, schema *arrow.Schema) arrow.Record {
	if rec.Schema().Equal(schema) {
		return rec
	}
	out := array.NewRecord(schema, rec.Columns(), rec.NumRows())
	rec.Release()
	return out
}

// insert runs q into the named sink: all of it for a batch query, or
// continuously for a streaming one. Output becomes visible only at Commit:
// a failing query leaves nothing half-written.
func (db *Session) insert(ctx context.Context, sink string, q *sql.Query, pos sql.Pos) (*Rows, error) {
	qp, srcs, err := db.plan(q, sink)
	if err != nil {
		return nil, err
	}
	db.mu.Lock()
	entry, ok := db.cat.Sink(sink)
	if !ok { // dropped since it was planned
		db.mu.Unlock()
		return nil, sql.Errorf(sql.PlanError, pos, "unknown sink %q", sink)
	}
	def, target := entry.Def, entry.Sink
	if def.Schema == nil {
		def.Schema = qp.Output.Arrow()
	}
	db.mu.Unlock()
	if qp.Emit == nil {
		if err := db.checkBounded(q, qp); err != nil {
			return nil, err
		}
	}
	if qp.Emit != nil {
		return db.streamInsert(ctx, q, qp, srcs, sink, target)
	}
	env := db.env(srcs)
	env.Progress = exec.ScanProgressOf(ctx)
	scans := &scanTracker{db: db}
	scans.hook(&env)
	op, err := compile.Plan(env, qp.Physical)
	if err != nil {
		return nil, execError(err)
	}
	defer func() {
		op.Close()
		scans.report()
	}()
	if err := op.Open(ctx); err != nil {
		return nil, execError(err)
	}
	schema := renamed(op.Schema(), qp.Output)
	mode, err := sinkKeyMode(def, schema, exec.SinkMode{}, pos)
	if err != nil {
		return nil, err
	}
	w, err := target.Open(ctx, db.mem, schema, mode)
	if err != nil {
		return nil, openSinkError(sink, pos, err)
	}
	defer w.Close()
	var n int64
	for {
		rec, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, execError(err)
		}
		rec = withSchema(rec, schema)
		n += rec.NumRows()
		err = w.Write(ctx, rec)
		rec.Release()
		if err != nil {
			return nil, writeError(sink, pos, err)
		}
	}
	if err := w.Commit(ctx, nil); err != nil {
		return nil, writeError(sink, pos, err)
	}
	return message(fmt.Sprintf("%d rows written to %s", n, sink)), nil
}

func (db *Session) explain(ctx context.Context, s *sql.Explain) (*Rows, error) {
	qp, _, err := db.plan(s.Query, "")
	if err != nil {
		return nil, err
	}
	text := planner.Explain(qp)
	if s.Analyze {
		stats, err := db.analyze(ctx, s.Query)
		if err != nil {
			return nil, err
		}
		text = strings.TrimRight(text, "\n") + "\n" + stats
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		rows = append(rows, []string{line})
	}
	return db.textRows([]string{"plan"}, rows)
}

// analyze runs q to its end, discarding the rows, and describes what it
// did: rows out and time for every query; for a streaming one also rows in,
// late rows dropped, the final watermark and the state size at the end.
// An unbounded streaming query runs until ctx is cancelled.
func (db *Session) analyze(ctx context.Context, q *sql.Query) (string, error) {
	if q.Emit == nil {
		return db.analyzeBatch(ctx, q)
	}
	start := time.Now()
	rows, err := db.query(ctx, q)
	if err != nil {
		return "", err
	}
	var out int64
	for rows.Next() {
		out += rows.Record().NumRows()
	}
	err = rows.Err()
	st := rows.Stats()
	rows.Close()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Analyze:\n  rows out: %d\n  elapsed: %s\n", out, time.Since(start).Round(time.Microsecond))
	if q.Emit != nil {
		if rows.finalStats != nil {
			st = rows.finalStats()
		}
		fmt.Fprintf(&b, "  rows in: %d\n  triggers: %d\n  late rows dropped: %d\n", st.RowsIn, st.Triggers, st.LateRows)
		if st.Watermark != 0 {
			fmt.Fprintf(&b, "  watermark: %s\n", watermarkText(st.Watermark))
		}
		fmt.Fprintf(&b, "  state at end: %d groups, %d bytes\n", st.StateGroups, st.StateBytes)
		if st.StateSpilled > 0 {
			fmt.Fprintf(&b, "  spilled to disk: %d groups, %d bytes\n", st.StateSpilled, st.StateSpilledBytes)
		}
	}
	return b.String(), nil
}

// watermarkText renders a watermark in µs since the epoch; the extremes
// (no row yet, end of input) get names.
func watermarkText(us int64) string {
	switch {
	case us <= -1<<62:
		return "-inf (no rows yet)"
	case us >= 1<<62:
		return "+inf (end of input)"
	}
	return time.UnixMicro(us).UTC().Format("2006-01-02 15:04:05.999999")
}

// checkBounded rejects a batch query over a source that never ends and
// cannot stop at "now" (exec.BoundedAtStart; a generator without max_rows
// cannot); Kafka can, by reading to the end offsets as of query start.
func (db *Session) checkBounded(q *sql.Query, qp *planner.QueryPlan) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	var err error
	var walk func(p planner.PhysicalPlan)
	walk = func(p planner.PhysicalPlan) {
		if s, ok := p.(*planner.PhysScan); ok && err == nil {
			if e, ok := db.cat.Source(s.Source); ok && !e.Def.Bounded && !boundedAtStart(e.Source) {
				err = sql.Errorf(sql.PlanError, q.Position(), "source %s is unbounded: a batch query over it never ends; add an EMIT clause or give the source an end (the generator's max_rows)", e.Def.Name)
			}
		}
		for _, c := range p.Children() {
			walk(c)
		}
	}
	walk(qp.Physical)
	return err
}
