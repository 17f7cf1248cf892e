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
// error unless ContinueOnError is set.
func (r *Runner) Script(ctx context.Context, script string) error {
	if r.Vars == nil {
		r.Vars = map[string]string{}
	}
	stmts, err := sql.Parse(script)
	if err != nil {
		return err
	}
	failed := 0
	for _, st := range stmts {
		if err := r.Statement(ctx, st); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil // Ctrl-C / SIGTERM: a clean stop
			}
			if !r.ContinueOnError {
				return err
			}
			failed++
			fmt.Fprintf(r.Err, "sluice: %s\n", r.describe(err))
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d statement(s) failed", failed)
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

// Statement runs one statement and prints its result.
func (r *Runner) Statement(ctx context.Context, st sql.Statement) error {
	if text := st.SQL(); strings.Contains(text, "${") {
		sub, err := r.substitute(text)
		if err != nil {
			return sql.Errorf(sql.ParseError, st.Position(), "%v", err)
		}
		stmts, err := sql.Parse(sub)
		if err != nil {
			return err
		}
		for _, s := range stmts {
			if err := r.Statement(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
	if s, ok := st.(*sql.Set); ok {
		if r.Vars == nil {
			r.Vars = map[string]string{}
		}
		r.Vars[s.Name] = s.Value
	}
	rows, err := r.DB.Run(ctx, st)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Schema() == nil {
		if rows.Message != "" && r.Live {
			fmt.Fprintln(r.Err, rows.Message)
		}
		return nil
	}
	p, err := stdout.NewPrinter(r.Out, r.Format)
	if err != nil {
		return err
	}
	p.SetSchema(rows.Schema())
	for rows.Next() {
		if err := p.Write(rows.Record()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return p.Flush()
}
