package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/engine/monitor"
	"github.com/sluicesql/sluice/engine/pgwire"
	"github.com/sluicesql/sluice/exec/bufpool"
	"github.com/sluicesql/sluice/sql"
)

// serveUsage is the help of `sluice serve`.
const serveUsage = `usage: sluice serve [flags]

Serves one shared catalog to Postgres clients (psql, pgx, JDBC, …) and,
with --http, Prometheus metrics at /metrics and a live page of the running
queries at /. The password comes from $SLUICE_PASSWORD or --password-file;
without one the server listens on localhost only.

`

// serve runs `sluice serve` until SIGINT or SIGTERM.
func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sluice serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, serveUsage)
		fs.PrintDefaults()
	}
	pgAddr := fs.String("pg", "127.0.0.1:5433", "Postgres wire-protocol `address`")
	httpAddr := fs.String("http", "", "`address` of /metrics and the live page (none if empty)")
	initFile := fs.String("f", "", "SQL `script` run at start (DDL; streaming INSERTs run as background jobs)")
	user := fs.String("user", "", "the only user name accepted (any if empty)")
	passwordFile := fs.String("password-file", "", "`file` holding the password (default $SLUICE_PASSWORD)")
	certFile := fs.String("tls-cert", "", "TLS certificate `file` (PEM); clients must then use TLS")
	keyFile := fs.String("tls-key", "", "TLS key `file` (PEM)")
	sandboxDir := fs.String("sandbox", ".", "confine every file the SQL touches to `DIR`")
	checkpoints := fs.String("checkpoint-dir", "", "directory for streaming checkpoints")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice serve: unexpected argument %q\n", fs.Arg(0))
		return 1
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return 1
	}
	cfg := pgwire.Config{User: *user, Password: os.Getenv("SLUICE_PASSWORD"), Queries: monitor.NewRegistry(), Log: stderr}
	if *passwordFile != "" {
		b, err := os.ReadFile(*passwordFile)
		if err != nil {
			return fail(fmt.Errorf("--password-file: %w", err))
		}
		cfg.Password = strings.TrimRight(string(b), "\r\n")
		if cfg.Password == "" {
			return fail(fmt.Errorf("--password-file %s is empty", *passwordFile))
		}
	}
	if (*certFile == "") != (*keyFile == "") {
		return fail(errors.New("--tls-cert and --tls-key go together"))
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fail(fmt.Errorf("--tls-cert/--tls-key: %w", err))
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if err := pgwire.CheckListen(*pgAddr, cfg); err != nil {
		return fail(err)
	}
	if *httpAddr != "" {
		if err := pgwire.CheckListen(*httpAddr, cfg); err != nil {
			return fail(fmt.Errorf("--http: %w", err))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	db, err := engine.Open(engine.Config{CheckpointDir: *checkpoints, FileRoot: *sandboxDir, Allocator: bufpool.New(), Log: stderr})
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	jobs := &jobs{db: db, reg: cfg.Queries, log: stderr}
	defer jobs.stop()
	if *initFile != "" {
		b, err := readScript(*initFile)
		if err != nil {
			return fail(err)
		}
		if err := jobs.script(ctx, string(b)); err != nil {
			fmt.Fprintf(stderr, "sluice serve: %s\n", describe(*initFile, err))
			return 1
		}
	}

	srv, err := pgwire.New(db, cfg)
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", *pgAddr)
	if err != nil {
		return fail(err)
	}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	defer srv.Close()
	fmt.Fprintf(stderr, "sluice serve: postgres on %s\n", ln.Addr())
	if *httpAddr != "" {
		hln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fail(err)
		}
		hs := &http.Server{Handler: monitor.Handler(cfg.Queries, db), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- hs.Serve(hln) }()
		defer hs.Close()
		fmt.Fprintf(stderr, "sluice serve: http on %s\n", hln.Addr())
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "sluice serve: stopping")
		return 0
	case err := <-errc:
		return fail(err)
	}
}

// jobs runs the start-up script: statements in order, except that a
// streaming INSERT (or CREATE SINK … AS with EMIT) never ends, so it runs
// in the background as a job, listed with the running queries until it
// stops or the server does.
type jobs struct {
	db  *engine.Session
	reg *monitor.Registry
	log io.Writer
	wg  sync.WaitGroup

	mu      sync.Mutex
	cancels []context.CancelFunc
}

func (j *jobs) script(ctx context.Context, text string) error {
	stmts, err := sql.Parse(text)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if streamingJob(st) {
			j.start(st)
			continue
		}
		rows, err := j.db.Run(ctx, st)
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

// streamingJob reports whether st writes a streaming query into a sink.
func streamingJob(st sql.Statement) bool {
	switch s := st.(type) {
	case *sql.Insert:
		return s.Query.Emit != nil
	case *sql.CreateSink:
		return s.Query != nil && s.Query.Emit != nil
	}
	return false
}

func (j *jobs) start(st sql.Statement) {
	ctx, cancel := context.WithCancel(context.Background())
	var stats atomic.Pointer[func() engine.Stats]
	ctx = engine.WithProgress(ctx, func(f func() engine.Stats) { stats.Store(&f) })
	_, remove := j.reg.Add(strings.TrimSpace(st.SQL()), "sluice serve -f", func() engine.Stats {
		if f := stats.Load(); f != nil {
			return (*f)()
		}
		return engine.Stats{}
	}, cancel)
	j.mu.Lock()
	j.cancels = append(j.cancels, cancel)
	j.mu.Unlock()
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		defer remove()
		rows, err := j.db.Run(ctx, st)
		if err == nil {
			err = rows.Close()
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(j.log, "sluice serve: job %q: %v\n", firstLine(st.SQL()), err)
		}
	}()
}

// stop ends every job and waits for them (their sinks commit what they
// had).
func (j *jobs) stop() {
	j.mu.Lock()
	for _, c := range j.cancels {
		c()
	}
	j.mu.Unlock()
	j.wg.Wait()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
