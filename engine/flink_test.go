package engine

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// A Flink job of connector tables and a windowed INSERT runs unchanged:
// the output table, whose directory does not exist yet, is the sink.
func TestFlinkConnectorTables(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	dir := t.TempDir()
	in := "user,amount,ts\na,1,2026-01-01 00:00:01\nb,2,2026-01-01 00:00:03\na,3,2026-01-01 00:00:12\n"
	if err := os.WriteFile(filepath.Join(dir, "clicks.csv"), []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(Config{Allocator: mem, BaseDir: dir, FileRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	job := `
CREATE TABLE clicks (
  ` + "`user`" + ` STRING, amount BIGINT, ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'clicks.csv', 'format' = 'csv');
CREATE TABLE totals (window_start TIMESTAMP(3), ` + "`user`" + ` STRING, total BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'out/', 'format' = 'csv');
INSERT INTO totals
SELECT window_start, ` + "`user`" + `, SUM(amount)
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '10' SECONDS))
GROUP BY window_start, window_end, ` + "`user`" + `;`
	if err := db.Exec(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "*.csv"))
	if len(files) != 1 {
		t.Fatalf("output files: %v", files)
	}
	b, _ := os.ReadFile(files[0])
	want := "window_start,user,total\n2026-01-01 00:00:00,a,1\n2026-01-01 00:00:00,b,2\n2026-01-01 00:00:10,a,3\n"
	if got := string(b); got != want && sortedLines(got) != sortedLines(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if err := db.Exec(context.Background(), "CREATE TABLE nope (a INT) WITH ('connector' = 'nosuch')"); err == nil {
		t.Fatal("an unknown connector was accepted")
	}
	// A declared column the file lacks: the file is there to read, so the
	// source's error is the statement's (it was turned into a sink, and a
	// SELECT then failed with 'unknown source').
	err = db.Exec(context.Background(), "CREATE TABLE bad (`user` STRING, nope BIGINT) WITH ('connector' = 'filesystem', 'path' = 'clicks.csv', 'format' = 'csv')")
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "clicks.csv") {
		t.Fatalf("missing column: got %v, want an error naming nope and clicks.csv", err)
	}
	if _, ok := db.cat.LookupSink("bad"); ok {
		t.Fatal("a table over a file it cannot read was made a sink")
	}
	// A directory holding no data of the format yet (only a hidden file
	// and another format's) is an output not written: the sink. One
	// holding a CSV that lacks a declared column is that source's error.
	for name, files := range map[string][]string{"pending": {".tmp.csv", "README.txt"}, "held": {"part-0.csv"}} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, name, f), []byte("user\na\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err := db.Exec(context.Background(), "CREATE TABLE "+name+" (`user` STRING, nope BIGINT) WITH ('connector' = 'filesystem', 'path' = '"+name+"/', 'format' = 'csv')")
		_, sink := db.cat.LookupSink(name)
		if name == "pending" && (err != nil || !sink) {
			t.Fatalf("a directory without data: got %v (sink %v), want the table made a sink", err, sink)
		}
		if name == "held" && (err == nil || sink || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "part-0.csv")) {
			t.Fatalf("a directory with a CSV lacking a column: got %v (sink %v), want its error naming nope and part-0.csv", err, sink)
		}
	}
}

func sortedLines(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A Flink job over a datagen table (random values, a sequence, processing
// timestamps) and a windowed INSERT runs unchanged; every generated row
// lands in one of the windows.
func TestFlinkDatagenJob(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	dir := t.TempDir()
	db, err := Open(Config{Allocator: mem, BaseDir: dir, FileRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	job := `
CREATE TABLE orders (
  order_id BIGINT, price DECIMAL(10, 2), buyer STRING, order_time TIMESTAMP(3),
  WATERMARK FOR order_time AS order_time - INTERVAL '1' SECOND
) WITH (
  'connector' = 'datagen', 'rows-per-second' = '0',
  'fields.order_id.kind' = 'sequence', 'fields.order_id.start' = '1', 'fields.order_id.end' = '5000',
  'fields.price.min' = '1', 'fields.price.max' = '100', 'fields.buyer.length' = '5'
);
CREATE TABLE counts (window_start TIMESTAMP(3), n BIGINT, ids BIGINT)
  WITH ('connector' = 'filesystem', 'path' = 'out/', 'format' = 'csv');
INSERT INTO counts
SELECT window_start, COUNT(*), SUM(order_id)
FROM TABLE(TUMBLE(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' SECOND))
GROUP BY window_start, window_end;`
	if err := db.Exec(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(context.Background(), "CREATE SOURCE back WITH (connector = 'file', path = 'out/', format = 'csv')"); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(context.Background(), "SELECT SUM(n), SUM(ids) FROM back")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got string
	for rows.Next() {
		got = rows.Record().Column(0).ValueStr(0) + " " + rows.Record().Column(1).ValueStr(0)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := "5000 12502500"; got != want {
		t.Fatalf("windows hold %q (rows, sum of ids), want %q: each of the 5000 generated rows once", got, want)
	}
}
