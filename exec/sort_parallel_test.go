package exec

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortStableParallelIsSerial checks that the parallel stable sort
// returns exactly the serial stable sort's permutation, ties included, at
// several worker counts and sizes around the parallel threshold.
func TestSortStableParallelIsSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 100, minParallelSort*2 - 1, minParallelSort * 3, minParallelSort*5 + 17} {
		keys := make([]int, n)
		for i := range keys {
			keys[i] = r.IntN(50) // many ties
		}
		byKey := func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) }
		want := identity(n)
		slices.SortStableFunc(want, byKey)
		// Ascending rows with gaps, as SessionWindow passes (the rows
		// with a time).
		var kept []int32
		for i := range n {
			if keys[i]%7 != 3 {
				kept = append(kept, int32(i))
			}
		}
		wantKept := slices.Clone(kept)
		slices.SortStableFunc(wantKept, byKey)
		for _, w := range []int{1, 2, 3, 4, 7} {
			got := identity(n)
			sortStable(got, w, byKey)
			if !slices.Equal(got, want) {
				t.Fatalf("n=%d workers=%d: permutation differs from the serial stable sort", n, w)
			}
			got = slices.Clone(kept)
			sortStable(got, w, byKey)
			if !slices.Equal(got, wantKept) {
				t.Fatalf("n=%d workers=%d: sorting ascending rows with gaps differs from the serial stable sort", n, w)
			}
		}
	}
}

func identity(n int) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = int32(i)
	}
	return p
}
