package stream

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// recOp is an exec.Operator replaying records, for the batch oracle.
type recOp struct {
	schema *arrow.Schema
	recs   []arrow.Record
}

func (o *recOp) Schema() *arrow.Schema      { return o.schema }
func (o *recOp) Open(context.Context) error { return nil }
func (o *recOp) Close() error               { return nil }
func (o *recOp) Next(context.Context) (arrow.Record, error) {
	if len(o.recs) == 0 {
		return nil, io.EOF
	}
	r := o.recs[0]
	o.recs = o.recs[1:]
	r.Retain()
	return r, nil
}

// aggPair is one aggregate as the batch engine and as the stream see it.
type aggPair struct {
	batch  string
	dist   bool
	stream AggFunc
	star   bool
}

var propertyAggs = []aggPair{
	{batch: "sum", stream: AggSum}, {batch: "count", stream: AggCount}, {batch: "count_star", stream: AggCountStar, star: true},
	{batch: "min", stream: AggMin}, {batch: "max", stream: AggMax}, {batch: "avg", stream: AggAvg},
	{batch: "count", dist: true, stream: AggCountDistinct},
}

// batchGroupBy runs exec.HashAggregate (the batch engine) over rec grouped
// by the key columns, aggregating column arg; rows rendered.
func batchGroupBy(t *testing.T, mem memory.Allocator, rec arrow.Record, keyCols []int, arg int) []string {
	t.Helper()
	s := rec.Schema()
	var keys []expr.Expr
	var names []string
	for _, k := range keyCols {
		keys = append(keys, expr.Column(k, s.Field(k).Type, s.Field(k).Name))
		names = append(names, s.Field(k).Name)
	}
	var calls []exec.AggCall
	for i, a := range propertyAggs {
		c := exec.AggCall{Func: a.batch, Distinct: a.dist, Name: fmt.Sprint("a", i)}
		if !a.star {
			c.Arg = expr.Column(arg, s.Field(arg).Type, s.Field(arg).Name)
		}
		calls = append(calls, c)
	}
	h, err := exec.NewHashAggregate(mem, &recOp{schema: s, recs: []arrow.Record{rec}}, keys, names, calls)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Collect(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range out {
		rows = append(rows, rowsOf(t, r)...)
		r.Release()
	}
	return sorted(rows)
}

func streamAggs(s *arrow.Schema, arg int) []AggSpec {
	var specs []AggSpec
	for i, a := range propertyAggs {
		spec := AggSpec{Func: a.stream, Name: fmt.Sprint("a", i)}
		if !a.star {
			spec.Arg = col(s, arg)
		}
		specs = append(specs, spec)
	}
	return specs
}

// randomChangelog builds a random changelog over (k, v): inserts, and
// retractions (-D, or -U followed by +U) of rows inserted earlier.
func randomChangelog(rng *rand.Rand, mem memory.Allocator, n int) arrow.Record {
	b := array.NewRecordBuilder(mem, clSchema)
	defer b.Release()
	type kv struct {
		k    string
		v    int64
		null bool
	}
	var live []kv
	add := func(op exec.Op, r kv) {
		b.Field(0).(*array.Int8Builder).Append(int8(op))
		b.Field(1).(*array.StringBuilder).Append(r.k)
		if r.null {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.Int64Builder).Append(r.v)
		}
	}
	for i := 0; i < n; i++ {
		if len(live) > 0 && rng.Intn(4) == 0 {
			j := rng.Intn(len(live))
			old := live[j]
			live = append(live[:j], live[j+1:]...)
			if rng.Intn(2) == 0 {
				add(exec.OpDelete, old)
				continue
			}
			add(exec.OpUpdateBefore, old)
			nr := kv{k: old.k, v: int64(rng.Intn(40) - 20)}
			add(exec.OpUpdateAfter, nr)
			live = append(live, nr)
			continue
		}
		r := kv{k: fmt.Sprint("k", rng.Intn(6)), v: int64(rng.Intn(40) - 20), null: rng.Intn(10) == 0}
		add(exec.OpInsert, r)
		live = append(live, r)
	}
	return b.NewRecord()
}

// randomCuts splits rec into batches of random sizes (1..max).
func randomCuts(rng *rand.Rand, rec arrow.Record, maxSize int) []arrow.Record {
	var out []arrow.Record
	for i := int64(0); i < rec.NumRows(); {
		n := int64(1 + rng.Intn(maxSize))
		end := min(i+n, rec.NumRows())
		out = append(out, rec.NewSlice(i, end))
		i = end
	}
	return out
}

// TestPropertyChangesEqualBatch checks, for random changelog inputs, that
// batch GROUP BY over the folded input == the folded EMIT CHANGES output
// == the last EMIT EVERY … FULL table, whatever the batch sizes.
func TestPropertyChangesEqualBatch(t *testing.T) {
	for seed := int64(1); seed <= 60; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			mem := checkedMem(t)
			rng := rand.New(rand.NewSource(seed))
			input := randomChangelog(rng, mem, 5+rng.Intn(200))
			defer input.Release()

			// Batch: GROUP BY over the table the input changelog folds to.
			table, err := FoldChangelog(mem, clSchema, []arrow.Record{input})
			if err != nil {
				t.Fatal(err)
			}
			want := batchGroupBy(t, mem, table, []int{0}, 1)
			table.Release()

			keys := func() []GroupKey { return []GroupKey{{Expr: col(clSchema, 1), Name: "k"}} }
			// EMIT CHANGES, folded.
			g, err := NewGroupAggregate(mem, clSchema, keys(), streamAggs(clSchema, 2))
			if err != nil {
				t.Fatal(err)
			}
			batches := randomCuts(rng, input, 1+rng.Intn(50))
			var changes []arrow.Record
			for _, b := range batches {
				out, err := g.Push(context.Background(), b, 0)
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					changes = append(changes, out)
				}
			}
			folded, err := FoldChangelog(mem, g.Schema(), changes)
			if err != nil {
				t.Fatal(err)
			}
			releaseAll(changes)
			if got := sorted(rowsOf(t, folded)); !equalStrings(got, want) {
				t.Fatalf("folded changelog\n got %q\nwant %q", got, want)
			}
			folded.Release()
			g.Close()

			// EMIT EVERY 1s FULL through the micro-batch driver.
			g2, err := NewGroupAggregate(mem, clSchema, keys(), streamAggs(clSchema, 2))
			if err != nil {
				t.Fatal(err)
			}
			clock := NewManualClock(epoch)
			r := newScriptReader()
			c := newCollector()
			triggers := make(chan TriggerInfo, 1024)
			p := &Pipeline{Mem: mem, Reader: r, Schema: clSchema, Op: g2, Emit: c.emit(t), Clock: clock,
				OnTrigger: func(i TriggerInfo) { triggers <- i }}
			done := make(chan error, 1)
			go func() { done <- p.RunMicroBatch(context.Background(), time.Second, true) }()
			r.start()
			var last []string
			for i, b := range batches {
				r.push(b, 0)
				if i%3 == 2 || i == len(batches)-1 {
					clock.BlockUntil(1)
					clock.Advance(time.Second)
					if info := <-triggers; info.Emitted > 0 {
						last = <-c.recs
					}
				}
			}
			r.end()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			releaseAll(batches)
			if got := sorted(last); !equalStrings(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("last FULL table\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestPropertyWindowFinalEqualsBatch checks that EMIT FINAL over TUMBLE and
// HOP equals batch GROUP BY window_start, k when no row is late.
func TestPropertyWindowFinalEqualsBatch(t *testing.T) {
	specs := []WindowSpec{
		{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second},
		{Kind: Hop, TimeCol: 0, Size: 10 * time.Second, Slide: 5 * time.Second},
		{Kind: Hop, TimeCol: 0, Size: 9 * time.Second, Slide: 3 * time.Second},
	}
	for seed := int64(1); seed <= 40; seed++ {
		for si, spec := range specs {
			t.Run(fmt.Sprintf("seed%d/spec%d", seed, si), func(t *testing.T) {
				mem := checkedMem(t)
				rng := rand.New(rand.NewSource(seed))
				const delay = 4000
				var evs []ev
				now := int64(rng.Intn(100000)) - 50000
				for i := 0; i < 10+rng.Intn(300); i++ {
					now += int64(rng.Intn(1500))
					// Out of order, but never by more than the delay.
					evs = append(evs, ev{ts: now - int64(rng.Intn(delay)), k: fmt.Sprint("k", rng.Intn(4)), v: int64(rng.Intn(100) - 50)})
				}
				rec := evRecord(mem, evs)
				defer rec.Release()

				// Batch: expand every row into its windows, then GROUP BY
				// window_start, k.
				ws := arrow.NewSchema([]arrow.Field{{Name: "ws", Type: arrow.PrimitiveTypes.Int64}, {Name: "k", Type: arrow.BinaryTypes.String}, {Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)
				bb := array.NewRecordBuilder(mem, ws)
				size, slide := spec.Size.Milliseconds(), spec.Slide.Milliseconds()
				if spec.Kind == Tumble {
					slide = size
				}
				for _, e := range evs {
					for st := exec.FloorDiv(e.ts, slide) * slide; st > e.ts-size; st -= slide {
						bb.Field(0).(*array.Int64Builder).Append(st)
						bb.Field(1).(*array.StringBuilder).Append(e.k)
						bb.Field(2).(*array.Int64Builder).Append(e.v)
					}
				}
				expanded := bb.NewRecord()
				bb.Release()
				want := batchGroupBy(t, mem, expanded, []int{0, 1}, 2)
				expanded.Release()

				w, err := NewWindowAggregate(mem, evSchema, spec, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}}, streamAggs(evSchema, 2),
					WindowOptions{Delay: delay * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				batches := randomCuts(rng, rec, 1+rng.Intn(64))
				defer releaseAll(batches)
				outRows := pushAll(t, w, batches, true)
				if w.Late() != 0 {
					t.Fatalf("%d rows late", w.Late())
				}
				var got []string
				for _, r := range outRows {
					// Drop window_end: start|end|k|… → start|k|…
					i := 0
					for i < len(r) && r[i] != '|' {
						i++
					}
					j := i + 1
					for j < len(r) && r[j] != '|' {
						j++
					}
					got = append(got, r[:i]+r[j:])
				}
				if got := sorted(got); !equalStrings(got, want) {
					t.Fatalf("EMIT FINAL\n got %q\nwant %q", got, want)
				}
			})
		}
	}
}
