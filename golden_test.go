package sluice_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/sql"
)

var update = flag.Bool("update", false, "rewrite expected results in testdata/sql")

// goldenBatchSizes are the batch sizes every golden file runs at: results
// must not depend on where batches split.
var goldenBatchSizes = []int{1024, 3, 1}

// TestGolden runs every testdata/sql/**/*.test file (see sltRecord for the
// format) at several batch sizes, each with a checked allocator.
func TestGolden(t *testing.T) {
	var files []string
	err := filepath.WalkDir("testdata/sql", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".test") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files found")
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "testdata/sql/"), ".test")
		t.Run(name, func(t *testing.T) {
			for i, bs := range goldenBatchSizes {
				t.Run(fmt.Sprintf("batch=%d", bs), func(t *testing.T) {
					runGoldenFile(t, file, bs, *update && i == 0)
				})
			}
		})
	}
}

func runGoldenFile(t *testing.T, file string, batchSize int, rewrite bool) {
	recs, trailer, err := parseSLT(file)
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	db, err := sluice.Open(sluice.Config{Allocator: mem, BatchSize: batchSize, BaseDir: "testdata"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tmp := t.TempDir()
	ctx := context.Background()
	changed := false
	for _, r := range recs {
		text := strings.ReplaceAll(r.sql, "${TMP}", tmp)
		where := fmt.Sprintf("%s:%d", file, r.line)
		got, err := runGoldenSQL(ctx, db, text, r.has("rowsort"))
		switch {
		case r.kind == "statement" && r.ok:
			if err != nil {
				t.Errorf("%s: statement failed: %v", where, err)
			}
		case r.kind == "statement":
			if err == nil {
				t.Errorf("%s: statement succeeded, want error containing %q", where, r.errSubstr)
			} else if !strings.Contains(err.Error(), r.errSubstr) {
				if rewrite {
					r.header = "statement error " + err.Error()
					changed = true
				} else {
					t.Errorf("%s: error %q does not contain %q", where, err.Error(), r.errSubstr)
				}
			}
		default:
			if err != nil {
				t.Errorf("%s: query failed: %v", where, err)
				continue
			}
			if strings.Join(got, "\n") != strings.Join(r.expected, "\n") {
				if rewrite {
					r.expected = got
					changed = true
				} else {
					t.Errorf("%s: query result differs\n--- got\n%s\n--- want\n%s", where, strings.Join(got, "\n"), strings.Join(r.expected, "\n"))
				}
			}
		}
	}
	if changed {
		if err := writeSLT(file, recs, trailer); err != nil {
			t.Fatal(err)
		}
	}
}

// runGoldenSQL runs one or more statements and renders the rows of the
// last one as tab-separated lines.
func runGoldenSQL(ctx context.Context, db *sluice.DB, text string, rowsort bool) ([]string, error) {
	stmts, err := sql.Parse(text)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, st := range stmts {
		rows, err := db.Run(ctx, st)
		if err != nil {
			return nil, err
		}
		lines = lines[:0]
		for rows.Next() {
			lines = append(lines, renderRecord(rows.Record())...)
		}
		err = rows.Err()
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	if rowsort {
		sort.Strings(lines)
	}
	return lines, nil
}

func renderRecord(rec arrow.Record) []string {
	out := make([]string, rec.NumRows())
	cells := make([]string, rec.NumCols())
	for i := range out {
		for c, col := range rec.Columns() {
			switch {
			case col.IsNull(i):
				cells[c] = "NULL"
			default:
				v := string(format.AppendFieldValue(nil, rec.Schema().Field(c), col, i))
				if v == "" {
					v = "(empty)"
				}
				cells[c] = v
			}
		}
		out[i] = strings.Join(cells, "\t")
	}
	return out
}
