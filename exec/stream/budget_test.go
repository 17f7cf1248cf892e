package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

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

// TestRunningStateBytesMatchWalk: the running state sizes that top-N,
// per-key top-N and windowed aggregates keep for the per-message budget
// check (StateSizer) equal a walk over what they hold, after every batch
// of a changelog that adds, retracts and frees rows, keys, windows and
// sessions.
func TestRunningStateBytesMatchWalk(t *testing.T) {
	mem := checkedMem(t)
	top, err := NewTopN(mem, clSchema, []SortKey{{Col: 2}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	rank, err := NewRankTopN(mem, clSchema, []int{1}, []SortKey{{Col: 2}}, 2, "rn")
	if err != nil {
		t.Fatal(err)
	}
	defer rank.Close()
	walkTop := func(t *TopN) (n int64) {
		for _, r := range t.rows {
			n += int64(len(r.key)) + 48
			for _, v := range r.vals {
				n += valueBytes(v)
			}
		}
		return n
	}
	for i, chunk := range changelogChunks(t, mem, 9, 60) {
		pushAll(t, top, chunk, false)
		pushAll(t, rank, chunk, false)
		if got, _ := top.StateBytes(); got != walkTop(top) {
			t.Fatalf("chunk %d: top-N counts %d bytes, a walk %d", i, got, walkTop(top))
		}
		var want int64
		for k, p := range rank.parts {
			want += walkTop(p) + rankKeyBytes(k)
		}
		if got, _ := rank.StateBytes(); got != want {
			t.Fatalf("chunk %d: per-key top-N counts %d bytes, a walk %d", i, got, want)
		}
	}

	for _, spec := range []WindowSpec{
		{Kind: Tumble, TimeCol: 0, Size: 2 * time.Second},
		{Kind: Session, TimeCol: 0, Gap: 700 * time.Millisecond},
	} {
		w := newWinAgg(t, mem, spec, WindowOptions{Delay: 500 * time.Millisecond})
		walk := func() (n int64) {
			for _, ws := range w.windows {
				n += 64 + accsBytes(ws.accs)
				if ws.table != nil {
					n += ws.table.Bytes()
				}
				for _, v := range ws.keys {
					n += valueBytes(v)
				}
			}
			n += accsBytes(w.sess.accs) + int64(cap(w.sess.free))*4
			for _, list := range w.sessions {
				for _, ss := range list {
					n += int64(len(ss.keyStr)) + 64
					for _, v := range ss.key {
						n += valueBytes(v)
					}
				}
			}
			return n + int64(len(w.heap))*16 + int64(len(w.sheap))*16
		}
		rng := rand.New(rand.NewSource(2))
		ts := int64(0)
		for b := 0; b < 60; b++ {
			var evs []ev
			for n := 1 + rng.Intn(20); n > 0; n-- {
				ts += int64(rng.Intn(150))
				evs = append(evs, ev{ts: ts, k: fmt.Sprint("k", rng.Intn(9)), v: int64(rng.Intn(100))})
			}
			rec := evRecord(mem, evs)
			pushAll(t, w, []arrow.Record{rec}, false)
			rec.Release()
			if got, want := w.Stats().Bytes, walk(); got != want {
				t.Fatalf("%v batch %d: the window aggregate counts %d bytes, a walk %d", spec.Kind, b, got, want)
			}
		}
		w.Close()
	}
}

// sizerNode shows a join to a budgetSampler as a graph node would (only
// Stats and StateBytes are called).
type sizerNode struct {
	Node
	j *TemporalJoin
}

func (n sizerNode) Stats() StateStats         { return n.j.Stats() }
func (n sizerNode) StateBytes() (int64, bool) { return n.j.StateBytes() }

// TestTemporalJoinBudgetCheckedPerMessage: a temporal join keeps running
// counts of its versions and waiting rows (StateSizer), equal to a walk
// of them after every batch, so the budget check after each message
// stops it at the first batch past the limit. Sampled (every 100 ms), the
// batches pushed in between went on growing the state past it.
func TestTemporalJoinBudgetCheckedPerMessage(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	j, err := NewTemporalJoin(mem, temporalLeft, temporalRight, temporalSpec(InnerJoin))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const limit = 64 << 10
	s := budgetSampler{acct: exec.NewBudget(limit).Account("TemporalJoin")}
	defer s.close()
	walk := func() int64 {
		n := j.bytes
		for _, r := range j.waiting {
			n += 48 + int64(len(r.Key))
			for _, v := range r.Vals {
				n += valueBytes(v)
			}
		}
		return n
	}
	push := func(side int, js []string) {
		rec := fromJSON(t, mem, []*arrow.Schema{temporalLeft, temporalRight}[side], "["+strings.Join(js, ",")+"]")
		defer rec.Release()
		out, err := j.PushSide(ctx, side, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
	}
	var before int64
	for b := range 200 {
		// 50 new keys' versions, and 20 stream rows ahead of the
		// versions' watermark (they wait for it).
		var js []string
		for i := range 50 {
			js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"vf":%d}`, b*50+i, i, b*10))
		}
		push(1, js)
		js = js[:0]
		for i := range 20 {
			js = append(js, fmt.Sprintf(`{"k":%d,"a":%d,"ts":%d}`, b*50+i, i, 1_000_000+b))
		}
		push(0, js)
		got, _ := j.StateBytes()
		if want := walk(); got != want {
			t.Fatalf("batch %d: the join counts %d bytes, a walk %d", b, got, want)
		}
		err := s.sample(sizerNode{j: j}, false)
		if err == nil {
			before = got
			continue
		}
		var mle *exec.MemoryLimitError
		if !errors.As(err, &mle) {
			t.Fatal(err)
		}
		if before > limit || mle.Need > limit+2*(got-before) {
			t.Fatalf("batch %d: stopped at %d bytes (%d before the batch), limit %d: not at the first batch past it", b, mle.Need, before, limit)
		}
		return
	}
	t.Fatal("the join was never stopped")
}

// opSizer shows an operator with running state sizes to a budgetSampler
// as a graph node would (only Stats and StateBytes are called).
type opSizer struct {
	Node
	op interface {
		Stats() StateStats
		StateBytes() (int64, bool)
	}
}

func (n opSizer) Stats() StateStats         { return n.op.Stats() }
func (n opSizer) StateBytes() (int64, bool) { return n.op.StateBytes() }

// TestTopNBudgetCheckedPerMessage: top-N and per-key top-N over a
// changelog (they keep every row, for retractions) are stopped by the
// budget check after each message at the first batch past the limit.
// Sampled (every 100 ms), the batches pushed in between went on growing
// their state past it (the engine's TestWindowAndTopNBudgetCheckedPerBatch
// cannot tell: its top-N queries are slow enough to stay within its slack).
func TestTopNBudgetCheckedPerMessage(t *testing.T) {
	mem := checkedMem(t)
	top, err := NewTopN(mem, clSchema, []SortKey{{Col: 2}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	rank, err := NewRankTopN(mem, clSchema, []int{1}, []SortKey{{Col: 2}}, 2, "rn")
	if err != nil {
		t.Fatal(err)
	}
	defer rank.Close()
	for name, op := range map[string]interface {
		Operator
		StateBytes() (int64, bool)
	}{"TopN": top, "RankTopN": rank} {
		const limit = 64 << 10
		s := budgetSampler{acct: exec.NewBudget(limit).Account(name)}
		var before int64
		stopped := false
		for b := 0; b < 300 && !stopped; b++ {
			var js []string
			for i := range 40 {
				js = append(js, fmt.Sprintf(`{"op":0,"k":"key-%06d","v":%d}`, b*40+i, b*40+i))
			}
			rec := fromJSON(t, mem, clSchema, "["+strings.Join(js, ",")+"]")
			pushAll(t, op, []arrow.Record{rec}, false)
			rec.Release()
			got, _ := op.StateBytes()
			err := s.sample(opSizer{op: op}, false)
			if err == nil {
				before = got
				continue
			}
			var mle *exec.MemoryLimitError
			if !errors.As(err, &mle) {
				t.Fatal(err)
			}
			if before > limit || mle.Need > limit+2*(got-before) {
				t.Errorf("%s: batch %d: stopped at %d bytes (%d before the batch), limit %d: not at the first batch past it", name, b, mle.Need, before, limit)
			}
			stopped = true
		}
		s.close()
		if !stopped {
			t.Errorf("%s was never stopped", name)
		}
	}
}
