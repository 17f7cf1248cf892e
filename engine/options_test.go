package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/sql"
)

func testSession(t *testing.T) *Session {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	db, err := Open(Config{Allocator: mem, BaseDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestOptionMistakes: each mistake a new user makes in a WITH clause fails
// CREATE (not a later query, not silently) with a message naming the
// option and the nearest valid one, at the option's line:col.
func TestOptionMistakes(t *testing.T) {
	for _, tc := range []struct {
		name, stmt, want string
		line, col        int
	}{
		{"misspelt format", "CREATE SOURCE t WITH (connector = 'file', path = 't.csv',\n  formatt = 'csv')",
			`unknown option "formatt" for a file source (did you mean "format"?)`, 2, 3},
		{"misspelt generator option", "CREATE SOURCE g WITH (connector = 'generator', rows_per_secnd = '5')",
			`unknown option "rows_per_secnd" for a generator source (did you mean "rows_per_second"?)`, 1, 48},
		{"misspelt late option", "CREATE SOURCE g WITH (connector = 'generator', 'late.polcy' = 'error')",
			`unknown option "late.polcy" for a generator source (did you mean "late.policy"?)`, 1, 48},
		{"bad late.policy value", "CREATE SOURCE g WITH (connector = 'generator', 'late.policy' = 'eror')",
			`option "late.policy" must be one of 'drop', 'error', not "eror"`, 1, 48},
		{"bad idle timeout", "CREATE SOURCE g WITH (connector = 'generator', 'watermark.idle_timeout' = 'soon')",
			`invalid 'watermark.idle_timeout' = "soon"`, 1, 48},
		{"bad state.ttl", "CREATE SOURCE g WITH (connector = 'generator', 'state.ttl' = '-1h')",
			`invalid 'state.ttl' = "-1h"`, 1, 48},
		{"late sink and error policy", "CREATE SOURCE g WITH (connector = 'generator', 'late.policy' = 'error', 'late.sink' = 'x')",
			`'late.sink' routes late rows to a sink, so 'late.policy' cannot be 'error'`, 1, 73},
		{"misspelt sink option", "CREATE SINK s WITH (connector = 'file', path = 'o.csv', mdoe = 'append')",
			`unknown option "mdoe" for a file sink (did you mean "mode"?)`, 1, 57},
		{"bad sink mode", "CREATE SINK s WITH (connector = 'file', path = 'o.csv', mode = 'replace')",
			`option "mode" must be one of 'error', 'overwrite', 'append', not "replace"`, 1, 57},
		{"misspelt connector", "CREATE SOURCE g WITH (connector = 'generater')",
			`unknown source connector "generater" (did you mean "generator"?)`, 1, 23},
		{"kafka option", "CREATE SINK k WITH (connector = 'kafka', brokers = 'x:1', topic = 't', 'topic.partition' = '3')",
			`unknown option "topic.partition" for a kafka sink (did you mean "topic.partitions"?)`, 1, 72},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := testSession(t)
			err := db.Exec(context.Background(), tc.stmt)
			var se *sql.Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a positioned error", err)
			}
			if !strings.Contains(se.Msg, tc.want) {
				t.Errorf("message %q, want it to contain %q", se.Msg, tc.want)
			}
			if se.Pos.Line != tc.line || se.Pos.Col != tc.col {
				t.Errorf("at %d:%d, want %d:%d (%v)", se.Pos.Line, se.Pos.Col, tc.line, tc.col, err)
			}
			if _, ok := db.cat.LookupSource("g"); ok {
				t.Error("the source was created despite the error")
			}
		})
	}
}

// TestDeclaredColumnsNotInCSVHeader: a declared column that the CSV header
// does not name fails with the missing columns and the header's, at CREATE
// time for the first file and at the scan for a later one; a list of the
// header's width is not read by position, since that would read a misnamed
// column's neighbour silently. Named columns may come in any order.
func TestDeclaredColumnsNotInCSVHeader(t *testing.T) {
	db := testSession(t)
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(db.cfg.BaseDir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(db.cfg.BaseDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sales.csv", "id,category,value,ts,region,channel,note\n1,a,5,2026-01-01 00:00:00,eu,web,x\n")
	write("two.csv", "a,b\n1,x\n")
	write("dir/1.csv", "a,b\n1,x\n")
	write("dir/2.csv", "a,c\n2,y\n")
	ctx := context.Background()
	for _, c := range []struct {
		name, ddl string
		want      []string // in the error
		notWant   string
	}{
		{"narrower", "CREATE SOURCE s (cat VARCHAR, value BIGINT) WITH (connector = 'file', path = 'sales.csv')",
			[]string{`"cat"`, "(id, category, value, ts, region, channel, note)", "sales.csv"}, `"value"`},
		{"same width", "CREATE SOURCE s (a BIGINT, c VARCHAR) WITH (connector = 'file', path = 'two.csv')",
			[]string{`"c"`, "(a, b)", "two.csv"}, `"a"`},
	} {
		err := db.Exec(ctx, c.ddl)
		if err == nil {
			t.Errorf("%s: a declared column missing from the header was accepted", c.name)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v: want it to name %s", c.name, err, want)
			}
		}
		if strings.Contains(err.Error(), c.notWant) {
			t.Errorf("%s: %v names %s, which is in the header", c.name, err, c.notWant)
		}
	}
	if err := db.Exec(ctx, "CREATE SOURCE byname (value BIGINT, category VARCHAR) WITH (connector = 'file', path = 'sales.csv')"); err != nil {
		t.Errorf("columns named as in the header: %v", err)
	}
	// The folder's first file matches; the second lacks "b".
	if err := db.Exec(ctx, "CREATE SOURCE folder (a BIGINT, b VARCHAR) WITH (connector = 'file', path = 'dir/', format = 'csv')"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, "SELECT a, b FROM folder")
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "2.csv:1") || !strings.Contains(err.Error(), `"b"`) || !strings.Contains(err.Error(), "(a, c)") {
		t.Errorf("a later file's header without a declared column: %v, want an error at 2.csv:1 naming \"b\" and the header", err)
	}
	// Parquet: the missing column and the file's columns.
	if err := db.Exec(ctx, "CREATE SINK pq WITH (connector = 'file', path = 'p.parquet', format = 'parquet') AS SELECT 1 AS a, 'x' AS b"); err != nil {
		t.Fatal(err)
	}
	err = db.Exec(ctx, "CREATE SOURCE pqs (a BIGINT, c VARCHAR) WITH (connector = 'file', path = 'p.parquet')")
	if err == nil || !strings.Contains(err.Error(), `column "c" is not in the file`) || !strings.Contains(err.Error(), "(a, b)") {
		t.Errorf("a declared column missing from a Parquet file: %v, want it named with the file's columns", err)
	}
}

// TestShowOptions lists a connector's declared options, and refuses an
// unknown connector with a suggestion at its position.
func TestShowOptions(t *testing.T) {
	db := testSession(t)
	rows, err := db.Query(context.Background(), "SHOW OPTIONS FOR 'file'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		rec := rows.Record()
		kind, opt, def := rec.Column(1).(*array.String), rec.Column(2).(*array.String), rec.Column(4).(*array.String)
		for i := 0; i < int(rec.NumRows()); i++ {
			got[kind.Value(i)+" "+opt.Value(i)] = def.Value(i)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for k, def := range map[string]string{"source path": "", "source max.row.size": "64MB", "sink mode": "error", "source late.policy": "drop"} {
		if d, ok := got[k]; !ok || d != def {
			t.Errorf("SHOW OPTIONS FOR 'file': %s default %q (listed %v), want %q", k, d, ok, def)
		}
	}
	if _, ok := got["source rows_per_second"]; ok {
		t.Error("SHOW OPTIONS FOR 'file' lists the generator's options")
	}
	_, err = db.Query(context.Background(), "SHOW OPTIONS FOR fil")
	var se *sql.Error
	if !errors.As(err, &se) || !strings.Contains(se.Msg, `did you mean "file"?`) || se.Pos.Col != 18 {
		t.Errorf("SHOW OPTIONS FOR fil: %v, want an error at 1:18 suggesting file", err)
	}
}

// TestDescribeUnknownPointsAtName: the error is at the name, not the
// DESCRIBE keyword.
func TestDescribeUnknownPointsAtName(t *testing.T) {
	db := testSession(t)
	_, err := db.Query(context.Background(), "DESCRIBE nosuch")
	var se *sql.Error
	if !errors.As(err, &se) || se.Pos.Col != 10 || !strings.Contains(se.Msg, `"nosuch"`) {
		t.Fatalf("DESCRIBE nosuch: %v, want an error at 1:10 naming it", err)
	}
}

// TestMessagesNameTheUsersObject: a missing folder is reported as
// missing (not as an unknown format), and a sink that cannot write
// names the user's path, not the hidden temporary file.
func TestMessagesNameTheUsersObject(t *testing.T) {
	db := testSession(t)
	err := db.Exec(context.Background(), "CREATE SOURCE s WITH (connector = 'file', path = '/nonexist/dir/')")
	var se *sql.Error
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "/nonexist/dir/ does not exist") || se.Pos.Col != 43 {
		t.Errorf("missing folder: %v, want it said to not exist at the path option (1:43)", err)
	}
	// /proc takes no new files, even for root.
	err = db.Exec(context.Background(), "CREATE SINK o WITH (connector = 'file', path = '/proc/out.csv', mode = 'overwrite') AS SELECT 1 AS a")
	if err == nil || !strings.Contains(err.Error(), "cannot write /proc/out.csv") || strings.Contains(err.Error(), ".tmp-") {
		t.Errorf("unwritable sink: %v, want it to name /proc/out.csv and no temporary file", err)
	}
}
