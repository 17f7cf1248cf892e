package stream

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// randomKVW is rows of 40 keys over kvwSchema (or, with clog, kvwLog as a
// changelog in which about one row in six deletes a live row, or now and
// then one never inserted), with v drawn from a range that grows (so
// every key's top keeps changing), many ties on v and w, some NULL v and
// duplicate rows.
func randomKVW(t *testing.T, mem memory.Allocator, rows int, seed uint64, clog bool) arrow.Record {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	var js []string
	var live []string
	for i := range rows {
		op := 0
		k, w := fmt.Sprintf("k%d", rng.IntN(40)), rng.IntN(3)
		v := fmt.Sprint(rng.IntN(12 + i/8)) // new highs keep coming

		if rng.IntN(20) == 0 {
			v = "null"
		}
		row := fmt.Sprintf(`"k":%q,"v":%s,"w":%d`, k, v, w)
		if clog && len(live) > 0 && rng.IntN(6) == 0 {
			op = 3 // -D
			if rng.IntN(10) > 0 {
				i := rng.IntN(len(live))
				row = live[i]
				live = slices.Delete(live, i, i+1)
			}
		} else {
			live = append(live, row)
		}
		if clog {
			row = fmt.Sprintf(`"op":%d,%s`, op, row)
		}
		js = append(js, "{"+row+"}")
	}
	sch := kvwSchema
	if clog {
		sch = kvwLog
	}
	return fromJSON(t, mem, sch, "["+strings.Join(js, ",")+"]")
}

// rankTopNCase is one per-key top-N configuration.
type rankTopNCase struct {
	name string
	clog bool
	fn   RankFunc
	n    int
	keys []SortKey // over kvwSchema's columns (shifted past op over kvwLog)
}

var parallelRankCases = []rankTopNCase{
	{"dedup", false, RowNumber, 1, []SortKey{{Col: 1, Desc: true}}},
	{"row_number", false, RowNumber, 3, []SortKey{{Col: 1, Desc: true}, {Col: 2}}},
	{"rank", false, Rank, 2, []SortKey{{Col: 2}}},
	{"dense_rank", false, DenseRank, 2, []SortKey{{Col: 1}}},
	{"changelog/row_number", true, RowNumber, 3, []SortKey{{Col: 1, Desc: true}}},
	{"changelog/rank", true, Rank, 2, []SortKey{{Col: 2}, {Col: 1, Desc: true}}},
}

// schema is the case's input schema and its partition column.
func (c rankTopNCase) schema() (*arrow.Schema, int) {
	if c.clog {
		return kvwLog, 1
	}
	return kvwSchema, 0
}

// build is one RankTopN of the case.
func (c rankTopNCase) build(t *testing.T, mem memory.Allocator) (*RankTopN, error) {
	sch, part := c.schema()
	keys := slices.Clone(c.keys)
	for i := range keys {
		keys[i].Col += part
	}
	top, err := NewRankTopN(mem, sch, []int{part}, keys, c.n, "rn")
	if err != nil {
		return nil, err
	}
	top.SetRankFunc(c.fn)
	return top, nil
}

// node is the case's top-N as one operator (n = 1) or as n
// ParallelRankTopN instances.
func (c rankTopNCase) node(t *testing.T, mem memory.Allocator, n int) Node {
	t.Helper()
	if n == 1 {
		top, err := c.build(t, mem)
		if err != nil {
			t.Fatal(err)
		}
		return OperatorNode(top)
	}
	sch, part := c.schema()
	p, err := NewParallelRankTopN(mem, []Expr{col(sch, part)}, n, func(int) (*RankTopN, error) { return c.build(t, mem) })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParallelRankTopNEqualsOneInstance runs per-key top-Ns (dedup,
// ROW_NUMBER, RANK, DENSE_RANK, over append-only input and over a
// changelog with retractions) as one operator and as 2 and 4 instances at
// several batch sizes (the largest folds on the instances' own
// goroutines): the changelog is the same row for row.
func TestParallelRankTopNEqualsOneInstance(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range parallelRankCases {
		rec := randomKVW(t, mem, 3*parallelInlineRows, 1, c.clog)
		for _, bs := range []int{1, 7, 300, parallelInlineRows + 1} {
			batches := cut(rec, bs)
			one := c.node(t, mem, 1)
			want := pushNode(t, one, batches)
			one.Close()
			if len(want) < 100 {
				t.Fatalf("%s: %d output rows: the test needs many", c.name, len(want))
			}
			for _, n := range []int{2, 4} {
				t.Run(fmt.Sprintf("%s/batch=%d/instances=%d", c.name, bs, n), func(t *testing.T) {
					p := c.node(t, mem, n)
					defer p.Close()
					got := pushNode(t, p, batches)
					if !slices.Equal(got, want) {
						i := 0
						for i < len(got) && i < len(want) && got[i] == want[i] {
							i++
						}
						t.Errorf("output differs from one operator's at row %d (%d vs %d rows):\n%v\nvs\n%v", i, len(got), len(want), head(got[i:]), head(want[i:]))
					}
					for i, top := range p.(*ParallelRankTopN).tops {
						if top.Stats().Groups == 0 {
							t.Errorf("instance %d holds no rows: the keys were not spread", i)
						}
					}
				})
			}
			releaseAll(batches)
		}
		rec.Release()
	}
}

// TestParallelRankTopNCheckpoint checkpoints 3 instances half way (a part
// per instance, full then as deltas), restores them into fresh ones and
// checks the rest is row for row what an uninterrupted run gives; parts
// of 3 instances are refused by 2.
func TestParallelRankTopNCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range parallelRankCases {
		t.Run(c.name, func(t *testing.T) {
			rec := randomKVW(t, mem, 3000, 4, c.clog)
			defer rec.Release()
			batches := cut(rec, 50)
			defer releaseAll(batches)
			checkPartedRestart(t, func(n int) Node { return c.node(t, mem, n) }, batches)
		})
	}
}
