package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// morselTestSource is a MorselSource over in-memory records: each record
// is one morsel, replayed in batches of batch rows; failAt marks morsels
// whose reader fails after its first batch.
type morselTestSource struct {
	schema *arrow.Schema
	recs   []arrow.Record
	batch  int
	failAt map[int]bool
	// opened, when set, is called as a morsel's reader opens; before, when
	// set, before each of its batches (pos: rows returned so far); an
	// error from it is the reader's.
	opened func(morsel int)
	before func(ctx context.Context, morsel int, pos int64) error
}

var _ MorselSource = (*morselTestSource)(nil)

func (s *morselTestSource) Schema() *arrow.Schema { return s.schema }
func (s *morselTestSource) Bounded() bool         { return true }

// Open reads every morsel in order, as one reader.
func (s *morselTestSource) Open(ctx context.Context, mem memory.Allocator, spec ScanSpec) (SourceReader, error) {
	ms, _ := s.Morsels(ctx, spec)
	return &seqReader{ms: ms, mem: mem}, nil
}

func (s *morselTestSource) Morsels(ctx context.Context, spec ScanSpec) ([]Morsel, error) {
	out := make([]Morsel, len(s.recs))
	for i := range s.recs {
		out[i] = testMorsel{s: s, i: i, cols: spec.Columns}
	}
	return out, nil
}

type testMorsel struct {
	s    *morselTestSource
	i    int
	cols []int
}

func (m testMorsel) String() string { return fmt.Sprintf("morsel %d", m.i) }

func (m testMorsel) Open(ctx context.Context, mem memory.Allocator) (SourceReader, error) {
	if m.s.opened != nil {
		m.s.opened(m.i)
	}
	return &testMorselReader{m: m}, nil
}

type testMorselReader struct {
	m   testMorsel
	pos int64
}

func (r *testMorselReader) Next(ctx context.Context) (Batch, error) {
	rec := r.m.s.recs[r.m.i]
	if r.m.s.before != nil {
		if err := r.m.s.before(ctx, r.m.i, r.pos); err != nil {
			return Batch{}, err
		}
	}
	if r.pos > 0 && r.m.s.failAt[r.m.i] {
		return Batch{}, fmt.Errorf("t.csv: morsel %d: bad row", r.m.i)
	}
	if r.pos >= rec.NumRows() {
		return Batch{}, io.EOF
	}
	end := min(r.pos+int64(r.m.s.batch), rec.NumRows())
	sl := rec.NewSlice(r.pos, end)
	r.pos = end
	if r.m.cols == nil {
		return Batch{Record: sl}, nil
	}
	defer sl.Release()
	arrs := make([]arrow.Array, len(r.m.cols))
	fields := make([]arrow.Field, len(r.m.cols))
	for i, c := range r.m.cols {
		arrs[i], fields[i] = sl.Column(c), sl.Schema().Field(c)
	}
	return Batch{Record: array.NewRecord(arrow.NewSchema(fields, nil), arrs, sl.NumRows())}, nil
}

func (r *testMorselReader) Offsets() Offsets    { return nil }
func (r *testMorselReader) Partitions() []int32 { return []int32{0} }
func (r *testMorselReader) Close() error        { return nil }

// seqReader reads morsels one after the other: the serial reference.
type seqReader struct {
	ms  []Morsel
	mem memory.Allocator
	cur SourceReader
}

func (r *seqReader) Next(ctx context.Context) (Batch, error) {
	for {
		if r.cur == nil {
			if len(r.ms) == 0 {
				return Batch{}, io.EOF
			}
			c, err := r.ms[0].Open(ctx, r.mem)
			if err != nil {
				return Batch{}, err
			}
			r.cur, r.ms = c, r.ms[1:]
		}
		b, err := r.cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			r.cur.Close()
			r.cur = nil
			continue
		}
		return b, err
	}
}

func (r *seqReader) Offsets() Offsets    { return nil }
func (r *seqReader) Partitions() []int32 { return []int32{0} }
func (r *seqReader) Close() error        { return nil }

var gatherSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "d", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
}, nil)

// gatherData makes morsels records of rows rows each; keys repeat, so
// groups span morsels, and some values are NULL.
func gatherData(t *testing.T, mem memory.Allocator, morsels, rows int) []arrow.Record {
	t.Helper()
	var recs []arrow.Record
	n := 0
	for range morsels {
		var b strings.Builder
		b.WriteString("[")
		for r := range rows {
			if r > 0 {
				b.WriteString(",")
			}
			k := fmt.Sprintf("%q", fmt.Sprintf("k%d", (n*7)%9))
			if n%11 == 0 {
				k = "null"
			}
			i := fmt.Sprint(n*37%101 - 50)
			if n%5 == 0 {
				i = "null"
			}
			fmt.Fprintf(&b, `{"k": %s, "i": %s, "f": %g, "d": "%d.%02d"}`, k, i, float64(n%13)/4, n%1000, n%100)
			n++
		}
		b.WriteString("]")
		rec, _, err := array.RecordFromJSON(mem, gatherSchema, strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func gcol(i int) expr.Expr {
	return expr.Column(i, gatherSchema.Field(i).Type, gatherSchema.Field(i).Name)
}

func gatherAggs() []AggCall {
	return []AggCall{
		{Func: "sum", Arg: gcol(1), Name: "sum_i"},
		{Func: "count", Arg: gcol(1), Name: "count_i"},
		{Func: "count_star", Name: "n"},
		{Func: "min", Arg: gcol(1), Name: "min_i"},
		{Func: "max", Arg: gcol(0), Name: "max_k"},
		{Func: "avg", Arg: gcol(1), Name: "avg_i"},
		{Func: "sum", Arg: gcol(3), Name: "sum_d"},
		{Func: "avg", Arg: gcol(3), Name: "avg_d"},
		{Func: "min", Arg: gcol(2), Name: "min_f"},
	}
}

func renderAll(t *testing.T, recs []arrow.Record) string {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		for i := range int(r.NumRows()) {
			for c := range int(r.NumCols()) {
				fmt.Fprintf(&b, "%s\t", r.Column(c).ValueStr(i))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestGatherMatchesOneSerialPipeline(t *testing.T) {
	for _, bs := range batchSizes {
		for _, workers := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("batch=%d/workers=%d", bs, workers), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				t.Cleanup(func() { mem.AssertSize(t, 0) })
				ctx := context.Background()
				recs := gatherData(t, mem, 7, 23)
				defer releaseAll(recs)
				src := &morselTestSource{schema: gatherSchema, recs: recs, batch: bs}
				spec := ScanSpec{Columns: []int{0, 1, 2, 3}}
				filterProject := func(s Source) (Operator, error) {
					scan, err := NewScan(mem, s, spec)
					if err != nil {
						return nil, err
					}
					pred, err := expr.Call("gt", []expr.Expr{gcol(1), expr.Literal(arrow.PrimitiveTypes.Int64, int64(-20))}, arrow.FixedWidthTypes.Boolean)
					if err != nil {
						return nil, err
					}
					return NewProject(mem, NewFilter(mem, scan, pred), []expr.Expr{gcol(0), gcol(1)}, []string{"k", "i"})
				}
				serial, err := filterProject(src)
				if err != nil {
					t.Fatal(err)
				}
				want, err := Collect(ctx, serial)
				if err != nil {
					t.Fatal(err)
				}
				defer releaseAll(want)
				g, err := NewGather(mem, src, spec, workers, filterProject)
				if err != nil {
					t.Fatal(err)
				}
				got, err := Collect(ctx, g)
				if err != nil {
					t.Fatal(err)
				}
				defer releaseAll(got)
				if w, h := renderAll(t, want), renderAll(t, got); w != h || w == "" {
					t.Fatalf("gather differs from one pipeline:\n%s\nwant:\n%s", h, w)
				}

				// Partial per morsel + final = one complete aggregate, groups
				// in the same order (first appearance).
				keys := []expr.Expr{gcol(0)}
				for _, withKeys := range []bool{true, false} {
					k, names := keys, []string{"k"}
					if !withKeys {
						k, names = nil, nil
					}
					full, err := NewScan(mem, src, spec)
					if err != nil {
						t.Fatal(err)
					}
					complete, err := NewHashAggregate(mem, full, k, names, gatherAggs())
					if err != nil {
						t.Fatal(err)
					}
					want, err := Collect(ctx, complete)
					if err != nil {
						t.Fatal(err)
					}
					partial := func(s Source) (Operator, error) {
						scan, err := NewScan(mem, s, spec)
						if err != nil {
							return nil, err
						}
						return NewHashAggregateMode(mem, scan, AggPartial, k, names, gatherAggs())
					}
					pg, err := NewGather(mem, src, spec, workers, partial)
					if err != nil {
						t.Fatal(err)
					}
					var fk []expr.Expr
					if withKeys {
						fk = []expr.Expr{expr.Column(0, arrow.BinaryTypes.String, "k")}
					}
					final, err := NewHashAggregateMode(mem, pg, AggFinal, fk, names, gatherAggs())
					if err != nil {
						t.Fatal(err)
					}
					if !final.Schema().Equal(complete.Schema()) {
						t.Fatalf("final schema %s, complete %s", final.Schema(), complete.Schema())
					}
					got, err := Collect(ctx, final)
					if err != nil {
						t.Fatal(err)
					}
					w, h := renderAll(t, want), renderAll(t, got)
					releaseAll(want)
					releaseAll(got)
					if w != h {
						t.Fatalf("keys=%v: two-phase aggregate differs:\n%s\nwant:\n%s", withKeys, h, w)
					}
				}
			})
		}
	}
}

func TestGatherReportsTheFirstFailingMorsel(t *testing.T) {
	for _, workers := range []int{1, 3} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ctx := context.Background()
		recs := gatherData(t, mem, 8, 10)
		src := &morselTestSource{schema: gatherSchema, recs: recs, batch: 3, failAt: map[int]bool{2: true, 5: true}}
		build := func(s Source) (Operator, error) { return NewScan(mem, s, ScanSpec{}) }
		g, err := NewGather(mem, src, ScanSpec{}, workers, build)
		if err != nil {
			t.Fatal(err)
		}
		n, err := Drain(ctx, g)
		if err == nil || !strings.Contains(err.Error(), "morsel 2: bad row") {
			t.Fatalf("workers=%d: got %v, want morsel 2's error", workers, err)
		}
		if n != 23 { // morsels 0 and 1, then morsel 2's first batch
			t.Fatalf("workers=%d: %d rows before the error, want 23", workers, n)
		}
		releaseAll(recs)
		mem.AssertSize(t, 0)
	}
}

func TestGatherClosedEarlyStopsWorkers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	recs := gatherData(t, mem, 20, 50)
	defer releaseAll(recs)
	src := &morselTestSource{schema: gatherSchema, recs: recs, batch: 1}
	build := func(s Source) (Operator, error) { return NewScan(mem, s, ScanSpec{}) }
	g, err := NewGather(mem, src, ScanSpec{}, 4, build)
	if err != nil {
		t.Fatal(err)
	}
	lim := NewLimit(mem, g, 5, 0)
	n, err := Drain(ctx, lim)
	if err != nil || n != 5 {
		t.Fatalf("limit over gather: %d rows, %v", n, err)
	}
	// Closing a gather that never opened is fine too.
	g2, err := NewGather(mem, src, ScanSpec{}, 2, build)
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.Close(); err != nil {
		t.Fatal(err)
	}
}

// A morsel's worker does not wait for the reader to reach its morsel: it
// decodes the whole morsel, however many batches that is, while the
// reader is still on an earlier one. Here morsel 0 cannot produce its
// first batch until morsel 1 (many batches) is finished; a gather that
// let morsel 1 run only a few batches ahead of the reader would never
// get there (and fails after the timeout).
func TestGatherWorkersRunAheadOfTheReader(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	recs := gatherData(t, mem, 3, 40)
	defer releaseAll(recs)
	oneDone := make(chan struct{})
	src := &morselTestSource{schema: gatherSchema, recs: recs, batch: 1,
		before: func(ctx context.Context, m int, pos int64) error {
			switch {
			case m == 1 && pos == 40:
				close(oneDone) // its last Next: the morsel is done
			case m == 0 && pos == 0:
				select {
				case <-oneDone:
				case <-time.After(30 * time.Second):
					return fmt.Errorf("morsel 1 did not finish while the reader waited on morsel 0")
				}
			}
			return nil
		}}
	build := func(s Source) (Operator, error) { return NewScan(mem, s, ScanSpec{}) }
	g, err := NewGather(mem, src, ScanSpec{}, 2, build)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Collect(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(got)
	if w, h := renderAll(t, recs), renderAll(t, got); w != h {
		t.Fatalf("gather output differs from the morsels in order:\n%s\nwant:\n%s", h, w)
	}
}

// The workers start a morsel only inside a window of morsels from the one
// being read, so a reader that stops reading bounds what is queued.
func TestGatherWindowBoundsMorselsAhead(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	ctx := context.Background()
	recs := gatherData(t, mem, 30, 5)
	defer releaseAll(recs)
	var maxOpened atomic.Int64
	src := &morselTestSource{schema: gatherSchema, recs: recs, batch: 2,
		opened: func(m int) {
			for {
				o := maxOpened.Load()
				if int64(m) <= o || maxOpened.CompareAndSwap(o, int64(m)) {
					return
				}
			}
		}}
	build := func(s Source) (Operator, error) { return NewScan(mem, s, ScanSpec{}) }
	const workers = 3
	g, err := NewGather(mem, src, ScanSpec{}, workers, build)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Open(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := g.Next(ctx) // the reader stays on morsel 0
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	// Wait until the workers have filled the window (they stop there).
	for deadline := time.Now().Add(30 * time.Second); maxOpened.Load() < int64(gatherWindow(workers)-1) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got, want := maxOpened.Load(), int64(gatherWindow(workers)-1); got != want {
		t.Fatalf("with the reader on morsel 0, the workers opened up to morsel %d, want %d (the window)", got, want)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestPartialAggregateRefusesDistinct(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	in := newSliceOp(gatherData(t, mem, 1, 3)[0], 3)
	defer in.Close()
	in.rec.Release() // newSliceOp retained it
	_, err := NewHashAggregateMode(mem, in, AggPartial, nil, nil, []AggCall{{Func: "count", Arg: gcol(1), Distinct: true, Name: "c"}})
	if !errors.Is(err, errDistinctPartial) {
		t.Fatalf("got %v, want errDistinctPartial", err)
	}
}
