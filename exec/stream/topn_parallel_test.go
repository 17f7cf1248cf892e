package stream

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// topNCase is one global top-N over kvwSchema (or kvwLog, a changelog).
type topNCase struct {
	name  string
	clog  bool
	limit int
	keys  []SortKey // over kvwSchema's columns (shifted past op over kvwLog)
}

var parallelTopNCases = []topNCase{
	{"v-desc/1", false, 1, []SortKey{{Col: 1, Desc: true}}},
	{"w-v/5", false, 5, []SortKey{{Col: 2}, {Col: 1, Desc: true}}},
	{"k/20", false, 20, []SortKey{{Col: 0}}},
	{"changelog/v-desc/3", true, 3, []SortKey{{Col: 1, Desc: true}}},
	{"changelog/w-k/10", true, 10, []SortKey{{Col: 2, Desc: true}, {Col: 0}}},
}

// node is the case's top-N as one TopN (n = 1) or as a ParallelTopN of
// n local instances, hashed by every value column.
func (c topNCase) node(t *testing.T, mem memory.Allocator, n int) Node {
	t.Helper()
	sch, off := kvwSchema, 0
	if c.clog {
		sch, off = kvwLog, 1
	}
	keys := slices.Clone(c.keys)
	for i := range keys {
		keys[i].Col += off
	}
	if n == 1 {
		top, err := NewTopN(mem, sch, keys, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		return OperatorNode(top)
	}
	var hash []Expr
	for i := off; i < sch.NumFields(); i++ {
		hash = append(hash, col(sch, i))
	}
	p, err := NewParallelTopN(mem, sch, keys, c.limit, hash, n)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParallelTopNEqualsOneInstance runs global top-Ns (limits 1 to 20,
// one and two sort keys with many ties and NULLs, over append-only input
// and over a changelog that deletes live rows and a few never inserted)
// as one TopN and as two-phase ParallelTopNs of 2 and 4 instances at
// several batch sizes (the largest folds on the instances' goroutines):
// the changes are the same row for row.
func TestParallelTopNEqualsOneInstance(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range parallelTopNCases {
		rec := randomKVW(t, mem, parallelInlineRows+500, 2, c.clog)
		for _, bs := range []int{1, 7, 300, parallelInlineRows + 1} {
			batches := cut(rec, bs)
			one := c.node(t, mem, 1)
			want := pushNode(t, one, batches)
			one.Close()
			if len(want) < 2 || c.clog && !slices.ContainsFunc(want, func(s string) bool { return strings.HasPrefix(s, "-D") }) {
				t.Fatalf("%s: %d changes: the test needs some, deletions included", c.name, len(want))
			}
			for _, n := range []int{2, 4} {
				t.Run(fmt.Sprintf("%s/batch=%d/instances=%d", c.name, bs, n), func(t *testing.T) {
					p := c.node(t, mem, n)
					defer p.Close()
					if got := pushNode(t, p, batches); !slices.Equal(got, want) {
						t.Errorf("output differs from one operator's %s", firstDiff(got, want))
					}
					pt := p.(*ParallelTopN)
					if m := pt.merge.Stats().Groups; m > n*c.limit {
						t.Errorf("the merge holds %d rows, more than %d instances' top %d", m, n, c.limit)
					}
				})
			}
			releaseAll(batches)
		}
		rec.Release()
	}
}

// TestParallelTopNCheckpoint: 3 local instances and the merge
// checkpointed part way (full parts, then deltas) and restored into a
// fresh ParallelTopN continue row for row as an uninterrupted run; one
// of 2 instances refuses the parts.
func TestParallelTopNCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range parallelTopNCases {
		t.Run(c.name, func(t *testing.T) {
			rec := randomKVW(t, mem, 3000, 4, c.clog)
			defer rec.Release()
			batches := cut(rec, 50)
			defer releaseAll(batches)
			parts := checkPartedRestart(t, func(n int) Node { return c.node(t, mem, n) }, batches)
			if !slices.ContainsFunc(parts, func(p OperatorState) bool { return p.Name == topNMergePart }) {
				t.Fatalf("parts %v hold no merge", partNames(parts))
			}
		})
	}
}

func partNames(parts []OperatorState) []string {
	var names []string
	for _, p := range parts {
		names = append(names, p.Name)
	}
	return names
}
