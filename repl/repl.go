package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/chzyer/readline"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/stdout"
	"github.com/sluicesql/sluice/sql"
)

// Prompts of the interactive shell: the first line of a statement, and
// the lines that continue it until a `;` ends it.
const (
	Prompt         = "sluice> "
	ContinuePrompt = "     -> "
)

// Config configures the interactive shell.
type Config struct {
	// Format is the initial output format: table, csv or json.
	Format string
	// HistoryFile keeps entered statements across sessions; empty means
	// ~/.sluice_history, "-" keeps no history file.
	HistoryFile string
	// Vars are the initial ${name} variables.
	Vars map[string]string
	// Stdin, Stdout and Stderr default to the process's; tests drive the
	// shell through pipes or a pseudo-terminal.
	Stdin          io.ReadCloser
	Stdout, Stderr io.Writer
	// Duration, when positive, stops each streaming query after that
	// long (Runner.Duration).
	Duration time.Duration
	// Log is the session's sluice.Config.Log, if the caller made it a
	// *Log (Runner.Log).
	Log *Log
}

// Run starts the interactive shell and returns when the user quits (\q
// or Ctrl-D) or ctx ends. Ctrl-C at the prompt discards the statement
// being typed; during a query it stops the query (SIGINT is caught while
// a statement runs) and returns to the prompt.
func Run(ctx context.Context, db *sluice.DB, cfg Config) error {
	if cfg.Format == "" {
		cfg.Format = "table"
	}
	if _, err := stdout.NewPrinter(io.Discard, cfg.Format); err != nil {
		return err
	}
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.Stderr == nil {
		cfg.Stderr = cfg.Stdout
	}
	hist := cfg.HistoryFile
	switch hist {
	case "":
		if home, err := os.UserHomeDir(); err == nil {
			hist = filepath.Join(home, ".sluice_history")
		}
	case "-":
		hist = ""
	}
	// The input filter runs on readline's goroutine from the start; it
	// sees the instance once NewEx has returned it.
	var inst atomic.Pointer[readline.Instance]
	rl, err := readline.NewEx(&readline.Config{
		Prompt:                 Prompt,
		HistoryFile:            hist,
		HistorySearchFold:      true,
		DisableAutoSaveHistory: true,
		AutoComplete:           &completer{tables: db.Tables},
		InterruptPrompt:        "^C",
		EOFPrompt:              `\q`,
		FuncFilterInputRune:    func(r rune) (rune, bool) { return interruptCompletion(inst.Load(), r), true },
		Stdin:                  cfg.Stdin,
		Stdout:                 cfg.Stdout,
		Stderr:                 cfg.Stderr,
	})
	if err != nil {
		return fmt.Errorf("start the shell: %w", err)
	}
	inst.Store(rl)
	defer rl.Close()
	vars := map[string]string{}
	for k, v := range cfg.Vars {
		vars[k] = v
	}
	s := &shell{
		db:  db,
		out: cfg.Stdout,
		run: &Runner{DB: db, Out: cfg.Stdout, Err: cfg.Stderr, Format: cfg.Format, Vars: vars,
			Live: true, Summary: true, Timing: true, Size: TermSize(cfg.Stdout), Duration: cfg.Duration, Log: cfg.Log},
	}
	if IsTerminal(cfg.Stderr) {
		s.run.Progress = &Bar{W: cfg.Stderr}
	}
	fmt.Fprintln(cfg.Stdout, `sluice: streaming SQL. End statements with ;  \help for help, \q or Ctrl-D to quit.`)
	var buf strings.Builder
	for ctx.Err() == nil {
		if buf.Len() == 0 {
			rl.SetPrompt(Prompt)
		} else {
			rl.SetPrompt(ContinuePrompt)
		}
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			buf.Reset()
			continue
		}
		if err != nil { // io.EOF: Ctrl-D
			return nil
		}
		if buf.Len() == 0 {
			trimmed := strings.TrimSpace(line)
			if trimmed == "" {
				continue
			}
			if strings.HasPrefix(trimmed, `\`) {
				rl.SaveHistory(trimmed)
				if quit := s.command(ctx, trimmed); quit {
					return nil
				}
				continue
			}
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		if !sql.Complete(buf.String()) {
			continue
		}
		text := buf.String()
		buf.Reset()
		// History is a file on disk: passwords in WITH options stay out.
		rl.SaveHistory(sql.RedactOptions(strings.TrimSpace(text), connectors.IsSecret, false))
		s.execute(ctx, text, "")
	}
	return nil
}

// interruptCompletion makes Ctrl-C discard the line even while Tab's
// list of completions is showing: readline would only close the list and
// need a second Ctrl-C. It runs on readline's own input goroutine (as
// FuncFilterInputRune), the one that owns the completion state.
func interruptCompletion(rl *readline.Instance, r rune) rune {
	if r == readline.CharInterrupt && rl != nil && rl.Operation.IsInCompleteMode() {
		rl.Operation.ExitCompleteMode(false)
	}
	return r
}

// shell is the state of one interactive session.
type shell struct {
	db  *sluice.DB
	out io.Writer
	run *Runner
}

// execute runs text with Ctrl-C bound to cancelling it, and shows an
// error with a caret under the position it names.
func (s *shell) execute(ctx context.Context, text, name string) {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-qctx.Done():
		}
	}()
	s.run.Name = name
	err := s.run.Script(qctx, text)
	s.run.Name = ""
	if err != nil {
		fmt.Fprint(s.run.Err, explain(text, name, err))
	}
}

// explain renders err for the terminal; a positioned SQL error shows the
// statement line with a caret under the column:
//
//	ERROR: line 2:8: unknown column "valu"
//	  2 | SELECT valu FROM t
//	    |        ^
func explain(text, name string, err error) string {
	var b strings.Builder
	var se *sql.Error
	if !errors.As(err, &se) || se.Pos.Line == 0 {
		fmt.Fprintf(&b, "ERROR: %v\n", err)
		return b.String()
	}
	where := fmt.Sprintf("line %d:%d", se.Pos.Line, se.Pos.Col)
	if name != "" {
		where = fmt.Sprintf("%s:%d:%d", name, se.Pos.Line, se.Pos.Col)
	}
	fmt.Fprintf(&b, "ERROR: %s: %s\n", where, se.Msg)
	lines := strings.Split(sql.RedactOptions(text, connectors.IsSecret, true), "\n")
	if se.Pos.Line > len(lines) {
		return b.String()
	}
	// Secrets masked to their length, so the caret column still holds.
	src := strings.ReplaceAll(lines[se.Pos.Line-1], "\t", " ")
	num := fmt.Sprint(se.Pos.Line)
	fmt.Fprintf(&b, "  %s | %s\n", num, src)
	col := se.Pos.Col
	if n := utf8.RuneCountInString(src); col > n+1 {
		col = n + 1
	}
	fmt.Fprintf(&b, "  %s | %s^\n", strings.Repeat(" ", len(num)), strings.Repeat(" ", col-1))
	return b.String()
}

// command runs a backslash command; it reports whether to quit.
func (s *shell) command(ctx context.Context, line string) bool {
	fields := strings.Fields(line)
	cmd, args := fields[0], fields[1:]
	errf := func(format string, a ...any) { fmt.Fprintf(s.run.Err, "ERROR: "+format+"\n", a...) }
	switch cmd {
	case `\q`, `\quit`:
		return true
	case `\help`, `\h`, `\?`:
		s.help()
	case `\sources`, `\d`:
		// Two tables of the same shape: each gets its label.
		fmt.Fprintln(s.out, "Sources:")
		s.execute(ctx, "SHOW SOURCES;", "")
		fmt.Fprintln(s.out, "Sinks:")
		s.execute(ctx, "SHOW SINKS;", "")
	case `\options`:
		if len(args) > 1 {
			errf(`usage: \options [connector]`)
			return false
		}
		q := "SHOW OPTIONS;"
		if len(args) == 1 {
			q = "SHOW OPTIONS FOR '" + strings.ReplaceAll(args[0], "'", "''") + "';"
		}
		s.execute(ctx, q, "")
	case `\describe`:
		if len(args) != 1 {
			errf(`usage: \describe name`)
			return false
		}
		s.execute(ctx, "DESCRIBE "+args[0]+";", "")
	case `\format`:
		if len(args) != 1 {
			fmt.Fprintf(s.out, "format is %s\n", s.run.Format)
			return false
		}
		if _, err := stdout.NewPrinter(io.Discard, args[0]); err != nil {
			errf("%v", err)
			return false
		}
		s.run.Format = strings.ToLower(args[0])
		fmt.Fprintf(s.out, "format is %s\n", s.run.Format)
	case `\timing`:
		s.run.Timing = !s.run.Timing
		state := "off"
		if s.run.Timing {
			state = "on"
		}
		fmt.Fprintf(s.out, "timing is %s\n", state)
	case `\set`:
		if len(args) == 0 {
			for k, v := range s.run.Vars {
				fmt.Fprintf(s.out, "%s = %s\n", k, v)
			}
			return false
		}
		if len(args) < 2 {
			errf(`usage: \set name value`)
			return false
		}
		s.run.Vars[strings.ToLower(args[0])] = strings.Join(args[1:], " ")
	case `\i`, `\include`:
		if len(args) != 1 {
			errf(`usage: \i file.sql`)
			return false
		}
		b, err := os.ReadFile(args[0])
		if err != nil {
			errf("%v", err)
			return false
		}
		s.execute(ctx, string(b), args[0])
	default:
		errf(`unknown command %s (try \help)`, cmd)
	}
	return false
}

func (s *shell) help() {
	fmt.Fprintln(s.out, "Statements end with ; and may span lines. Ctrl-C stops a running query, Ctrl-R searches history, Tab completes.")
	for _, c := range commands {
		name := c.name
		if c.args != "" {
			name += " " + c.args
		}
		fmt.Fprintf(s.out, "  %-24s %s\n", name, c.help)
	}
}
