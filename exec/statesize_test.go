package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec/expr"
)

// A GROUP BY whose groups outgrow the budget fails with an error naming
// the operator and the limit; under a big enough budget it runs, and its
// share is given back at Close. The limits are small: the test never
// holds more than a few MB.
func TestHashAggregateBudget(t *testing.T) {
	const n = 20000
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"k":"key-%06d","v":%d}`, i, i)
	}
	b.WriteString("]")
	sch := schemaOf(f("k", str), f("v", i64))
	k, v := col(0, str), col(1, i64)
	for _, c := range []struct {
		name string
		keys []expr.Expr
		aggs []AggCall
		min  int64 // the state is at least this big
	}{
		{"int key", []expr.Expr{v}, []AggCall{{Func: "count_star", Name: "c"}}, n * 8},
		{"string key", []expr.Expr{k}, []AggCall{{Func: "sum", Arg: v, Name: "s"}}, n * 10},
		{"two keys", []expr.Expr{k, v}, []AggCall{{Func: "min", Arg: k, Name: "m"}}, n * 20},
		{"distinct", nil, []AggCall{{Func: "count", Arg: k, Distinct: true, Name: "d"}}, n * 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := newMem(t)
			run := func(limit int64) (*Budget, int64, error) {
				budget := NewBudget(limit)
				h, err := NewHashAggregate(mem, input(t, mem, sch, b.String(), 1000), c.keys, []string{"k", "v"}[:len(c.keys)], c.aggs)
				if err != nil {
					t.Fatal(err)
				}
				h.SetBudget(budget.Account("HashAggregate: " + c.name))
				defer h.Close()
				ctx := context.Background()
				if err := h.Open(ctx); err != nil {
					t.Fatal(err)
				}
				for {
					rec, err := h.Next(ctx)
					if errors.Is(err, io.EOF) {
						return budget, budget.Used(), nil
					}
					if err != nil {
						return budget, budget.Used(), err
					}
					rec.Release()
				}
			}
			budget, used, err := run(64 << 10)
			var mle *MemoryLimitError
			if !errors.As(err, &mle) || !errors.Is(err, ErrMemoryLimit) {
				t.Fatalf("64 KiB budget: %v", err)
			}
			if mle.Operator != "HashAggregate: "+c.name || mle.Limit != 64<<10 || !strings.Contains(err.Error(), "64 KiB") {
				t.Errorf("error %v", err)
			}
			if used > 64<<10 {
				t.Errorf("accounted %d past the limit", used)
			}
			budget, used, err = run(64 << 20)
			if err != nil {
				t.Fatalf("64 MiB budget: %v", err)
			}
			if used < c.min {
				t.Errorf("accounted %d bytes for %d groups, want at least %d", used, n, c.min)
			}
			if budget.Used() != 0 {
				t.Errorf("%d bytes still accounted after Close", budget.Used())
			}
		})
	}
}

// A sort's buffered input and a hash join's build side count against the
// budget too; Close gives the share back.
func TestSortAndJoinBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 5000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"v":%d}`, i)
	}
	b.WriteString("]")
	sch := schemaOf(f("v", i64))
	for _, limit := range []int64{16 << 10, 16 << 20} {
		mem := newMem(t)
		budget := NewBudget(limit)
		srt := NewSort(mem, input(t, mem, sch, b.String(), 500), []SortKey{{Expr: col(0, i64), Desc: true}})
		srt.SetBudget(budget.Account("Sort: v DESC"))
		j, err := NewHashJoin(mem, input(t, mem, sch, b.String(), 500), input(t, mem, sch, b.String(), 500), JoinInner, []expr.Expr{col(0, i64)}, []expr.Expr{col(0, i64)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		j.SetBudget(budget.Account("HashJoin: inner"))
		for _, op := range []Operator{srt, j} {
			ctx := context.Background()
			if err := op.Open(ctx); err != nil {
				t.Fatal(err)
			}
			var n int64
			var err error
			for err == nil {
				var rec arrow.Record
				if rec, err = op.Next(ctx); err == nil {
					n += rec.NumRows()
					rec.Release()
				}
			}
			if limit == 16<<10 {
				if !errors.Is(err, ErrMemoryLimit) {
					t.Errorf("%T under 16 KiB: %v", op, err)
				}
			} else if !errors.Is(err, io.EOF) || n != 5000 {
				t.Errorf("%T under 16 MiB: %d rows, %v", op, n, err)
			} else if budget.Used() < 5000*8 {
				t.Errorf("%T accounted %d bytes for 5000 rows", op, budget.Used())
			}
			op.Close()
		}
		if budget.Used() != 0 {
			t.Errorf("%d bytes accounted after Close", budget.Used())
		}
	}
}
