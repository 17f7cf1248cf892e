package generator

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

type genRow struct {
	cat string
	v   int64
	ts  int64
}

func readAll(t *testing.T, src exec.Source, spec exec.ScanSpec) ([]genRow, exec.Offsets) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := src.Open(context.Background(), mem, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []genRow
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out, r.Offsets()
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := b.Record
		for i := 0; i < int(rec.NumRows()); i++ {
			var g genRow
			for c, f := range rec.Schema().Fields() {
				switch f.Name {
				case ColCategory:
					g.cat = rec.Column(c).(*array.String).Value(i)
				case ColValue:
					g.v = rec.Column(c).(*array.Int64).Value(i)
				case ColTS:
					g.ts = int64(rec.Column(c).(*array.Timestamp).Value(i))
				}
			}
			out = append(out, g)
		}
		rec.Release()
	}
}

func TestDeterminismAndDisorder(t *testing.T) {
	opts := connectors.Options{"rows_per_second": "0", "max_rows": "5000", "seed": "7",
		"categories": "4", "max_out_of_orderness": "2s", "start_time": "2026-01-01 00:00:00"}
	src, err := NewSource(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Bounded() {
		t.Error("max_rows set: want bounded")
	}
	a, off := readAll(t, src, exec.ScanSpec{BatchSize: 1000})
	b, _ := readAll(t, src, exec.ScanSpec{BatchSize: 7})
	if len(a) != 5000 || len(b) != 5000 || off["rows"] != 5000 {
		t.Fatalf("rows %d %d, offsets %v", len(a), len(b), off)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	cats := map[string]bool{}
	late := 0
	maxTS := int64(0)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("row %d differs by batch size: %v vs %v", i, a[i], b[i])
		}
		nominal := start + int64(i)*1000 // 1ms spacing when unlimited
		if a[i].ts > nominal || a[i].ts < nominal-2_000_000 {
			t.Fatalf("row %d ts %d outside [%d, %d]", i, a[i].ts, nominal-2_000_000, nominal)
		}
		if a[i].ts < maxTS {
			late++
		}
		maxTS = max(maxTS, a[i].ts)
		if a[i].v < 0 || a[i].v >= 1000 {
			t.Fatalf("value %d", a[i].v)
		}
		cats[a[i].cat] = true
		if r := src.Row(int64(i)); r.Category != a[i].cat || r.Value != a[i].v || r.TS.UnixMicro() != a[i].ts {
			t.Fatalf("Row(%d) = %+v, scanned %+v", i, r, a[i])
		}
	}
	if len(cats) != 4 || !cats["cat-00"] || !cats["cat-03"] {
		t.Errorf("categories %v", cats)
	}
	if late == 0 {
		t.Error("max_out_of_orderness set but no row out of order")
	}
	// Another seed, other values.
	opts["seed"] = "8"
	src2, _ := NewSource(opts, nil)
	c, _ := readAll(t, src2, exec.ScanSpec{})
	same := 0
	for i := range c {
		if c[i] == a[i] {
			same++
		}
	}
	if same > 100 {
		t.Errorf("seed 8 repeats %d rows of seed 7", same)
	}
	// Resume.
	d, _ := readAll(t, src, exec.ScanSpec{From: exec.Offsets{"rows": 4990}})
	if len(d) != 10 || d[0] != b[4990] {
		t.Errorf("resume: %d rows", len(d))
	}
}

func TestDeclaredSubset(t *testing.T) {
	declared := arrow.NewSchema([]arrow.Field{{Name: "ts", Type: format.TimestampType}, {Name: "Value", Type: arrow.PrimitiveTypes.Int64}}, nil)
	src, err := NewSource(connectors.Options{"max_rows": "3", "rows_per_second": "0"}, declared)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := readAll(t, src, exec.ScanSpec{Columns: []int{0}})
	if len(rows) != 3 || rows[1].ts != time.Date(2026, 1, 1, 0, 0, 0, 1e6, time.UTC).UnixMicro() {
		t.Errorf("rows %v", rows)
	}
	for _, bad := range []*arrow.Schema{
		arrow.NewSchema([]arrow.Field{{Name: "nope", Type: arrow.PrimitiveTypes.Int64}}, nil),
		arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String}}, nil),
	} {
		if _, err := NewSource(connectors.Options{}, bad); err == nil {
			t.Errorf("%s: want error", bad)
		}
	}
	for _, o := range []connectors.Options{{"rows_per_second": "-1"}, {"max_rows": "x"}, {"max_out_of_orderness": "soon"}, {"start_time": "yesterday"}} {
		if _, err := NewSource(o, nil); err == nil {
			t.Errorf("%v: want error", o)
		}
	}
}

func TestPacingLingerAndCancel(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src, err := NewSource(connectors.Options{"rows_per_second": "200", "max_rows": "30"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(context.Background(), mem, exec.ScanSpec{Linger: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	total, batches := 0, 0
	for {
		b, err := r.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		total += int(b.Record.NumRows())
		batches++
		b.Record.Release()
	}
	r.Close()
	el := time.Since(begin)
	// 30 rows at 200/s take ≈145ms; linger makes many small batches.
	if total != 30 || el < 120*time.Millisecond || el > 2*time.Second || batches < 5 {
		t.Errorf("rows %d in %d batches over %v", total, batches, el)
	}
	// Unbounded and slow: cancellation returns promptly.
	src, _ = NewSource(connectors.Options{"rows_per_second": "1"}, nil)
	if src.Bounded() {
		t.Error("no max_rows: want unbounded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	r, _ = src.Open(ctx, mem, exec.ScanSpec{})
	defer r.Close()
	begin = time.Now()
	_, err = r.Next(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(begin) > time.Second {
		t.Errorf("got %v after %v", err, time.Since(begin))
	}
}
