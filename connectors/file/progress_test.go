package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// TestScanProgressReachesTheTotal: a batch scan, whole or split into
// morsels, expects the files' bytes (text) or rows (Parquet) and
// has done exactly that much at its end, each piece counted once.
func TestScanProgressReachesTheTotal(t *testing.T) {
	dir := t.TempDir()
	var csv, jsonl strings.Builder
	csv.WriteString("id,category,value\n")
	for i := range 300 {
		fmt.Fprintf(&csv, "%d,cat-%d,%d\n", i, i%7, i*3)
		fmt.Fprintf(&jsonl, `{"id": %d, "category": "cat-%d", "value": %d}`+"\n", i, i%7, i*3)
	}
	write(t, filepath.Join(dir, "a.csv"), csv.String())
	write(t, filepath.Join(dir, "b.csv"), csv.String())
	write(t, filepath.Join(dir, "t.jsonl"), jsonl.String())
	writeParquet(t, memory.NewGoAllocator(), filepath.Join(dir, "t.parquet"), 500, 60)
	size := func(names ...string) int64 {
		var n int64
		for _, name := range names {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			n += st.Size()
		}
		return n
	}
	for _, tc := range []struct {
		name, path, format string
		unit               exec.ProgressUnit
		want               int64
	}{
		{"csv glob", "*.csv", "csv", exec.ProgressBytes, size("a.csv", "b.csv")},
		{"json lines", "t.jsonl", "json", exec.ProgressBytes, size("t.jsonl")},
		{"parquet", "t.parquet", "parquet", exec.ProgressRows, 500},
	} {
		src, err := NewSource(connectors.Options{"path": filepath.Join(dir, tc.path), "format": tc.format}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, morsels := range []int64{0, 200} {
			p := &exec.ScanProgress{}
			spec := exec.ScanSpec{BatchSize: 50, MorselBytes: morsels, Progress: p}
			rows, err := readProgress(t, src, spec, morsels > 0)
			if err != nil {
				t.Fatal(err)
			}
			s := p.Snapshot()
			if s.Total[tc.unit] != tc.want || s.Done[tc.unit] != tc.want || rows == 0 {
				t.Errorf("%s, morsel bytes %d: done %d of %d, want %d of %d", tc.name, morsels, s.Done[tc.unit], s.Total[tc.unit], tc.want, tc.want)
			}
			for u := range exec.ProgressRows + 1 {
				if u != tc.unit && s.Total[u] != 0 {
					t.Errorf("%s: unit %d has a total %d", tc.name, u, s.Total[u])
				}
			}
		}
	}
}

// readProgress reads a whole scan of src, or its morsels one after the
// other, and counts the rows.
func readProgress(t *testing.T, src *Source, spec exec.ScanSpec, split bool) (int, error) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	var readers []func() (exec.SourceReader, error)
	if split {
		ms, err := src.Morsels(ctx, spec)
		if err != nil {
			return 0, err
		}
		for _, m := range ms {
			readers = append(readers, func() (exec.SourceReader, error) { return m.Open(ctx, mem) })
		}
	} else {
		readers = append(readers, func() (exec.SourceReader, error) { return src.Open(ctx, mem, spec) })
	}
	rows := 0
	for _, open := range readers {
		r, err := open()
		if err != nil {
			return rows, err
		}
		for {
			b, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return rows, err
			}
			rows += int(b.Record.NumRows())
			b.Record.Release()
		}
		r.Close()
	}
	return rows, nil
}
