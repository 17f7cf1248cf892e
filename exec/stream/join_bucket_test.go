package stream

import (
	"math/rand"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// TestJoinBucketFindsByHash: a bucket finds its rows by hash and full
// values, below and past the size where it indexes them, including rows
// whose hashes collide, and keeps finding the others as rows leave.
func TestJoinBucketFindsByHash(t *testing.T) {
	for _, n := range []int{3, bucketIndexAt + 5} {
		b := &joinBucket{}
		var rows []*joinRow
		for i := range n {
			// Every third row shares a hash with the one before it.
			h := uint64(i)
			if i%3 == 2 {
				h = uint64(i - 1)
			}
			r := &joinRow{h: h, vals: []Value{Int(int64(i)), Str("x")}}
			b.add(r)
			rows = append(rows, r)
		}
		var scratch []byte
		find := func(r *joinRow) *joinRow {
			return b.find(r.h, rowKey(nil, r.vals), &scratch)
		}
		for _, r := range rows {
			if find(r) != r {
				t.Fatalf("n=%d: row %v not found", n, r.vals)
			}
		}
		if got := b.find(rows[1].h, rowKey(nil, []Value{Int(99), Str("x")}), &scratch); got != nil {
			t.Fatalf("n=%d: found %v for values the bucket does not hold", n, got.vals)
		}
		rng := rand.New(rand.NewSource(int64(n)))
		for _, i := range rng.Perm(n) {
			if !b.remove(rows[i]) {
				t.Fatalf("n=%d: row %d not removed", n, i)
			}
			if b.remove(rows[i]) {
				t.Fatalf("n=%d: row %d removed twice", n, i)
			}
			if find(rows[i]) != nil {
				t.Fatalf("n=%d: removed row %d still found", n, i)
			}
			rows[i] = nil
			for _, r := range rows {
				if r != nil && find(r) != r {
					t.Fatalf("n=%d: row %v lost after removing row %d", n, r.vals, i)
				}
			}
		}
		if len(b.rows) != 0 {
			t.Fatalf("n=%d: %d rows left", n, len(b.rows))
		}
	}
}

// TestRegularJoinLargeBuckets: with many distinct rows per key (buckets
// past the indexed size), inserts and retractions of both inputs still
// fold to the batch join at every batch size.
func TestRegularJoinLargeBuckets(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(7))
	var rows []jrow
	var live [2][]jrow
	for len(rows) < 600 {
		side := rng.Intn(2)
		if len(live[side]) > 0 && rng.Intn(4) == 0 {
			i := rng.Intn(len(live[side]))
			r := live[side][i]
			live[side] = append(live[side][:i], live[side][i+1:]...)
			r.retract = true
			rows = append(rows, r)
			continue
		}
		r := jrow{side: side, k: kp(int64(rng.Intn(3))), v: int64(rng.Intn(60)), ts: int64(rng.Intn(2))}
		live[side] = append(live[side], r)
		rows = append(rows, r)
	}
	for _, kind := range []JoinKind{InnerJoin, FullJoin} {
		want := refJoin(kind, rows, func(a, b int64) bool { return a < b }, nil)
		for _, n := range batchSizes {
			lk, rk := changelogKeys()
			j, err := NewJoin(mem, withOpSchema(joinLeft), withOpSchema(joinRight), JoinSpec{Kind: kind, LeftKeys: lk, RightKeys: rk, Residual: residualLess(t)})
			if err != nil {
				t.Fatal(err)
			}
			got := foldOut(t, true, runJoin(t, mem, j, true, rows, n, true))
			if !equalStrings(got, want) {
				t.Fatalf("kind %d batch %d: got %d rows, want %d", kind, n, len(got), len(want))
			}
			big := false
			for _, sd := range j.sides {
				for _, b := range sd.buckets {
					big = big || b.byHash != nil
				}
			}
			if !big {
				t.Fatal("no bucket reached the indexed size: the test does not cover it")
			}
			j.Close()
		}
	}
}

// TestSharedReader: the shared reader of a string column gives the plain
// reader's Values, for a sliced array with NULLs and empty strings too.
func TestSharedReader(t *testing.T) {
	mem := checkedMem(t)
	b := array.NewStringBuilder(mem)
	defer b.Release()
	b.AppendValues([]string{"alpha", "", "gamma", "delta", "", "zeta"}, []bool{true, true, false, true, true, true})
	arr := b.NewArray()
	defer arr.Release()
	for _, part := range []arrow.Array{arr, array.NewSlice(arr, 2, 6)} {
		shared, err := sharedReader(part)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := reader(part)
		if err != nil {
			t.Fatal(err)
		}
		for i := range part.Len() {
			if got, want := shared(i), plain(i); got != want {
				t.Fatalf("row %d of %d: shared %v, plain %v", i, part.Len(), got, want)
			}
		}
		if part != arr {
			part.Release()
		}
	}
}
