package engine

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestSystemTable: a system table is read by qualified name (and a
// pg_catalog one unqualified), its rows come from the catalog as the
// query finds it, SHOW SOURCES does not list it, a source of its name
// hides it, and a second registration is refused.
func TestSystemTable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := Open(Config{Allocator: mem, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	names := SystemTable{
		Name:   "pg_catalog.names",
		Schema: arrow.NewSchema([]arrow.Field{{Name: "kind", Type: arrow.BinaryTypes.String}, {Name: "name", Type: arrow.BinaryTypes.String}, {Name: "cols", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil),
		Rows: func(_ context.Context, rels []Relation) ([][]any, error) {
			var out [][]any
			for _, r := range rels {
				var n any
				if r.Schema != nil {
					n = int64(r.Schema.NumFields())
				}
				out = append(out, []any{r.Kind, r.Name, n})
			}
			return out, nil
		},
	}
	if err := db.RegisterSystemTable(names); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterSystemTable(names); !errors.Is(err, ErrSystemTableExists) {
		t.Errorf("second registration: %v", err)
	}
	if err := db.Exec(ctx, `CREATE TABLE kv (k VARCHAR, v BIGINT); CREATE VIEW w AS SELECT k FROM kv`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`SELECT kind, name, cols FROM pg_catalog.names WHERE kind <> 'system' ORDER BY name`, `SELECT kind, name, cols FROM names WHERE kind <> 'system' ORDER BY name`} {
		if got := strings.Join(queryLines(t, db, q), "\n"); got != "table\tkv\t2\nview\tw\t1" {
			t.Errorf("%s = %q", q, got)
		}
	}
	if got := strings.Join(queryLines(t, db, `SHOW SOURCES`), "\n"); strings.Contains(got, "names") || !strings.Contains(got, "kv") {
		t.Errorf("SHOW SOURCES lists the system table: %q", got)
	}
	if err := db.Exec(ctx, `CREATE TABLE names (x BIGINT); INSERT INTO names VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	if got := queryLines(t, db, `SELECT * FROM names`); len(got) != 1 || got[0] != "7" {
		t.Errorf("a table of the system table's name: %q", got)
	}
	if _, err := db.Query(ctx, `SELECT * FROM other.names`); err == nil {
		t.Error("a schema that holds nothing: no error")
	}
}
