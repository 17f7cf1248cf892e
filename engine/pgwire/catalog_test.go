package pgwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// runPsql runs the real psql against ts with one command, unaligned and
// without headers' decoration (-A), and returns its output.
func runPsql(t *testing.T, ts *testServer, command string, flags ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("psql")
	if err != nil {
		t.Fatal("psql is not installed (Debian's postgresql-client; .ci/run installs it)")
	}
	host, port, _ := net.SplitHostPort(ts.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"-X", "-h", host, "-p", port, "-U", "tester", "-d", "sluice", "-v", "ON_ERROR_STOP=1"}, flags...)
	cmd := exec.CommandContext(ctx, path, append(args, "-c", command)...)
	cmd.Env = []string{"PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPsqlCatalog: psql's \dt, \d and \d name, which query pg_catalog,
// list the session's sources and sinks and describe a source's columns
// with PostgreSQL's type names; a pattern filters; an unknown name is
// reported as psql reports it; version(), current_database() and SHOW
// server_version answer as PostgreSQL's do, over the simple protocol
// (psql) and the extended one (pgx).
func TestPsqlCatalog(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := connect(t, ts.url(""))
	ctx := context.Background()
	if _, err := c.Exec(ctx, `CREATE SINK totals WITH (connector = 'file', path = 'out.csv', format = 'csv')`); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cmd   string
		flags []string
		want  []string // lines of the output
		fails string   // the error psql prints instead
	}{
		{cmd: `\dt`, flags: []string{"-A"}, want: []string{"Schema|Name|Type|Owner", "public|t|source|tester", "(1 row)"}},
		{cmd: `\d`, flags: []string{"-A"}, want: []string{"Schema|Name|Type|Owner", "public|t|source|tester", "public|totals|sink|tester", "(2 rows)"}},
		{cmd: `\dt t*`, flags: []string{"-A"}, want: []string{"public|t|source|tester", "(1 row)"}},
		{cmd: `\d t`, flags: []string{"-A"}, want: []string{`Table "public.t"`, "Column|Type|Collation|Nullable|Default",
			"a|bigint|||", "b|text|||", "ts|timestamp without time zone|||", "x|double precision|||"}},
		{cmd: `\l`, flags: []string{"-A"}, want: []string{"sluice|tester|UTF8|C|C||libc|"}},
		{cmd: `\d nope`, fails: `Did not find any relation named "nope".`},
		{cmd: `SELECT version()`, flags: []string{"-At"}, want: []string{"PostgreSQL 14.0 (sluice streaming SQL), compiled by Go"}},
		{cmd: `select current_database(), current_user`, flags: []string{"-A"}, want: []string{"current_database|current_user", "sluice|tester"}},
		{cmd: `SHOW server_version`, flags: []string{"-A"}, want: []string{"server_version", "14.0"}},
	} {
		out, err := runPsql(t, ts, tt.cmd, tt.flags...)
		if tt.fails != "" {
			if err == nil || !strings.Contains(out, tt.fails) {
				t.Errorf("%s: %v\n%s\nwant a failure with %q", tt.cmd, err, out, tt.fails)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", tt.cmd, err, out)
			continue
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, w := range tt.want {
			found := false
			for _, l := range lines {
				found = found || strings.TrimSpace(l) == w
			}
			if !found {
				t.Errorf("%s: output lacks the line %q:\n%s", tt.cmd, w, out)
			}
		}
		if tt.cmd == `\dt` && strings.Contains(out, "totals") {
			t.Errorf(`\dt lists the sink: %s`, out)
		}
	}
	// The extended protocol (pgx prepares each query).
	var version, db, sv string
	if err := c.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil || !strings.HasPrefix(version, "PostgreSQL 14.0") {
		t.Errorf("version() = %q, %v", version, err)
	}
	if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "sluice" {
		t.Errorf("current_database() = %q, %v", db, err)
	}
	if err := c.QueryRow(ctx, "SHOW server_version").Scan(&sv); err != nil || sv != "14.0" {
		t.Errorf("SHOW server_version = %q, %v", sv, err)
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 3 {
		t.Errorf("an ordinary query after the catalog ones: %d, %v", n, err)
	}
}

// TestCatalogTables: information_schema and pg_catalog are tables any
// query reads (filters, joins, ORDER BY, unqualified pg_ names), over
// the shared catalog as it is when the query runs, through pgx (extended
// protocol) and psql (simple), as BI tools query them.
func TestCatalogTables(t *testing.T) {
	ts := newTestServer(t, Config{})
	c := connect(t, ts.url(""))
	ctx := context.Background()
	for _, ddl := range []string{
		`CREATE SINK totals WITH (connector = 'file', path = 'out.csv', format = 'csv')`,
		`CREATE VIEW big AS SELECT a, b FROM t WHERE a > 1`,
		`CREATE TABLE kv (k VARCHAR NOT NULL, v DECIMAL(10,2), PRIMARY KEY (k))`,
	} {
		if _, err := c.Exec(ctx, ddl); err != nil {
			t.Fatalf("%s: %v", ddl, err)
		}
	}
	rowsOf := func(q string) []string {
		t.Helper()
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			var cells []string
			for _, v := range vals {
				cells = append(cells, fmt.Sprint(v))
			}
			out = append(out, strings.Join(cells, "|"))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return out
	}
	for _, tt := range []struct {
		q    string
		want []string
	}{
		{`SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
			[]string{"big|VIEW", "kv|BASE TABLE", "t|BASE TABLE", "totals|FOREIGN"}},
		{`SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position`,
			[]string{"a|bigint|YES", "b|text|YES", "ts|timestamp without time zone|YES", "x|double precision|YES"}},
		{`SELECT column_name, udt_name, numeric_precision, numeric_scale FROM information_schema.columns WHERE table_name = 'kv' ORDER BY 1`,
			[]string{"k|text|<nil>|<nil>", "v|numeric|10|2"}},
		{`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'big'`,
			[]string{"a", "b"}},
		{`SELECT table_name, view_definition FROM information_schema.views`,
			[]string{"big|SELECT a, b FROM t WHERE a > 1"}},
		{`SELECT schema_name FROM information_schema.schemata ORDER BY schema_name`,
			[]string{"information_schema", "pg_catalog", "public"}},
		{`SELECT c.relname, c.relkind, a.attname, ty.typname FROM pg_catalog.pg_class c
			JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
			JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
			WHERE n.nspname = 'public' AND c.relname = 't' ORDER BY a.attnum`,
			[]string{"t|r|a|int8", "t|r|b|text", "t|r|ts|timestamp", "t|r|x|float8"}},
		{`SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 2200 ORDER BY relname`, []string{"kv", "t"}},
		{`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`, []string{"kv", "t"}},
		{`SELECT nspname FROM pg_namespace ORDER BY nspname`, []string{"information_schema", "pg_catalog", "public"}},
		{`SELECT datname FROM pg_database`, []string{"sluice"}},
		{`SELECT setting FROM pg_settings WHERE name = 'server_version'`, []string{"14.0"}},
		{`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'information_schema'`, []string{"4"}},
		{`SELECT a FROM public.t ORDER BY a`, []string{"1", "2", "3"}},
	} {
		if got := rowsOf(tt.q); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tt.q, got, tt.want)
		}
	}
	// With parameters, as JDBC and BI tools send them (extended protocol).
	var colNames []string
	prow, err := c.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, "public", "t")
	if err != nil {
		t.Fatal(err)
	}
	for prow.Next() {
		var n string
		if err := prow.Scan(&n); err != nil {
			t.Fatal(err)
		}
		colNames = append(colNames, n)
	}
	if err := prow.Err(); err != nil || strings.Join(colNames, ",") != "a,b,ts,x" {
		t.Errorf("columns of t with parameters: %q, %v", colNames, err)
	}
	// DDL shows at once: the rows are the catalog's when the query runs.
	if _, err := c.Exec(ctx, `DROP VIEW big`); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'VIEW'`); len(got) != 0 {
		t.Errorf("a dropped view is still listed: %q", got)
	}
	// A schema that holds nothing is an error at the name.
	_, err = c.Exec(ctx, `SELECT * FROM other.t`)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42P01" && pe.Code != "42000" || pe.Position == 0 {
		t.Errorf("other.t: %v (code %v)", err, pe)
	}
	// psql, over the simple protocol.
	out, err := runPsql(t, ts, `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position`, "-At")
	if err != nil || strings.TrimSpace(out) != "a|bigint\nb|text\nts|timestamp without time zone\nx|double precision" {
		t.Errorf("psql information_schema.columns: %v\n%s", err, out)
	}
	out, err = runPsql(t, ts, `SELECT table_name FROM information_schema.tables WHERE table_schema='public' ORDER BY 1`, "-At")
	if err != nil || strings.TrimSpace(out) != "kv\nt\ntotals" {
		t.Errorf("psql information_schema.tables: %v\n%s", err, out)
	}
}
