package stream

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// temporalChanges is a versioned table read as a changelog keyed by k
// (an upsert or Debezium source): op, then temporalRight's columns.
var temporalChanges = arrow.NewSchema(append([]arrow.Field{opField}, temporalRight.Fields()...), nil)

// crow is one input row of a changelog temporal join test: a stream row
// (side 0) or a change of the versioned table (side 1, op).
type crow struct {
	side     int
	op       exec.Op
	k, v, ts int64
}

// changelogRows are random stream rows and upserts of a few keys (+I of
// a new key, -U/+U of a live one, now and then -D of a live one, whose
// time is the deleted row's, as an upsert topic's tombstone gives it),
// event times rising within each input so that no row is late.
func changelogRows(rng *rand.Rand, n int) []crow {
	var rows []crow
	var ts [2]int64
	live := map[int64]crow{}
	for i := 0; i < n; i++ {
		s := rng.Intn(2)
		ts[s] += int64(rng.Intn(4))
		k := int64(rng.Intn(4))
		if s == 0 {
			rows = append(rows, crow{side: 0, k: k, v: int64(i), ts: ts[0]})
			continue
		}
		old, ok := live[k]
		switch {
		case ok && rng.Intn(3) == 0:
			old.op = exec.OpDelete
			rows = append(rows, old)
			delete(live, k)
		case ok:
			old.op = exec.OpUpdateBefore
			nw := crow{side: 1, op: exec.OpUpdateAfter, k: k, v: int64(i), ts: ts[1]}
			rows = append(rows, old, nw)
			live[k] = nw
		default:
			nw := crow{side: 1, op: exec.OpInsert, k: k, v: int64(i), ts: ts[1]}
			rows = append(rows, nw)
			live[k] = nw
		}
	}
	return rows
}

// refChangelogTemporal is the temporal join over a changelog table by
// TemporalSpec's definition: +I/+U are versions from their time, -U
// nothing, -D ends the key's versions from the later of its time and the
// table's watermark (delay 0: the greatest version time before it); a
// left row meets its key's latest entry at or before its time, none when
// that is a delete. Entries of one time: the later replaces the earlier.
func refChangelogTemporal(kind JoinKind, rows []crow) []string {
	type entry struct {
		from int64
		row  *crow // nil: deleted
	}
	versions := map[int64][]entry{}
	wm := int64(MinWatermark)
	put := func(k int64, e entry) {
		vs := versions[k]
		for i := range vs {
			if vs[i].from == e.from {
				vs[i] = e
				return
			}
		}
		versions[k] = append(vs, e)
	}
	for i, r := range rows {
		switch {
		case r.side == 0 || r.op == exec.OpUpdateBefore:
		case r.op == exec.OpDelete:
			put(r.k, entry{from: max(wm, r.ts)})
		default:
			put(r.k, entry{from: r.ts, row: &rows[i]})
			wm = max(wm, r.ts)
		}
	}
	var out []string
	for _, l := range rows {
		if l.side != 0 {
			continue
		}
		var best *entry
		for i, e := range versions[l.k] {
			if e.from <= l.ts && (best == nil || e.from > best.from) {
				best = &versions[l.k][i]
			}
		}
		switch {
		case best != nil && best.row != nil:
			out = append(out, fmt.Sprintf("%d|%d|%d|%d|%d|%d", l.k, l.v, l.ts, best.row.k, best.row.v, best.row.ts))
		case kind == LeftJoin:
			out = append(out, fmt.Sprintf("%d|%d|%d|NULL|NULL|NULL", l.k, l.v, l.ts))
		}
	}
	sort.Strings(out)
	return out
}

// TestTemporalJoinChangelogMatchesDefinition: a temporal join whose
// versioned table is a changelog (updates, deletes, keys inserted again)
// equals the definition serially and as 2 or 3 partitioned instances, at
// several batch sizes, with a checkpoint (deletes included) restored
// halfway or not; deleted keys' state is freed.
func TestTemporalJoinChangelogMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	ctx := context.Background()
	for trial := 0; trial < 12; trial++ {
		rows := changelogRows(rng, 80)
		for _, kind := range []JoinKind{InnerJoin, LeftJoin} {
			want := refChangelogTemporal(kind, rows)
			for _, inst := range []int{0, 2, 3} {
				for _, n := range []int{1, 3, 100} {
					restore := n != 100
					mem := checkedMem(t)
					spec := temporalSpec(kind)
					spec.RightKeys, spec.RightTime = []Expr{col(temporalChanges, 1)}, 3
					build := func() (testJoin, error) {
						if inst == 0 {
							return NewTemporalJoin(mem, temporalLeft, temporalChanges, spec)
						}
						return NewParallelTemporalJoin(mem, temporalLeft, temporalChanges, spec, inst)
					}
					j, err := build()
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					collect := func(rec arrow.Record, err error) {
						t.Helper()
						if err != nil {
							t.Fatal(err)
						}
						if rec != nil {
							got = append(got, rowsOf(t, rec)...)
							rec.Release()
						}
					}
					for i := 0; i < len(rows); {
						side := rows[i].side
						var js []string
						k := i
						for ; k < len(rows) && k < i+n && rows[k].side == side; k++ {
							r := rows[k]
							if side == 0 {
								js = append(js, fmt.Sprintf(`{"k":%d,"a":%d,"ts":%d}`, r.k, r.v, r.ts))
							} else {
								js = append(js, fmt.Sprintf(`{"op":%d,"k":%d,"v":%d,"vf":%d}`, r.op, r.k, r.v, r.ts))
							}
						}
						rec := fromJSON(t, mem, []*arrow.Schema{temporalLeft, temporalChanges}[side], "["+strings.Join(js, ",")+"]")
						collect(j.PushSide(ctx, side, rec, 0))
						rec.Release()
						if restore && i < len(rows)/2 && k >= len(rows)/2 {
							j = reopen(t, j, build)
						}
						i = k
					}
					collect(j.Finish(ctx))
					sort.Strings(got)
					if !equalStrings(got, want) {
						t.Fatalf("trial %d kind %d instances %d batch %d:\ngot  %v\nwant %v", trial, kind, inst, n, got, want)
					}
					if j.Late() != 0 {
						t.Fatalf("%d rows late, want none", j.Late())
					}
					j.Close()
				}
			}
		}
	}
}

// TestTemporalJoinDeletesFreeState: keys inserted and deleted over and
// over leave nothing behind once the watermarks pass their deletes.
func TestTemporalJoinDeletesFreeState(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	spec := temporalSpec(InnerJoin)
	spec.RightKeys, spec.RightTime = []Expr{col(temporalChanges, 1)}, 3
	j, err := NewTemporalJoin(mem, temporalLeft, temporalChanges, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	push := func(side int, js string) {
		t.Helper()
		rec := fromJSON(t, mem, []*arrow.Schema{temporalLeft, temporalChanges}[side], js)
		defer rec.Release()
		out, err := j.PushSide(ctx, side, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
	}
	for i := int64(0); i < 1000; i++ {
		push(1, fmt.Sprintf(`[{"op":0,"k":%d,"v":1,"vf":%d},{"op":3,"k":%d,"v":1,"vf":%d}]`, i, 2*i, i, 2*i))
		push(0, fmt.Sprintf(`[{"k":%d,"a":1,"ts":%d}]`, i, 2*i+1))
	}
	push(1, `[{"op":0,"k":-1,"v":1,"vf":5000}]`)
	if st := j.Stats(); st.Groups > 2 {
		t.Fatalf("%d versions and rows held after 1000 keys inserted and deleted, want at most 2", st.Groups)
	}
}
