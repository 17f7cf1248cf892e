package pgwire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/engine/monitor"
)

// testServer is a server over a fresh session on a loopback port, with
// a CSV source t(a BIGINT, b VARCHAR, ts TIMESTAMP, x DOUBLE) of three rows.
type testServer struct {
	srv     *Server
	addr    string
	dir     string
	queries *monitor.Registry
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	dir := t.TempDir()
	csv := "a,b,ts,x\n1,x,2026-01-01 00:00:01,1.5\n2,y,2026-01-01 00:00:02,\n3,,2026-01-01 00:00:03.25,-2\n"
	if err := os.WriteFile(filepath.Join(dir, "t.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := engine.Open(engine.Config{Allocator: mem, BaseDir: dir, FileRoot: dir, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE t (a BIGINT, b VARCHAR, ts TIMESTAMP, x DOUBLE) WITH (connector = 'file', path = 't.csv', format = 'csv')`); err != nil {
		t.Fatal(err)
	}
	if cfg.Queries == nil {
		cfg.Queries = monitor.NewRegistry()
	}
	srv, err := New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
		db.Close()
		mem.AssertSize(t, 0)
	})
	return &testServer{srv: srv, addr: ln.Addr().String(), dir: dir, queries: cfg.Queries}
}

func (ts *testServer) url(extra string) string {
	host, port, _ := net.SplitHostPort(ts.addr)
	return fmt.Sprintf("postgres://tester@%s:%s/sluice?sslmode=disable%s", host, port, extra)
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestPgxQueryModes runs one query through each of pgx's ways of sending
// it (extended protocol with a cached statement, describe-exec, and the
// simple protocol) and checks values and type OIDs.
func TestPgxQueryModes(t *testing.T) {
	ts := newTestServer(t, Config{})
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			c := connect(t, ts.url(""))
			ctx := context.Background()
			rows, err := c.Query(ctx, "SELECT a, b, ts, x, a > 1 AS big FROM t WHERE a >= $1 ORDER BY a", mode, 2)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var a int64
				var b pgtype.Text
				var tsv time.Time
				var x pgtype.Float8
				var big bool
				if err := rows.Scan(&a, &b, &tsv, &x, &big); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d|%v|%s|%v|%v|%v", a, b.String, tsv.Format("15:04:05.000"), x.Float64, x.Valid, big))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			want := []string{"2|y|00:00:02.000|0|false|true", "3||00:00:03.250|-2|true|true"}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			var oids []uint32
			for _, f := range rows.FieldDescriptions() {
				oids = append(oids, f.DataTypeOID)
			}
			wantOIDs := []uint32{pgtype.Int8OID, pgtype.TextOID, pgtype.TimestampOID, pgtype.Float8OID, pgtype.BoolOID}
			if fmt.Sprint(oids) != fmt.Sprint(wantOIDs) {
				t.Errorf("OIDs %v, want %v", oids, wantOIDs)
			}
			if tag := rows.CommandTag().String(); tag != "SELECT 2" {
				t.Errorf("command tag %q", tag)
			}
		})
	}
}

// TestStringParameters: a text parameter with quotes and backslashes
// reaches the query as the value sent, not as SQL.
func TestStringParameters(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := connect(t, ts.url(""))
	ctx := context.Background()
	var n int64
	if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM t WHERE b = $1 OR b = $2", `x' OR '1'='1`, "y").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("count = %d, want 1 (only b = 'y')", n)
	}
	var s string
	if err := c.QueryRow(ctx, "SELECT CONCAT($1, '!') FROM t LIMIT 1", `a\b'c`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	if s != `a\b'c!` {
		t.Fatalf("got %q", s)
	}
}

// TestErrorsKeepTheSession: a bad statement returns an ErrorResponse with
// a SQLSTATE and the position in the client's text; the next statement
// on the same connection works.
func TestErrorsKeepTheSession(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := connect(t, ts.url(""))
	ctx := context.Background()
	cases := []struct {
		sql, code string
		pos       int32
	}{
		{"SELECT valu FROM t", "42000", 8},
		{"SELECT a FROM t WHERE a > $1 AND nope = 1", "42000", 34},
		{"SELEC 1", "42601", 1},
	}
	for _, tc := range cases {
		var args []any
		if strings.Contains(tc.sql, "$1") {
			args = append(args, 1)
		}
		_, err := c.Exec(ctx, tc.sql, args...)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Fatalf("%s: error %v, want a PgError", tc.sql, err)
		}
		if pe.Code != tc.code || pe.Position != tc.pos {
			t.Errorf("%s: code %s position %d (%s), want %s at %d", tc.sql, pe.Code, pe.Position, pe.Message, tc.code, tc.pos)
		}
		var n int64
		if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 3 {
			t.Fatalf("after the error: %d, %v", n, err)
		}
	}
}

// TestDDLAndSharedCatalog: a source created on one connection is seen by
// another; DROP removes it for both.
func TestDDLAndSharedCatalog(t *testing.T) {
	ts := newTestServer(t, Config{})
	a, b := connect(t, ts.url("")), connect(t, ts.url(""))
	ctx := context.Background()
	tag, err := a.Exec(ctx, "CREATE SOURCE t2 (a BIGINT, b VARCHAR, ts TIMESTAMP, x DOUBLE) WITH (connector = 'file', path = 't.csv', format = 'csv')")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "CREATE SOURCE" {
		t.Errorf("tag %q", tag)
	}
	var sum int64
	if err := b.QueryRow(ctx, "SELECT SUM(a) FROM t2").Scan(&sum); err != nil || sum != 6 {
		t.Fatalf("sum = %d, %v", sum, err)
	}
	if _, err := b.Exec(ctx, "CREATE SINK out WITH (connector = 'file', path = 'out.csv', format = 'csv')"); err != nil {
		t.Fatal(err)
	}
	tag, err = a.Exec(ctx, "INSERT INTO out SELECT a, b FROM t2 WHERE a < 3")
	if err != nil {
		t.Fatal(err)
	}
	if tag.String() != "INSERT 0 2" {
		t.Errorf("insert tag %q", tag)
	}
	out, err := os.ReadFile(filepath.Join(ts.dir, "out.csv"))
	if err != nil || string(out) != "a,b\n1,x\n2,y\n" {
		t.Fatalf("sink file %q, %v", out, err)
	}
	if _, err := a.Exec(ctx, "DROP SOURCE t2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Exec(ctx, "SELECT a FROM t2"); err == nil {
		t.Fatal("t2 still readable after DROP on another connection")
	}
}

// TestSimpleProtocolScript: several statements in one Query message run
// in order; an error stops the rest.
func TestSimpleProtocolScript(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := connect(t, ts.url(""))
	ctx := context.Background()
	rr := c.PgConn().Exec(ctx, "SELECT COUNT(*) FROM t; SELECT MAX(a) FROM t; SELECT nope FROM t; SELECT 1")
	res, err := rr.ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v", err)
	}
	if len(res) != 2 || string(res[0].Rows[0][0]) != "3" || string(res[1].Rows[0][0]) != "3" {
		t.Fatalf("results %+v", res)
	}
	if want := int32(len("SELECT COUNT(*) FROM t; SELECT MAX(a) FROM t; SELECT ") + 1); pe.Position != want {
		t.Errorf("position %d, want %d", pe.Position, want)
	}
}

// streamSQL is an unbounded continuous aggregate over the generator.
const streamSQL = `SELECT category, COUNT(*) AS n FROM g GROUP BY category EMIT CHANGES`

func createGenerator(t *testing.T, c *pgx.Conn) {
	t.Helper()
	if _, err := c.Exec(context.Background(), `CREATE SOURCE g WITH (connector = 'generator', rows_per_second = '200', categories = '3', seed = '7')`); err != nil {
		t.Fatal(err)
	}
}

// waitQueries waits until the registry lists n queries.
func waitQueries(t *testing.T, reg *monitor.Registry, n int) []monitor.Query {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		qs := reg.List()
		if len(qs) == n {
			return qs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d running queries, want %d: %+v", len(qs), n, qs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStreamingCancel: a streaming query streams changelog rows (op as
// text) until the client cancels it, by CancelRequest (pgconn) and by
// closing the connection; either way the query leaves the registry and
// the session (first case) goes on.
func TestStreamingCancel(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := connect(t, ts.url(""))
	createGenerator(t, c)
	ctx := context.Background()

	rr := c.PgConn().ExecParams(ctx, streamSQL, nil, nil, nil, nil)
	ops := map[string]bool{}
	for i := 0; i < 10 && rr.NextRow(); i++ {
		vals := rr.Values()
		ops[string(vals[0])] = true
		if len(vals) != 3 {
			t.Fatalf("row %q", vals)
		}
	}
	if !ops["+I"] {
		t.Fatalf("no +I rows among %v", ops)
	}
	if fd := rr.FieldDescriptions(); fd[0].Name != "op" || fd[0].DataTypeOID != pgtype.TextOID || fd[2].DataTypeOID != pgtype.Int8OID {
		t.Fatalf("fields %+v", fd)
	}
	if qs := waitQueries(t, ts.queries, 1); !qs[0].Streaming || qs[0].SQL != streamSQL || qs[0].Stats.RowsIn == 0 {
		t.Fatalf("registry %+v", qs)
	}
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	for rr.NextRow() {
	}
	_, err := rr.Close()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("after cancel: %v, want SQLSTATE 57014", err)
	}
	waitQueries(t, ts.queries, 0)
	var n int64
	if err := c.QueryRow(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("after the cancel: %d, %v", n, err)
	}

	// A second client closes its connection mid-stream (pgx's reaction
	// to a cancelled context).
	c2 := connect(t, ts.url(""))
	qctx, stop := context.WithCancel(ctx)
	rows, err := c2.Query(qctx, streamSQL)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	waitQueries(t, ts.queries, 1)
	stop()
	for rows.Next() {
	}
	rows.Close()
	c2.Close(ctx)
	waitQueries(t, ts.queries, 0)
}

// TestConcurrentSessions: many clients query at once, each getting its
// own correct result.
func TestConcurrentSessions(t *testing.T) {
	ts := newTestServer(t, Config{})
	const clients = 12
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			c, err := pgx.Connect(ctx, ts.url(""))
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			for j := 0; j < 5; j++ {
				var n int64
				lim := (i+j)%3 + 1
				if err := c.QueryRow(ctx, "SELECT SUM(a) FROM t WHERE a <= $1", lim).Scan(&n); err != nil {
					errs <- err
					return
				}
				if want := int64(lim * (lim + 1) / 2); n != want {
					errs <- fmt.Errorf("client %d: sum %d, want %d", i, n, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestPassword: with a password, SCRAM-SHA-256 lets the right one in and
// keeps a wrong one out (SQLSTATE 28P01).
func TestPassword(t *testing.T) {
	ts := newTestServer(t, Config{Password: "s3cret pass"})
	host, port, _ := net.SplitHostPort(ts.addr)
	c := connect(t, fmt.Sprintf("postgres://tester:s3cret%%20pass@%s:%s/x?sslmode=disable", host, port))
	var n int64
	if err := c.QueryRow(context.Background(), "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d %v", n, err)
	}
	_, err := pgx.Connect(context.Background(), fmt.Sprintf("postgres://tester:wrong@%s:%s/x?sslmode=disable", host, port))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("wrong password: %v", err)
	}
}

// TestCheckListen: no password means loopback only.
func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr, password string
		ok             bool
	}{
		{"127.0.0.1:5433", "", true},
		{"[::1]:5433", "", true},
		{"localhost:5433", "", true},
		{"0.0.0.0:5433", "", false},
		{":5433", "", false},
		{"0.0.0.0:5433", "pw", true},
	} {
		err := CheckListen(tc.addr, Config{Password: tc.password})
		if (err == nil) != tc.ok {
			t.Errorf("CheckListen(%q, password %q) = %v", tc.addr, tc.password, err)
		}
	}
}
