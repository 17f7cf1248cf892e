package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/engine/compile"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
	"github.com/sluicesql/sluice/sql"
)

// continuousLinger is how long a partial batch may wait at the source in
// continuous mode before it is flushed: the latency floor of EMIT CHANGES.
const continuousLinger = time.Millisecond

// Stats is a snapshot of a running streaming query, for status lines and
// EXPLAIN ANALYZE.
type Stats struct {
	RowsIn, RowsOut int64
	Triggers        int64
	// Watermark is the event-time watermark in µs since the epoch; zero
	// when the query has none.
	Watermark int64
	// LateRows are the rows dropped (or routed) because their window had
	// closed.
	LateRows int64
	// StateGroups and StateBytes are the stateful operator's state size.
	StateGroups int
	StateBytes  int64
	// StateSpilled of StateGroups are on disk, StateSpilledBytes their
	// size there, past the memory limit (Config.SpillDir).
	StateSpilled      int
	StateSpilledBytes int64
	Started           time.Time
	// BytesRead is the input read so far, and Lag per "topic/partition"
	// the records the source holds past the position read, for sources
	// that report them (exec.ProgressReporter: Kafka); Lag is nil
	// otherwise.
	BytesRead int64
	Lag       map[string]int64
	// Checkpoints written so far, and the duration and size of the last
	// (zero without a checkpoint directory).
	Checkpoints        int64
	CheckpointDuration time.Duration
	CheckpointBytes    int64
}

// streamQuery is a compiled streaming query and what it needs to run.
type streamQuery struct {
	s         *compile.Stream
	p         *stream.Pipeline
	emit      *sql.Emit
	schema    *arrow.Schema // output schema with user names
	changelog bool
	mode      exec.SinkMode

	rowsIn, rowsOut, triggers atomic.Int64
	// watermark and lateRows are published by the pipeline goroutine after
	// each trigger, so Stats never reads operator state concurrently.
	watermark, lateRows atomic.Int64
	// warn receives the warnings of the run's end (the session's stderr).
	warn      io.Writer
	started   time.Time
	mu        sync.Mutex
	lastStats stream.StateStats
	late      *lateWriter
	// scale is set when the query is split at a Kafka exchange
	// (scaleout_exchange.go): its upstream part runs beside p.
	scale *scaledOut
}

// streamSource finds the scanned source's definition.
func streamSource(p planner.PhysicalPlan, cat planner.Catalog) *planner.SourceDef {
	if s, ok := p.(*planner.PhysScan); ok {
		d, _ := cat.LookupSource(s.Source)
		return d
	}
	for _, c := range p.Children() {
		if d := streamSource(c, cat); d != nil {
			return d
		}
	}
	return nil
}

// compileStream compiles qp for its EMIT mode. appendOnly is set when the
// output goes to an append-only sink: a windowed EMIT EVERY then emits
// closed windows (Spark's append mode).
func (db *Session) compileStream(ctx context.Context, q *sql.Query, qp *planner.QueryPlan, srcs *Catalog, sinkName string, appendOnly bool) (*streamQuery, error) {
	db.mu.Lock()
	def := streamSource(qp.Physical, db.cat)
	err := checkScaleOut(db.cat, qp, q.Emit.Pos)
	db.mu.Unlock()
	if err != nil {
		return nil, err
	}
	opts := compile.StreamOptions{Linger: continuousLinger, Parallelism: db.Parallelism()}
	if dir := db.cfg.CheckpointDir; dir != "" {
		// The checkpoint directory is this query's identity across
		// restarts: a consumer-group source rejoins as the same static
		// member, taking a crashed run's place at once.
		abs, _ := filepath.Abs(filepath.Join(dir, checkpointName(sinkName, q)))
		h := sha256.Sum256([]byte(abs))
		opts.Instance = "sluice-" + hex.EncodeToString(h[:8])
	}
	if qp.Stream != nil {
		for _, w := range qp.Stream.Warnings {
			fmt.Fprintf(stderrWriter(db), "sluice: warning: %s\n", w)
		}
	}
	sq := &streamQuery{emit: qp.Emit, started: time.Now(), warn: stderrWriter(db)}
	// The planner has parsed and checked the event-time options.
	if st := qp.Stream; st != nil {
		opts.Window.IdleTimeout = st.IdleTimeout
		if st.LatePolicy == planner.LateError {
			opts.Window.Late = stream.LateError
		}
		if st.LateSink != "" {
			lw, err := db.openLateSink(ctx, st.LateSink, def)
			if err != nil {
				return nil, sql.Errorf(sql.PlanError, q.Emit.Pos, "'late.sink': %v", err)
			}
			sq.late = lw
			opts.Window.Late = stream.LateRoute
			opts.Window.OnLate = lw.write
		}
	}
	fail := func(err error) (*streamQuery, error) {
		if sq.late != nil {
			sq.late.close()
		}
		return nil, err
	}
	env, si := db.env(srcs), qp.Stream
	var so *scaledOut
	if len(planner.KafkaExchanges(si.Plan)) > 0 {
		if so, si, err = db.splitExchange(ctx, si, srcs, &env, &opts); err != nil {
			return fail(execError(err))
		}
	}
	s, err := compile.StreamPlan(ctx, env, si, opts)
	if err != nil {
		if so != nil {
			so.close()
		}
		var se *sql.Error
		if errors.As(err, &se) {
			return fail(err)
		}
		var pe *expr.PosError
		var de expr.DataError
		if errors.As(err, &pe) || errors.As(err, &de) {
			// An expression failed while the plan was built (a lookup
			// join's table is computed then): named as in batch.
			return fail(execError(err))
		}
		return fail(sql.Errorf(sql.PlanError, q.Emit.Pos, "%v", err))
	}
	// Restore operator state from the newest intact checkpoint of this
	// query, then resume the source exactly where that state ends; the
	// sink finishes that checkpoint's commit when the run starts
	// (stream.Pipeline.TwoPhase).
	var ck *stream.Checkpointer
	var from exec.Offsets
	// A scaled-out query keeps its state in its changelog topic and its
	// positions in the consumer group, not in a checkpoint.
	if dir := db.cfg.CheckpointDir; dir != "" && so == nil {
		every := time.Second // continuous: at most one checkpoint a second
		if qp.Emit.Kind == sql.EmitEvery {
			every = 0 // micro-batch: every trigger
		}
		ckDir := filepath.Join(dir, checkpointName(sinkName, q))
		// Open checked dir; the query's own directory in it may be a link.
		if err := db.conn.Files.Check("checkpoint directory", ckDir); err != nil {
			if s.Op != nil {
				s.Op.Close()
			}
			return fail(execError(err))
		}
		ck = stream.NewCheckpointer(ckDir, 0, every)
		ck.Fingerprint = planFingerprint(qp)
		ck.Retain = db.cfg.CheckpointRetain
		ck.CompactEvery = db.cfg.CheckpointCompactEvery
		from, err = ck.Restore(s.Op)
		for _, skipped := range ck.Skipped() {
			fmt.Fprintf(stderrWriter(db), "sluice: warning: skipping a damaged checkpoint: %v\n", skipped)
		}
		if err != nil {
			if s.Op != nil {
				s.Op.Close()
			}
			return fail(sql.Errorf(sql.ExecError, q.Position(), "%v", err))
		}
	}
	if err := s.OpenReader(ctx, db.mem, from); err != nil {
		if s.Op != nil {
			s.Op.Close()
		}
		if so != nil {
			so.close()
		}
		return fail(execError(err))
	}
	sq.s = s
	sq.p = s.Pipeline(db.mem)
	sq.p.OnClose = sq.closing
	sq.p.Checkpoint = ck
	if ck == nil {
		sq.p.CommitEvery = time.Second
	}
	if so != nil {
		so.attach(sq)
	}
	out := sq.p.OutputSchema(qp.Emit.Full)
	sq.changelog = stream.IsChangelog(out)
	sq.schema = userNames(out, s.Names, sq.changelog)
	sq.mode = s.Mode
	if !sq.changelog && s.Mode.Changelog && len(s.Mode.Keys) > 0 {
		// EMIT EVERY … FULL drops the op column (the first): the key
		// columns, counted with it, move one to the left.
		keys := make([]int, len(s.Mode.Keys))
		for i, k := range s.Mode.Keys {
			keys[i] = k - 1
		}
		sq.mode.Keys = keys
	}
	sq.mode.Changelog = sq.changelog
	var sampled time.Time
	growth := newGrowthReport(qp.Stream, db.budgetNow())
	sq.p.OnTrigger = func(ti stream.TriggerInfo) {
		sq.rowsIn.Add(int64(ti.Rows))
		sq.rowsOut.Add(int64(ti.Emitted))
		sq.triggers.Add(1)
		if w := s.Window; w != nil {
			sq.lateRows.Store(w.Late())
			sq.watermark.Store(w.Watermark().Watermark())
		}
		if ti.Slow {
			fmt.Fprintf(stderrWriter(db), "sluice: micro-batch took %s, longer than EMIT EVERY %s: the next trigger runs late\n", ti.Took.Round(time.Millisecond), qp.Emit.Interval)
		}
		// State size walks the state, so it is sampled at most twice a
		// second and never more often than 100 times its own cost (≤ 1%
		// of the query, even with millions of groups). This runs on the
		// pipeline's goroutine, where the state is safe to read.
		if s.Op != nil && time.Now().After(sampled) {
			start := time.Now()
			st := s.Op.Stats()
			sampled = start.Add(max(500*time.Millisecond, 100*time.Since(start)))
			sq.mu.Lock()
			sq.lastStats = st
			sq.mu.Unlock()
			growth.sample(stderrWriter(db), st)
		}
	}
	return sq, nil
}

// userNames gives the stream's output the query's column names.
func userNames(s *arrow.Schema, names []string, changelog bool) *arrow.Schema {
	fields := append([]arrow.Field(nil), s.Fields()...)
	off := 0
	if changelog {
		off = 1
	}
	if len(names) == len(fields)-off {
		for i, n := range names {
			fields[i+off].Name = n
		}
	}
	return arrow.NewSchema(fields, nil)
}

// run runs the pipeline to its end (bounded input) or until ctx is done.
func (sq *streamQuery) run(ctx context.Context) error {
	if sq.scale != nil {
		return sq.scale.run(ctx, sq.runPipeline)
	}
	return sq.runPipeline(ctx)
}

// runPipeline runs the query's own pipeline.
func (sq *streamQuery) runPipeline(ctx context.Context) error {
	if sq.emit.Kind == sql.EmitEvery {
		return sq.p.RunMicroBatch(ctx, sq.emit.Interval, sq.emit.Full)
	}
	return sq.p.RunContinuous(ctx)
}

// closing records the operator's state size, late rows and watermark as
// the run ends, for EXPLAIN ANALYZE (Stats walks the state, so it is not
// sampled per batch); it runs on the pipeline's goroutine.
func (sq *streamQuery) closing() {
	if wa := sq.s.Window; wa != nil {
		sq.lateRows.Store(wa.Late())
		sq.watermark.Store(wa.Watermark().Watermark())
	}
	for _, v := range sq.s.VersionsLate {
		// A late version is one the join never used: rows after it
		// joined an older version (or none), where the batch twin
		// would have used it.
		if n := v.Count(); n > 0 && sq.warn != nil {
			fmt.Fprintf(sq.warn, "sluice: warning: the temporal join dropped %d late row(s) of the versioned table %s (behind its watermark): rows after them joined an older version; give its WATERMARK FOR a larger delay\n", n, v.Table)
		}
	}
	if sq.s.Op == nil {
		return
	}
	st := sq.s.Op.Stats()
	sq.mu.Lock()
	sq.lastStats = st
	sq.mu.Unlock()
}

// Stats snapshots the query's progress.
func (sq *streamQuery) stats() Stats {
	st := Stats{RowsIn: sq.rowsIn.Load(), RowsOut: sq.rowsOut.Load(), Triggers: sq.triggers.Load(), Started: sq.started}
	sq.mu.Lock()
	st.StateGroups, st.StateBytes = sq.lastStats.Groups, sq.lastStats.Bytes
	st.StateSpilled, st.StateSpilledBytes = sq.lastStats.Spilled, sq.lastStats.SpilledBytes
	sq.mu.Unlock()
	if sq.s.Window != nil {
		st.LateRows = sq.lateRows.Load()
		st.Watermark = sq.watermark.Load()
	}
	if pr, ok := sq.p.Reader.(exec.ProgressReporter); ok {
		st.BytesRead, st.Lag = pr.BytesRead(), pr.Lag()
	}
	if sr, ok := sq.p.Reader.(exec.StatefulReader); ok {
		// A source's own state (an upsert topic's live rows) is state
		// of the query like an operator's.
		keys, bytes := sr.ReaderState()
		st.StateGroups += keys
		st.StateBytes += bytes
	}
	if sq.scale != nil {
		sq.scale.progress(&st) // the upstream parts' source partitions
	}
	if ck := sq.p.Checkpoint; ck != nil {
		st.Checkpoints, st.CheckpointDuration, st.CheckpointBytes = ck.LastSave()
	}
	return st
}

// stream starts a streaming query whose results the caller reads.
func (db *Session) stream(ctx context.Context, q *sql.Query, qp *planner.QueryPlan, srcs *Catalog) (*Rows, error) {
	sq, err := db.compileStream(ctx, q, qp, srcs, "", false)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan arrow.Record, 4)
	done := make(chan struct{})
	var runErr error
	sq.p.Emit = func(ctx context.Context, rec arrow.Record) error {
		if err := ctx.Err(); err != nil {
			// Stopped: refused at once (a select would send into the
			// buffer half the time), so the stop commits nothing the
			// caller will not read.
			return err
		}
		rec = withSchemaRetained(rec, sq.schema)
		select {
		case ch <- rec:
			return nil
		case <-ctx.Done():
			rec.Release()
			return ctx.Err()
		}
	}
	go func() {
		defer close(done)
		defer close(ch)
		runErr = sq.run(ctx)
		if sq.late != nil {
			if err := sq.late.close(); runErr == nil {
				runErr = err
			}
		}
	}()
	rows := &Rows{
		ctx:        ctx,
		schema:     sq.schema,
		streaming:  true,
		changelog:  sq.changelog,
		keys:       sq.mode.Keys,
		stats:      sq.stats,
		finalStats: sq.stats,
		next: func(ctx context.Context) (arrow.Record, error) {
			select {
			case rec, ok := <-ch:
				if ok {
					return rec, nil
				}
			case <-ctx.Done():
				// A stop: the run commits what it processed. A failure
				// of that commit is the query's error, not a clean
				// stop (the output since the last commit is emitted
				// again by whoever resumes).
				<-done
				if runErr != nil && !errors.Is(runErr, context.Canceled) && !errors.Is(runErr, context.DeadlineExceeded) {
					return nil, execError(runErr)
				}
				// What was emitted before the stop is covered by its
				// commit: hand it out before ending (a scaled-out
				// query's partitions' next owners resume after it).
				if rec, ok := <-ch; ok {
					return rec, nil
				}
				return nil, ctx.Err()
			}
			<-done
			if errors.Is(runErr, context.Canceled) && ctx.Err() != nil {
				return nil, ctx.Err() // stopped by the caller's context, as above
			}
			if runErr != nil && !errors.Is(runErr, context.Canceled) {
				return nil, execError(runErr)
			}
			return nil, io.EOF
		},
		close: func() error {
			cancel()
			for rec := range ch {
				rec.Release()
			}
			<-done
			return nil
		},
	}
	return rows, nil
}

// withSchemaRetained relabels rec with schema without taking ownership.
func withSchemaRetained(rec arrow.Record, schema *arrow.Schema) arrow.Record {
	rec.Retain()
	return withSchema(rec, schema)
}

// streamInsert runs a streaming query into a sink until its input ends or
// ctx is cancelled (Ctrl-C); what was committed stays, nothing half-written
// does.
func (db *Session) streamInsert(ctx context.Context, q *sql.Query, qp *planner.QueryPlan, srcs *Catalog, sinkName string, sink exec.Sink) (*Rows, error) {
	db.mu.Lock()
	def, _ := db.cat.LookupSink(sinkName)
	appendOnly := def != nil && def.AppendOnly
	db.mu.Unlock()
	sq, err := db.compileStream(ctx, q, qp, srcs, sinkName, appendOnly)
	if err != nil {
		return nil, err
	}
	closePipeline := func() {
		sq.p.Reader.Close()
		if sq.p.Op != nil {
			sq.p.Op.Close()
		}
	}
	if appendOnly && sq.changelog {
		closePipeline()
		return nil, sql.Errorf(sql.PlanError, q.Position(), "sink %q is append-only but the query produces updates: use EMIT FINAL, or aggregate over a window (TUMBLE/HOP/SESSION) with a watermark", sinkName)
	}
	if sq.mode, err = sinkKeyMode(def, sq.schema, sq.mode, q.Position()); err != nil {
		closePipeline()
		return nil, err
	}
	w, err := sink.Open(ctx, db.mem, sq.schema, sq.mode)
	if err != nil {
		closePipeline()
		return nil, openSinkError(sinkName, q.Position(), err)
	}
	defer w.Close()
	// A two-phase sink commits with the checkpoints (pre-commit, save,
	// commit); without a checkpoint directory it still recovers (drops
	// what a crashed run left pending) and commits in one step.
	tp, _ := w.(exec.TwoPhaseWriter)
	sq.p.TwoPhase = tp
	var n int64
	sq.p.Emit = func(ctx context.Context, rec arrow.Record) error {
		rec = withSchemaRetained(rec, sq.schema)
		defer rec.Release()
		n += rec.NumRows()
		return w.Write(ctx, rec)
	}
	joined := false
	if sq.scale != nil {
		if joined, err = sq.scale.joinSink(ctx, w); err != nil {
			closePipeline()
			return nil, execError(fmt.Errorf("sink %s: %w", sinkName, err))
		}
	}
	sq.p.Commit = func(ctx context.Context, upTo exec.Offsets) error {
		if joined {
			// The state joins the sink's transaction, which commits it
			// with the output and the offsets: one commit, no window
			// between output, state and position.
			return sq.scale.commitJoined(ctx, w, upTo)
		}
		if tp == nil || sq.p.Checkpoint == nil {
			if err := w.Commit(ctx, upTo); err != nil {
				return err
			}
		}
		// Once the output is durable, tell a consumer-group source where
		// it is: a restart or a rebalance then resumes there rather than
		// re-reading (at-least-once sinks; an exactly-once Kafka sink has
		// already committed these offsets inside its transaction).
		if oc, ok := sq.p.Reader.(exec.OffsetCommitter); ok {
			return oc.CommitOffsets(ctx, upTo)
		}
		if sq.scale != nil {
			return sq.scale.save(ctx, upTo) // the state the output covers
		}
		return nil
	}
	reportProgress(ctx, sq.stats)
	err = sq.run(ctx)
	if sq.late != nil {
		if lerr := sq.late.close(); err == nil {
			err = lerr
		}
	}
	// A streaming INSERT runs until stopped: cancel() and a deadline
	// alike end it cleanly, keeping what was committed.
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return nil, writeError(sinkName, q.Position(), err)
	}
	return message(fmt.Sprintf("%d rows written to %s", n, sinkName)), nil
}

// planFingerprint identifies a query for its checkpoints: a checkpoint
// restored into a different plan (changed SQL, a changed source schema)
// would feed state of one shape to operators of another, silently wrong
// or a panic, so it is refused instead.
func planFingerprint(qp *planner.QueryPlan) string {
	h := sha256.Sum256([]byte(planner.Explain(qp)))
	return hex.EncodeToString(h[:])
}

// checkpointName names a query's checkpoint directory: the sink it writes
// (so a restarted INSERT INTO totals … resumes), or a hash of the query
// text for a SELECT. Changing the query of a sink while keeping its
// checkpoint is the user's call, as with Flink savepoints.
func checkpointName(sink string, q *sql.Query) string {
	if sink != "" {
		return "sink-" + strings.ToLower(sink)
	}
	h := sha256.Sum256([]byte(q.SQL()))
	return "query-" + hex.EncodeToString(h[:8])
}
