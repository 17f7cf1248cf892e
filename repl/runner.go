// Package repl runs SQL for people: scripts (sluice -f) and the interactive
// shell on chzyer/readline. Both go through Runner, which executes
// statements in order and prints their results.
package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/connectors/stdout"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// Runner executes scripts against a DB and prints results.
type Runner struct {
	DB *sluice.DB
	// Out receives result rows; Err receives status messages and errors.
	Out, Err io.Writer
	// Format is table, csv or json.
	Format string
	// Vars are script variables, substituted for ${name} before parsing
	// and set by `SET name = value`.
	Vars map[string]string
	// Live redraws streaming results in place (a terminal).
	Live bool
	// ContinueOnError reports a failing statement and goes on; Script then
	// returns an error summarising the failures.
	ContinueOnError bool
	// Name is the script's name for error messages ("" for -e).
	Name string
	// Summary prints a row count after each result and, with Timing, how
	// long the statement took (the interactive shell).
	Summary, Timing bool
	// Refresh is how often a live streaming table is redrawn (100ms if 0).
	Refresh time.Duration
	// Size reports the terminal's columns and rows, which a live table
	// fits itself to at each redraw; nil or ok false means 80x24.
	Size func() (cols, rows int, ok bool)
	// Duration, when positive, stops each streaming statement (a query
	// with EMIT, a streaming INSERT or CREATE SINK … AS) after that long,
	// as Ctrl-C would, and the script goes on with the next statement.
	Duration time.Duration
	// Log, when set, is the session's sluice.Config.Log: messages the
	// engine writes while a live table is on screen are held and shown
	// under it instead of scrolling it.
	Log *Log
	// Progress, when set, is told about each batch statement while it
	// runs (a progress bar on a terminal's stderr); see Progress.
	Progress Progress
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// substitute replaces ${name} references. An undefined variable is an
// error naming it, rather than SQL that fails somewhere less obvious.
func (r *Runner) substitute(text string) (string, error) {
	var missing []string
	out := varRef.ReplaceAllStringFunc(text, func(m string) string {
		name := strings.ToLower(m[2 : len(m)-1])
		if v, ok := r.Vars[name]; ok {
			return v
		}
		missing = append(missing, name)
		return m
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("undefined variable ${%s} (pass --var %s=…)", missing[0], missing[0])
	}
	return out, nil
}

// Script runs every statement of script in order. It stops at the first
// error unless ContinueOnError is set. ${name} references are substituted
// statement by statement, so `SET name = value` defines them for the
// statements after it; error positions are in script. The script is cut
// into statements by sql.Split, the parser's own lexer, so the shell,
// `sluice -f` and `-e` end statements exactly where the parser does; a
// script that does not lex (an unterminated string or comment) runs
// nothing.
func (r *Runner) Script(ctx context.Context, script string) error {
	if r.Vars == nil {
		r.Vars = map[string]string{}
	}
	chunks, err := sql.Split(script)
	if err != nil {
		return err
	}
	failed := 0
	for _, c := range chunks {
		err := r.chunk(ctx, c)
		if err == nil {
			continue
		}
		if errors.Is(err, context.Canceled) {
			return nil // Ctrl-C / SIGTERM: a clean stop
		}
		if !r.ContinueOnError {
			return err
		}
		failed++
		fmt.Fprintf(r.Err, "sluice: %s\n", r.describe(err))
	}
	if failed > 0 {
		return fmt.Errorf("%d statement(s) failed", failed)
	}
	return nil
}

// chunk substitutes, parses and runs one statement of the script.
func (r *Runner) chunk(ctx context.Context, c sql.Chunk) error {
	text := c.Text
	if strings.Contains(text, "${") {
		sub, err := r.substitute(text)
		if err != nil {
			return sql.Errorf(sql.ParseError, c.PosOf(strings.Index(text, "${")), "%v", err)
		}
		text = sub
	}
	stmts, err := sql.ParseAt(text, c.Pos)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if err := r.Statement(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) describe(err error) string {
	var se *sql.Error
	if r.Name != "" && errors.As(err, &se) && se.Pos.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", r.Name, se.Pos.Line, se.Pos.Col, se.Msg)
	}
	return err.Error()
}

// Statement runs one parsed statement and prints its result. A SET
// statement also defines a ${name} variable for what follows.
func (r *Runner) Statement(ctx context.Context, st sql.Statement) error {
	if s, ok := st.(*sql.Set); ok {
		if r.Vars == nil {
			r.Vars = map[string]string{}
		}
		r.Vars[strings.ToLower(s.Name)] = s.Value
	}
	start := time.Now()
	parent := ctx
	streaming := isStreaming(st)
	if streaming && r.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Duration)
		defer cancel()
	}
	done := func() {} // ends the progress display; idempotent
	if !streaming && r.Progress != nil {
		scans := &exec.ScanProgress{}
		ctx = exec.WithScanProgress(ctx, scans)
		done = r.Progress.Start(st, scans)
		defer done()
	}
	rows, err := r.DB.Run(ctx, st)
	if err != nil {
		done()
		return r.stopped(parent, ctx, err, start, nil)
	}
	defer rows.Close()
	if rows.Schema() == nil {
		// A streaming INSERT runs until its context ends: drain it.
		for rows.Next() {
		}
		done()
		if err := rows.Err(); err != nil {
			return r.stopped(parent, ctx, err, start, rows)
		}
		if streaming && ctx.Err() != nil {
			return r.stopped(parent, ctx, ctx.Err(), start, rows)
		}
		if rows.Message != "" && (r.Live || r.Summary) {
			fmt.Fprintln(r.Err, rows.Message)
		}
		r.summary(-1, start)
		return nil
	}
	if q, ok := st.(*sql.Query); ok && q.Emit != nil && r.Live {
		order, _ := q.OrderKeys()
		return r.live(parent, ctx, rows, q.Emit.Full, order, start)
	}
	p, err := stdout.NewPrinter(r.Out, r.Format)
	if err != nil {
		return err
	}
	p.SetSchema(rows.Schema())
	var n int64
	printed := false
	for rows.Next() {
		done()
		rec := rows.Record()
		if streaming && rec.NumRows() == 0 {
			continue // a table per non-empty record: none for nothing
		}
		n += rec.NumRows()
		if err := p.Write(rec); err != nil {
			return err
		}
		if streaming {
			// Each record of a stream is printed as it comes (a table
			// per record), so a pipe sees results without waiting.
			if err := p.Flush(); err != nil {
				return err
			}
			printed = true
		}
	}
	done()
	if err := rows.Err(); err != nil {
		return r.stopped(parent, ctx, err, start, rows)
	}
	// The last flush prints a batch result, or the header of a result
	// with no rows; after a stream's tables it would add an empty one.
	if !printed {
		if err := p.Flush(); err != nil {
			return err
		}
	}
	if streaming && ctx.Err() != nil {
		return r.stopped(parent, ctx, ctx.Err(), start, rows)
	}
	r.summary(n, start)
	return ctx.Err()
}

// isStreaming reports whether st runs until stopped: a query with EMIT,
// or an INSERT or CREATE SINK … AS of one.
func isStreaming(st sql.Statement) bool {
	var q *sql.Query
	switch s := st.(type) {
	case *sql.Query:
		q = s
	case *sql.Insert:
		q = s.Query
	case *sql.CreateSink:
		q = s.Query
	}
	return q != nil && q.Emit != nil
}

// stopped turns the end of a statement by its context into what the
// user sees: Ctrl-C or SIGTERM (parent cancelled: "interrupted"),
// Duration (ctx's own deadline) and a deadline of the caller's all print
// the same one-line summary on Err,
//
//	query stopped after 5s (--duration 5s): 5012 rows in, 3 rows out
//	query stopped after 2.31s (interrupted): 2210 rows in, 3 rows out
//
// Interrupted returns context.Canceled, which ends the script cleanly;
// Duration returns nil, so the script goes on; the caller's deadline is
// returned as the error it is. Any other err is returned as it is.
func (r *Runner) stopped(parent, ctx context.Context, err error, start time.Time, rows *sluice.Rows) error {
	var why string
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil && errors.Is(err, context.Canceled):
		why = "interrupted"
	case parent.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		why = "deadline"
	case parent.Err() == nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		why = "--duration " + r.Duration.String()
		err = nil
	default:
		return err
	}
	line := fmt.Sprintf("query stopped after %s (%s)", roundDuration(time.Since(start)), why)
	if rows != nil {
		if st := rows.Stats(); st.RowsIn > 0 || st.RowsOut > 0 {
			line += fmt.Sprintf(": %d rows in, %d rows out", st.RowsIn, st.RowsOut)
		}
	}
	fmt.Fprintln(r.Err, line)
	if why == "interrupted" {
		return context.Canceled
	}
	return err
}

// summary prints "(n rows)" and the time taken when Summary is set; n < 0
// means the statement had no result table.
func (r *Runner) summary(n int64, start time.Time) {
	if !r.Summary {
		return
	}
	var parts []string
	if n >= 0 {
		unit := "rows"
		if n == 1 {
			unit = "row"
		}
		parts = append(parts, fmt.Sprintf("(%d %s)", n, unit))
	}
	if r.Timing {
		parts = append(parts, fmt.Sprintf("Time: %s", roundDuration(time.Since(start))))
	}
	if len(parts) > 0 {
		fmt.Fprintln(r.Err, strings.Join(parts, " "))
	}
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// live shows a streaming result as a table redrawn in place with a
// status line, until the query ends or ctx is cancelled (Ctrl-C) or its
// Duration passes; parent is the context before Duration.
func (r *Runner) live(parent, ctx context.Context, rows *sluice.Rows, full bool, order []sql.OrderKey, start time.Time) error {
	t := newLiveTable(rows.Schema(), rows.Changelog(), full, rows.Keys(), order)
	t.start = start
	t.size = r.Size
	t.stats = func() (sluice.Stats, bool) { return rows.Stats(), true }
	t.log = r.Log
	r.Log.hold()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rows.Next() {
			t.apply(rows.Record())
		}
	}()
	every := r.Refresh
	if every <= 0 {
		every = 100 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	resized, stopResize := notifyResize()
	defer stopResize()
	t.draw(r.Out, false)
loop:
	for {
		select {
		case <-tick.C:
			t.draw(r.Out, false)
		case <-resized:
			t.draw(r.Out, false)
		case <-done:
			break loop
		}
	}
	t.draw(r.Out, true)
	r.Log.release()
	if err := rows.Err(); err != nil {
		return r.stopped(parent, ctx, err, start, rows)
	}
	if ctx.Err() != nil {
		return r.stopped(parent, ctx, ctx.Err(), start, rows)
	}
	r.summary(-1, start)
	return nil
}
