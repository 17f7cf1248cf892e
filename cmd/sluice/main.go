// Command sluice runs SQL over files, generators and Kafka in batch,
// micro-batch or continuous mode.
//
//	sluice -e "SQL; SQL"        run statements from the command line
//	sluice -f script.sql        run a script (-f - reads stdin)
//	sluice a.sql b.sql          run scripts in order (after any -f script)
//	sluice --version            the sluice, Go and Arrow versions
//	sluice --duration 30s …     stop each streaming query after 30s
//	sluice serve [flags]        a Postgres wire-protocol server, /metrics and a live page (serve.go)
//	sluice                      the interactive shell on a terminal
//
// Results print as a table on a terminal and as CSV otherwise
// (--format table|csv|json). Any error prints `sluice: line L:C: message`
// (prefixed with the script name for -f) and exits with status 1, as do
// unknown flags and arguments that are not script files.
//
// A streaming query stopped by Ctrl-C (SIGINT, or SIGTERM) or by
// --duration prints one line on stderr, the same for both but for the
// cause:
//
//	query stopped after 5s (--duration 5s): 5012 rows in, 3 rows out
//	query stopped after 2.31s (interrupted): 2210 rows in, 3 rows out
//
// and keeps what its sink committed. After Ctrl-C nothing more runs and
// the exit status is 0; after --duration the next statement runs.
// On a terminal, a batch statement running longer than a second shows a
// spinner with its elapsed time on stderr; piped stderr never gets one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec/bufpool"
	"github.com/sluicesql/sluice/repl"
	"github.com/sluicesql/sluice/sql"
)

// vars collects repeated --var name=value flags.
type vars map[string]string

func (v vars) String() string { return fmt.Sprint(map[string]string(v)) }

func (v vars) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", s)
	}
	v[strings.ToLower(k)] = val
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Handlers first, before flags and scripts are read: a stop asked for
	// at any moment of a run is a clean stop, never death by signal.
	// SIGTERM is listed first because Notify installs in order and an
	// observer (the crash harness) takes a caught SIGINT to mean both are.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if len(args) > 0 && args[0] == "serve" {
		return serve(args[1:], stderr)
	}
	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	expr := fs.String("e", "", "SQL statements to run")
	file := fs.String("f", "", "SQL script to run (- for stdin)")
	formatFlag := fs.String("format", "", "output format: table, csv or json (default table on a terminal, csv otherwise)")
	cont := fs.Bool("continue-on-error", false, "report failing statements and go on")
	checkpoints := fs.String("checkpoint-dir", "", "directory for streaming checkpoints")
	retain := fs.Int("checkpoint-retain", 0, "complete checkpoints each query keeps (`N`, default 3)")
	compact := fs.Int("checkpoint-compact-every", 0, "incremental checkpoints (changed state only) between full ones (`N`, default 10; negative: every checkpoint full)")
	sandboxDir := fs.String("sandbox", "", "confine every file source, sink, checkpoint directory and Kafka TLS file to `DIR` (symlinks and .. resolved)")
	spillDir := fs.String("spill-dir", "", "let a streaming GROUP BY whose state reaches memory_limit spill its cold groups to disk under `DIR` instead of failing")
	history := fs.String("history", "", "history file of the interactive shell (default ~/.sluice_history, - for none)")
	version := fs.Bool("version", false, "print the sluice, Go and Arrow versions and exit")
	duration := fs.Duration("duration", 0, "stop each streaming query after `D` (such as 30s), as Ctrl-C does, and go on with the next statement")
	vs := vars{}
	fs.Var(vs, "var", "script variable name=value, used as ${name} (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1 // the flag package has printed the error and the usage
	}
	if *duration < 0 {
		fmt.Fprintf(stderr, "sluice: --duration must be positive, not %s\n", *duration)
		return 1
	}
	if *version {
		fmt.Fprint(stdout, versions())
		return 0
	}
	// Positional arguments are script files run after any -f script; they
	// are read before anything runs so a typo runs nothing.
	type source struct{ name, text string }
	var scripts []source
	if *expr != "" && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice: unexpected argument %q after -e (a script file goes without -e)\n", fs.Arg(0))
		return 1
	}
	for _, p := range fs.Args() {
		b, err := readScript(p)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		scripts = append(scripts, source{p, string(b)})
	}
	// The binary recycles Arrow buffers: queries allocate the same sizes
	// batch after batch (see exec/bufpool for the measured gain).
	// The engine's messages go through lg, which holds them while a live
	// table is on screen so they do not scroll it.
	lg := &repl.Log{W: stderr}
	db, err := sluice.Open(sluice.Config{CheckpointDir: *checkpoints, CheckpointRetain: *retain, CheckpointCompactEvery: *compact, FileRoot: *sandboxDir, SpillDir: *spillDir, Allocator: bufpool.New(), Log: lg})
	if err != nil {
		fmt.Fprintf(stderr, "sluice: %v\n", err)
		return 1
	}
	defer db.Close()

	tty := repl.IsTerminal(stdout)
	format := *formatFlag
	if format == "" {
		format = "csv"
		if tty {
			format = "table"
		}
	}
	switch format {
	case "table", "csv", "json":
	default:
		fmt.Fprintf(stderr, "sluice: unknown --format %q (want table, csv or json)\n", format)
		return 1
	}

	var script, name string
	switch {
	case *expr != "":
		script = *expr
	case *file == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: reading stdin: %v\n", err)
			return 1
		}
		script, name = string(b), "<stdin>"
	case *file != "":
		b, err := readScript(*file)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: %v\n", err)
			return 1
		}
		script, name = string(b), *file
	case len(scripts) > 0:
	default:
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) && tty {
			// The shell handles Ctrl-C itself (it stops the running
			// query), so only SIGTERM ends the session.
			stop()
			rctx, rstop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer rstop()
			cfg := repl.Config{Format: format, HistoryFile: *history, Vars: vs, Stdin: f, Stdout: stdout, Stderr: stderr, Duration: *duration, Log: lg}
			if err := repl.Run(rctx, db, cfg); err != nil {
				fmt.Fprintf(stderr, "sluice: %v\n", err)
				return 1
			}
			return 0
		}
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: reading stdin: %v\n", err)
			return 1
		}
		script, name = string(b), "<stdin>"
	}
	if script != "" || name != "" || *expr != "" {
		scripts = append([]source{{name, script}}, scripts...)
	}
	// One runner for all scripts: a SET in one is seen by the next.
	r := &repl.Runner{DB: db, Out: stdout, Err: stderr, Format: format, Vars: vs, Live: tty, ContinueOnError: *cont,
		Size: repl.TermSize(stdout), Duration: *duration, Log: lg}
	if repl.IsTerminal(stderr) {
		// Progress of long batch work on a terminal, never into a pipe.
		r.Progress = &repl.Bar{W: stderr}
	}
	code := 0
	for _, s := range scripts {
		r.Name = s.name
		if err := r.Script(ctx, s.text); err != nil {
			fmt.Fprintf(stderr, "sluice: %s\n", describe(s.name, err))
			code = 1
			if !*cont {
				break
			}
		}
		if ctx.Err() != nil {
			break // Ctrl-C / SIGTERM stops the remaining scripts too
		}
	}
	return code
}

// readScript reads a script file, refusing a directory by name.
func readScript(path string) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a script file", path)
	}
	return os.ReadFile(path)
}

// versions is the --version text: sluice's module version ("(devel)" when
// built from a checkout), the Go toolchain and the Arrow module it links.
func versions() string {
	v, arrow := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if strings.HasPrefix(d.Path, "github.com/apache/arrow/go/") {
				if d.Replace != nil {
					d = d.Replace
				}
				arrow = d.Path + " " + d.Version
				break
			}
		}
	}
	return fmt.Sprintf("sluice %s\n%s\narrow %s\n", v, runtime.Version(), arrow)
}

// describe renders err for the terminal: `file:3:14: message` for scripts.
func describe(name string, err error) string {
	var se *sql.Error
	if name != "" && errors.As(err, &se) && se.Pos.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", name, se.Pos.Line, se.Pos.Col, se.Msg)
	}
	return err.Error()
}
