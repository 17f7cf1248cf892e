package stream

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// groupsOf is a GroupAggregate's state as comparable text: each live
// group's key, rows and every aggregate's current value, sorted. Taking
// it snapshots a, so it restarts a's delta chain.
func groupsOf(t *testing.T, a *GroupAggregate) []string {
	t.Helper()
	if _, err := a.Snapshot(); err != nil {
		t.Fatal(err)
	}
	st := &a.st
	var out []string
	for s := uint32(1); int(s) < len(st.live); s++ {
		if !st.live[s] {
			continue
		}
		vals, err := a.core.results(st.accs, []uint32{s}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%v rows=%d %v", st.key(s), st.rows[s], vals))
	}
	slices.Sort(out)
	return out
}

// A GroupAggregate restored from a full snapshot and the deltas taken
// after it holds exactly the groups of the aggregate it was taken from —
// new, updated and deleted groups (retractions to zero rows), re-created
// ones, MIN/MAX under retraction and DISTINCT — and both then produce the
// same changelog for the same input. A delta holds only the changed
// groups.
func TestGroupAggregateDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	mk := func() *GroupAggregate {
		g, err := NewGroupAggregate(mem, clSchema, []GroupKey{{Expr: col(clSchema, 1), Name: "k"}},
			[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(clSchema, 2), Name: "s"},
				{Func: AggMin, Arg: col(clSchema, 2), Name: "lo"}, {Func: AggMax, Arg: col(clSchema, 2), Name: "hi"},
				{Func: AggCountDistinct, Arg: col(clSchema, 2), Name: "d"}})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	r := rand.New(rand.NewPCG(7, 9))
	type row struct {
		k string
		v int64
	}
	var live []row
	// batch is a valid changelog: inserts over a key space of 300, and
	// deletes of rows inserted before; a few keys see most of the traffic.
	batch := func(n int) arrow.Record {
		var b strings.Builder
		b.WriteString("[")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			if len(live) > 0 && r.IntN(3) == 0 {
				j := r.IntN(len(live))
				x := live[j]
				live = slices.Delete(live, j, j+1)
				fmt.Fprintf(&b, `{"op":3,"k":%q,"v":%d}`, x.k, x.v)
				continue
			}
			k := fmt.Sprintf("k%d", r.IntN(300))
			if r.IntN(2) == 0 {
				k = fmt.Sprintf("hot%d", r.IntN(5))
			}
			x := row{k, int64(r.IntN(20))}
			live = append(live, x)
			fmt.Fprintf(&b, `{"op":0,"k":%q,"v":%d}`, x.k, x.v)
		}
		b.WriteString("]")
		return fromJSON(t, mem, clSchema, b.String())
	}
	a := mk()
	defer a.Close()
	var chain [][]byte // full snapshot, then deltas
	for round := range 40 {
		rec := batch(1 + r.IntN(40))
		pushAll(t, a, []arrow.Record{rec}, false)
		rec.Release()
		if len(chain) == 0 || round%7 == 0 {
			full, err := a.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			chain = [][]byte{full}
		} else {
			d, err := a.SnapshotDelta()
			if err != nil {
				t.Fatal(err)
			}
			if d != nil {
				chain = append(chain, d)
			}
		}
		if round%3 != 2 {
			continue
		}
		b := mk()
		if err := b.Restore(chain[0]); err != nil {
			t.Fatal(err)
		}
		for _, d := range chain[1:] {
			if err := b.RestoreDelta(d); err != nil {
				t.Fatal(err)
			}
		}
		// Both go on the same: the same changelog for the same input.
		next := batch(30)
		wantOut := pushAll(t, a, []arrow.Record{next}, false)
		gotOut := pushAll(t, b, []arrow.Record{next}, false)
		next.Release()
		if !equalStrings(sorted(gotOut), sorted(wantOut)) {
			t.Fatalf("round %d: restored aggregate emits\n%q\nwant\n%q", round, gotOut, wantOut)
		}
		want, got := groupsOf(t, a), groupsOf(t, b)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: restored groups\n%q\nwant\n%q", round, got, want)
		}
		b.Close()
		chain = nil // groupsOf snapshotted a: a new chain starts
	}
}

// A delta holds the groups a Push touched since the last snapshot and no
// other; nothing touched, no delta.
func TestGroupAggregateDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var b strings.Builder
	b.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"k":"key%d","v":%d}`, i, i)
	}
	b.WriteString("]")
	all := fromJSON(t, mem, kvSchema, b.String())
	defer all.Release()
	pushAll(t, g, []arrow.Record{all}, false)
	if _, err := g.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if d, err := g.SnapshotDelta(); err != nil || d != nil {
		t.Fatalf("nothing changed: delta of %d bytes, %v", len(d), err)
	}
	two := fromJSON(t, mem, kvSchema, `[{"k":"key5","v":1},{"k":"new","v":2},{"k":"key5","v":3}]`)
	defer two.Release()
	pushAll(t, g, []arrow.Record{two}, false)
	data, err := g.SnapshotDelta()
	if err != nil {
		t.Fatal(err)
	}
	var d groupDelta
	if err := decode(data, &d); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, s := range d.Groups {
		keys = append(keys, s.Key[0].S)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"key5", "new"}) || len(d.Dead) != 0 {
		t.Fatalf("delta holds %v and %d deleted, want key5 and new", keys, len(d.Dead))
	}
	if d, err := g.SnapshotDelta(); err != nil || d != nil {
		t.Fatalf("second delta without changes: %d bytes, %v", len(d), err)
	}
}
