package stream

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// TestJoinStoreFindsByHash: a store finds its rows by hash and full
// values, in small (scanned) and large (hash-indexed) buckets, including rows whose hashes
// collide, and keeps finding the others as rows leave;
// a slot given back is reused only after recycle, and an emptied bucket
// is freed.
func TestJoinStoreFindsByHash(t *testing.T) {
	fields := []arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String}}
	for _, n := range []int{3, 5, hashFrom, 21} {
		st, err := newJoinStore(fields, maphash.MakeSeed())
		if err != nil {
			t.Fatal(err)
		}
		key := appendKey(nil, Int(7))
		b := st.bucketFor(key)
		var rows []int32
		for i := range n {
			r := st.newSlot()
			st.setValue(r, 0, Int(int64(i)))
			st.setValue(r, 1, Str("x"))
			// Every third row shares a hash with the one before it.
			st.m(r).h = uint64(i)
			if i%3 == 2 {
				st.m(r).h = uint64(i - 1)
			}
			st.add(b, r)
			rows = append(rows, r)
		}
		find := func(r int32) int32 { return st.find(b, r, st.m(r).h) }
		for _, r := range rows {
			if find(r) != r {
				t.Fatalf("n=%d: row %v not found", n, st.values(r))
			}
		}
		// A bucket of more than hashFrom rows is indexed by hash, a
		// smaller one scanned.
		if want := n > hashFrom; st.bucket(b).hashed != want || (st.byHash.n > 0) != want {
			t.Fatalf("n=%d: bucket hashed %v with %d rows in the hash index", n, st.bucket(b).hashed, st.byHash.n)
		}
		probe := st.newSlot()
		st.setValue(probe, 0, Int(99))
		st.setValue(probe, 1, Str("x"))
		if got := st.find(b, probe, st.m(rows[1]).h); got >= 0 {
			t.Fatalf("n=%d: found %v for values the bucket does not hold", n, st.values(got))
		}
		st.release(probe)
		rng := rand.New(rand.NewSource(int64(n)))
		for k, i := range rng.Perm(n) {
			if !st.remove(rows[i]) {
				t.Fatalf("n=%d: row %d not removed", n, i)
			}
			if st.remove(rows[i]) {
				t.Fatalf("n=%d: row %d removed twice", n, i)
			}
			if k < n-1 && find(rows[i]) >= 0 {
				t.Fatalf("n=%d: removed row %d still found", n, i)
			}
			rows[i] = -1
			for _, r := range rows {
				if r >= 0 && find(r) != r {
					t.Fatalf("n=%d: row %v lost after removing row %d", n, st.values(r), i)
				}
			}
		}
		if st.rows != 0 || st.findBucket(key) >= 0 {
			t.Fatalf("n=%d: %d rows left, bucket %d", n, st.rows, st.findBucket(key))
		}
		if len(st.free) != 0 {
			t.Fatalf("n=%d: slots reusable before recycle", n)
		}
		st.recycle()
		if len(st.free) != n+1 {
			t.Fatalf("n=%d: %d slots reusable after recycle, want %d", n, len(st.free), n+1)
		}
	}
}

// TestJoinStoreValues: every kind of Value a join holds reads back as
// written (NULLs, -0, decimals, empty and long strings, lists), equal
// rows hash and compare alike, and an arena that is mostly garbage is
// compacted at recycle without changing the held rows.
func TestJoinStoreValues(t *testing.T) {
	fields := []arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int32}, {Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "s", Type: arrow.BinaryTypes.String}, {Name: "b", Type: arrow.FixedWidthTypes.Boolean},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 20, Scale: 2}}, {Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
	}
	st, err := newJoinStore(fields, maphash.MakeSeed())
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("y", 1<<20)
	rows := [][]Value{
		{Int(-3), Float(1.5), Str("abc"), {K: KBool, I: 1}, {K: KDecimal, I: -1, H: 5}, {K: KList, S: "\x01"}},
		{{}, {}, {}, {}, {}, {}},
		{Int(0), Float(math.Copysign(0, -1)), Str(""), {K: KBool}, {K: KDecimal}, {K: KList}},
		{Int(1), Float(math.NaN()), Str(long), {K: KBool}, {K: KDecimal, I: 7}, {}},
	}
	b := st.bucketFor(appendKey(nil, Str("k")))
	var slots []int32
	for _, row := range rows {
		r := st.newSlot()
		for c, v := range row {
			if err := st.setValue(r, c, v); err != nil {
				t.Fatal(err)
			}
		}
		st.m(r).h = st.hashSlot(r)
		st.add(b, r)
		slots = append(slots, r)
	}
	same := func(r int32, want []Value) bool {
		return string(rowKey(nil, st.values(r))) == string(rowKey(nil, want))
	}
	for i, r := range slots {
		if !same(r, rows[i]) {
			t.Fatalf("row %d reads back as %v, want %v", i, st.values(r), rows[i])
		}
		dup := st.newSlot()
		for c, v := range rows[i] {
			st.setValue(dup, c, v)
		}
		if st.hashSlot(dup) != st.m(r).h || !st.sameRow(dup, r) || st.find(b, dup, st.hashSlot(dup)) != r {
			t.Fatalf("row %d: an equal row does not hash or compare alike", i)
		}
		st.release(dup)
	}
	zero := st.newSlot()
	for c, v := range rows[2] {
		st.setValue(zero, c, v)
	}
	st.setValue(zero, 1, Float(0))
	if st.hashSlot(zero) != st.m(slots[2]).h || !st.sameRow(zero, slots[2]) {
		t.Fatal("-0 and 0 do not hash or compare alike")
	}
	st.release(zero)
	st.remove(slots[3]) // the long string is now garbage
	st.recycle()
	if got := st.cols[2].arena.used; got != int64(len("abc")) {
		t.Fatalf("string arena holds %d bytes after compaction, want %d", got, len("abc"))
	}
	for i, r := range slots[:3] {
		if !same(r, rows[i]) {
			t.Fatalf("row %d reads back as %v after compaction", i, st.values(r))
		}
	}
}

// TestRegularJoinLargeBuckets: with many distinct rows per key (buckets
// 16 rows and more), inserts and retractions of both inputs still
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
				for b := range sd.st.nbuckets {
					big = big || sd.st.bucket(b).n >= 16
				}
			}
			if !big {
				t.Fatal("no bucket reached 16 rows: the test does not cover it")
			}
			j.Close()
		}
	}
}

// TestSlotIndexMatchesMap: random sets and deletions of clustered keys
// (a small key space, so runs of probes wrap and deletions shift
// entries back) leave the index answering as a Go map does, through
// growth.
func TestSlotIndexMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	x := newSlotIndex()
	want := map[uint64]int32{}
	for step := range 200000 {
		k := uint64(rng.Intn(5000))
		if rng.Intn(3) == 0 {
			x.del(k)
			delete(want, k)
		} else {
			v := int32(rng.Intn(1 << 20))
			x.set(k, v)
			want[k] = v
		}
		if step%997 == 0 || step == 199999 {
			for k := range uint64(5000) {
				got, ok := x.get(k)
				w, wok := want[k]
				if ok != wok || (ok && got != w) {
					t.Fatalf("step %d: key %d: got %d,%v want %d,%v", step, k, got, ok, w, wok)
				}
			}
			if x.n != len(want) {
				t.Fatalf("step %d: %d entries, want %d", step, x.n, len(want))
			}
		}
	}
}

// TestJoinStoreChunks: a store grown past several slab chunks and
// arena blocks (strings of every length up to a few KiB, one longer than
// a block, empty ones) reads every row back as written, keeps strings
// read before later writes and before a compaction intact, and after
// half its rows are dropped compacts to exactly the live strings.
func TestJoinStoreChunks(t *testing.T) {
	fields := []arrow.Field{{Name: "i", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String}}
	st, err := newJoinStore(fields, maphash.MakeSeed())
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*slabChunk + 123
	text := func(i int) string {
		switch {
		case i == 5000:
			return strings.Repeat("L", arenaBlock+17)
		case i%7 == 0:
			return ""
		}
		return strings.Repeat(string(rune('a'+i%26)), i%3000) + fmt.Sprint(i)
	}
	b := st.bucketFor(appendKey(nil, Int(1)))
	slots := make([]int32, n)
	views := make([]string, n) // read right after each write
	for i := range n {
		r := st.newSlot()
		if err := st.setValue(r, 0, Int(int64(i))); err != nil {
			t.Fatal(err)
		}
		if err := st.setValue(r, 1, Str(text(i))); err != nil {
			t.Fatal(err)
		}
		st.m(r).h = st.hashSlot(r)
		st.add(b, r)
		slots[i], views[i] = r, st.value(r, 1).S
	}
	if len(st.meta.chunks) != 4 || len(st.cols[1].arena.blocks) < 3 {
		t.Fatalf("%d slab chunks and %d arena blocks for %d rows: the test does not cross chunks", len(st.meta.chunks), len(st.cols[1].arena.blocks), n)
	}
	check := func(when string, keep func(i int) bool) {
		t.Helper()
		for i, r := range slots {
			if !keep(i) {
				continue
			}
			if got := st.values(r); got[0].I != int64(i) || got[1].S != text(i) || views[i] != text(i) {
				t.Fatalf("%s: row %d reads back as (%d, %d bytes), its early view has %d bytes, want %d bytes",
					when, i, got[0].I, len(got[1].S), len(views[i]), len(text(i)))
			}
		}
	}
	check("grown", func(int) bool { return true })
	var live int64
	for i, r := range slots {
		if i%2 == 1 || i == 5000 {
			st.remove(r)
		} else {
			live += int64(len(text(i)))
		}
	}
	st.recycle()
	if got := st.cols[1].arena.used; got != live {
		t.Fatalf("arena holds %d bytes after compaction, want the live rows' %d", got, live)
	}
	check("compacted", func(i int) bool { return i%2 == 0 && i != 5000 })
	// Freed slots are reused before new ones are made.
	if r := st.newSlot(); r >= n {
		t.Fatalf("new slot %d after %d were freed: none reused", r, n/2)
	}
}

// TestJoinStoreDropsEmptiedBlocks: a store whose rows leave in the order
// they came (an interval join's, freed by the watermarks) drops each
// arena block once its strings are all released, so the arena holds
// about the live rows' strings without a compaction (which would have
// copied every held string); the held rows still read back intact.
func TestJoinStoreDropsEmptiedBlocks(t *testing.T) {
	fields := []arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}
	st, err := newJoinStore(fields, maphash.MakeSeed())
	if err != nil {
		t.Fatal(err)
	}
	text := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 100) + fmt.Sprint(i) }
	b := st.bucketFor(appendKey(nil, Int(1)))
	const window, n = 2000, 60000 // ~200 KB held, ~6 MB passed through
	var held []int32
	for i := range n {
		r := st.newSlot()
		if err := st.setValue(r, 0, Str(text(i))); err != nil {
			t.Fatal(err)
		}
		st.m(r).h = st.hashSlot(r)
		st.add(b, r)
		held = append(held, r)
		if len(held) > window {
			st.remove(held[0])
			held = held[1:]
		}
		st.recycle()
		col := &st.cols[0]
		// Live strings plus at most two blocks not yet emptied.
		if limit := int64(window*106 + 2*arenaBlock); col.arena.used > limit {
			t.Fatalf("row %d: arena holds %d bytes for %d live rows, want ≤ %d (emptied blocks not dropped)", i, col.arena.used, len(held), limit)
		}
		if col.garbage < 0 || col.garbage > col.arena.used {
			t.Fatalf("row %d: garbage %d of %d arena bytes", i, col.garbage, col.arena.used)
		}
	}
	for k, r := range held {
		if got, want := st.value(r, 0).S, text(n-len(held)+k); got != want {
			t.Fatalf("held row %d reads %q, want %q", k, got, want)
		}
	}
	// Dropped blocks' indices are reused: the block list stays as short
	// as the blocks held at once (without reuse, ~15 for the 6 MB).
	if n := len(st.cols[0].arena.blocks); n > 8 {
		t.Fatalf("the arena lists %d blocks for ~200 KB held", n)
	}
}

// TestJoinStoreAdoptsBatchStrings: a batch whose rows the store keeps
// is held in the batch's own string buffer (retained, nothing copied),
// given back once its rows are all gone; a batch that keeps few of its
// rows has those strings copied out at the end of the batch, so its
// buffer is given back at the next recycle while the kept rows still
// read right.
func TestJoinStoreAdoptsBatchStrings(t *testing.T) {
	mem := checkedMem(t)
	text := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), 90) + fmt.Sprint(i) }
	batch := func(from int) *array.String {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for i := range 1000 {
			b.Append(text(from + i))
		}
		return b.NewStringArray()
	}
	st, err := newJoinStore([]arrow.Field{{Name: "s", Type: arrow.BinaryTypes.String}}, maphash.MakeSeed())
	if err != nil {
		t.Fatal(err)
	}
	defer st.reset()
	// write stores the rows of arr for which keep is true (the others
	// are given back, as rows not kept are) and ends the batch.
	write := func(arr *array.String, from int, keep func(i int) bool) map[int32]int {
		w, err := newStoreWriter(st, 0, arr)
		if err != nil {
			t.Fatal(err)
		}
		held := map[int32]int{}
		for i := range arr.Len() {
			r := st.newSlot()
			if err := w(r, i); err != nil {
				t.Fatal(err)
			}
			if !keep(i) {
				st.release(r)
				continue
			}
			st.m(r).h = st.hashSlot(r)
			st.add(st.bucketFor(appendKey(nil, Int(int64(i)))), r)
			held[r] = from + i
		}
		st.endBatch()
		arr.Release()
		st.recycle()
		return held
	}
	check := func(what string, held map[int32]int) {
		t.Helper()
		for r, i := range held {
			if got := st.value(r, 0).S; got != text(i) {
				t.Fatalf("%s: slot %d reads %q, want %q", what, r, got, text(i))
			}
		}
	}

	all := write(batch(0), 0, func(int) bool { return true })
	check("a batch kept whole", all)
	if mem.CurrentAlloc() == 0 {
		t.Fatal("a batch kept whole was copied: its buffer is not held")
	}
	if col := &st.cols[0]; col.arena.cur != 0 {
		t.Fatalf("a batch kept whole was copied into own blocks (%d bytes)", col.arena.used)
	}
	for r := range all {
		st.remove(r)
	}
	st.recycle()
	if n := mem.CurrentAlloc(); n != 0 {
		t.Fatalf("the batch's rows are gone, but %d bytes of it are held", n)
	}

	few := write(batch(5000), 5000, func(i int) bool { return i%10 == 3 })
	check("a batch kept a tenth", few)
	if n := mem.CurrentAlloc(); n != 0 {
		t.Fatalf("a batch that kept a tenth of its rows is held whole (%d bytes)", n)
	}
	if col := &st.cols[0]; col.garbage < 0 || col.garbage > col.arena.used {
		t.Fatalf("garbage %d of %d arena bytes", col.garbage, col.arena.used)
	}
}
