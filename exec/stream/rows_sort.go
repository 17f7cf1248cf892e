package stream

import "github.com/sluicesql/sluice/exec"

// sortRowsStable sorts rows by less, keeping the order of rows neither is
// less than the other (what sort.SliceStable gives), by merging the runs
// already in order: an OVER's rows come from its kernel partition by
// partition, each partition's in event-time order, so ordering them by
// time merges a few long runs in O(n log runs) moves of slice headers.
// sort.SliceStable's insertion sorts and rotations, through a reflected
// swapper, were a third of a streaming OVER's CPU.
func sortRowsStable(rows [][]Value, less func(a, b []Value) bool) {
	// ends[i] is where run i ends; run i starts at ends[i-1] (or 0).
	var ends []int
	for i := 1; i < len(rows); i++ {
		if less(rows[i], rows[i-1]) {
			ends = append(ends, i)
		}
	}
	if len(ends) == 0 {
		return
	}
	ends = append(ends, len(rows))
	cmp := func(x, y []Value) int {
		if less(x, y) {
			return -1
		}
		return 0 // MergeRuns asks only whether its second run's row goes first
	}
	src, dst := rows, make([][]Value, len(rows))
	for len(ends) > 1 {
		next := ends[:0:0]
		lo := 0
		for r := 0; r < len(ends); r += 2 {
			if r+1 == len(ends) {
				copy(dst[lo:ends[r]], src[lo:ends[r]])
				next = append(next, ends[r])
				break
			}
			exec.MergeRuns(dst[lo:ends[r+1]], src[lo:ends[r]], src[ends[r]:ends[r+1]], cmp)
			lo = ends[r+1]
			next = append(next, lo)
		}
		ends = next
		src, dst = dst, src
	}
	if &src[0] != &rows[0] {
		copy(rows, src)
	}
}
