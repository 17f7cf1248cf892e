package stream

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// spillInput is a valid changelog over clSchema: inserts over a key
// space of keys (a few hot keys take half the traffic) and deletes of
// rows inserted before.
type spillInput struct {
	r    *rand.Rand
	keys int
	live []struct {
		k string
		v int64
	}
}

func (in *spillInput) batch(t *testing.T, mem memory.Allocator, n int) arrow.Record {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		if len(in.live) > 0 && in.r.IntN(4) == 0 {
			j := in.r.IntN(len(in.live))
			x := in.live[j]
			in.live = slices.Delete(in.live, j, j+1)
			fmt.Fprintf(&b, `{"op":3,"k":%q,"v":%d}`, x.k, x.v)
			continue
		}
		k := fmt.Sprintf("k%d", in.r.IntN(in.keys))
		if in.r.IntN(2) == 0 {
			k = fmt.Sprintf("hot%d", in.r.IntN(5))
		}
		x := struct {
			k string
			v int64
		}{k, int64(in.r.IntN(50))}
		in.live = append(in.live, x)
		fmt.Fprintf(&b, `{"op":0,"k":%q,"v":%d}`, x.k, x.v)
	}
	b.WriteString("]")
	return fromJSON(t, mem, clSchema, b.String())
}

// newSpillAgg is a GroupAggregate by k with aggregates whose state is
// more than a number (MIN/MAX under retraction, DISTINCT, AVG) on
// budget's account (nil: unlimited).
func newSpillAgg(t *testing.T, mem memory.Allocator, budget *exec.Budget) *GroupAggregate {
	t.Helper()
	g, err := NewGroupAggregate(mem, clSchema, []GroupKey{{Expr: col(clSchema, 1), Name: "k"}},
		[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(clSchema, 2), Name: "s"},
			{Func: AggMin, Arg: col(clSchema, 2), Name: "lo"}, {Func: AggMax, Arg: col(clSchema, 2), Name: "hi"},
			{Func: AggCountDistinct, Arg: col(clSchema, 2), Name: "d"}, {Func: AggAvg, Arg: col(clSchema, 2), Name: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if budget != nil {
		g.SetBudget(budget.Account("GroupAggregate: keys=[k]"))
	}
	return g
}

// allGroups is every group of a (in memory or spilled) as text: a's
// snapshot restored into an unlimited aggregate, whose groups are then
// all in memory. Taking it snapshots a (a new delta chain starts).
func allGroups(t *testing.T, mem memory.Allocator, a *GroupAggregate) []string {
	t.Helper()
	data, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := newSpillAgg(t, mem, nil)
	defer b.Close()
	if err := b.Restore(data); err != nil {
		t.Fatal(err)
	}
	return groupsOf(t, b)
}

// spillBudget is a limit the test's state passes many times over, and
// spillKeys its key space.
const (
	spillBudget = 192 << 10
	spillKeys   = 8000
)

// A GroupAggregate whose state passes its memory budget spills its cold
// groups to a pebble store and emits exactly the changelog, batch by
// batch and row by row, that an unlimited one emits: groups read back
// from disk carry their accumulators (MIN/MAX multisets, DISTINCT sets)
// and their row counts, deleted groups stay deleted. Its checkpoints —
// full snapshots and chains of deltas taken while groups were on disk —
// restore into a fresh spilling aggregate that goes on identically. The
// same budget without a spill directory fails with the budget error, and
// Close leaves nothing in the spill directory.
func TestGroupAggregateSpillMatchesMemory(t *testing.T) {
	for _, tc := range []struct{ maxBatch, rows int }{{1, 5000}, {7, 8000}, {100, 20000}} {
		maxBatch := tc.maxBatch
		t.Run(fmt.Sprintf("batch%d", maxBatch), func(t *testing.T) {
			mem := checkedMem(t)
			dir := t.TempDir()
			budget := exec.NewBudget(spillBudget).WithSpill(dir)
			ref := newSpillAgg(t, mem, nil)
			defer ref.Close()
			sp := newSpillAgg(t, mem, budget)
			in := &spillInput{r: rand.New(rand.NewPCG(uint64(maxBatch), 3)), keys: spillKeys}
			var chain [][]byte
			var restored *GroupAggregate
			// tc.rows rows, 6 restarts, a full snapshot every `every`
			// rounds with deltas between.
			rounds := 2 * tc.rows / (maxBatch + 1)
			every := rounds / 6
			for round := range rounds {
				rec := in.batch(t, mem, 1+in.r.IntN(maxBatch))
				want := pushAll(t, ref, []arrow.Record{rec}, false)
				got := pushAll(t, sp, []arrow.Record{rec}, false)
				if !slices.Equal(got, want) {
					rec.Release()
					t.Fatalf("round %d: spilling aggregate emits\n%q\nwant\n%q", round, got, want)
				}
				if restored != nil {
					if again := pushAll(t, restored, []arrow.Record{rec}, false); !slices.Equal(again, want) {
						rec.Release()
						t.Fatalf("round %d: restored spilling aggregate emits\n%q\nwant\n%q", round, again, want)
					}
				}
				rec.Release()
				switch {
				case round%every == 0:
					full, err := sp.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					chain = [][]byte{full}
				case round%(every/10) == 0:
					d, err := sp.SnapshotDelta()
					if err != nil {
						t.Fatal(err)
					}
					if d != nil {
						chain = append(chain, d)
					}
				}
				if round%every == every*9/10 { // restart from the chain
					d, err := sp.SnapshotDelta()
					if err != nil {
						t.Fatal(err)
					}
					if d != nil {
						chain = append(chain, d)
					}
					if restored != nil {
						restored.Close()
					}
					restored = newSpillAgg(t, mem, budget)
					if err := restored.Restore(chain[0]); err != nil {
						t.Fatal(err)
					}
					for _, d := range chain[1:] {
						if err := restored.RestoreDelta(d); err != nil {
							t.Fatal(err)
						}
					}
					if got, want := allGroups(t, mem, restored), allGroups(t, mem, sp); !slices.Equal(got, want) {
						t.Fatalf("round %d: restored from %d checkpoints: groups differ: %s", round, len(chain), diffSorted(got, want))
					}
					chain = nil // allGroups snapshotted sp
					full, err := sp.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					chain = [][]byte{full}
				}
			}
			st, rst := sp.Stats(), ref.Stats()
			if st.Spills == 0 || st.Spilled == 0 || st.SpilledBytes == 0 {
				t.Fatalf("state never spilled: %+v", st)
			}
			if st.Groups != rst.Groups || st.Bytes >= rst.Bytes {
				t.Fatalf("spilling aggregate: %+v; unlimited: %+v", st, rst)
			}
			if got, want := allGroups(t, mem, sp), groupsOf(t, ref); !slices.Equal(got, want) {
				t.Fatalf("groups differ: %s", diffSorted(got, want))
			}
			if err := sp.Close(); err != nil {
				t.Fatal(err)
			}
			if restored != nil {
				restored.Close()
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("spill directory keeps %d entries after Close", len(left))
			}

			// Without a spill directory the same input fails.
			noSpill := newSpillAgg(t, mem, exec.NewBudget(spillBudget))
			defer noSpill.Close()
			in = &spillInput{r: rand.New(rand.NewPCG(uint64(maxBatch), 3)), keys: spillKeys}
			var err error
			for round := 0; round < rounds && err == nil; round++ {
				rec := in.batch(t, mem, 1+in.r.IntN(maxBatch))
				var out arrow.Record
				out, err = noSpill.Push(t.Context(), rec, 0)
				if out != nil {
					out.Release()
				}
				rec.Release()
			}
			if !errors.Is(err, exec.ErrMemoryLimit) {
				t.Fatalf("without spilling: %v, want the memory limit error", err)
			}
		})
	}
}

// diffSorted describes how the sorted got differs from want: the first
// few rows only one of them has, and the counts.
func diffSorted(got, want []string) string {
	var extra, missing []string
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || (i < len(got) && got[i] < want[j]):
			extra = append(extra, got[i])
			i++
		case i == len(got) || want[j] < got[i]:
			missing = append(missing, want[j])
			j++
		default:
			i, j = i+1, j+1
		}
	}
	return fmt.Sprintf("%d rows vs %d; extra %q; missing %q", len(got), len(want), extra[:min(len(extra), 5)], missing[:min(len(missing), 5)])
}

// A batch whose own groups pass the budget fails even when the rest is
// spilled, with the budget error and the spill directory named.
func TestGroupAggregateSpillBatchTooBig(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	g := newSpillAgg(t, mem, exec.NewBudget(4<<10).WithSpill(dir))
	defer g.Close()
	in := &spillInput{r: rand.New(rand.NewPCG(1, 2)), keys: 100000}
	rec := in.batch(t, mem, 2000)
	defer rec.Release()
	out, err := g.Push(t.Context(), rec, 0)
	if out != nil {
		out.Release()
	}
	if !errors.Is(err, exec.ErrMemoryLimit) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("got %v, want the memory limit error naming %s", err, dir)
	}
}

// decodeRowKey reads back every kind rowKey encodes, and refuses bytes
// that are not a key of that many values.
func TestDecodeRowKey(t *testing.T) {
	key := []Value{{}, {K: KInt, I: -5}, {K: KBool, I: 1}, {K: KFloat, F: 2.5}, {K: KString, S: "héllo"}, {K: KDecimal, I: 7, H: -1},
		Interval(arrow.MonthDayNanoInterval{Months: -1, Days: 2, Nanoseconds: 3e9})}
	b := rowKey(nil, key)
	got, err := decodeRowKey(b, len(key))
	if err != nil || !slices.Equal(got, key) {
		t.Fatalf("decodeRowKey = %v, %v; want %v", got, err, key)
	}
	for _, bad := range [][]byte{b[:len(b)-1], append(slices.Clone(b), 0), {99}} {
		if _, err := decodeRowKey(bad, len(key)); err == nil {
			t.Errorf("decodeRowKey(%x) accepted", bad)
		}
	}
}

// Under DeferEmit (a micro-batch's GROUP BY emits at Tick) a spill
// keeps the groups touched earlier in the interval, whose changes wait
// for Tick, and renumbers them: each Tick emits exactly the unlimited
// aggregate's changes.
func TestGroupAggregateSpillDeferred(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	ref := newSpillAgg(t, mem, nil)
	defer ref.Close()
	sp := newSpillAgg(t, mem, exec.NewBudget(spillBudget).WithSpill(dir))
	defer sp.Close()
	ref.DeferEmit()
	sp.DeferEmit()
	in := &spillInput{r: rand.New(rand.NewPCG(5, 6)), keys: spillKeys}
	tick := func(g *GroupAggregate) []string {
		rec, err := g.Tick(t.Context(), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if rec != nil {
				rec.Release()
			}
		}()
		return rowsOf(t, rec)
	}
	for round := range 400 {
		rec := in.batch(t, mem, 1+in.r.IntN(60))
		pushAll(t, ref, []arrow.Record{rec}, false)
		pushAll(t, sp, []arrow.Record{rec}, false)
		rec.Release()
		if round%4 != 3 {
			continue
		}
		if got, want := tick(sp), tick(ref); !slices.Equal(got, want) {
			t.Fatalf("round %d: spilling aggregate's Tick emits\n%q\nwant\n%q", round, got, want)
		}
	}
	if st := sp.Stats(); st.Spills == 0 {
		t.Fatalf("state never spilled: %+v", st)
	}
}

// A spilling aggregate counts its pebble store's memory against the
// budget: after every batch the account holds the groups in memory and
// at least what pebble holds (its memtables and block cache, read from
// pebble's metrics), pebble stays within the share Store.Memory gives it,
// and the budget is not passed. Pebble's 8 MiB memtable and 8 MiB cache
// were not counted, so a query under a 1 MiB limit held 1 MiB of groups
// and pebble's memory on top.
func TestGroupAggregateSpillCountsStoreMemory(t *testing.T) {
	mem := checkedMem(t)
	const limit = 1 << 20
	budget := exec.NewBudget(limit).WithSpill(t.TempDir())
	g := newSpillAgg(t, mem, budget)
	defer g.Close()
	in := &spillInput{r: rand.New(rand.NewPCG(7, 8)), keys: 100000}
	for round := range 300 {
		rec := in.batch(t, mem, 200)
		pushAll(t, g, []arrow.Record{rec}, false)
		rec.Release()
		if g.sp.store == nil {
			continue
		}
		inUse := g.sp.store.InUse()
		if inUse <= 0 || inUse > g.sp.store.Memory() {
			t.Fatalf("round %d: pebble holds %d bytes, its share is %d", round, inUse, g.sp.store.Memory())
		}
		if used, groups := budget.Used(), g.groupBytes(); used < groups+inUse {
			t.Fatalf("round %d: the budget counts %d bytes; the groups in memory hold %d and pebble %d", round, used, groups, inUse)
		}
		if budget.Used() > limit {
			t.Fatalf("round %d: %d bytes counted, past the %d limit", round, budget.Used(), limit)
		}
	}
	if st := g.Stats(); st.Spills == 0 || st.Spilled == 0 {
		t.Fatalf("state never spilled: %+v", st)
	}
}

// A checkpoint whose groups outgrow the budget restores into the spill
// store, not into memory whole: after Restore (a full snapshot, and
// again after each delta of a chain) the state in memory and pebble's
// share stay within the limit, groups are on disk, and every group is
// the checkpointed one. Restore loaded every group into memory and left
// the first batch to spill, holding the whole checkpoint at once.
func TestGroupAggregateRestoreSpills(t *testing.T) {
	mem := checkedMem(t)
	budget := exec.NewBudget(spillBudget).WithSpill(t.TempDir())
	src := newSpillAgg(t, mem, budget)
	defer src.Close()
	in := &spillInput{r: rand.New(rand.NewPCG(9, 10)), keys: spillKeys}
	push := func(rounds int) {
		for range rounds {
			rec := in.batch(t, mem, 100)
			pushAll(t, src, []arrow.Record{rec}, false)
			rec.Release()
		}
	}
	push(120)
	full, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{full}
	for range 3 {
		push(20)
		d, err := src.SnapshotDelta()
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, d)
	}
	want := allGroups(t, mem, src)
	src.Close()

	budget = exec.NewBudget(spillBudget).WithSpill(t.TempDir())
	g := newSpillAgg(t, mem, budget)
	defer g.Close()
	for i, data := range chain {
		restore := g.RestoreDelta
		if i == 0 {
			restore = g.Restore
		}
		if err := restore(data); err != nil {
			t.Fatal(err)
		}
		if n := g.stateBytes(); n > spillBudget || budget.Used() > spillBudget {
			t.Fatalf("after checkpoint %d: %d bytes in memory (%d counted), past the %d limit", i, n, budget.Used(), spillBudget)
		}
		if g.sp.n == 0 {
			t.Fatalf("after checkpoint %d: nothing in the spill store", i)
		}
	}
	if got := allGroups(t, mem, g); !slices.Equal(got, want) {
		t.Fatalf("restored groups differ: %s", diffSorted(got, want))
	}
}
