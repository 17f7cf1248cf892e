package sluice

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"
)

func TestDriver(t *testing.T) {
	db, _ := openChecked(t)
	if err := db.RegisterSource("kv", kvSchema, kvRecords([]string{"a=1", "b=2", "a=5"})); err != nil {
		t.Fatal(err)
	}
	sqldb := sql.OpenDB(NewConnector(db))
	defer sqldb.Close()
	ctx := context.Background()

	rows, err := sqldb.QueryContext(ctx, "SELECT k, SUM(v) AS s, SUM(v) / 2.0 AS half, k = 'a' AS is_a, CAST('2026-01-02 03:04:05' AS DATETIME) AS ts FROM kv GROUP BY k ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.Columns()
	if got := strings.Join(cols, ","); got != "k,s,half,is_a,ts" {
		t.Fatalf("columns %s", got)
	}
	type row struct {
		k    string
		s    int64
		half float64
		isA  bool
		ts   time.Time
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.k, &r.s, &r.half, &r.isA, &r.ts); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []row{{"a", 6, 3, true, ts}, {"b", 2, 1, false, ts}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].k != want[i].k || got[i].s != want[i].s || got[i].half != want[i].half || got[i].isA != want[i].isA || !got[i].ts.Equal(want[i].ts) {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	var n int64
	if err := sqldb.QueryRowContext(ctx, "SELECT COUNT(*) FROM kv WHERE v > 1").Scan(&n); err != nil || n != 2 {
		t.Fatalf("count = %d, %v; want 2", n, err)
	}
	if _, err := sqldb.ExecContext(ctx, "SELECT nope FROM kv"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("bad query error = %v", err)
	}
	if _, err := sqldb.QueryContext(ctx, "SELECT v FROM kv WHERE v > ?", 1); err == nil {
		t.Fatal("arguments were accepted")
	}
	if _, err := sqldb.Begin(); err == nil {
		t.Fatal("a transaction was started")
	}
}

func TestDriverOpen(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/t.csv", "a,b\n1,x\n2,y\n"); err != nil {
		t.Fatal(err)
	}
	sqldb, err := sql.Open("sluice", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	sqldb.SetMaxOpenConns(3)
	ctx := context.Background()
	if _, err := sqldb.ExecContext(ctx, "CREATE SOURCE t WITH (connector = 'file', path = 't.csv')"); err != nil {
		t.Fatal(err)
	}
	// Another connection of the pool sees the source.
	conn, err := sqldb.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var s string
	if err := conn.QueryRowContext(ctx, "SELECT b FROM t WHERE a = 2").Scan(&s); err != nil || s != "y" {
		t.Fatalf("got %q, %v; want y", s, err)
	}
}
