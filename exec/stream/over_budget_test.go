package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
)

// overBudgetOp is an OVER operator as the budget tests drive it.
type overBudgetOp interface {
	Operator
	StateBytes() (int64, bool)
	Snapshot() ([]byte, error)
	Restore([]byte) error
}

// countKernel is an OverChangelog kernel over clSchema's values (k, v):
// each row with the count of its key's rows appended.
func countKernel(t *testing.T) (func(context.Context, arrow.Record) ([]arrow.Record, error), *arrow.Schema) {
	mem := checkedMem(t)
	vals := DropOp(clSchema)
	out := arrow.NewSchema(append(vals.Fields(), arrow.Field{Name: "n", Type: arrow.PrimitiveTypes.Int64}), nil)
	return func(_ context.Context, rec arrow.Record) ([]arrow.Record, error) {
		rows, err := readRows(rec)
		if err != nil {
			return nil, err
		}
		n := map[string]int64{}
		for _, r := range rows {
			n[r[0].S]++
		}
		var res [][]Value
		for _, r := range rows {
			res = append(res, append(append([]Value(nil), r...), Int(n[r[0].S])))
		}
		rb := array.NewRecordBuilder(mem, out)
		defer rb.Release()
		rec2, err := buildRecord(rb, res)
		if err != nil {
			return nil, err
		}
		return []arrow.Record{rec2}, nil
	}, out
}

// TestOverStateBytesMatchWalk: the running state sizes the OVER
// operators keep for the per-message budget check (StateSizer) equal a
// walk over what they hold (Stats) after every batch — rows waiting for
// the watermark, history added, trimmed and swept from idle keys, running
// values of UNBOUNDED PRECEDING frames, and over an updating input live
// rows retracted — and after a restore from a full snapshot and from a
// full snapshot and a delta.
func TestOverStateBytesMatchWalk(t *testing.T) {
	mem := checkedMem(t)
	rng := rand.New(rand.NewSource(5))
	var chunks [][]arrow.Record
	ts := 0
	for range 60 {
		var js []string
		for r := rng.Intn(8); r > 0; r-- {
			ts += rng.Intn(2)
			k := rng.Intn(3)
			if rng.Intn(4) == 0 {
				k = 3 + rng.Intn(7) // now and then: keys that go idle and are swept
			}
			js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"ts":%d}`, k, rng.Intn(10), ts))
		}
		if len(js) > 0 {
			rec := fromJSON(t, mem, overIn, "["+strings.Join(js, ",")+"]")
			chunks = append(chunks, cut(rec, 1+rng.Intn(4)))
			rec.Release()
		}
	}
	defer func() {
		for _, ch := range chunks {
			releaseAll(ch)
		}
	}()
	check := func(t *testing.T, what string, o overBudgetOp) {
		t.Helper()
		if got, ok := o.StateBytes(); !ok || got != o.Stats().Bytes {
			t.Fatalf("%s: counts %d bytes (%v), a walk %d", what, got, ok, o.Stats().Bytes)
		}
	}
	for name, spec := range map[string]func(*testing.T) OverSpec{"range": overSpec, "carry": carrySpec} {
		t.Run(name, func(t *testing.T) {
			newOp := func() *OverAggregate {
				s := spec(t)
				s.Delay = 2e6 // rows wait for the watermark
				o, err := NewOverAggregate(mem, overIn, s)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			o := newOp()
			defer func() { o.Close() }()
			var full []byte
			for i, ch := range chunks {
				pushAll(t, o, ch, false)
				check(t, fmt.Sprintf("chunk %d", i), o)
				var err error
				switch i {
				case 20:
					if full, err = o.Snapshot(); err != nil {
						t.Fatal(err)
					}
				case 40:
					delta, err := o.SnapshotDelta()
					if err != nil {
						t.Fatal(err)
					}
					want := o.Stats().Bytes
					o.Close()
					o = newOp()
					if err := o.Restore(full); err != nil {
						t.Fatal(err)
					}
					check(t, "restored", o)
					if err := o.RestoreDelta(delta); err != nil {
						t.Fatal(err)
					}
					check(t, "restored with its delta", o)
					if got, _ := o.StateBytes(); got != want {
						t.Fatalf("restored %d bytes of state, %d were held", got, want)
					}
				}
			}
			pushAll(t, o, nil, true)
			check(t, "finished", o)
		})
	}
	t.Run("changelog", func(t *testing.T) {
		kernel, out := countKernel(t)
		newOp := func() *OverChangelog {
			o, err := NewOverChangelog(mem, clSchema, []int{0}, kernel, out)
			if err != nil {
				t.Fatal(err)
			}
			return o
		}
		o := newOp()
		defer func() { o.Close() }()
		for i, ch := range changelogChunks(t, mem, 4, 60) {
			pushAll(t, o, ch, false)
			check(t, fmt.Sprintf("chunk %d", i), o)
			if i == 30 {
				snap, err := o.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
				o = newOp()
				if err := o.Restore(snap); err != nil {
					t.Fatal(err)
				}
				check(t, "restored", o)
			}
		}
	})
}

// TestOverBudgetCheckedPerMessage: an OVER aggregate whose frame keeps
// every row of its keys (a RANGE reaching far back), and the OVER
// operator over an updating input (which keeps every live row), stop at
// the first batch past a 64 KiB budget when the graph checks their
// running size after every message, naming the operator. Sampled every
// 100 ms, a fast input went on growing their state past the budget.
func TestOverBudgetCheckedPerMessage(t *testing.T) {
	mem := checkedMem(t)
	spec := overSpec(t)
	spec.Range = 1 << 40
	over, err := NewOverAggregate(mem, overIn, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	kernel, out := countKernel(t)
	changes, err := NewOverChangelog(mem, clSchema, []int{0}, kernel, out)
	if err != nil {
		t.Fatal(err)
	}
	defer changes.Close()
	for name, tc := range map[string]struct {
		op    overBudgetOp
		batch func(b int) arrow.Record
	}{
		"OverAggregate": {over, func(b int) arrow.Record {
			var js []string
			for i := range 40 {
				js = append(js, fmt.Sprintf(`{"k":%d,"v":%d,"ts":%d}`, i%7, i, b))
			}
			return fromJSON(t, mem, overIn, "["+strings.Join(js, ",")+"]")
		}},
		"OverChangelog": {changes, func(b int) arrow.Record {
			var js []string
			for i := range 40 {
				js = append(js, fmt.Sprintf(`{"op":0,"k":"key-%03d","v":%d}`, b, i))
			}
			return fromJSON(t, mem, clSchema, "["+strings.Join(js, ",")+"]")
		}},
	} {
		const limit = 64 << 10
		s := budgetSampler{acct: exec.NewBudget(limit).Account(name)}
		var before int64
		stopped := false
		for b := 0; b < 300 && !stopped; b++ {
			rec := tc.batch(b)
			pushAll(t, tc.op, []arrow.Record{rec}, false)
			rec.Release()
			got, _ := tc.op.StateBytes()
			err := s.sample(opSizer{op: tc.op}, false)
			if err == nil {
				before = got
				continue
			}
			var mle *exec.MemoryLimitError
			if !errors.As(err, &mle) || mle.Operator != name {
				t.Fatalf("%s: %v, want the memory limit error naming it", name, err)
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
