package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
)

// An updating GROUP BY over a growing key space fails once its state
// passes the budget, with the operator's name in the error; the state it
// reaches first is accounted (it grows with the keys), and Close gives
// the share back. Batches of 1000 new keys, a 4 MiB budget.
func TestGroupAggregateBudget(t *testing.T) {
	mem := checkedMem(t)
	budget := exec.NewBudget(4 << 20)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, []AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	g.SetBudget(budget.Account("GroupAggregate: keys=[k]"))
	var used []int64
	var failed error
	for b := 0; b < 100 && failed == nil; b++ {
		var sb strings.Builder
		sb.WriteString("[")
		for i := 0; i < 1000; i++ {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, `{"k":"key-%07d","v":1}`, b*1000+i)
		}
		sb.WriteString("]")
		rec := fromJSON(t, mem, kvSchema, sb.String())
		out, err := g.Push(context.Background(), rec, 0)
		rec.Release()
		if out != nil {
			out.Release()
		}
		failed = err
		used = append(used, budget.Used())
	}
	var mle *exec.MemoryLimitError
	if !errors.As(failed, &mle) || mle.Operator != "GroupAggregate: keys=[k]" || !strings.Contains(failed.Error(), "4.0 MiB") {
		t.Fatalf("after %d batches: %v", len(used), failed)
	}
	if len(used) < 3 || used[len(used)-2] <= used[0] || used[len(used)-2] > 4<<20 {
		t.Errorf("accounted bytes per batch %v: want growth, under the limit", used)
	}
	g.Close()
	if budget.Used() != 0 {
		t.Errorf("%d bytes accounted after Close", budget.Used())
	}
}
