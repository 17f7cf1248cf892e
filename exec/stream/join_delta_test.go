package stream

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// joinState lists what a join holds, in a canonical order: every row
// with its multiplicity, matches and expiry, and the watermarks, counts
// and pending window rows.
func joinState(j *Join) []string {
	var out []string
	for side, sd := range j.sides {
		st := sd.st
		for b := range st.nbuckets {
			for _, r := range st.rowsOf(b) {
				out = append(out, fmt.Sprintf("row %d %q %v n=%d m=%d exp=%d", side, st.keyOf(b), st.values(r), st.m(r).n, st.m(r).matches, st.m(r).exp))
			}
		}
		if sd.tracker != nil {
			out = append(out, fmt.Sprintf("wm %d %d", side, sd.tracker.Watermark()))
		}
		out = append(out, fmt.Sprintf("late %d %d parts %v", side, sd.late, sd.partRows))
	}
	for exp, rows := range j.pending {
		out = append(out, fmt.Sprintf("pending %d %d", exp, len(rows)))
	}
	slices.Sort(out)
	return out
}

// TestJoinDeltaSnapshots: a join checkpointed as a chain of deltas
// restores to exactly the state of the join that wrote them — rows
// added, multiplicities and match counts changed, rows retracted
// (regular join over changelogs) or freed by the watermark (interval
// join, outer) — and the restored join then emits what the original
// does. A full snapshot starts a new chain.
func TestJoinDeltaSnapshots(t *testing.T) {
	for _, tt := range []struct {
		name      string
		changelog bool
		spec      func() JoinSpec
	}{
		{"regular over changelogs", true, func() JoinSpec {
			lk, rk := changelogKeys()
			return JoinSpec{Kind: FullJoin, LeftKeys: lk, RightKeys: rk}
		}},
		{"interval left outer", false, func() JoinSpec {
			spec := intervalSpec(LeftJoin, 3, 2, 1)
			spec.Residual = intervalResidual(t, 3, 2)
			return spec
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := checkedMem(t)
			ctx := context.Background()
			left, right := joinLeft, joinRight
			if tt.changelog {
				left, right = withOpSchema(joinLeft), withOpSchema(joinRight)
			}
			newJoin := func() *Join {
				j, err := NewJoin(mem, left, right, tt.spec())
				if err != nil {
					t.Fatal(err)
				}
				return j
			}
			a, b := newJoin(), newJoin() // twins fed the same rows; a is checkpointed
			defer a.Close()
			defer b.Close()
			rng := rand.New(rand.NewSource(9))
			live := map[string][]jrow{} // side|key → inserted rows not retracted
			var base []byte
			var deltas [][]byte
			ts := int64(0)
			for chunk := 0; chunk < 30; chunk++ {
				if chunk%12 == 0 {
					var err error
					if base, err = a.Snapshot(); err != nil {
						t.Fatal(err)
					}
					deltas = nil
				}
				for n := rng.Intn(12); n > 0; n-- {
					side := rng.Intn(2)
					r := jrow{side: side, k: kp(int64(rng.Intn(4))), v: int64(rng.Intn(3)), ts: ts}
					ts += int64(rng.Intn(3))
					id := fmt.Sprint(side, *r.k)
					if tt.changelog && len(live[id]) > 0 && rng.Intn(3) == 0 {
						k := rng.Intn(len(live[id]))
						r = live[id][k]
						r.retract = true
						live[id] = append(live[id][:k], live[id][k+1:]...)
					} else if tt.changelog {
						live[id] = append(live[id], r)
					}
					for _, j := range []*Join{a, b} {
						rec := joinBatch(t, mem, side, tt.changelog, []jrow{r})
						out, err := j.Push(ctx, rec, UnionPartition(side, 0))
						rec.Release()
						if err != nil {
							t.Fatal(err)
						}
						if out != nil {
							out.Release()
						}
					}
				}
				d, err := a.SnapshotDelta()
				if err != nil {
					t.Fatal(err)
				}
				deltas = append(deltas, d)
				c := newJoin()
				if err := c.Restore(base); err != nil {
					t.Fatal(err)
				}
				for _, d := range deltas {
					if err := c.RestoreDelta(d); err != nil {
						t.Fatal(err)
					}
				}
				if got, want := joinState(c), joinState(a); !slices.Equal(got, want) {
					t.Fatalf("chunk %d: restored from a full snapshot and %d deltas:\n%v\nwant\n%v", chunk, len(deltas), got, want)
				}
				// The restored join goes on as the original does: a probe
				// row into c and into b (a's twin), then into a to keep
				// the twins equal.
				next := jrow{side: 1, k: kp(1), v: 9, ts: ts}
				var outs [3][]string
				for i, j := range []*Join{b, c, a} {
					rec := joinBatch(t, mem, 1, tt.changelog, []jrow{next})
					out, err := j.Push(ctx, rec, UnionPartition(1, 0))
					rec.Release()
					if err != nil {
						t.Fatal(err)
					}
					outs[i] = rowsOf(t, out)
					slices.Sort(outs[i])
					if out != nil {
						out.Release()
					}
				}
				if tt.changelog {
					live["11"] = append(live["11"], next)
				}
				c.Close()
				if !slices.Equal(outs[0], outs[1]) || !slices.Equal(outs[0], outs[2]) {
					t.Fatalf("chunk %d: the restored join emitted %v, the original %v", chunk, outs[1], outs[0])
				}
			}
		})
	}
}

// TestJoinDeltaHoldsOnlyChanges: with 4000 rows held, a delta after a
// few more rows holds those rows and their partners' match counts, not
// the state: far smaller than a full snapshot.
func TestJoinDeltaHoldsOnlyChanges(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	lk, rk := joinKeys()
	j, err := NewJoin(mem, joinLeft, joinRight, JoinSpec{Kind: InnerJoin, LeftKeys: lk, RightKeys: rk})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	push := func(side int, rows []jrow) {
		rec := joinBatch(t, mem, side, false, rows)
		out, err := j.Push(ctx, rec, UnionPartition(side, 0))
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
	}
	var rows []jrow
	for i := 0; i < 4000; i++ {
		rows = append(rows, jrow{side: 0, k: kp(int64(i)), v: int64(i)})
	}
	push(0, rows)
	full, err := j.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	push(1, []jrow{{side: 1, k: kp(7), v: 1}, {side: 1, k: kp(8), v: 2}})
	d, err := j.SnapshotDelta()
	if err != nil {
		t.Fatal(err)
	}
	var dd joinDelta
	if err := decode(d, &dd); err != nil {
		t.Fatal(err)
	}
	// The two new right rows and the two left rows whose matches changed.
	if len(dd.Rows) != 4 || len(dd.Gone) != 0 {
		t.Fatalf("delta holds %d rows and %d gone, want 4 and 0", len(dd.Rows), len(dd.Gone))
	}
	if len(d)*20 > len(full) {
		t.Errorf("delta of %d bytes against a full snapshot of %d", len(d), len(full))
	}
	var none joinDelta
	if d2, err := j.SnapshotDelta(); err != nil || decode(d2, &none) != nil || len(none.Rows)+len(none.Gone) != 0 {
		t.Errorf("a delta with nothing changed holds %d rows, %d gone (%v)", len(none.Rows), len(none.Gone), err)
	}
}
