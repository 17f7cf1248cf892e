package stream

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// carrySpec is an OVER aggregate with a bounded frame (s2: the sum of v
// over the key's rows at most 2 ms older) and four UNBOUNDED PRECEDING
// ones (RANGE: sum, count(*), min and first_value of v), its kernel
// computing them by brute force over the rows it is handed: right
// exactly when the operator hands it the rows the bounded frame reaches
// and carries the rest.
func carrySpec(t *testing.T) OverSpec {
	fields := append(overIn.Fields(),
		arrow.Field{Name: "s2", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "sum", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "lo", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "first", Type: arrow.PrimitiveTypes.Int64, Nullable: true})
	out := arrow.NewSchema(fields, nil)
	mem := checkedMem(t)
	kernel := func(_ context.Context, rec arrow.Record) ([]arrow.Record, error) {
		rows, err := readRows(rec)
		if err != nil {
			return nil, err
		}
		res := make([][]Value, 0, len(rows))
		for _, r := range rows {
			res = append(res, append(append([]Value(nil), r...), carryRef(rows, r, 2)...))
		}
		rb := array.NewRecordBuilder(mem, out)
		defer rb.Release()
		rec2, err := buildRecord(rb, res)
		if err != nil {
			return nil, err
		}
		return []arrow.Record{rec2}, nil
	}
	return OverSpec{TimeCol: 2, Partition: []int{0}, Range: 2, Kernel: kernel, Out: out, Carry: []OverCarry{
		{Col: 4, Func: "sum", Arg: 1}, {Col: 5, Func: "count_star", Arg: -1}, {Col: 6, Func: "min", Arg: 1}, {Col: 7, Func: "first_value", Arg: 1}}}
}

// carryRef is the functions of carrySpec for row r over rows (k, v, ts):
// the bounded sum over [ts − reach, ts], the others over every row of
// the key up to ts (the first by time, then by v).
func carryRef(rows [][]Value, r []Value, reach int64) []Value {
	var s2 int64
	var sum, lo, first Value
	var n int64
	var firstAt []Value
	for _, o := range rows {
		if o[0].I != r[0].I || o[2].I > r[2].I {
			continue
		}
		if o[2].I >= r[2].I-reach {
			s2 += o[1].I
		}
		n++
		if sum.IsNull() {
			sum = o[1]
		} else {
			sum = Int(sum.I + o[1].I)
		}
		if lo.IsNull() || o[1].I < lo.I {
			lo = o[1]
		}
		if firstAt == nil || o[2].I < firstAt[2].I || o[2].I == firstAt[2].I && o[1].I < firstAt[1].I {
			firstAt, first = o, o[1]
		}
	}
	return []Value{Int(s2), sum, Int(n), lo, first}
}

// TestOverCarryMatchesDefinition: random rows of a few keys, at batch
// sizes 1, 3 and 100, with a checkpoint restored into a new operator
// halfway: every row comes out once with the unbounded frames' values
// over all the key's rows up to it, though the operator keeps only the
// rows 2 ms back (and one running value per key and function).
func TestOverCarryMatchesDefinition(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	var js []string
	var all [][]Value
	for i := 0; i < 300; i++ {
		// Distinct times per key (first_value then has one answer), rows
		// in time order but for jitter the watermark (delay 3) absorbs.
		k, v, ts := rng.Intn(4), rng.Intn(50)-10, i*2+rng.Intn(3)
		js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"ts":%d}`, k, v, ts))
		all = append(all, []Value{Int(int64(k)), Int(int64(v)), Int(int64(ts))})
	}
	in := fromJSON(t, mem, overIn, "["+strings.Join(js, ",")+"]")
	defer in.Release()
	var want []string
	for _, r := range all {
		want = append(want, fmt.Sprint(append(append([]Value(nil), r...), carryRef(all, r, 2)...)))
	}
	sort.Strings(want)
	for _, size := range []int{1, 3, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			spec := carrySpec(t)
			spec.Delay = 3 * 1e6 // ms in ns
			newOp := func() *OverAggregate {
				o, err := NewOverAggregate(mem, overIn, spec)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			o := newOp()
			var got []string
			collect := func(out arrow.Record, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if out == nil {
					return
				}
				defer out.Release()
				rows, err := readRows(out)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					got = append(got, fmt.Sprint(r))
				}
			}
			chunks := cut(in, size)
			defer releaseAll(chunks)
			maxHist := 0
			for i, ch := range chunks {
				if i == len(chunks)/2 {
					snap, err := o.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					o.Close()
					o = newOp()
					if err := o.Restore(snap); err != nil {
						t.Fatal(err)
					}
				}
				collect(o.Push(ctx, ch, 0))
				maxHist = max(maxHist, o.nhist)
			}
			collect(o.Finish(ctx))
			o.Close()
			if o.Late() != 0 {
				t.Fatalf("%d rows late", o.Late())
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("rows differ from the definition:\ngot  %d rows, first %v\nwant %d rows, first %v", len(got), got[:min(3, len(got))], len(want), want[:3])
			}
			// The history is the rows 2 ms back, a few per key, not the
			// 300 the unbounded frames reach.
			if maxHist > 40 {
				t.Fatalf("history held %d rows", maxHist)
			}
		})
	}
}

// TestOverCarryDeltaSnapshots: the running values travel in delta
// checkpoints as the history does.
func TestOverCarryDeltaSnapshots(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(5))
	chunks := make([][]arrow.Record, 50)
	ts := 0
	for i := range chunks {
		var js []string
		for r := rng.Intn(6); r > 0; r-- {
			ts += 1 + rng.Intn(2)
			js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"ts":%d}`, rng.Intn(6), rng.Intn(10), ts))
		}
		if len(js) > 0 {
			rec := fromJSON(t, mem, overIn, "["+strings.Join(js, ",")+"]")
			chunks[i] = cut(rec, 1+rng.Intn(3))
			rec.Release()
		}
	}
	defer func() {
		for _, ch := range chunks {
			releaseAll(ch)
		}
	}()
	checkDeltaChain(t, func() deltaOperator {
		o, err := NewOverAggregate(mem, overIn, carrySpec(t))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}, chunks, false)
}

// TestOverCarrySumOverflow: a running SUM past BIGINT is an error, not a
// wrapped value.
func TestOverCarrySumOverflow(t *testing.T) {
	if _, err := combineValues("sum", Int(1<<62), Int(1<<62)); err == nil {
		t.Fatal("no overflow error")
	}
	if v, err := combineValues("sum", Int(-5), Int(3)); err != nil || v.I != -2 {
		t.Fatalf("got %v, %v", v, err)
	}
}
