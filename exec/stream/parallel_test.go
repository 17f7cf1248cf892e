package stream

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// foldRows folds changelog rows (op first) into the table they describe,
// sorted.
func foldRows(t *testing.T, rows []string) []string {
	t.Helper()
	count := map[string]int{}
	for _, r := range rows {
		op, rest, _ := strings.Cut(r, "|")
		switch op {
		case "+I", "+U":
			count[rest]++
		case "-U", "-D":
			count[rest]--
		default:
			t.Fatalf("row %q has no op", r)
		}
	}
	var out []string
	for r, n := range count {
		if n < 0 {
			t.Fatalf("row %q retracted more often than inserted", r)
		}
		for ; n > 0; n-- {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

func parallelGroupBy(t *testing.T, mem memory.Allocator, n int) Node {
	t.Helper()
	build := func(int) (Node, error) {
		g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
			[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}, {Func: AggCountStar, Name: "n"}})
		return OperatorNode(g), err
	}
	if n == 1 {
		node, err := build(0)
		if err != nil {
			t.Fatal(err)
		}
		return node
	}
	p, err := NewParallel(mem, []Expr{col(kvSchema, 0)}, n, build)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randomKV is rows of 40 keys with values, some NULL.
func randomKV(t *testing.T, mem memory.Allocator, rows int, seed int64) arrow.Record {
	rng := rand.New(rand.NewSource(seed))
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; i < rows; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		v := "null"
		if rng.Intn(10) > 0 {
			v = fmt.Sprint(rng.Intn(100) - 50)
		}
		fmt.Fprintf(&sb, `{"k":"k%d","v":%s}`, rng.Intn(40), v)
	}
	sb.WriteString("]")
	return fromJSON(t, mem, kvSchema, sb.String())
}

// pushOnly pushes batches into n and returns the output rows.
func pushOnly(t *testing.T, n Node, batches []arrow.Record) []string {
	t.Helper()
	var rows []string
	for _, b := range batches {
		out, err := n.Push(context.Background(), 0, exec.Batch{Record: b})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rowsOf(t, out)...)
		if out != nil {
			out.Release()
		}
	}
	return rows
}

// pushNode pushes batches into n, then ends its input.
func pushNode(t *testing.T, n Node, batches []arrow.Record) []string {
	t.Helper()
	ctx := context.Background()
	var rows []string
	for _, b := range batches {
		out, err := n.Push(ctx, 0, exec.Batch{Record: b})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rowsOf(t, out)...)
		if out != nil {
			out.Release()
		}
	}
	out, err := n.Finish(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	rows = append(rows, rowsOf(t, out)...)
	if out != nil {
		out.Release()
	}
	return rows
}

// TestParallelEqualsOneInstance runs a keyed aggregate as 1, 2 and 4
// instances at several batch sizes: the changelogs fold to the same table,
// every key's own sequence of changes is the same, and so is the whole
// changelog, row for row.
func TestParallelEqualsOneInstance(t *testing.T) {
	mem := checkedMem(t)
	rec := randomKV(t, mem, 3*parallelInlineRows, 1)
	defer rec.Release()
	perKey := func(rows []string) map[string][]string {
		m := map[string][]string{}
		for _, r := range rows {
			k := strings.Split(r, "|")[1]
			m[k] = append(m[k], r)
		}
		return m
	}
	// The batch sizes below parallelInlineRows fold on the caller's
	// goroutine, the last on the instances' own.
	for _, bs := range append(slices.Clone(batchSizes), parallelInlineRows+1) {
		batches := cut(rec, bs)
		one := parallelGroupBy(t, mem, 1)
		want := pushNode(t, one, batches)
		one.Close()
		for _, n := range []int{2, 4} {
			t.Run(fmt.Sprintf("batch=%d/instances=%d", bs, n), func(t *testing.T) {
				p := parallelGroupBy(t, mem, n)
				defer p.Close()
				got := pushNode(t, p, batches)
				if !slices.Equal(foldRows(t, got), foldRows(t, want)) {
					t.Fatalf("folded tables differ:\n%v\nvs one instance:\n%v", foldRows(t, got), foldRows(t, want))
				}
				gk, wk := perKey(got), perKey(want)
				for k, w := range wk {
					if !slices.Equal(gk[k], w) {
						t.Errorf("key %s: changes %v, one instance %v", k, gk[k], w)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("changelog differs from one instance's (the instances' outputs are merged in input order)")
				}
				if st := p.Stats(); st.Groups != 40 {
					t.Errorf("stats %+v, want 40 groups over the instances", st)
				}
			})
		}
		releaseAll(batches)
	}
}

// TestParallelCheckpointParts checkpoints a 3-instance aggregate half way
// (one part per instance), restores it into fresh instances, and checks
// the rest of the input then gives what an uninterrupted run gives; a
// different number of instances refuses the parts.
func TestParallelCheckpointParts(t *testing.T) {
	mem := checkedMem(t)
	rec := randomKV(t, mem, 300, 2)
	defer rec.Release()
	batches := cut(rec, 7)
	defer releaseAll(batches)
	half := len(batches) / 2

	whole := parallelGroupBy(t, mem, 3)
	want := pushNode(t, whole, batches)
	whole.Close()

	first := parallelGroupBy(t, mem, 3)
	got := pushOnly(t, first, batches[:half])
	parts, err := first.(PartedSnapshotter).SnapshotParts()
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	if len(parts) != 3 {
		t.Fatalf("%d parts, want one per instance", len(parts))
	}
	second := parallelGroupBy(t, mem, 3)
	defer second.Close()
	if err := second.(PartedSnapshotter).RestoreParts(parts); err != nil {
		t.Fatal(err)
	}
	got = append(got, pushNode(t, second, batches[half:])...)
	if !slices.Equal(foldRows(t, got), foldRows(t, want)) {
		t.Fatalf("restored run folds to\n%v\nuninterrupted:\n%v", foldRows(t, got), foldRows(t, want))
	}
	other := parallelGroupBy(t, mem, 2)
	defer other.Close()
	if err := other.(PartedSnapshotter).RestoreParts(parts); err == nil || !strings.Contains(err.Error(), "parallelism") {
		t.Errorf("parts of 3 instances restored into 2: %v", err)
	}
}

// BenchmarkParallelGroupBy is the streaming GROUP BY (SUM, COUNT(*) over
// 100 keys, 32768-row batches, changelog out) as 1 and 2 key-partitioned
// instances: events/s at parallelism 2 over parallelism 1 is the speedup.
//
//	go test ./exec/stream -run '^$' -bench ParallelGroupBy -benchtime 3s
func BenchmarkParallelGroupBy(b *testing.B) {
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallelism=%d", n), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			batches := benchBatches(mem, 4, 32768)
			defer releaseAll(batches)
			build := func(int) (Node, error) {
				g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
					[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}, {Func: AggCountStar, Name: "n"}})
				return OperatorNode(g), err
			}
			var node Node
			var err error
			if n == 1 {
				node, err = build(0)
			} else {
				node, err = NewParallel(mem, []Expr{col(kvSchema, 0)}, n, build)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer node.Close()
			ctx := context.Background()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuNow(b)
			var rows int
			for i := 0; i < b.N; i++ {
				in := batches[i%len(batches)]
				out, err := node.Push(ctx, 0, exec.Batch{Record: in})
				if err != nil {
					b.Fatal(err)
				}
				if out != nil {
					out.Release()
				}
				rows += int(in.NumRows())
			}
			b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "events/s")
			// CPU per event: on a loaded machine wall time measures the
			// other processes too; parallelism's overhead is the ratio
			// of this figure at p=2 to p=1.
			b.ReportMetric(float64(cpuNow(b)-cpu0)/float64(rows), "cpu-ns/event")
		})
	}
}
