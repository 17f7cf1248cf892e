package exec

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestApproxCountDistinct holds the HyperLogLog estimate to the exact
// distinct count within the documented bound (2.5%, three standard errors
// of 0.81%) for groups from 10 to 300,000 distinct values with duplicates
// and NULLs; splitting the input over two states and merging them
// (sessions), or over per-morsel partial sketches merged by
// approx_count_distinct_merge (parallel batch), gives the very same
// estimate, as does a Save/Load round trip; a retraction is refused.
func TestApproxCountDistinct(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sizes := []int{10, 1000, 20000, 300000}
	rng := rand.New(rand.NewSource(3))
	newState := func(fn string, arg arrow.DataType) AggState {
		st, err := NewAggState(mem, fn, arg, false, AggOptions{Streaming: true})
		if err != nil {
			t.Fatal(err)
		}
		st.Grow(len(sizes))
		return st
	}
	whole := newState("approx_count_distinct", arrow.BinaryTypes.String)
	halves := []AggState{newState("approx_count_distinct", arrow.BinaryTypes.String), newState("approx_count_distinct", arrow.BinaryTypes.String)}
	final := newState("approx_count_distinct_merge", arrow.BinaryTypes.Binary)
	feed := func(st AggState, gids []uint32, vals []string, valid []bool) {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.AppendValues(vals, valid)
		arr := b.NewArray()
		defer arr.Release()
		if err := st.Update(gids, arr, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Each group g sees its values 0..sizes[g]-1 twice, shuffled, with
	// NULLs between, in batches of 4096.
	var gids []uint32
	var vals []string
	var valid []bool
	for g, n := range sizes {
		for rep := 0; rep < 2; rep++ {
			for v := 0; v < n; v++ {
				gids, vals, valid = append(gids, uint32(g)), append(vals, fmt.Sprintf("v%d", v)), append(valid, true)
				if v%97 == 0 {
					gids, vals, valid = append(gids, uint32(g)), append(vals, ""), append(valid, false)
				}
			}
		}
	}
	rng.Shuffle(len(gids), func(i, j int) {
		gids[i], gids[j] = gids[j], gids[i]
		vals[i], vals[j] = vals[j], vals[i]
		valid[i], valid[j] = valid[j], valid[i]
	})
	for lo, k := 0, 0; lo < len(gids); lo, k = lo+4096, k+1 {
		hi := min(lo+4096, len(gids))
		feed(whole, gids[lo:hi], vals[lo:hi], valid[lo:hi])
		feed(halves[k%2], gids[lo:hi], vals[lo:hi], valid[lo:hi])
		// A morsel's partial sketches, merged by the final aggregate.
		morsel := newState("approx_count_distinct_state", arrow.BinaryTypes.String)
		feed(morsel, gids[lo:hi], vals[lo:hi], valid[lo:hi])
		sk, err := morsel.Result(mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := final.Update([]uint32{0, 1, 2, 3}, sk, nil); err != nil {
			t.Fatal(err)
		}
		sk.Release()
	}
	estimates := func(st AggState) []int64 {
		res, err := st.Result(mem, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Release()
		return res.(*array.Int64).Int64Values()[:len(sizes):len(sizes)]
	}
	got := append([]int64(nil), estimates(whole)...)
	for g, n := range sizes {
		if e := math.Abs(float64(got[g])-float64(n)) / float64(n); e > 0.025 {
			t.Errorf("group of %d distinct values: estimate %d, error %.2f%% over the 2.5%% bound", n, got[g], 100*e)
		}
		t.Logf("%d distinct: estimate %d (%.3f%%)", n, got[g], 100*(float64(got[g])-float64(n))/float64(n))
	}
	if got[0] != int64(sizes[0]) {
		t.Errorf("10 distinct values: estimate %d, want exactly 10 (sparse sketch)", got[0])
	}
	// Merge the second half's groups into the first state's through Save/Load.
	merged := newState("approx_count_distinct", arrow.BinaryTypes.String)
	merged.Grow(2 * len(sizes))
	for g := uint32(0); g < uint32(len(sizes)); g++ {
		for k, h := range halves {
			b, err := h.Save(nil, g)
			if err != nil {
				t.Fatal(err)
			}
			dst := g + uint32(k*len(sizes))
			if _, err := merged.Load(dst, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := merged.Merge(g, g+uint32(len(sizes))); err != nil {
			t.Fatal(err)
		}
	}
	if m := estimates(merged); fmt.Sprint(m) != fmt.Sprint(got) {
		t.Errorf("merged halves estimate %v, one state %v", m, got)
	}
	if f := estimates(final); fmt.Sprint(f) != fmt.Sprint(got) {
		t.Errorf("merged partial sketches estimate %v, one state %v", f, got)
	}
	if whole.Bytes() < 1<<14 {
		t.Errorf("Bytes = %d, below one dense sketch", whole.Bytes())
	}
	one := array.NewStringBuilder(mem)
	one.Append("x")
	arr := one.NewArray()
	one.Release()
	defer arr.Release()
	if err := whole.Update([]uint32{0}, arr, []int8{-1}); err == nil {
		t.Error("a retraction into a sketch was accepted")
	}
}
