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
// sorted on its own goroutine, and neighbouring runs are merged, each
// merge cut into pieces at output positions (coRank) so that every worker
// merges one even at the last level. cmp must be safe to call from several
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
		pairs := (len(bounds) - 1) / 2
		// Split each merge into pieces so that every worker has one even
		// when few pairs are left (the last level is one pair).
		pieces := max(workers/max(pairs, 1), 1)
		for i := 0; i+1 < len(bounds); i += 2 {
			if i+2 >= len(bounds) {
				copy(dst[bounds[i]:bounds[i+1]], src[bounds[i]:bounds[i+1]])
				next = append(next, bounds[i+1])
				continue
			}
			lo, mid, hi := bounds[i], bounds[i+1], bounds[i+2]
			a, b, out := src[lo:mid], src[mid:hi], dst[lo:hi]
			for p := range pieces {
				k0, k1 := p*len(out)/pieces, (p+1)*len(out)/pieces
				wg.Add(1)
				go func() {
					defer wg.Done()
					i0, i1 := coRank(k0, a, b, byRow), coRank(k1, a, b, byRow)
					MergeRuns(out[k0:k1], a[i0:i1], b[k0-i0:k1-i1], byRow)
				}()
			}
			next = append(next, hi)
		}
		wg.Wait()
		src, dst, bounds = dst, src, next
	}
	if &src[0] != &perm[0] {
		copy(perm, src)
	}
}

// coRank is how many of the k first rows of the merge of the sorted runs
// a and b come from a, under the total order cmp (no two rows equal), so
// a merge can be cut at any output position and its pieces done apart.
func coRank(k int, a, b []int32, cmp func(x, y int32) int) int {
	lo, hi := max(0, k-len(b)), min(k, len(a))
	for lo < hi {
		mid := (lo + hi) / 2
		if cmp(a[mid], b[k-mid-1]) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// MergeRuns merges the sorted runs a and b into dst (len(a)+len(b)
// long), taking from a on a tie, so merging adjacent runs is stable
// (sortStable's cmp has no ties: they are broken by row number, and a's
// rows come before b's). Only cmp(b's, a's) < 0 is asked.
func MergeRuns[T any](dst, a, b []T, cmp func(x, y T) int) {
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
