package stream

import (
	"math/rand"
	"slices"
	"sort"
	"testing"
)

// TestSortRowsStableEqualsSliceStable: on random rows (a few keys, so
// many ties, in runs of random lengths or at random) sortRowsStable
// leaves exactly what sort.SliceStable does, ties in input order.
func TestSortRowsStableEqualsSliceStable(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	less := func(a, b []Value) bool { return a[0].I < b[0].I }
	for trial := range 400 {
		n := rng.Intn(300)
		if trial%50 == 0 {
			n = 5000
		}
		rows := make([][]Value, n)
		keys := 1 + rng.Intn(12)
		sorted := trial%3 == 0 // runs already in order, as an OVER's kernel gives
		v := int64(0)
		for i := range rows {
			if sorted && rng.Intn(40) == 0 {
				v = int64(rng.Intn(keys))
			} else if sorted {
				v += int64(rng.Intn(2))
			} else {
				v = int64(rng.Intn(keys))
			}
			rows[i] = []Value{{K: KInt, I: v}, {K: KInt, I: int64(i)}} // [1]: input position
		}
		want := slices.Clone(rows)
		sort.SliceStable(want, func(i, j int) bool { return less(want[i], want[j]) })
		got := slices.Clone(rows)
		sortRowsStable(got, less)
		for i := range want {
			if got[i][0].I != want[i][0].I || got[i][1].I != want[i][1].I {
				t.Fatalf("trial %d (%d rows): row %d is (%d, from %d), want (%d, from %d)", trial, n, i, got[i][0].I, got[i][1].I, want[i][0].I, want[i][1].I)
			}
		}
	}
}
