package stream

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

var (
	temporalLeft = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	temporalRight = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64},
		{Name: "vf", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
)

// trow is one input row of a temporal join test.
type trow struct {
	side     int
	k, v, ts int64
}

func temporalSpec(kind JoinKind) TemporalSpec {
	return TemporalSpec{Kind: kind, LeftKeys: []Expr{col(temporalLeft, 0)}, RightKeys: []Expr{col(temporalRight, 0)},
		LeftTime: 2, RightTime: 2}
}

// refTemporal is the temporal join by definition: each left row with the
// right row of its key with the greatest valid_from at or before its time.
func refTemporal(kind JoinKind, rows []trow) []string {
	var out []string
	for _, l := range rows {
		if l.side != 0 {
			continue
		}
		var best *trow
		for i, r := range rows {
			if r.side == 1 && r.k == l.k && r.ts <= l.ts && (best == nil || r.ts >= best.ts) {
				best = &rows[i]
			}
		}
		switch {
		case best != nil:
			out = append(out, fmt.Sprintf("%d|%d|%d|%d|%d|%d", l.k, l.v, l.ts, best.k, best.v, best.ts))
		case kind == LeftJoin:
			out = append(out, fmt.Sprintf("%d|%d|%d|NULL|NULL|NULL", l.k, l.v, l.ts))
		}
	}
	sort.Strings(out)
	return out
}

// runTemporal pushes rows in batches of n (one input's consecutive rows
// form a batch), snapshotting and restoring into a new join halfway when
// restore is set, and returns the sorted output.
func runTemporal(t *testing.T, kind JoinKind, rows []trow, n int, restore bool) []string {
	t.Helper()
	mem := checkedMem(t)
	ctx := context.Background()
	j, err := NewTemporalJoin(mem, temporalLeft, temporalRight, temporalSpec(kind))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.Close() }()
	var out []string
	collect := func(rec arrow.Record, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if rec != nil {
			out = append(out, rowsOf(t, rec)...)
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
				js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"vf":%d}`, r.k, r.v, r.ts))
			}
		}
		rec := fromJSON(t, mem, []*arrow.Schema{temporalLeft, temporalRight}[side], "["+strings.Join(js, ",")+"]")
		collect(j.PushSide(ctx, side, rec, 0))
		rec.Release()
		if restore && i < len(rows)/2 && k >= len(rows)/2 {
			snap, err := j.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			j.Close()
			if j, err = NewTemporalJoin(mem, temporalLeft, temporalRight, temporalSpec(kind)); err != nil {
				t.Fatal(err)
			}
			if err := j.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
		i = k
	}
	collect(j.Finish(ctx))
	sort.Strings(out)
	return out
}

// TestTemporalJoinMatchesDefinition: on random inputs whose event times
// rise within each input (so no row is late), in any interleaving and
// batch size, with a checkpoint restored halfway or not, the join equals
// the definition.
func TestTemporalJoinMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for trial := 0; trial < 20; trial++ {
		var rows []trow
		var ts [2]int64
		for i := 0; i < 60; i++ {
			s := rng.Intn(2)
			ts[s] += int64(rng.Intn(4))
			rows = append(rows, trow{side: s, k: int64(rng.Intn(4)), v: int64(i), ts: ts[s]})
		}
		for _, kind := range []JoinKind{InnerJoin, LeftJoin} {
			want := refTemporal(kind, rows)
			for _, n := range []int{1, 3, 100} {
				for _, restore := range []bool{false, true} {
					got := runTemporal(t, kind, rows, n, restore)
					if !equalStrings(got, want) {
						t.Fatalf("trial %d kind %d batch %d restore %v:\ngot  %v\nwant %v", trial, kind, n, restore, got, want)
					}
				}
			}
		}
	}
}

// TestTemporalJoinLateAndBounded: a version or a stream row behind its
// own input's watermark is dropped and counted; on a long run with few
// keys the state stays at about one version per key plus the rows
// waiting for the table's watermark.
func TestTemporalJoinLateAndBounded(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	j, err := NewTemporalJoin(mem, temporalLeft, temporalRight, temporalSpec(LeftJoin))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	push := func(side int, js string) int {
		t.Helper()
		rec := fromJSON(t, mem, []*arrow.Schema{temporalLeft, temporalRight}[side], js)
		defer rec.Release()
		out, err := j.PushSide(ctx, side, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out == nil {
			return 0
		}
		defer out.Release()
		return int(out.NumRows())
	}
	most := 0
	for i := int64(0); i < 3000; i++ {
		push(1, fmt.Sprintf(`[{"k":%d,"v":%d,"vf":%d}]`, i%5, i, i))
		push(0, fmt.Sprintf(`[{"k":%d,"a":%d,"ts":%d}]`, i%5, i, i))
		if g := j.Stats().Groups; g > most {
			most = g
		}
	}
	if most > 20 {
		t.Fatalf("state held up to %d rows over 3000 versions of 5 keys, want ≤ 20", most)
	}
	if n := push(1, `[{"k":1,"v":0,"vf":10}]`); n != 0 || j.Late() != 1 {
		t.Fatalf("late version: %d rows out, %d late", n, j.Late())
	}
	if n := push(0, `[{"k":1,"a":0,"ts":10}]`); n != 0 || j.Late() != 2 {
		t.Fatalf("late stream row: %d rows out, %d late", n, j.Late())
	}
}
