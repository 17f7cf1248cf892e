package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// readMorsels reads every morsel of src in order and renders the rows
// like scan does.
func readMorsels(t *testing.T, src *Source, spec exec.ScanSpec) ([]string, int, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	ms, err := src.Morsels(ctx, spec)
	if err != nil {
		return nil, 0, err
	}
	var rows []string
	sum := exec.Offsets{}
	for _, m := range ms {
		r, err := m.Open(ctx, mem)
		if err != nil {
			return rows, len(ms), err
		}
		for {
			b, err := r.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				r.Close()
				return rows, len(ms), err
			}
			for i := 0; i < int(b.Record.NumRows()); i++ {
				var parts []string
				for c := 0; c < int(b.Record.NumCols()); c++ {
					parts = append(parts, format.FormatValue(b.Record.Column(c), i))
				}
				rows = append(rows, strings.Join(parts, "|"))
			}
			b.Record.Release()
		}
		for k, v := range r.Offsets() {
			sum[k] += v
		}
		r.Close()
	}
	// The morsels' offsets add up to the whole scan's (ResumableMorsel).
	wspec := spec
	wspec.Progress = nil // counted by the morsels' readers above
	whole, err := src.Open(ctx, mem, wspec)
	if err != nil {
		return rows, len(ms), err
	}
	defer whole.Close()
	for {
		b, err := whole.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rows, len(ms), err
		}
		b.Record.Release()
	}
	if want := whole.Offsets(); !maps.Equal(sum, want) || len(want) == 0 {
		t.Errorf("the morsels' offsets add up to %v, the whole scan's are %v", sum, want)
	}
	return rows, len(ms), nil
}

func TestMorselsReadExactlyTheWholeScan(t *testing.T) {
	dir := t.TempDir()
	var plain, crlf, jsonl strings.Builder
	plain.WriteString("id,category,value\n")
	crlf.WriteString("value,id,category\r\n") // columns mapped by the header
	for i := range 200 {
		fmt.Fprintf(&plain, "%d,cat-%d,%d\n", i, i%7, i*3)
		if i%50 == 49 {
			plain.WriteString("\n") // blank lines are skipped wherever they fall
		}
		fmt.Fprintf(&crlf, "%d,%d,cat-%d\r\n", i*3, i, i%7)
		fmt.Fprintf(&jsonl, `{"id": %d, "category": "cat-%d", "value": %d}`+"\n", i, i%7, i*3)
	}
	plain.WriteString("200,cat-0,600") // no newline at the end
	quoted := strings.Replace(plain.String(), "cat-3,", "\"cat\n3\",", 1)
	write(t, filepath.Join(dir, "plain.csv"), plain.String())
	write(t, filepath.Join(dir, "crlf.csv"), crlf.String())
	write(t, filepath.Join(dir, "quoted.csv"), quoted)
	write(t, filepath.Join(dir, "t.jsonl"), jsonl.String())
	for _, sub := range []string{"a", "b"} {
		write(t, filepath.Join(dir, "part-"+sub+".csv"), plain.String())
	}
	pq := filepath.Join(dir, "t.parquet")
	writeParquet(t, memory.NewGoAllocator(), pq, 500, 60)

	for _, tc := range []struct {
		name, path, format string
		cols               []int
		wantSplit          bool // more morsels than files
	}{
		{"csv", "plain.csv", "csv", []int{2, 0}, true},
		{"csv crlf by header", "crlf.csv", "csv", nil, true},
		{"csv with a quoted newline is one morsel", "quoted.csv", "csv", nil, false},
		{"json lines", "t.jsonl", "json", []int{0, 2}, true},
		{"glob", "part-*.csv", "csv", nil, true},
		{"parquet row groups", "t.parquet", "parquet", []int{1, 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := connectors.Options{"path": filepath.Join(dir, tc.path), "format": tc.format}
			src, err := NewSource(opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, bs := range []int{1, 3, 1024} {
				spec := exec.ScanSpec{Columns: tc.cols, BatchSize: bs, MorselBytes: 200}
				want, _, err := scan(t, src, spec)
				if err != nil {
					t.Fatal(err)
				}
				got, n, err := readMorsels(t, src, spec)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") || len(want) == 0 {
					t.Fatalf("batch %d: %d morsels read %d rows, the whole scan %d:\n%s", bs, n, len(got), len(want), strings.Join(got, "\n"))
				}
				if split := n > len(src.Files()); split != tc.wantSplit {
					t.Fatalf("%d morsels for %d files; want split = %v", n, len(src.Files()), tc.wantSplit)
				}
				// The default morsel size keeps small files whole.
				spec.MorselBytes = 0
				if _, n, _ := readMorsels(t, src, spec); n != len(src.Files()) {
					t.Fatalf("default morsel size: %d morsels for %d small files", n, len(src.Files()))
				}
			}
		})
	}
}

func TestMorselErrorsNameTheFileLine(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,value\n")
	for i := range 100 {
		if i == 80 {
			b.WriteString("80,abc\n") // line 82
			continue
		}
		fmt.Fprintf(&b, "%d,%d\n", i, i)
	}
	path := write(t, filepath.Join(dir, "bad.csv"), b.String())
	declared := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	src, err := NewSource(connectors.Options{"path": path, "format": "csv"}, declared)
	if err != nil {
		t.Fatal(err)
	}
	spec := exec.ScanSpec{MorselBytes: 64}
	_, _, want := scan(t, src, spec)
	_, n, got := readMorsels(t, src, spec)
	if n < 3 || want == nil || got == nil || got.Error() != want.Error() || !strings.Contains(got.Error(), "bad.csv:82:") {
		t.Fatalf("%d morsels: error %v, whole scan %v (want bad.csv:82)", n, got, want)
	}
}

// TestMorselsTailIsFiner: the end of a scan is cut into smaller morsels
// (tailPiece), so workers that take morsels as they come free finish
// close together: a Parquet file's last row group splits in two where the
// others stay whole, and a CSV file's last two targets' worth of bytes
// are cut into halves, then quarters. The morsels still read exactly the
// whole scan.
func TestMorselsTailIsFiner(t *testing.T) {
	dir := t.TempDir()
	pq := filepath.Join(dir, "groups.parquet")
	writeSplitFile(t, pq, 10_000, 1000, 2)
	src, err := NewSource(connectors.Options{"path": pq, "format": "parquet"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, pf, err := openParquetFile(pq)
	if err != nil {
		t.Fatal(err)
	}
	target := int64(-1)
	for _, g := range pf.Metadata().RowGroups {
		gs := g.Columns[0].MetaData.TotalUncompressedSize + g.Columns[1].MetaData.TotalUncompressedSize
		if target < 0 || gs < target {
			target = gs // every row group reaches it, none is 1.5 times it
		}
	}
	f.Close()
	cols := []int{0, 1}
	whole, err := src.parquetRuns(pq, cols, target, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(whole) != 10 {
		t.Fatalf("not a tail: %d morsels for 10 row groups, want one each: %+v", len(whole), whole)
	}
	runs, err := src.parquetRuns(pq, cols, target, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 11 || runs[8] != (pqRun{rgLo: 8, rgHi: 9}) || runs[9].rgLo != 9 || runs[9].rowLo != 0 ||
		runs[9].rowHi <= 0 || runs[9].rowHi >= 1000 || runs[10].rowLo != runs[9].rowHi || runs[10].rowHi != 1000 {
		t.Fatalf("tail: %+v, want row groups 0-8 whole and 9 in two row ranges", runs)
	}
	spec := exec.ScanSpec{Columns: cols, BatchSize: 333, MorselBytes: target}
	want, _, err := scan(t, src, spec)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := readMorsels(t, src, spec)
	if err != nil {
		t.Fatal(err)
	}
	if n != 11 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%d morsels read %d rows, the whole scan %d", n, len(got), len(want))
	}

	var b strings.Builder
	b.WriteString("id,category,value\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "%06d,cat-%d,%06d\n", i, i%7, i*3) // 20 bytes a line
	}
	csvPath := filepath.Join(dir, "lines.csv")
	write(t, csvPath, b.String())
	csvSrc, err := NewSource(connectors.Options{"path": csvPath, "format": "csv"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const lineTarget = 2000 // 100 lines
	size := int64(b.Len())
	for _, tail := range []bool{false, true} {
		ranges, err := csvSrc.textRanges(csvPath, lineTarget, tail)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range ranges {
			n, left := r.end-r.start, size-r.start
			want := int64(lineTarget)
			if tail && left < lineTarget {
				want = lineTarget / 4
			} else if tail && left < 2*lineTarget {
				want = lineTarget / 2
			}
			// A range ends at the first newline at or after its size.
			if i < len(ranges)-1 && (n < want || n > want+20) {
				t.Fatalf("tail %v: range %d [%d, %d) of %d bytes, %d left before it: want %d to %d bytes", tail, i, r.start, r.end, n, left, want, want+20)
			}
		}
		if last := ranges[len(ranges)-1]; tail && last.end-last.start > lineTarget/4 {
			t.Fatalf("tail: the last range has %d bytes, want at most %d", last.end-last.start, lineTarget/4)
		}
	}
	cspec := exec.ScanSpec{BatchSize: 64, MorselBytes: lineTarget}
	cwant, _, err := scan(t, csvSrc, cspec)
	if err != nil {
		t.Fatal(err)
	}
	cgot, _, err := readMorsels(t, csvSrc, cspec)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cgot, "\n") != strings.Join(cwant, "\n") || len(cwant) != 1000 {
		t.Fatalf("csv morsels read %d rows, the whole scan %d", len(cgot), len(cwant))
	}
}
