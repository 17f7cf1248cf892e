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
	rows, err := r.DB.Run(ctx, st)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Schema() == nil {
		// A streaming INSERT runs until its context ends: drain it.
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if rows.Message != "" && (r.Live || r.Summary) {
			fmt.Fprintln(r.Err, rows.Message)
		}
		r.summary(-1, start)
		return nil
	}
	if q, ok := st.(*sql.Query); ok && q.Emit != nil && r.Live {
		return r.live(ctx, rows, q.Emit.Full, start)
	}
	p, err := stdout.NewPrinter(r.Out, r.Format)
	if err != nil {
		return err
	}
	p.SetSchema(rows.Schema())
	streaming := false
	if q, ok := st.(*sql.Query); ok && q.Emit != nil {
		streaming = true
	}
	var n int64
	printed := false
	for rows.Next() {
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
	if err := rows.Err(); err != nil {
		return err
	}
	// The last flush prints a batch result, or the header of a result
	// with no rows; after a stream's tables it would add an empty one.
	if !printed {
		if err := p.Flush(); err != nil {
			return err
		}
	}
	r.summary(n, start)
	return ctx.Err()
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

// statser is implemented by Rows once the engine reports progress.
type statser interface{ Stats() sluice.Stats }

// live shows a streaming result as a table redrawn in place with a
// status line, until the query ends or ctx is cancelled (Ctrl-C).
func (r *Runner) live(ctx context.Context, rows *sluice.Rows, full bool, start time.Time) error {
	t := newLiveTable(rows.Schema(), rows.Changelog(), full)
	t.start = start
	t.stats = func() (sluice.Stats, bool) {
		if s, ok := any(rows).(statser); ok {
			return s.Stats(), true
		}
		return sluice.Stats{}, false
	}
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
	t.draw(r.Out, false)
loop:
	for {
		select {
		case <-tick.C:
			t.draw(r.Out, false)
		case <-done:
			break loop
		}
	}
	t.draw(r.Out, true)
	if err := rows.Err(); err != nil && ctx.Err() == nil {
		return err
	}
	if ctx.Err() != nil {
		fmt.Fprintf(r.Err, "query stopped after %s\n", roundDuration(time.Since(start)))
		return ctx.Err()
	}
	r.summary(-1, start)
	return nil
}
