package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

var (
	joinLeft = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "a", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	joinRight = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64},
		{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
	}, nil)
)

// jrow is one input row of a join test: side, key (nil: NULL), value,
// event time in ms, and whether it retracts.
type jrow struct {
	side    int
	k       *int64
	v, ts   int64
	retract bool
}

func kp(k int64) *int64 { return &k }

// joinBatch builds a record of one side's rows, with an op column when
// changelog is set.
func joinBatch(t testing.TB, mem memory.Allocator, side int, changelog bool, rows []jrow) arrow.Record {
	t.Helper()
	schema := []*arrow.Schema{joinLeft, joinRight}[side]
	if changelog {
		schema = withOpSchema(schema)
	}
	var js []string
	for _, r := range rows {
		k := "null"
		if r.k != nil {
			k = fmt.Sprint(*r.k)
		}
		vn := schema.Field(len(schema.Fields()) - 2).Name
		obj := fmt.Sprintf(`"k": %s, %q: %d, "ts": %d`, k, vn, r.v, r.ts)
		if changelog {
			op := exec.OpInsert
			if r.retract {
				op = exec.OpDelete
			}
			obj = fmt.Sprintf(`"op": %d, `, op) + obj
		}
		js = append(js, "{"+obj+"}")
	}
	return fromJSON(t, mem, schema, "["+strings.Join(js, ",")+"]")
}

func withOpSchema(s *arrow.Schema) *arrow.Schema {
	return arrow.NewSchema(append([]arrow.Field{opField}, s.Fields()...), nil)
}

// foldOut folds rendered output rows ("op|…" for a changelog) into a
// sorted multiset, failing on a retraction of a row never emitted.
func foldOut(t testing.TB, changelog bool, rows []string) []string {
	t.Helper()
	n := map[string]int{}
	for _, r := range rows {
		if !changelog {
			n[r]++
			continue
		}
		op, rest, _ := strings.Cut(r, "|")
		switch op {
		case "+I", "+U":
			n[rest]++
		default:
			if n[rest] == 0 {
				t.Fatalf("output retracts %s, never emitted", rest)
			}
			n[rest]--
		}
	}
	var out []string
	for r, c := range n {
		for ; c > 0; c-- {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// refJoin is the batch join of the inputs' final rows: the reference
// every streaming run must fold to.
func refJoin(kind JoinKind, rows []jrow, residual func(a, b int64) bool, inWindow func(l, r jrow) bool) []string {
	var live [2][]jrow
	for _, r := range rows {
		if !r.retract {
			live[r.side] = append(live[r.side], r)
			continue
		}
		for i, o := range live[r.side] {
			if o.k != nil && r.k != nil && *o.k == *r.k && o.v == r.v && o.ts == r.ts || o.k == nil && r.k == nil && o.v == r.v && o.ts == r.ts {
				live[r.side] = append(live[r.side][:i], live[r.side][i+1:]...)
				break
			}
		}
	}
	str := func(r *jrow) string {
		if r == nil {
			return "NULL|NULL|NULL"
		}
		k := "NULL"
		if r.k != nil {
			k = fmt.Sprint(*r.k)
		}
		return fmt.Sprintf("%s|%d|%d", k, r.v, r.ts)
	}
	var out []string
	matchedR := make([]bool, len(live[1]))
	for _, l := range live[0] {
		found := false
		for i, r := range live[1] {
			if l.k == nil || r.k == nil || *l.k != *r.k || (residual != nil && !residual(l.v, r.v)) || (inWindow != nil && !inWindow(l, r)) {
				continue
			}
			found, matchedR[i] = true, true
			out = append(out, str(&l)+"|"+str(&r))
		}
		if !found && (kind == LeftJoin || kind == FullJoin) {
			out = append(out, str(&l)+"|"+str(nil))
		}
	}
	for i, r := range live[1] {
		if !matchedR[i] && (kind == RightJoin || kind == FullJoin) {
			out = append(out, str(nil)+"|"+str(&r))
		}
	}
	sort.Strings(out)
	return out
}

// runJoin pushes rows through j in order, cut into batches of size n per
// run of one side, and returns every output row rendered.
func runJoin(t testing.TB, mem memory.Allocator, j *Join, changelog bool, rows []jrow, n int, finish bool) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for i := 0; i < len(rows); {
		k := i
		for k < len(rows) && rows[k].side == rows[i].side && k-i < n {
			k++
		}
		rec := joinBatch(t, mem, rows[i].side, changelog, rows[i:k])
		res, err := j.Push(ctx, rec, UnionPartition(rows[i].side, 0))
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rowsOf(t, res)...)
		if res != nil {
			res.Release()
		}
		i = k
	}
	if finish {
		res, err := j.Finish(ctx)
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

func joinKeys() ([]Expr, []Expr) {
	return []Expr{col(joinLeft, 0)}, []Expr{col(joinRight, 0)}
}

// changelogKeys are the join keys over inputs with an op column.
func changelogKeys() ([]Expr, []Expr) {
	l, r := withOpSchema(joinLeft), withOpSchema(joinRight)
	return []Expr{col(l, 1)}, []Expr{col(r, 1)}
}

// residualLess is a.b-style residual left.a < right.b over the pair row
// (k, a, ts, k, b, ts).
func residualLess(t testing.TB) Expr {
	e, err := expr.Call("lt", []expr.Expr{expr.Column(1, arrow.PrimitiveTypes.Int64, "a"), expr.Column(4, arrow.PrimitiveTypes.Int64, "b")}, arrow.FixedWidthTypes.Boolean)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// randomRows makes an interleaving of both sides' rows: inserts, and
// with retractions set, deletes of rows inserted before.
func randomRows(rng *rand.Rand, n int, retractions bool) []jrow {
	var rows []jrow
	var live [2][]jrow
	for len(rows) < n {
		side := rng.Intn(2)
		if retractions && len(live[side]) > 0 && rng.Intn(4) == 0 {
			i := rng.Intn(len(live[side]))
			r := live[side][i]
			live[side] = append(live[side][:i], live[side][i+1:]...)
			r.retract = true
			rows = append(rows, r)
			continue
		}
		r := jrow{side: side, v: int64(rng.Intn(5)), ts: int64(rng.Intn(3))}
		if rng.Intn(8) > 0 {
			r.k = kp(int64(rng.Intn(4)))
		}
		live[side] = append(live[side], r)
		rows = append(rows, r)
	}
	return rows
}

// TestRegularJoinFoldsToBatchJoin: over random interleavings of inserts
// and retractions of both inputs, every join kind's changelog folds to the
// batch join of the inputs' final rows, at every batch size, with and
// without a residual predicate.
func TestRegularJoinFoldsToBatchJoin(t *testing.T) {
	mem := checkedMem(t)
	kinds := []JoinKind{InnerJoin, LeftJoin, RightJoin, FullJoin}
	for seed := int64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewSource(seed))
		retract := seed%2 == 0
		rows := randomRows(rng, 40, retract)
		for _, kind := range kinds {
			for _, withRes := range []bool{false, true} {
				var resFn func(a, b int64) bool
				lk, rk := joinKeys()
				if retract {
					lk, rk = changelogKeys()
				}
				spec := JoinSpec{Kind: kind, LeftKeys: lk, RightKeys: rk}
				if withRes {
					spec.Residual = residualLess(t)
					resFn = func(a, b int64) bool { return a < b }
				}
				want := refJoin(kind, rows, resFn, nil)
				for _, n := range batchSizes {
					l, r := joinLeft, joinRight
					if retract {
						l, r = withOpSchema(l), withOpSchema(r)
					}
					j, err := NewJoin(mem, l, r, spec)
					if err != nil {
						t.Fatal(err)
					}
					out := runJoin(t, mem, j, retract, rows, n, true)
					got := foldOut(t, j.SinkMode().Changelog, out)
					if !equalStrings(got, want) {
						t.Fatalf("seed %d kind %d residual %v batch %d:\n got %v\nwant %v", seed, kind, withRes, n, got, want)
					}
					if retract && kind == InnerJoin && !j.SinkMode().Changelog {
						t.Fatal("an inner join of changelogs must emit a changelog")
					}
					j.Close()
				}
			}
		}
	}
}

// TestRegularJoinRetractsPaddedRow: a left row without a partner is
// emitted null-padded, and retracted when its partner arrives.
func TestRegularJoinRetractsPaddedRow(t *testing.T) {
	mem := checkedMem(t)
	lk, rk := joinKeys()
	j, err := NewJoin(mem, joinLeft, joinRight, JoinSpec{Kind: LeftJoin, LeftKeys: lk, RightKeys: rk})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rows := []jrow{{side: 0, k: kp(1), v: 10}, {side: 1, k: kp(1), v: 20}, {side: 1, k: kp(2), v: 30}}
	got := runJoin(t, mem, j, false, rows, 1, true)
	want := []string{"+I|1|10|0|NULL|NULL|NULL", "-D|1|10|0|NULL|NULL|NULL", "+I|1|10|0|1|20|0"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if st := j.Stats(); st.Groups != 3 {
		t.Fatalf("state holds %d rows, want 3", st.Groups)
	}
}

// TestRegularJoinTTL: with 'state.ttl' a row unused for the TTL is
// forgotten: a later partner no longer finds it, and a retraction of it
// is ignored and counted.
func TestRegularJoinTTL(t *testing.T) {
	mem := checkedMem(t)
	clock := NewManualClock(time.Unix(0, 0))
	lk, rk := changelogKeys()
	l, r := withOpSchema(joinLeft), withOpSchema(joinRight)
	j, err := NewJoin(mem, l, r, JoinSpec{Kind: InnerJoin, LeftKeys: lk, RightKeys: rk, TTL: time.Minute, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	runJoin(t, mem, j, true, []jrow{{side: 0, k: kp(1), v: 1}, {side: 0, k: kp(2), v: 2}}, 1024, false)
	clock.Advance(30 * time.Second)
	// Key 2 is used again (matched), key 1 is not.
	runJoin(t, mem, j, true, []jrow{{side: 1, k: kp(2), v: 5}}, 1024, false)
	clock.Advance(45 * time.Second)
	res, err := j.Tick(context.Background(), clock.Now())
	if err != nil || res != nil {
		t.Fatalf("Tick: %v %v", res, err)
	}
	if st := j.Stats(); st.Groups != 2 {
		t.Fatalf("after the TTL the state holds %d rows, want 2 (left 2, right 2)", st.Groups)
	}
	got := runJoin(t, mem, j, true, []jrow{{side: 1, k: kp(1), v: 7}, {side: 0, k: kp(1), v: 1, retract: true}}, 1, false)
	if len(got) != 0 {
		t.Fatalf("a forgotten row still joined: %v", got)
	}
	if j.Ignored != 1 {
		t.Fatalf("Ignored = %d, want 1", j.Ignored)
	}
}

// TestRegularJoinUnknownRetraction: without a TTL a retraction of a row
// the join never saw is an error, not silently wrong output.
func TestRegularJoinUnknownRetraction(t *testing.T) {
	mem := checkedMem(t)
	lk, rk := changelogKeys()
	j, err := NewJoin(mem, withOpSchema(joinLeft), withOpSchema(joinRight), JoinSpec{Kind: InnerJoin, LeftKeys: lk, RightKeys: rk})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rec := joinBatch(t, mem, 0, true, []jrow{{side: 0, k: kp(1), v: 1, retract: true}})
	defer rec.Release()
	if _, err := j.Push(context.Background(), rec, 0); err == nil || !strings.Contains(err.Error(), "never inserted") {
		t.Fatalf("err = %v", err)
	}
}

// intervalSpec is left JOIN right ON k AND right.ts BETWEEN left.ts -
// lower AND left.ts + upper, each input with watermark ts - delay (all in
// milliseconds, the unit of the BIGINT event-time columns).
func intervalSpec(kind JoinKind, lower, upper, delay time.Duration) JoinSpec {
	lk, rk := joinKeys()
	return JoinSpec{Kind: kind, Timing: IntervalJoin, LeftKeys: lk, RightKeys: rk, LeftTime: 2, RightTime: 2,
		Lower: -lower * time.Millisecond, Upper: upper * time.Millisecond, LeftDelay: delay * time.Millisecond, RightDelay: delay * time.Millisecond}
}

// intervalResidual is the time bound as a residual over the pair row:
// right.ts BETWEEN left.ts - lower AND left.ts + upper.
func intervalResidual(t testing.TB, lower, upper int64) Expr {
	i64 := arrow.PrimitiveTypes.Int64
	call := func(name string, typ arrow.DataType, args ...expr.Expr) expr.Expr {
		e, err := expr.Call(name, args, typ)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	lt, rt := expr.Column(2, i64, "ts"), expr.Column(5, i64, "ts")
	b := arrow.FixedWidthTypes.Boolean
	ge := call("ge", b, rt, call("add", i64, lt, expr.Literal(i64, -lower)))
	le := call("le", b, rt, call("add", i64, lt, expr.Literal(i64, upper)))
	return call("and", b, ge, le)
}

// TestIntervalJoin: rows in event-time order per input join within the
// bounds; the outer rows come out null-padded once the bound closes;
// state is freed by the watermarks; output is append-only and equals the
// batch join (no row is late).
func TestIntervalJoin(t *testing.T) {
	mem := checkedMem(t)
	for _, kind := range []JoinKind{InnerJoin, LeftJoin, RightJoin, FullJoin} {
		for _, n := range batchSizes {
			spec := intervalSpec(kind, 2, 1, 0)
			spec.Residual = intervalResidual(t, 2, 1)
			j, err := NewJoin(mem, joinLeft, joinRight, spec)
			if err != nil {
				t.Fatal(err)
			}
			if j.SinkMode().Changelog {
				t.Fatal("an interval join is append-only")
			}
			var rows []jrow
			for ts := int64(0); ts < 40; ts++ {
				rows = append(rows, jrow{side: int(ts % 2), k: kp(ts % 3), v: ts, ts: ts})
			}
			out := runJoin(t, mem, j, false, rows[:30], n, false)
			// Both watermarks are near 29: at most the last few ms of
			// rows are still held.
			if st := j.Stats(); st.Groups > 6 {
				t.Fatalf("kind %d: %d rows held after the watermark passed, want ≤ 6", kind, st.Groups)
			}
			out = append(out, runJoin(t, mem, j, false, rows[30:], n, true)...)
			got := foldOut(t, false, out)
			want := refJoin(kind, rows, nil, func(l, r jrow) bool { return r.ts >= l.ts-2 && r.ts <= l.ts+1 })
			if !equalStrings(got, want) {
				t.Fatalf("kind %d batch %d:\n got %v\nwant %v", kind, n, got, want)
			}
			if st := j.Stats(); st.Groups != 0 {
				t.Fatalf("after the end %d rows are held", st.Groups)
			}
			j.Close()
		}
	}
}

// TestIntervalJoinLateness: a row is late against its own input's
// watermark, whatever the other input's: a left row behind the left
// watermark is dropped (and counted) even while the right input lags.
func TestIntervalJoinLateness(t *testing.T) {
	mem := checkedMem(t)
	spec := intervalSpec(InnerJoin, 10, 10, 0)
	spec.Residual = intervalResidual(t, 10, 10)
	j, err := NewJoin(mem, joinLeft, joinRight, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	rows := []jrow{
		{side: 1, k: kp(1), v: 1, ts: 5},
		{side: 0, k: kp(1), v: 2, ts: 100},
		{side: 0, k: kp(1), v: 3, ts: 6}, // late on the left (wm 100), though the right's is 5
		{side: 1, k: kp(1), v: 4, ts: 7}, // not late on the right: joins nothing (left 100 is too far)
		{side: 1, k: kp(1), v: 5, ts: 95},
	}
	got := runJoin(t, mem, j, false, rows, 1, true)
	want := []string{"1|2|100|1|5|95"}
	if !equalStrings(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if j.Late() != 1 {
		t.Fatalf("Late = %d, want 1", j.Late())
	}
	// Under 'late.policy' = 'error' the same row fails the query.
	spec.Late = LateError
	j2, err := NewJoin(mem, joinLeft, joinRight, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	ctx := context.Background()
	var lerr error
	for _, r := range rows[:3] {
		rec := joinBatch(t, mem, r.side, false, []jrow{r})
		out, err := j2.Push(ctx, rec, UnionPartition(r.side, 0))
		rec.Release()
		if out != nil {
			out.Release()
		}
		if err != nil {
			lerr = err
		}
	}
	if !errors.Is(lerr, ErrLateRow) {
		t.Fatalf("err = %v, want a late row", lerr)
	}
}

// TestWindowJoinEmitsOnClose: a window join emits nothing until both
// watermarks pass the window's end, then the window's joined rows and its
// unmatched outer rows, and frees the window.
func TestWindowJoinEmitsOnClose(t *testing.T) {
	mem := checkedMem(t)
	// Column 1 is window_end, and the key includes it, as the planner's
	// window join keys do.
	spec := JoinSpec{Kind: FullJoin, Timing: WindowJoin, LeftTime: 2, RightTime: 2}
	left := arrow.NewSchema([]arrow.Field{joinLeft.Field(0), {Name: "we", Type: arrow.PrimitiveTypes.Int64}, joinLeft.Field(2)}, nil)
	right := arrow.NewSchema([]arrow.Field{joinRight.Field(0), {Name: "we", Type: arrow.PrimitiveTypes.Int64}, joinRight.Field(2)}, nil)
	spec.LeftKeys = []Expr{col(left, 0), col(left, 1)}
	spec.RightKeys = []Expr{col(right, 0), col(right, 1)}
	spec.LeftEnd, spec.RightEnd = 1, 1
	j, err := NewJoin(mem, left, right, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	push := func(side int, js string) []string {
		s := []*arrow.Schema{left, right}[side]
		rec := fromJSON(t, mem, s, js)
		defer rec.Release()
		out, err := j.Push(ctx, rec, UnionPartition(side, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if out != nil {
				out.Release()
			}
		}()
		return rowsOf(t, out)
	}
	if got := push(0, `[{"k":1,"we":10,"ts":1},{"k":2,"we":10,"ts":2}]`); got != nil {
		t.Fatalf("emitted before the window closed: %v", got)
	}
	if got := push(1, `[{"k":1,"we":10,"ts":3},{"k":3,"we":10,"ts":4}]`); got != nil {
		t.Fatalf("emitted before the window closed: %v", got)
	}
	// Left passes 10, right does not yet: still open.
	if got := push(0, `[{"k":1,"we":20,"ts":12}]`); got != nil {
		t.Fatalf("emitted before both watermarks passed: %v", got)
	}
	got := sorted(push(1, `[{"k":1,"we":20,"ts":11}]`))
	want := []string{"1|10|1|1|10|3", "2|10|2|NULL|NULL|NULL", "NULL|NULL|NULL|3|10|4"}
	if !equalStrings(got, want) {
		t.Fatalf("window close: got %v want %v", got, want)
	}
	if st := j.Stats(); st.Groups != 2 {
		t.Fatalf("%d rows held, want the 2 of the open window", st.Groups)
	}
	// A row of the closed window is late on its own input.
	if got := push(1, `[{"k":2,"we":10,"ts":5}]`); got != nil || j.Late() != 1 {
		t.Fatalf("late row: out %v late %d", got, j.Late())
	}
}

// TestWindowJoinByMarks: an input that is a windowed aggregate's closed
// windows (RightByMarks) takes its watermark from AdvanceSide, not from
// its rows: a window is emitted once both inputs' watermarks pass its
// end, and a snapshot carries the marked watermark.
func TestWindowJoinByMarks(t *testing.T) {
	mem := checkedMem(t)
	left := arrow.NewSchema([]arrow.Field{joinLeft.Field(0), {Name: "we", Type: arrow.PrimitiveTypes.Int64}, joinLeft.Field(2)}, nil)
	right := arrow.NewSchema([]arrow.Field{joinRight.Field(0), {Name: "we", Type: arrow.PrimitiveTypes.Int64}}, nil)
	spec := JoinSpec{Kind: LeftJoin, Timing: WindowJoin, LeftTime: 2, RightTime: 1, LeftEnd: 1, RightEnd: 1, RightByMarks: true}
	spec.LeftKeys = []Expr{col(left, 0), col(left, 1)}
	spec.RightKeys = []Expr{col(right, 0), col(right, 1)}
	j, err := NewJoin(mem, left, right, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	got := func(out arrow.Record, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if out == nil {
			return nil
		}
		defer out.Release()
		return sorted(rowsOf(t, out))
	}
	push := func(side int, js string) []string {
		rec := fromJSON(t, mem, []*arrow.Schema{left, right}[side], js)
		defer rec.Release()
		return got(j.PushSide(ctx, side, rec, 0))
	}
	if out := push(0, `[{"k":1,"we":10,"ts":1},{"k":2,"we":10,"ts":2},{"k":1,"we":20,"ts":15}]`); out != nil {
		t.Fatalf("emitted before the window closed: %v", out)
	}
	// The right input's rows of window 10, then its mark: the left's
	// watermark (15) passed 10 already, the right's mark closes it.
	if out := push(1, `[{"k":1,"we":10}]`); out != nil {
		t.Fatalf("emitted before the right input's mark: %v", out)
	}
	// A mark on a side tracked from its rows changes nothing.
	if out := got(j.AdvanceSide(ctx, 0, 100)); out != nil {
		t.Fatalf("a row-tracked side's mark emitted %v", out)
	}
	out := got(j.AdvanceSide(ctx, 1, 10))
	if want := []string{"1|10|1|1|10", "2|10|2|NULL|NULL"}; !equalStrings(out, want) {
		t.Fatalf("window 10 on the right's mark: got %v want %v", out, want)
	}
	if st := j.Stats(); st.Groups != 1 {
		t.Fatalf("%d rows held, want the 1 of window 20", st.Groups)
	}
	snap, err := j.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	j2, err := NewJoin(mem, left, right, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	if err := j2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if w := j2.sides[1].tracker.Watermark(); w != 10 {
		t.Fatalf("restored right watermark %d, want 10", w)
	}
	// The right input ends; window 20 waits for the left's watermark.
	if out := got(j2.FinishSide(ctx, 1)); out != nil {
		t.Fatalf("window 20 emitted before the left watermark passed it: %v", out)
	}
	out = got(j2.Finish(ctx))
	if want := []string{"1|20|15|NULL|NULL"}; !equalStrings(out, want) {
		t.Fatalf("after both inputs ended: got %v want %v", out, want)
	}
}

// TestJoinSnapshotRestore: a join restored from a mid-stream snapshot
// ends with the same fold as one that ran through, for regular (with
// retractions) and interval joins.
func TestJoinSnapshotRestore(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(7))
	rows := randomRows(rng, 60, true)
	lk, rk := changelogKeys()
	specs := []JoinSpec{{Kind: FullJoin, LeftKeys: lk, RightKeys: rk, Residual: residualLess(t)}}
	for _, spec := range specs {
		l, r := withOpSchema(joinLeft), withOpSchema(joinRight)
		mk := func() *Join {
			j, err := NewJoin(mem, l, r, spec)
			if err != nil {
				t.Fatal(err)
			}
			return j
		}
		a := mk()
		out := runJoin(t, mem, a, true, rows[:30], 3, false)
		snap, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		b := mk()
		if err := b.Restore(snap); err != nil {
			t.Fatal(err)
		}
		out = append(out, runJoin(t, mem, b, true, rows[30:], 3, true)...)
		b.Close()
		got := foldOut(t, true, out)
		want := refJoin(spec.Kind, rows, func(a, b int64) bool { return a < b }, nil)
		if !equalStrings(got, want) {
			t.Fatalf("restored:\n got %v\nwant %v", got, want)
		}
	}
	// An interval join restores its watermarks: a row late before the
	// snapshot is late after it.
	spec := intervalSpec(InnerJoin, 1, 1, 0)
	a, err := NewJoin(mem, joinLeft, joinRight, spec)
	if err != nil {
		t.Fatal(err)
	}
	runJoin(t, mem, a, false, []jrow{{side: 0, k: kp(1), ts: 50}, {side: 1, k: kp(1), ts: 50}}, 1, false)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := NewJoin(mem, joinLeft, joinRight, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	runJoin(t, mem, b, false, []jrow{{side: 0, k: kp(1), ts: 10}}, 1, false)
	if b.Late() != 1 {
		t.Fatalf("restored watermark: late = %d, want 1", b.Late())
	}
	lk, rk = joinKeys()
	reg, err := NewJoin(mem, joinLeft, joinRight, JoinSpec{LeftKeys: lk, RightKeys: rk})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.Restore(snap); err == nil {
		t.Fatal("restoring an interval join's snapshot into a regular join must fail")
	}
}

// TestJoinBoundedStateEndless: an interval join over an endless stream
// of both inputs keeps its state bounded by the watermarks.
func TestJoinBoundedStateEndless(t *testing.T) {
	mem := checkedMem(t)
	spec := intervalSpec(LeftJoin, 5, 5, 2)
	j, err := NewJoin(mem, joinLeft, joinRight, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	ctx := context.Background()
	maxGroups := 0
	for ts := int64(0); ts < 20000; ts += 10 {
		for side := 0; side < 2; side++ {
			var rows []jrow
			for i := int64(0); i < 10; i++ {
				rows = append(rows, jrow{side: side, k: kp(i), v: i, ts: ts + i})
			}
			rec := joinBatch(t, mem, side, false, rows)
			out, err := j.Push(ctx, rec, UnionPartition(side, 0))
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
			if out != nil {
				out.Release()
			}
			maxGroups = max(maxGroups, j.Stats().Groups)
		}
	}
	// Each side holds about (5 + 2 + 10) ms of rows, one per ms.
	if maxGroups > 60 {
		t.Fatalf("state grew to %d rows over an endless stream", maxGroups)
	}
}

// TestLookupJoin: a table loaded first joins every stream row, keeping
// none of them; over a changelog stream the retractions flow through, and
// the result folds to the batch join.
func TestLookupJoin(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(3))
	var table []jrow
	for i := 0; i < 6; i++ {
		table = append(table, jrow{side: 1, k: kp(int64(rng.Intn(4))), v: int64(i)})
	}
	for _, kind := range []JoinKind{InnerJoin, LeftJoin} {
		for _, changelog := range []bool{false, true} {
			stream := randomRows(rng, 30, changelog)
			var rows []jrow
			for _, r := range stream {
				if r.side == 0 {
					rows = append(rows, r)
				}
			}
			lk, _ := joinKeys()
			l := joinLeft
			if changelog {
				lk, _ = changelogKeys()
				l = withOpSchema(joinLeft)
			}
			_, rk := joinKeys()
			j, err := NewJoin(mem, l, joinRight, JoinSpec{Kind: kind, Timing: LookupJoin, TableSide: 1, LeftKeys: lk, RightKeys: rk})
			if err != nil {
				t.Fatal(err)
			}
			if j.SinkMode().Changelog != changelog {
				t.Fatalf("changelog output = %v over a changelog stream %v", j.SinkMode().Changelog, changelog)
			}
			tab := joinBatch(t, mem, 1, false, table)
			if err := j.LoadTable(context.Background(), tab); err != nil {
				t.Fatal(err)
			}
			tab.Release()
			before := j.Stats().Groups
			out := runJoin(t, mem, j, changelog, rows, 3, true)
			if j.Stats().Groups != before {
				t.Fatalf("the lookup join kept stream rows: %d rows, table %d", j.Stats().Groups, before)
			}
			got := foldOut(t, changelog, out)
			want := refJoin(kind, append(append([]jrow(nil), table...), rows...), nil, nil)
			if !equalStrings(got, want) {
				t.Fatalf("kind %d changelog %v:\n got %v\nwant %v", kind, changelog, got, want)
			}
			j.Close()
		}
	}
	if _, err := NewJoin(mem, joinLeft, joinRight, JoinSpec{Kind: RightJoin, Timing: LookupJoin, TableSide: 1, LeftKeys: []Expr{col(joinLeft, 0)}, RightKeys: []Expr{col(joinRight, 0)}}); err == nil {
		t.Fatal("a lookup join keeping the table's unmatched rows must be refused")
	}
}

// TestLookupProbeMatchesRowJoin: the columnar probe of a lookup join's
// stream gives exactly the records (rows, order, ops) the row-by-row
// fold gives, over random tables with repeated rows and NULL keys,
// string and integer keys, either table side, inner and outer joins,
// append-only and changelog streams, with and without a residual, at
// several batch sizes.
func TestLookupProbeMatchesRowJoin(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	for _, keyType := range []arrow.DataType{arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64} {
		streamSch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: keyType, Nullable: true}, {Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
		tableSch := arrow.NewSchema([]arrow.Field{{Name: "k", Type: keyType, Nullable: true}, {Name: "b", Type: arrow.PrimitiveTypes.Int64}}, nil)
		key := func(k int) string {
			switch {
			case k < 0:
				return "null"
			case keyType.ID() == arrow.STRING:
				return fmt.Sprintf("%q", fmt.Sprint("key", k))
			}
			return fmt.Sprint(k)
		}
		var tab []string
		for range 8 {
			k := rng.Intn(5) - 1 // -1: NULL, key 3 and 4 rarely present
			tab = append(tab, fmt.Sprintf(`{"k": %s, "b": %d}`, key(k), rng.Intn(3)))
		}
		table := fromJSON(t, mem, tableSch, "["+strings.Join(tab, ",")+"]")
		for _, tableSide := range []int{0, 1} {
			for _, kind := range []JoinKind{InnerJoin, []JoinKind{RightJoin, LeftJoin}[tableSide]} {
				for _, changelog := range []bool{false, true} {
					for _, residual := range []bool{false, true} {
						name := fmt.Sprintf("%s/table%d/kind%d/changelog=%v/residual=%v", keyType, tableSide, kind, changelog, residual)
						st := streamSch
						if changelog {
							st = withOpSchema(streamSch)
						}
						first := 0
						if changelog {
							first = 1
						}
						sides := [2]*arrow.Schema{st, tableSch}
						keys := [2][]Expr{{col(st, first)}, {col(tableSch, 0)}}
						if tableSide == 0 {
							sides = [2]*arrow.Schema{tableSch, st}
							keys = [2][]Expr{keys[1], keys[0]}
						}
						spec := JoinSpec{Kind: kind, Timing: LookupJoin, TableSide: tableSide, LeftKeys: keys[0], RightKeys: keys[1]}
						if residual {
							// stream.a < table.b over the pair (left values, right values).
							a, b := 1, 3
							if tableSide == 0 {
								a, b = 3, 1
							}
							e, err := expr.Call("lt", []expr.Expr{expr.Column(a, arrow.PrimitiveTypes.Int64, "a"), expr.Column(b, arrow.PrimitiveTypes.Int64, "b")}, arrow.FixedWidthTypes.Boolean)
							if err != nil {
								t.Fatal(err)
							}
							spec.Residual = e
						}
						var js []string
						for range 40 {
							obj := fmt.Sprintf(`"k": %s, "a": %d`, key(rng.Intn(6)-1), rng.Intn(3))
							if changelog {
								obj = fmt.Sprintf(`"op": %d, `, []exec.Op{exec.OpInsert, exec.OpDelete, exec.OpUpdateBefore, exec.OpUpdateAfter}[rng.Intn(4)]) + obj
							}
							js = append(js, "{"+obj+"}")
						}
						all := fromJSON(t, mem, st, "["+strings.Join(js, ",")+"]")
						var joins [2]*Join
						for v := range joins {
							j, err := NewJoin(mem, sides[0], sides[1], spec)
							if err != nil {
								t.Fatal(err)
							}
							if err := j.LoadTable(ctx, table); err != nil {
								t.Fatal(err)
							}
							joins[v] = j
						}
						for _, size := range []int64{1, 3, 40} {
							for off := int64(0); off < all.NumRows(); off += size {
								rec := all.NewSlice(off, min(off+size, all.NumRows()))
								got, err := joins[0].PushSide(ctx, 1-tableSide, rec, UnionPartition(1-tableSide, 0))
								if err != nil {
									t.Fatal(err)
								}
								if err := joins[1].fold(ctx, 1-tableSide, rec, UnionPartition(1-tableSide, 0), time.Now()); err != nil {
									t.Fatal(err)
								}
								want, err := joins[1].flush()
								if err != nil {
									t.Fatal(err)
								}
								rec.Release()
								switch {
								case (got == nil) != (want == nil):
									t.Fatalf("%s size %d at %d: got %v, want %v", name, size, off, got, want)
								case got != nil && !array.RecordEqual(got, want):
									t.Fatalf("%s size %d at %d:\n got %v\nwant %v", name, size, off, got, want)
								}
								if got != nil {
									got.Release()
									want.Release()
								}
							}
						}
						all.Release()
						joins[0].Close()
						joins[1].Close()
					}
				}
			}
		}
		table.Release()
	}
}

// TestJoinResidualReadsSomeColumns: the residual's candidate pairs carry
// only the columns it reads (the others are NULL there); a residual
// over one side's time and the other's value, each way round, must still
// see the right columns whichever input a batch comes from.
func TestJoinResidualReadsSomeColumns(t *testing.T) {
	mem := checkedMem(t)
	i64, b := arrow.PrimitiveTypes.Int64, arrow.FixedWidthTypes.Boolean
	preds := []struct {
		name     string
		from, to int // pair columns: left k, a, ts, then right k, b, ts
		ref      func(l, r jrow) bool
	}{
		{"left.ts <= right.b", 2, 4, func(l, r jrow) bool { return l.ts <= r.v }},
		{"right.ts <= left.a", 5, 1, func(l, r jrow) bool { return r.ts <= l.v }},
	}
	for _, p := range preds {
		res, err := expr.Call("le", []expr.Expr{expr.Column(p.from, i64, "x"), expr.Column(p.to, i64, "y")}, b)
		if err != nil {
			t.Fatal(err)
		}
		for seed := int64(1); seed <= 6; seed++ {
			retract := seed%2 == 0
			rows := randomRows(rand.New(rand.NewSource(seed)), 40, retract)
			for _, kind := range []JoinKind{InnerJoin, LeftJoin, FullJoin} {
				lk, rk := joinKeys()
				l, r := joinLeft, joinRight
				if retract {
					lk, rk = changelogKeys()
					l, r = withOpSchema(l), withOpSchema(r)
				}
				want := refJoin(kind, rows, nil, p.ref)
				for _, n := range batchSizes {
					j, err := NewJoin(mem, l, r, JoinSpec{Kind: kind, LeftKeys: lk, RightKeys: rk, Residual: res})
					if err != nil {
						t.Fatal(err)
					}
					got := foldOut(t, j.SinkMode().Changelog, runJoin(t, mem, j, retract, rows, n, true))
					j.Close()
					if !equalStrings(got, want) {
						t.Fatalf("%s seed %d kind %d batch %d:\n got %v\nwant %v", p.name, seed, kind, n, got, want)
					}
				}
			}
		}
	}
}

// TestIntervalJoinOneSided: an inner interval join bounded one way only
// (right.ts >= left.ts) frees the right rows once the left watermark
// passes them and holds the left ones, unless Until bounds them too (a
// left column a the right time may not pass: right.ts <= left.a); either
// way it emits the batch join's rows, at every batch size.
func TestIntervalJoinOneSided(t *testing.T) {
	mem := checkedMem(t)
	i64, b := arrow.PrimitiveTypes.Int64, arrow.FixedWidthTypes.Boolean
	call := func(name string, typ arrow.DataType, args ...expr.Expr) expr.Expr {
		e, err := expr.Call(name, args, typ)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	la, lt, rt := expr.Column(1, i64, "a"), expr.Column(2, i64, "ts"), expr.Column(5, i64, "ts")
	var rows []jrow
	for ts := int64(0); ts < 60; ts++ {
		// Left rows carry their due time (ts + 3) as a.
		v := ts
		if ts%2 == 0 {
			v = ts + 3
		}
		rows = append(rows, jrow{side: int(ts % 2), k: kp(ts % 3), v: v, ts: ts})
	}
	for _, until := range []bool{false, true} {
		for _, n := range batchSizes {
			lk, rk := joinKeys()
			spec := JoinSpec{Kind: InnerJoin, Timing: IntervalJoin, LeftKeys: lk, RightKeys: rk, LeftTime: 2, RightTime: 2,
				Lower: 0, Upper: NoBound, Residual: call("ge", b, rt, lt)}
			inWindow := func(l, r jrow) bool { return r.ts >= l.ts }
			if until {
				spec.Until[0] = &UntilBound{Col: 1}
				spec.Residual = call("and", b, spec.Residual, call("le", b, rt, la))
				inWindow = func(l, r jrow) bool { return r.ts >= l.ts && r.ts <= l.v }
			}
			j, err := NewJoin(mem, joinLeft, joinRight, spec)
			if err != nil {
				t.Fatal(err)
			}
			out := runJoin(t, mem, j, false, rows[:50], n, false)
			// 25 left rows so far: all held without Until, the last
			// few with it; right rows only the last few.
			st := j.Stats()
			switch {
			case !until && (st.Groups < 25 || st.Groups > 25+4):
				t.Fatalf("batch %d: %d rows held, want the 25 left rows and a few right ones", n, st.Groups)
			case until && st.Groups > 8:
				t.Fatalf("batch %d: %d rows held with Until, want ≤ 8", n, st.Groups)
			}
			out = append(out, runJoin(t, mem, j, false, rows[50:], n, true)...)
			got := foldOut(t, false, out)
			want := refJoin(InnerJoin, rows, nil, inWindow)
			if len(want) == 0 || !equalStrings(got, want) {
				t.Fatalf("until %v batch %d:\n got %v\nwant %v", until, n, got, want)
			}
			j.Close()
		}
	}
}
