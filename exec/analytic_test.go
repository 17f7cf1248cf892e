package exec

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec/expr"
)

// TestAnalyticFramesMatchNaive checks the sliding-window aggregates and
// value functions against a direct evaluation of each frame's definition,
// over random data with NULLs, at several batch sizes.
func TestAnalyticFramesMatchNaive(t *testing.T) {
	sch := schemaOf(f("k", i64), f("v", i64))
	rng := rand.New(rand.NewSource(7))
	var js []string
	for range 60 {
		v := "null"
		if rng.Intn(6) > 0 {
			v = strconv.Itoa(rng.Intn(20) - 5)
		}
		js = append(js, fmt.Sprintf(`{"k":%d,"v":%s}`, rng.Intn(3), v))
	}
	data := "[" + strings.Join(js, ",") + "]"
	bounds := []FrameBound{
		{Kind: UnboundedPreceding}, {Kind: Preceding, Offset: 3}, {Kind: Preceding, Offset: 0},
		{Kind: CurrentRow}, {Kind: Following, Offset: 2}, {Kind: UnboundedFollowing},
	}
	var frames []Frame
	for _, rows := range []bool{true, false} {
		for i, s := range bounds {
			for _, e := range bounds[i:] {
				if s.Kind != UnboundedFollowing && e.Kind != UnboundedPreceding {
					frames = append(frames, Frame{Rows: rows, Start: s, End: e})
				}
			}
		}
	}
	funcs := []string{"sum", "count", "min", "max", "count_star", "first_value", "last_value"}
	for _, desc := range []bool{false, true} {
		for _, fr := range frames {
			var fs []AnalyticFunc
			for _, name := range funcs {
				af := AnalyticFunc{Func: name, Frame: fr, Type: i64, Name: name}
				if name != "count_star" {
					af.Args = []expr.Expr{col(1, i64)}
				}
				fs = append(fs, af)
			}
			for _, bs := range []int{1, 7, 1024} {
				mem := newMem(t)
				order := []SortKey{{Expr: col(1, i64), Desc: desc, NullsFirst: !desc}}
				op, err := NewAnalytic(mem, input(t, mem, sch, data, bs), []expr.Expr{col(0, i64)}, order, fs)
				if err != nil {
					t.Fatal(err)
				}
				got := collect(t, op)
				checkNaive(t, fmt.Sprintf("%+v desc=%v batch=%d", fr, desc, bs), got, fr, desc)
			}
		}
	}
}

// checkNaive recomputes each row's functions from the sorted output
// itself (k|v|sum|count|min|max|count_star|first|last per row).
func checkNaive(t *testing.T, name string, got []string, fr Frame, desc bool) {
	t.Helper()
	type row struct {
		k    string
		v    *int64
		cols []string
	}
	rs := make([]row, len(got))
	for i, g := range got {
		c := strings.Split(g, "|")
		rs[i] = row{k: c[0], cols: c[2:]}
		if c[1] != "NULL" {
			x, _ := strconv.ParseInt(c[1], 10, 64)
			rs[i].v = &x
		}
	}
	// s is the key in sort order (ascending even when desc).
	s := func(v int64) int64 {
		if desc {
			return -v
		}
		return v
	}
	for i, r := range rs {
		// The partition: rows with r's key (contiguous in the output).
		lo, hi := i, i
		for lo > 0 && rs[lo-1].k == r.k {
			lo--
		}
		for hi < len(rs) && rs[hi].k == r.k {
			hi++
		}
		peer := func(j int) bool {
			a, b := rs[j].v, r.v
			return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
		}
		in := func(j int) bool {
			pos := func(b FrameBound, end bool) bool { // j is on the frame side of b
				switch b.Kind {
				case UnboundedPreceding, UnboundedFollowing:
					return true
				}
				if fr.Rows {
					d := int64(j - i)
					off := map[BoundKind]int64{Preceding: -b.Offset, CurrentRow: 0, Following: b.Offset}[b.Kind]
					if end {
						return d <= off
					}
					return d >= off
				}
				if b.Kind == CurrentRow || r.v == nil {
					if peer(j) {
						return true
					}
					// non-peers: before or after the current row?
					if end {
						return j < i
					}
					return j > i
				}
				if rs[j].v == nil { // NULLs sort before or after every value
					if end {
						return j < i
					}
					return j > i
				}
				off := b.Offset
				if b.Kind == Preceding {
					off = -off
				}
				if end {
					return s(*rs[j].v) <= s(*r.v)+off
				}
				return s(*rs[j].v) >= s(*r.v)+off
			}
			return pos(fr.Start, false) && pos(fr.End, true)
		}
		var sum, cnt, star int64
		var mn, mx *int64
		first, last := "NULL", "NULL"
		for j := lo; j < hi; j++ {
			if !in(j) {
				continue
			}
			star++
			if first == "NULL" && star == 1 {
				first = "NULL"
				if rs[j].v != nil {
					first = strconv.FormatInt(*rs[j].v, 10)
				}
			}
			last = "NULL"
			if rs[j].v != nil {
				last = strconv.FormatInt(*rs[j].v, 10)
			}
			if v := rs[j].v; v != nil {
				sum += *v
				cnt++
				if mn == nil || *v < *mn {
					mn = v
				}
				if mx == nil || *v > *mx {
					mx = v
				}
			}
		}
		str := func(p *int64) string {
			if p == nil {
				return "NULL"
			}
			return strconv.FormatInt(*p, 10)
		}
		sumS := "NULL"
		if cnt > 0 {
			sumS = strconv.FormatInt(sum, 10)
		}
		want := []string{sumS, strconv.FormatInt(cnt, 10), str(mn), str(mx), strconv.FormatInt(star, 10), first, last}
		if strings.Join(want, "|") != strings.Join(r.cols, "|") {
			t.Fatalf("%s: row %d (k=%s v=%s): got %v, want %v", name, i, r.k, str(r.v), r.cols, want)
		}
	}
}

// TestAnalyticRanking covers the ranking and offset functions, NULL
// partition keys and ties, at several batch sizes.
func TestAnalyticRanking(t *testing.T) {
	sch := schemaOf(f("k", str), f("v", i64))
	data := `[{"k":"a","v":3},{"k":null,"v":1},{"k":"a","v":1},{"k":"b","v":2},{"k":"a","v":3},{"k":null,"v":null},{"k":"a","v":null}]`
	mk := func(name string, n int64, args ...expr.Expr) AnalyticFunc {
		typ := i64
		switch name {
		case "percent_rank", "cume_dist":
			typ = f64
		case "lag", "lead":
			typ = i64
		}
		return AnalyticFunc{Func: name, N: n, Args: args, Type: typ, Name: name}
	}
	fs := []AnalyticFunc{
		mk("row_number", 0), mk("rank", 0), mk("dense_rank", 0), mk("ntile", 2), mk("percent_rank", 0),
		mk("cume_dist", 0), mk("lag", 1, col(1, i64)), mk("lead", 1, col(1, i64), expr.Literal(i64, int64(-1))),
	}
	want := []string{
		"NULL|NULL|1|1|1|1|0|0.5|NULL|1",
		"NULL|1|2|2|2|2|1|1|NULL|-1",
		"a|NULL|1|1|1|1|0|0.25|NULL|1",
		"a|1|2|2|2|1|0.3333333333333333|0.5|NULL|3",
		"a|3|3|3|3|2|0.6666666666666666|1|1|3",
		"a|3|4|3|3|2|0.6666666666666666|1|3|-1",
		"b|2|1|1|1|1|0|1|NULL|-1",
	}
	for _, bs := range batchSizes {
		mem := newMem(t)
		op, err := NewAnalytic(mem, input(t, mem, sch, data, bs), []expr.Expr{col(0, str)}, []SortKey{{Expr: col(1, i64), NullsFirst: true}}, fs)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, collect(t, op), want)
	}
}

func TestAnalyticEmptyAndErrors(t *testing.T) {
	sch := schemaOf(f("v", i64))
	mem := newMem(t)
	op, err := NewAnalytic(mem, input(t, mem, sch, `[]`, 4), nil, nil, []AnalyticFunc{{Func: "sum", Args: []expr.Expr{col(0, i64)}, Type: i64, Frame: Frame{End: FrameBound{Kind: UnboundedFollowing}}, Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, collect(t, op), nil)

	// A result type the kernels do not produce is refused when built.
	if _, err := NewAnalytic(mem, input(t, mem, sch, `[]`, 4), nil, nil, []AnalyticFunc{{Func: "avg", Args: []expr.Expr{col(0, i64)}, Type: i64, Name: "a"}}); err == nil {
		t.Fatal("AVG typed BIGINT was accepted")
	}

	// SUM overflow is an error naming the function, not a wrapped value.
	op, err = NewAnalytic(mem, input(t, mem, sch, `[{"v":9000000000000000000},{"v":9000000000000000000}]`, 1), nil, nil, []AnalyticFunc{{Func: "sum", Args: []expr.Expr{col(0, i64)}, Type: i64, Frame: Frame{End: FrameBound{Kind: UnboundedFollowing}}, Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec, err := op.Next(context.Background())
	if !errors.Is(err, ErrOverflow) {
		if rec != nil {
			t.Log(rec)
			rec.Release()
		}
		t.Fatalf("got %v, want an overflow", err)
	}
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
	// Close without Open is safe.
	op, _ = NewAnalytic(mem, input(t, mem, sch, `[]`, 1), nil, nil, nil)
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
}
