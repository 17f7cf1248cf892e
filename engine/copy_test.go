package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// queryStrings runs q and renders its rows as "a|b" strings.
func queryStrings(t *testing.T, db *Session, q string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		rec := rows.Record()
		for r := 0; r < int(rec.NumRows()); r++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				cells = append(cells, rec.Column(c).ValueStr(r))
			}
			out = append(out, strings.Join(cells, "|"))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

func TestCopyTo(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in.csv"), []byte("k,v\na,1\nb,2\na,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(Config{Allocator: mem, BaseDir: dir, FileRoot: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	script := `COPY (SELECT k, SUM(v) AS total FROM 'in.csv' GROUP BY k ORDER BY k) TO 'out.parquet';
		COPY (SELECT k, v FROM 'in.csv' WHERE v > 1 ORDER BY v) TO 'out.csv' (HEADER, DELIMITER ';');
		COPY (SELECT k FROM 'in.csv' ORDER BY v) TO 'out.data' (FORMAT json);
		CREATE TABLE kt AS SELECT DISTINCT k FROM 'in.csv';
		COPY kt TO 'kt.csv'`
	if err := db.Exec(ctx, script); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(queryStrings(t, db, "SELECT k, total FROM 'out.parquet' ORDER BY k"), ","); got != "a|4,b|2" {
		t.Errorf("parquet: got %s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.csv")); string(b) != "k;v\nb;2\na;3\n" {
		t.Errorf("csv: got %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out.data")); string(b) != "{\"k\":\"a\"}\n{\"k\":\"b\"}\n{\"k\":\"a\"}\n" {
		t.Errorf("json: got %q", b)
	}
	if got := strings.Join(queryStrings(t, db, "SELECT k FROM 'kt.csv' ORDER BY k"), ","); got != "a,b" {
		t.Errorf("table copy: got %s", got)
	}
	// A failing query leaves no file; a path outside the sandbox is refused.
	if err := db.Exec(ctx, "COPY (SELECT CAST(k AS INT) FROM 'in.csv') TO 'bad.csv'"); err == nil {
		t.Error("a failing COPY succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.csv")); !os.IsNotExist(err) {
		t.Errorf("a failing COPY left bad.csv: %v", err)
	}
	if err := db.Exec(ctx, "COPY (SELECT 1) TO '"+filepath.Join(outside, "x.csv")+"'"); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("COPY outside the sandbox: %v", err)
	}
	if err := db.Exec(ctx, "COPY (SELECT 1) TO 'x.csv' (LEVEL 3)"); err == nil || !strings.Contains(err.Error(), "unsupported COPY option level") {
		t.Errorf("unknown option: %v", err)
	}
	// COMPRESSION picks the Parquet codec (and the file reads back); it
	// is refused, at the option, for another format or an unknown codec.
	for codec, want := range map[string]format.CompressionCodec{"zstd": parquet.Zstd.CompressionCodec(), "snappy": parquet.Snappy.CompressionCodec(), "gzip": parquet.Gzip.CompressionCodec(), "uncompressed": parquet.Uncompressed.CompressionCodec()} {
		if err := db.Exec(ctx, "COPY (SELECT k, v FROM 'in.csv' ORDER BY v) TO 'c.parquet' (FORMAT parquet, COMPRESSION "+codec+")"); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(dir, "c.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		pf, err := parquet.OpenFile(f, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		if got := pf.Metadata().RowGroups[0].Columns[0].MetaData.Codec; got != want {
			t.Errorf("COMPRESSION %s: the file's codec is %v", codec, got)
		}
		f.Close()
		if got := strings.Join(queryStrings(t, db, "SELECT k, v FROM 'c.parquet'"), ","); got != "a|1,b|2,a|3" {
			t.Errorf("COMPRESSION %s: read back %s", codec, got)
		}
	}
	for q, want := range map[string]string{
		"COPY (SELECT 1) TO 'x.csv' (HEADER, COMPRESSION zstd)": `line 1:37: COPY TO "x.csv": file sink: 'compression' applies to Parquet only, not csv`,
		"COPY (SELECT 1) TO 'x.parquet' (COMPRESSION zip)":      `line 1:33: COPY TO "x.parquet": option "compression" must be one of`,
	} {
		if err := db.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %s", q, err, want)
		}
	}
	// A sink error names COPY TO and the path, not the temporary sink, and
	// leaves no file: Parquet's INTERVAL holds no negative interval.
	err = db.Exec(ctx, "COPY (SELECT 1 AS a, INTERVAL '-1' DAY AS d) TO 'neg.parquet'")
	if err == nil || !strings.Contains(err.Error(), `COPY TO "neg.parquet": `) || !strings.Contains(err.Error(), `parquet sink: column "d"`) || strings.Contains(err.Error(), "$") {
		t.Errorf("COPY of a negative interval to Parquet: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "neg.parquet")); !os.IsNotExist(err) {
		t.Errorf("a refused COPY left neg.parquet: %v", err)
	}
	// A list goes to Parquet and reads back.
	if err := db.Exec(ctx, "COPY (SELECT 1 AS a, [1, 2] AS l) TO 'lists.parquet'"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(queryStrings(t, db, "SELECT CAST(l AS VARCHAR) FROM 'lists.parquet'"), ","); got != "[1, 2]" {
		t.Errorf("list copy: got %s", got)
	}
}
