package stream

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// topAppendSchema and topChangeSchema are the random top-N inputs: a
// nullable string, BIGINT and DOUBLE, and a string without NULLs.
var (
	topAppendSchema = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	topChangeSchema = arrow.NewSchema(append([]arrow.Field{opField}, topAppendSchema.Fields()...), nil)
)

// randomTopInput is n random rows of few distinct values (ties on every
// sort key and whole duplicate rows are common); over a changelog a
// quarter retract a live row (-D, or -U then +U) and a few retract rows
// never inserted.
func randomTopInput(rng *rand.Rand, mem memory.Allocator, n int, changelog bool) arrow.Record {
	sch := topAppendSchema
	if changelog {
		sch = topChangeSchema
	}
	b := array.NewRecordBuilder(mem, sch)
	defer b.Release()
	off := 0
	if changelog {
		off = 1
	}
	type row struct {
		k, s   string
		v      int64
		x      float64
		nk, nv bool
		nx     bool
	}
	randRow := func() row {
		return row{k: fmt.Sprint("k", rng.Intn(5)), s: fmt.Sprint("s", rng.Intn(30)), v: int64(rng.Intn(50) - 25), x: float64(rng.Intn(20)) / 4,
			nk: rng.Intn(12) == 0, nv: rng.Intn(12) == 0, nx: rng.Intn(12) == 0}
	}
	add := func(op exec.Op, r row) {
		if changelog {
			b.Field(0).(*array.Int8Builder).Append(int8(op))
		}
		if r.nk {
			b.Field(off).AppendNull()
		} else {
			b.Field(off).(*array.StringBuilder).Append(r.k)
		}
		if r.nv {
			b.Field(off + 1).AppendNull()
		} else {
			b.Field(off + 1).(*array.Int64Builder).Append(r.v)
		}
		if r.nx {
			b.Field(off + 2).AppendNull()
		} else {
			b.Field(off + 2).(*array.Float64Builder).Append(r.x)
		}
		b.Field(off + 3).(*array.StringBuilder).Append(r.s)
	}
	var live []row
	for i := 0; i < n; i++ {
		switch p := rng.Intn(40); {
		case changelog && p < 10 && len(live) > 0:
			j := rng.Intn(len(live))
			old := live[j]
			live = append(live[:j], live[j+1:]...)
			if p < 5 {
				add(exec.OpDelete, old)
				continue
			}
			add(exec.OpUpdateBefore, old)
			nr := randRow()
			add(exec.OpUpdateAfter, nr)
			live = append(live, nr)
		case changelog && p == 10:
			add(exec.OpDelete, randRow()) // most likely never inserted
		default:
			r := randRow()
			if len(live) > 0 && rng.Intn(8) == 0 {
				r = live[rng.Intn(len(live))] // a whole duplicate
			}
			add(exec.OpInsert, r)
			live = append(live, r)
		}
	}
	return b.NewRecord()
}

// refTopN recomputes the top n from every live row after each batch and
// emits the difference as TopN documents it: -D for rows whose count in
// the top fell, in the old order, then +I for those whose count rose, in
// the new order.
type refTopN struct {
	keys      []SortKey
	n         int
	changelog bool
	live      map[string]*topRow
	prev      []topRow
	out       *arrow.Schema
}

// less is the order TopN documents: the sort keys, then the whole row.
func (r *refTopN) less(a, b []Value) bool {
	return (&TopN{keys: r.keys, changelog: r.changelog}).less(a, b)
}

func (r *refTopN) push(t *testing.T, rec arrow.Record) []string {
	rows, err := readRows(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		vals, sign := row, int64(1)
		if r.changelog {
			vals = row[1:]
			if op := exec.Op(row[0].I); op == exec.OpDelete || op == exec.OpUpdateBefore {
				sign = -1
			}
		}
		k := string(rowKey(nil, vals))
		e := r.live[k]
		if e == nil {
			if sign < 0 {
				continue
			}
			e = &topRow{vals: vals, key: k}
			r.live[k] = e
		}
		if e.n += sign; e.n <= 0 {
			delete(r.live, k)
		}
	}
	all := make([]topRow, 0, len(r.live))
	for _, e := range r.live {
		all = append(all, *e)
	}
	sort.Slice(all, func(i, j int) bool { return r.less(all[i].vals, all[j].vals) })
	var top []topRow
	left := int64(r.n)
	for _, e := range all {
		if left == 0 {
			break
		}
		e.n = min(e.n, left)
		left -= e.n
		top = append(top, e)
	}
	count := func(list []topRow) map[string]int64 {
		m := map[string]int64{}
		for _, e := range list {
			m[e.key] = e.n
		}
		return m
	}
	before, after := count(r.prev), count(top)
	var out []string
	emit := func(op exec.Op, vals []Value, times int64) {
		for ; times > 0; times-- {
			out = append(out, renderRow(r.out, append([]Value{Int(int64(op))}, vals...)))
		}
	}
	for _, e := range r.prev {
		emit(exec.OpDelete, e.vals, e.n-after[e.key])
	}
	for _, e := range top {
		emit(exec.OpInsert, e.vals, e.n-before[e.key])
	}
	r.prev = top
	return out
}

// TestTopNMatchesRecompute: over random append-only inputs and changelogs
// with retractions (of rows in the top, below it, and never inserted),
// TopN emits, batch by batch and row for row, what recomputing the top n
// from every live row emits, for sort keys of every typed comparator
// (BIGINT, DOUBLE, strings, NULLs first) ascending and descending, several
// keys, n from 1 to 12, random batch sizes, and across a snapshot
// restored into a fresh operator (full or delta) midway. Over an
// append-only input most rows are skipped unread.
func TestTopNMatchesRecompute(t *testing.T) {
	keySets := [][]SortKey{
		{{Col: 1, Desc: true}},
		{{Col: 2}},
		{{Col: 0}, {Col: 1, Desc: true}},
		{{Col: 3, Desc: true}, {Col: 2, Desc: true}},
	}
	for seed := int64(1); seed <= 24; seed++ {
		for _, changelog := range []bool{false, true} {
			t.Run(fmt.Sprintf("seed%d/changelog=%v", seed, changelog), func(t *testing.T) {
				mem := checkedMem(t)
				rng := rand.New(rand.NewSource(seed))
				rows := 200 + rng.Intn(1500)
				input := randomTopInput(rng, mem, rows, changelog)
				defer input.Release()
				keys := append([]SortKey(nil), keySets[int(seed)%len(keySets)]...)
				sch := topAppendSchema
				if changelog {
					sch = topChangeSchema
					for i := range keys {
						keys[i].Col++
					}
				}
				n := 1 + rng.Intn(12)
				top, err := NewTopN(mem, sch, keys, n)
				if err != nil {
					t.Fatal(err)
				}
				defer top.Close()
				ref := &refTopN{keys: keys, n: n, changelog: changelog, live: map[string]*topRow{}, out: top.Schema()}
				batches := randomCuts(rng, input, 1+rng.Intn(60))
				defer releaseAll(batches)
				restoreAt, delta := len(batches)/2, seed%2 == 0
				var read int64
				for bi, b := range batches {
					if bi == restoreAt {
						top = restoreTop(t, mem, top, sch, keys, n, delta)
						defer top.Close()
					}
					before := top.rowsRead
					got := pushAll(t, top, []arrow.Record{b}, false)
					read += top.rowsRead - before
					want := ref.push(t, b)
					if !equalStrings(got, want) {
						t.Fatalf("top %d by %v, batch %d (%d rows)\n got %q\nwant %q", n, keys, bi, b.NumRows(), got, want)
					}
				}
				if !changelog && rows >= 500 && read*2 > int64(rows) {
					t.Errorf("top %d of %d append-only rows read %d of them: the cut-off skipped too few", n, rows, read)
				}
			})
		}
	}
}

// restoreTop moves top's state into a fresh operator through a snapshot
// (with delta, a full snapshot taken earlier plus a delta) and closes top.
func restoreTop(t *testing.T, mem memory.Allocator, top *TopN, sch *arrow.Schema, keys []SortKey, n int, delta bool) *TopN {
	t.Helper()
	fresh, err := NewTopN(mem, sch, keys, n)
	if err != nil {
		t.Fatal(err)
	}
	full, err := top.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Restore(full); err != nil {
		t.Fatal(err)
	}
	if delta {
		d, err := top.SnapshotDelta()
		if err != nil {
			t.Fatal(err)
		}
		if err := fresh.RestoreDelta(d); err != nil {
			t.Fatal(err)
		}
	}
	top.Close()
	return fresh
}

// BenchmarkTopNAppendOnly is ORDER BY v DESC LIMIT 10 over 1M random
// BIGINT rows (with a string column) in 8192-row batches under EMIT
// CHANGES: after the first batches almost every row sorts after the 10th
// held one.
func BenchmarkTopNAppendOnly(b *testing.B) {
	mem := memory.NewGoAllocator()
	sch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
	var batches []arrow.Record
	rng := rand.New(rand.NewSource(1))
	const rows, bs = 1 << 20, 8192
	for done := 0; done < rows; done += bs {
		rb := array.NewRecordBuilder(mem, sch)
		for i := 0; i < bs; i++ {
			rb.Field(0).(*array.StringBuilder).Append(fmt.Sprint("key", i%100))
			rb.Field(1).(*array.Int64Builder).Append(rng.Int63n(1 << 40))
		}
		batches = append(batches, rb.NewRecord())
		rb.Release()
	}
	defer releaseAll(batches)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		top, err := NewTopN(mem, sch, []SortKey{{Col: 1, Desc: true}}, 10)
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range batches {
			out, err := top.Push(context.Background(), rec, 0)
			if err != nil {
				b.Fatal(err)
			}
			if out != nil {
				out.Release()
			}
		}
		top.Close()
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
