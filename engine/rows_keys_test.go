package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestRowsKeysNameTheGroupKey: Rows.Keys points at the group key columns
// of the schema the rows have, with and without the op column (EMIT EVERY
// … FULL drops it; the keys pointed one column too far right).
func TestRowsKeysNameTheGroupKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := Open(Config{Allocator: mem})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.Exec(ctx, `CREATE SOURCE gen WITH (connector = 'generator', rows_per_second = '1000', categories = '3')`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		emit string
		want []string
	}{
		{"EMIT CHANGES", []string{"category"}},
		{"EMIT EVERY 100ms", []string{"category"}},
		{"EMIT EVERY 100ms FULL", []string{"category"}},
	} {
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		rows, err := db.Query(qctx, "SELECT COUNT(*) AS n, category FROM gen GROUP BY category "+tc.emit)
		if err != nil {
			cancel()
			t.Fatalf("%s: %v", tc.emit, err)
		}
		var got []string
		for _, k := range rows.Keys() {
			if k < 0 || k >= rows.Schema().NumFields() {
				t.Errorf("%s: key column %d of %d", tc.emit, k, rows.Schema().NumFields())
				continue
			}
			got = append(got, rows.Schema().Field(k).Name)
		}
		rows.Close()
		cancel()
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: keys name %q, want %q (schema %v)", tc.emit, got, tc.want, rows.Schema())
		}
	}
}
