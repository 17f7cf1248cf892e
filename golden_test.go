package sluice_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/bufpool"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/sql"
)

var update = flag.Bool("update", false, "rewrite expected results in testdata/sql")

// goldenRuns are the batch sizes and parallelisms every golden file runs
// at: results must not depend on where batches split, nor on how many
// workers read the morsels. At parallelism 4 the morsels are made tiny
// (goldenMorselBytes) so that even the small test files split into many
// byte ranges and row groups; batch size 1 is left out there, the 1024/3
// pair already crosses every morsel boundary with both batch shapes.
var goldenRuns = []struct{ batch, parallelism int }{{1024, 1}, {3, 1}, {1, 1}, {1024, 4}, {3, 4}}

// goldenMorselBytes is the morsel size of the parallel golden runs.
const goldenMorselBytes = 64

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
			for i, run := range goldenRuns {
				t.Run(fmt.Sprintf("batch=%d/parallelism=%d", run.batch, run.parallelism), func(t *testing.T) {
					runGoldenFile(t, file, run.batch, run.parallelism, *update && i == 0)
				})
			}
		})
	}
}

func runGoldenFile(t *testing.T, file string, batchSize, parallelism int, rewrite bool) {
	recs, trailer, err := parseSLT(file)
	if err != nil {
		t.Fatal(err)
	}
	// The recycling allocator the binary uses: a buffer used after its
	// Release is then overwritten by the next batch, so such a bug shows
	// up as a wrong result here instead of hiding behind the GC.
	mem := memory.NewCheckedAllocator(bufpool.New())
	defer mem.AssertSize(t, 0)
	cfg := sluice.Config{Allocator: mem, BatchSize: batchSize, Parallelism: parallelism, BaseDir: "testdata", Log: io.Discard}
	if parallelism > 1 {
		cfg.MorselBytes = goldenMorselBytes
	}
	db, err := sluice.Open(cfg)
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
		got, err := runGoldenSQL(ctx, db, text, r)
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
//
// A streaming query (one with EMIT) is checked twice over. Its output is
// rendered as follows: EMIT CHANGES (option `changelog`) prints the exact
// changelog, op column first, as produced with one-row batches — the
// row-by-row sequence (option `folded`: its fold, for queries over several
// inputs, whose interleaving varies) — and, at the file's batch size, its
// fold must equal the fold of that sequence; EMIT EVERY … FULL prints the last snapshot;
// EMIT EVERY in update mode prints the folded table; EMIT FINAL prints the
// appended rows. Then, unless the query has option `late` (rows dropped as
// late make it differ on purpose), the final table must equal the same query
// run in batch mode without its EMIT clause — the batch ≡ streaming
// property of DESIGN.md.
func runGoldenSQL(ctx context.Context, db *sluice.DB, text string, rec *sltRecord) ([]string, error) {
	stmts, err := sql.Parse(text)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, st := range stmts {
		q, ok := st.(*sql.Query)
		if ok && q.Emit != nil {
			lines, err = runGoldenStream(ctx, db, text, q, rec)
		} else {
			lines, err = runGoldenStatement(ctx, db, st)
		}
		if err != nil {
			return nil, err
		}
	}
	if rec != nil && rec.has("rowsort") {
		sort.Strings(lines)
	}
	return lines, nil
}

// goldenOutput is what one statement returned.
type goldenOutput struct {
	records [][]string // rendered rows per record
	ops     bool       // first column is the changelog op
	keys    []int      // an upsert result's key columns (op counted); nil otherwise
}

func (o goldenOutput) all() []string {
	var out []string
	for _, r := range o.records {
		out = append(out, r...)
	}
	return out
}

func collectGolden(ctx context.Context, db *sluice.DB, st sql.Statement) (goldenOutput, error) {
	rows, err := db.Run(ctx, st)
	if err != nil {
		return goldenOutput{}, err
	}
	out := goldenOutput{ops: rows.Changelog(), keys: rows.Keys()}
	for rows.Next() {
		out.records = append(out.records, renderRecord(rows.Record()))
	}
	err = rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return out, err
}

func runGoldenStatement(ctx context.Context, db *sluice.DB, st sql.Statement) ([]string, error) {
	out, err := collectGolden(ctx, db, st)
	return out.all(), err
}

func runGoldenStream(ctx context.Context, db *sluice.DB, text string, q *sql.Query, rec *sltRecord) ([]string, error) {
	var shown, final []string
	switch {
	case q.Emit.Kind == sql.EmitChanges:
		// The exact sequence, row by row.
		exact, err := withBatchSize(ctx, db, 1, func() (goldenOutput, error) { return collectGolden(ctx, db, q) })
		if err != nil {
			return nil, err
		}
		shown = exact.all()
		if !exact.ops {
			final = append([]string(nil), shown...)
			sort.Strings(final)
			break
		}
		if final, err = stream.FoldLines(shown); err != nil {
			return nil, err
		}
		if rec != nil && rec.has("folded") {
			// Over several inputs the row-by-row sequence depends on
			// how their arrivals interleave: show the folded table.
			shown = final
		}
		// At the file's batch size the changelog may be compacted
		// differently, but it must fold to the same table.
		out, err := collectGolden(ctx, db, q)
		if err != nil {
			return nil, err
		}
		got, err := stream.FoldLines(out.all())
		if err != nil {
			return nil, err
		}
		if strings.Join(got, "\n") != strings.Join(final, "\n") {
			return nil, fmt.Errorf("changelog folds differently at this batch size:\n%s\nvs one-row batches:\n%s", strings.Join(got, "\n"), strings.Join(final, "\n"))
		}
	default:
		out, err := collectGolden(ctx, db, q)
		if err != nil {
			return nil, err
		}
		switch {
		case q.Emit.Kind == sql.EmitEvery && q.Emit.Full:
			if n := len(out.records); n > 0 {
				shown = out.records[n-1]
			}
		case out.ops && out.keys != nil:
			// Update mode emits each changed key's new row (+U) without
			// retracting the old one: the table is the last row per key,
			// whichever triggers happened to fire under this load.
			if shown, err = foldUpserts(out.all(), out.keys); err != nil {
				return nil, err
			}
		case out.ops:
			if shown, err = stream.FoldLines(out.all()); err != nil {
				return nil, err
			}
		default:
			shown = out.all()
		}
		final = append([]string(nil), shown...)
		sort.Strings(final)
	}
	if rec == nil || !rec.has("late") {
		batchText := strings.TrimSpace(text[q.Position().Offset:q.Emit.Pos.Offset])
		stmts, err := sql.Parse(batchText)
		if err != nil {
			return nil, fmt.Errorf("batch twin: %w", err)
		}
		want, err := runGoldenStatement(ctx, db, stmts[0])
		if err != nil {
			return nil, fmt.Errorf("batch twin: %w", err)
		}
		sort.Strings(want)
		if strings.Join(final, "\n") != strings.Join(want, "\n") {
			return nil, fmt.Errorf("streaming result differs from batch:\n%s\nbatch:\n%s", strings.Join(final, "\n"), strings.Join(want, "\n"))
		}
	}
	return shown, nil
}

// foldUpserts folds an upsert changelog rendered one row per line (op
// first, keys counting it) into the sorted rows it leaves: +I and +U
// replace the key's row, -U and -D remove it.
func foldUpserts(lines []string, keys []int) ([]string, error) {
	table := map[string]string{}
	for _, l := range lines {
		cells := strings.Split(l, "\t")
		key := make([]string, len(keys))
		for i, k := range keys {
			if k >= len(cells) {
				return nil, fmt.Errorf("upsert key column %d beyond line %q", k, l)
			}
			key[i] = cells[k]
		}
		id := strings.Join(key, "\t")
		switch cells[0] {
		case exec.OpInsert.String(), exec.OpUpdateAfter.String():
			table[id] = strings.Join(cells[1:], "\t")
		case exec.OpUpdateBefore.String(), exec.OpDelete.String():
			if _, ok := table[id]; !ok {
				return nil, fmt.Errorf("upsert changelog removes a key it never emitted: %s", l)
			}
			delete(table, id)
		default:
			return nil, fmt.Errorf("bad op in changelog line %q", l)
		}
	}
	out := make([]string, 0, len(table))
	for _, row := range table {
		out = append(out, row)
	}
	sort.Strings(out)
	return out, nil
}

// withBatchSize runs f with the session's batch size set to n.
func withBatchSize(ctx context.Context, db *sluice.DB, n int, f func() (goldenOutput, error)) (goldenOutput, error) {
	prev := db.BatchSize()
	if err := db.Exec(ctx, fmt.Sprintf("SET batch_size = %d", n)); err != nil {
		return goldenOutput{}, err
	}
	defer db.Exec(ctx, fmt.Sprintf("SET batch_size = %d", prev))
	return f()
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
