package exec

import (
	"slices"
	"sync"
)

// minParallelSort is the fewest rows worth sorting on more than one
// goroutine: below it the merge and the goroutines cost more than they
// save.
const minParallelSort = 1 << 14

// sortStable sorts perm, which must hold row numbers in ascending order
// (the identity, or the rows kept by a filter), stably by cmp on up to
// workers goroutines. The result is exactly slices.SortStableFunc's
// whatever workers is. Because perm starts ascending, a stable order is
// the order of cmp with ties broken by the row number, so each run is
// sorted with pdqsort (slices.SortFunc) under that total order, which
// costs far less than the insertion-sort-and-rotate merges of
// slices.SortStableFunc (measured: a query with two OVER clauses over 1M
// rows, 2.8 s → 1.7 s on one core). perm is cut into contiguous runs, each
// sorted on its own goroutine, and neighbouring runs are merged taking the
// left run's row on a tie. cmp must be safe to call from several
// goroutines at once (it only reads).
func sortStable(perm []int32, workers int, cmp func(a, b int32) int) {
	n := len(perm)
	if workers > n/minParallelSort {
		workers = n / minParallelSort
	}
	byRow := func(a, b int32) int {
		if c := cmp(a, b); c != 0 {
			return c
		}
		return int(a) - int(b)
	}
	if workers <= 1 {
		slices.SortFunc(perm, byRow)
		return
	}
	bounds := make([]int, workers+1)
	for i := range bounds {
		bounds[i] = i * n / workers
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(run []int32) {
			defer wg.Done()
			slices.SortFunc(run, byRow)
		}(perm[bounds[w]:bounds[w+1]])
	}
	wg.Wait()
	src, dst := perm, make([]int32, n)
	for len(bounds) > 2 {
		next := []int{0}
		for i := 0; i+1 < len(bounds); i += 2 {
			if i+2 >= len(bounds) {
				copy(dst[bounds[i]:bounds[i+1]], src[bounds[i]:bounds[i+1]])
				next = append(next, bounds[i+1])
				continue
			}
			lo, mid, hi := bounds[i], bounds[i+1], bounds[i+2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				mergeRuns(dst[lo:hi], src[lo:mid], src[mid:hi], cmp)
			}()
			next = append(next, hi)
		}
		wg.Wait()
		src, dst, bounds = dst, src, next
	}
	if &src[0] != &perm[0] {
		copy(perm, src)
	}
}

// mergeRuns merges the sorted runs a and b into dst (len(a)+len(b) long),
// taking from a on a tie.
func mergeRuns(dst, a, b []int32, cmp func(x, y int32) int) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if cmp(b[j], a[i]) < 0 {
			dst[k] = b[j]
			j++
		} else {
			dst[k] = a[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], a[i:])
	copy(dst[k:], b[j:])
}
