package stream

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// testJoin is what the parallel-join tests drive: a serial Join or
// TemporalJoin, or a ParallelJoin.
type testJoin interface {
	PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error)
	FinishSide(ctx context.Context, side int) (arrow.Record, error)
	Finish(ctx context.Context) (arrow.Record, error)
	Tick(ctx context.Context, now time.Time) (arrow.Record, error)
	Snapshot() ([]byte, error)
	Restore([]byte) error
	Stats() StateStats
	Close() error
	Late() int64
}

// joinCase is one join of TestParallelJoinMatchesSerial: how to build it
// serially and partitioned, its inputs' schemas and a row generator.
type joinCase struct {
	name        string
	left, right *arrow.Schema
	changelog   bool
	serial      func(mem memory.Allocator) (testJoin, error)
	parallel    func(mem memory.Allocator, n int) (*ParallelJoin, error)
	table       []jrow // lookup join's table
	rows        func(rng *rand.Rand) []jrow
	// drains: after the end of both inputs the join holds nothing
	// (interval and window joins).
	drains bool
	// late: the rows include late ones (timed joins).
	late bool
}

// disorderedRows are rows of both inputs whose event times mostly rise
// but jump back now and then, so that some rows are late under a small
// watermark delay; keys include NULLs.
func disorderedRows(rng *rand.Rand, n int) []jrow {
	var rows []jrow
	var ts [2]int64
	for i := 0; i < n; i++ {
		s := rng.Intn(2)
		ts[s] += int64(rng.Intn(3))
		t := ts[s]
		if rng.Intn(6) == 0 {
			t -= int64(rng.Intn(8))
		}
		r := jrow{side: s, v: int64(i), ts: t}
		if rng.Intn(10) > 0 {
			r.k = kp(int64(rng.Intn(7)))
		}
		rows = append(rows, r)
	}
	return rows
}

func joinCases(t *testing.T) []joinCase {
	var cases []joinCase
	for _, kind := range []JoinKind{InnerJoin, LeftJoin, RightJoin, FullJoin} {
		lk, rk := changelogKeys()
		spec := JoinSpec{Kind: kind, LeftKeys: lk, RightKeys: rk, Residual: residualLess(t)}
		l, r := withOpSchema(joinLeft), withOpSchema(joinRight)
		cases = append(cases, joinCase{name: fmt.Sprintf("regular/%d", kind), left: l, right: r, changelog: true,
			serial:   func(mem memory.Allocator) (testJoin, error) { return NewJoin(mem, l, r, spec) },
			parallel: func(mem memory.Allocator, n int) (*ParallelJoin, error) { return NewParallelJoin(mem, l, r, spec, n) },
			rows:     func(rng *rand.Rand) []jrow { return randomRows(rng, 40, true) }})

		ispec := intervalSpec(kind, 3, 2, 2)
		ispec.Residual = intervalResidual(t, 3, 2)
		cases = append(cases, joinCase{name: fmt.Sprintf("interval/%d", kind), left: joinLeft, right: joinRight,
			serial: func(mem memory.Allocator) (testJoin, error) { return NewJoin(mem, joinLeft, joinRight, ispec) },
			parallel: func(mem memory.Allocator, n int) (*ParallelJoin, error) {
				return NewParallelJoin(mem, joinLeft, joinRight, ispec, n)
			},
			rows: func(rng *rand.Rand) []jrow { return disorderedRows(rng, 50) }, drains: true, late: true})

		// A window join whose window_end is the event time rounded up
		// to 5 (column 1, part of the key).
		wl := arrow.NewSchema([]arrow.Field{joinLeft.Field(0), {Name: "we", Type: arrow.PrimitiveTypes.Int64}, joinLeft.Field(2)}, nil)
		wr := arrow.NewSchema([]arrow.Field{joinRight.Field(0), {Name: "we", Type: arrow.PrimitiveTypes.Int64}, joinRight.Field(2)}, nil)
		wspec := JoinSpec{Kind: kind, Timing: WindowJoin, LeftTime: 2, RightTime: 2, LeftEnd: 1, RightEnd: 1,
			LeftKeys: []Expr{col(wl, 0), col(wl, 1)}, RightKeys: []Expr{col(wr, 0), col(wr, 1)}, LeftDelay: 2 * time.Millisecond, RightDelay: 2 * time.Millisecond}
		cases = append(cases, joinCase{name: fmt.Sprintf("window/%d", kind), left: wl, right: wr,
			serial: func(mem memory.Allocator) (testJoin, error) { return NewJoin(mem, wl, wr, wspec) },
			parallel: func(mem memory.Allocator, n int) (*ParallelJoin, error) {
				return NewParallelJoin(mem, wl, wr, wspec, n)
			},
			rows: func(rng *rand.Rand) []jrow { return disorderedRows(rng, 50) }, drains: true, late: true})
	}
	for _, kind := range []JoinKind{InnerJoin, LeftJoin} {
		lk, _ := changelogKeys()
		_, rk := joinKeys()
		l := withOpSchema(joinLeft)
		spec := JoinSpec{Kind: kind, Timing: LookupJoin, TableSide: 1, LeftKeys: lk, RightKeys: rk}
		var table []jrow
		for i := 0; i < 9; i++ {
			table = append(table, jrow{side: 1, k: kp(int64(i % 5)), v: int64(i)})
		}
		cases = append(cases, joinCase{name: fmt.Sprintf("lookup/%d", kind), left: l, right: joinRight, changelog: true, table: table,
			serial: func(mem memory.Allocator) (testJoin, error) { return NewJoin(mem, l, joinRight, spec) },
			parallel: func(mem memory.Allocator, n int) (*ParallelJoin, error) {
				return NewParallelJoin(mem, l, joinRight, spec, n)
			},
			rows: func(rng *rand.Rand) []jrow {
				var rows []jrow
				for _, r := range randomRows(rng, 60, true) {
					if r.side == 0 {
						rows = append(rows, r)
					}
				}
				return rows
			}})

		tspec := temporalSpec(kind)
		tspec.LeftDelay, tspec.RightDelay = 2*time.Millisecond, 2*time.Millisecond
		cases = append(cases, joinCase{name: fmt.Sprintf("temporal/%d", kind), left: temporalLeft, right: temporalRight,
			serial: func(mem memory.Allocator) (testJoin, error) {
				return NewTemporalJoin(mem, temporalLeft, temporalRight, tspec)
			},
			parallel: func(mem memory.Allocator, n int) (*ParallelJoin, error) {
				return NewParallelTemporalJoin(mem, temporalLeft, temporalRight, tspec, n)
			},
			rows: func(rng *rand.Rand) []jrow {
				rows := disorderedRows(rng, 50)
				for i := range rows {
					if rows[i].k == nil {
						rows[i].k = kp(0) // the versioned table's key is NOT NULL
					}
				}
				return rows
			}, late: true})
	}
	return cases
}

// caseBatch builds one side's rows as a record of the case's schema.
func caseBatch(t testing.TB, mem memory.Allocator, c joinCase, side int, rows []jrow) arrow.Record {
	t.Helper()
	schema := []*arrow.Schema{c.left, c.right}[side]
	if c.changelog && (c.table == nil || side == 0) {
		return joinBatch(t, mem, side, true, rows)
	}
	var js []string
	for _, r := range rows {
		k := "null"
		if r.k != nil {
			k = fmt.Sprint(*r.k)
		}
		vals := []string{k, fmt.Sprint(r.v), fmt.Sprint(r.ts)}
		if schema.Field(1).Name == "we" {
			vals[1] = fmt.Sprint((r.ts/5 + 1) * 5)
		}
		var fields []string
		for i, v := range vals {
			fields = append(fields, fmt.Sprintf("%q: %s", schema.Field(i).Name, v))
		}
		js = append(js, "{"+strings.Join(fields, ",")+"}")
	}
	return fromJSON(t, mem, schema, "["+strings.Join(js, ",")+"]")
}

// driveJoin pushes rows through the join built by build in batches of n
// (one input's consecutive rows, each input from two partitions in
// turn), checkpointing and restoring into a new join halfway when
// restore is set, with a processing-time tick after every batch. It
// returns the rendered output rows and the late count.
func driveJoin(t *testing.T, mem memory.Allocator, c joinCase, build func() (testJoin, error), rows []jrow, n int, restore bool) ([]string, int64) {
	t.Helper()
	ctx := context.Background()
	j, err := build()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { j.Close() }()
	load := func() {
		if c.table == nil {
			return
		}
		tab := caseBatch(t, mem, c, 1, c.table)
		defer tab.Release()
		var err error
		switch x := j.(type) {
		case *Join:
			err = x.LoadTable(ctx, tab)
		case *ParallelJoin:
			err = x.LoadTable(ctx, tab)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	load()
	for s := 0; s < 2; s++ {
		if set, ok := j.(interface{ SetInputPartitions(int, []int32) }); ok && c.table == nil {
			set.SetInputPartitions(s, []int32{UnionPartition(s, 0), UnionPartition(s, 1)})
		}
	}
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
	now := time.Unix(0, 0)
	for i := 0; i < len(rows); {
		k := i
		for k < len(rows) && rows[k].side == rows[i].side && rowPart(rows[k]) == rowPart(rows[i]) && k-i < n {
			k++
		}
		side := rows[i].side
		rec := caseBatch(t, mem, c, side, rows[i:k])
		collect(j.PushSide(ctx, side, rec, UnionPartition(side, rowPart(rows[i]))))
		rec.Release()
		now = now.Add(time.Millisecond)
		collect(j.Tick(ctx, now))
		if restore && i < len(rows)/2 && k >= len(rows)/2 {
			j = reopen(t, j, build)
			load()
		}
		i = k
	}
	collect(j.FinishSide(ctx, 0))
	collect(j.Finish(ctx))
	if st := j.Stats(); c.drains && st.Groups != 0 {
		t.Fatalf("%d rows held after the end of both inputs", st.Groups)
	}
	return out, j.Late()
}

// rowPart is the source partition a test row comes from: a function of
// the row, so that every batch size gives the same per-partition
// watermarks.
func rowPart(r jrow) int32 { return int32(r.v/4) % 2 }

// reopen checkpoints j, closes it and restores the checkpoint into a new
// join from build.
func reopen(t *testing.T, j testJoin, build func() (testJoin, error)) testJoin {
	t.Helper()
	var parts []OperatorState
	var data []byte
	var err error
	if p, ok := j.(*ParallelJoin); ok {
		parts, err = p.SnapshotParts()
	} else {
		data, err = j.Snapshot()
	}
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	nj, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := nj.(*ParallelJoin); ok {
		err = p.RestoreParts(parts)
	} else {
		err = nj.Restore(data)
	}
	if err != nil {
		nj.Close()
		t.Fatal(err)
	}
	return nj
}

// parallelJoinRuns are the instance counts, batch sizes and restores
// each case of TestParallelJoinMatchesSerial runs at (few: the test runs
// under -race in CI).
var parallelJoinRuns = []struct {
	n, batch int
	restore  bool
}{{1, 3, false}, {2, 1, false}, {4, 5, true}, {4, 1, true}, {3, 100, false}}

// TestParallelJoinMatchesSerial: every kind of streaming join (regular
// over changelogs, interval, window, lookup, temporal; each join type)
// run as 1 to 4 key-partitioned instances folds to exactly what one
// serial join emits over the same rows, drops the same late rows, at
// several batch sizes, with a checkpoint restored halfway or not.
func TestParallelJoinMatchesSerial(t *testing.T) {
	mem := checkedMem(t)
	for _, c := range joinCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var lates int64
			for seed := int64(1); seed <= 2; seed++ {
				rows := c.rows(rand.New(rand.NewSource(seed)))
				serialOut, serialLate := driveJoin(t, mem, c, func() (testJoin, error) { return c.serial(mem) }, rows, 1, false)
				lates += serialLate
				want := foldOut(t, c.changelog, serialOut)
				if len(want) == 0 {
					t.Fatalf("seed %d: the serial join emitted nothing: a vacuous case", seed)
				}
				for _, run := range parallelJoinRuns {
					n, size, restore := run.n, run.batch, run.restore
					build := func() (testJoin, error) { return c.parallel(mem, n) }
					out, late := driveJoin(t, mem, c, build, rows, size, restore)
					got := foldOut(t, c.changelog, out)
					if !equalStrings(got, want) {
						t.Fatalf("seed %d, %d instances, batch %d, restore %v:\n got %v\nwant %v", seed, n, size, restore, got, want)
					}
					if late != serialLate {
						t.Fatalf("seed %d, %d instances, batch %d: %d late rows, serial %d", seed, n, size, late, serialLate)
					}
				}
			}
			if c.late && lates == 0 {
				t.Fatal("no row was late: the case does not test the gate")
			}
		})
	}
}

// TestParallelJoinSpreadsKeys: with 4 instances every instance holds
// some of the rows of many keys (the join really runs partitioned), and
// a checkpoint restores only at the parallelism it was taken at.
func TestParallelJoinSpreadsKeys(t *testing.T) {
	mem := checkedMem(t)
	lk, rk := joinKeys()
	p, err := NewParallelJoin(mem, joinLeft, joinRight, JoinSpec{Kind: InnerJoin, LeftKeys: lk, RightKeys: rk}, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var rows []jrow
	for i := int64(0); i < 64; i++ {
		rows = append(rows, jrow{side: 0, k: kp(i), v: i})
	}
	rec := joinBatch(t, mem, 0, false, rows)
	out, err := p.PushSide(context.Background(), 0, rec, 0)
	rec.Release()
	if err != nil || out != nil {
		t.Fatalf("out %v err %v", out, err)
	}
	for i, inst := range p.insts {
		if g := inst.Stats().Groups; g == 0 || g == 64 {
			t.Fatalf("instance %d holds %d of 64 keys' rows", i, g)
		}
	}
	if g := p.Stats().Groups; g != 64 {
		t.Fatalf("Stats: %d rows, want 64", g)
	}
	parts, err := p.SnapshotParts()
	if err != nil {
		t.Fatal(err)
	}
	p2, err := NewParallelJoin(mem, joinLeft, joinRight, JoinSpec{Kind: InnerJoin, LeftKeys: lk, RightKeys: rk}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if err := p2.RestoreParts(parts); err == nil || !strings.Contains(err.Error(), "parallelism") {
		t.Fatalf("restoring 4 instances' parts into 2: err %v, want one naming parallelism", err)
	}
}

// TestParallelJoinDeltaParts: a partitioned regular join's instances
// checkpoint incrementally (their parts are Join deltas when the policy
// allows), and a chain of full parts then delta parts restores a join
// that goes on exactly as the original; its running state size is the
// instances' added up.
func TestParallelJoinDeltaParts(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	lk, rk := changelogKeys()
	l, r := withOpSchema(joinLeft), withOpSchema(joinRight)
	spec := JoinSpec{Kind: FullJoin, LeftKeys: lk, RightKeys: rk}
	build := func() *ParallelJoin {
		p, err := NewParallelJoin(mem, l, r, spec, 3)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	rows := randomRows(rand.New(rand.NewSource(5)), 60, true)
	push := func(p *ParallelJoin, rows []jrow) []string {
		var out []string
		for _, row := range rows {
			rec := joinBatch(t, mem, row.side, true, []jrow{row})
			res, err := p.PushSide(ctx, row.side, rec, 0)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rowsOf(t, res)...)
			if res != nil {
				res.Release()
			}
		}
		return out
	}
	a := build()
	defer a.Close()
	push(a, rows[:20])
	full, err := a.SnapshotParts()
	if err != nil {
		t.Fatal(err)
	}
	push(a, rows[20:40])
	deltas, err := a.SnapshotPartsDelta(func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	nd := 0
	chain := map[string]*OperatorState{}
	for i := range full {
		chain[full[i].Name] = &full[i]
	}
	for _, d := range deltas {
		if d.Delta {
			nd++
			c := chain[d.Name]
			c.Deltas = append(c.Deltas, d.Data)
		}
	}
	if nd != 3 {
		t.Fatalf("%d delta parts, want one per instance", nd)
	}
	var sum int64
	for _, inst := range a.joins {
		b, _ := inst.StateBytes()
		sum += b
	}
	if got, ok := a.StateBytes(); !ok || got != sum || got == 0 {
		t.Fatalf("StateBytes %d (%v), instances hold %d", got, ok, sum)
	}
	b := build()
	defer b.Close()
	if err := b.RestoreParts(full); err != nil {
		t.Fatal(err)
	}
	want := push(a, rows[40:])
	got := push(b, rows[40:])
	if len(want) == 0 || !equalStrings(got, want) {
		t.Fatalf("restored from full + delta parts:\n got %v\nwant %v", got, want)
	}
}
