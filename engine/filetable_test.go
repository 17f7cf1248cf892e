package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/sql"
)

// A file read as a table goes through the file connector, so the
// session's sandbox confines it like a CREATE SOURCE path.
func TestFileTableSandbox(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	root, outside := t.TempDir(), t.TempDir()
	for _, dir := range []string{root, outside} {
		if err := os.WriteFile(filepath.Join(dir, "x.csv"), []byte("a,b\n1,2\n3,4\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := Open(Config{Allocator: mem, BaseDir: root, FileRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.Query(ctx, "SELECT SUM(b) FROM 'x.csv'")
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	for rows.Next() {
		rec := rows.Record()
		got += rec.NumRows()
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if got != 1 {
		t.Fatalf("got %d rows, want 1", got)
	}
	for _, q := range []string{
		"SELECT * FROM '" + filepath.Join(outside, "x.csv") + "'",
		"SELECT * FROM read_csv('../" + filepath.Base(outside) + "/x.csv')",
	} {
		_, err := db.Query(ctx, q)
		var se *sql.Error
		if err == nil || !errors.As(err, &se) || se.Pos.Line != 1 || !strings.Contains(err.Error(), "outside") {
			t.Errorf("%s: got %v, want a positioned sandbox error", q, err)
		}
	}
}
