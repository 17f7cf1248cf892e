package pgwire

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
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
