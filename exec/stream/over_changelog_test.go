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

	"github.com/sluicesql/sluice/exec"
)

// TestOverChangelogMatchesDefinition: a random changelog (inserts, and
// retractions of rows inserted before, duplicates included) at batch
// sizes 1, 4 and 100, with a checkpoint restored into a new operator
// halfway: the folded output is the kernel (a running sum and a sum over
// the row after, by brute force) over the folded input.
func TestOverChangelogMatchesDefinition(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	in := arrow.NewSchema(append([]arrow.Field{opField}, overIn.Fields()...), nil)
	out := arrow.NewSchema(append(overIn.Fields(),
		arrow.Field{Name: "run", Type: arrow.PrimitiveTypes.Int64}, arrow.Field{Name: "fwd", Type: arrow.PrimitiveTypes.Int64}), nil)
	// Rows of a key ordered by (ts, v): "run" sums v over the rows up to
	// and including the row, "fwd" over the row and the next one.
	funcs := func(rows [][]Value) [][]Value {
		var res [][]Value
		byKey := map[int64][][]Value{}
		for _, r := range rows {
			byKey[r[0].I] = append(byKey[r[0].I], r)
		}
		for _, rs := range byKey {
			sort.SliceStable(rs, func(i, j int) bool {
				return rs[i][2].I < rs[j][2].I || rs[i][2].I == rs[j][2].I && rs[i][1].I < rs[j][1].I
			})
			var run int64
			for i, r := range rs {
				run += r[1].I
				fwd := r[1].I
				if i+1 < len(rs) {
					fwd += rs[i+1][1].I
				}
				res = append(res, append(append([]Value(nil), r...), Int(run), Int(fwd)))
			}
		}
		return res
	}
	kernel := func(_ context.Context, rec arrow.Record) ([]arrow.Record, error) {
		rows, err := readRows(rec)
		if err != nil {
			return nil, err
		}
		rb := array.NewRecordBuilder(mem, out)
		defer rb.Release()
		r, err := buildRecord(rb, funcs(rows))
		if err != nil {
			return nil, err
		}
		return []arrow.Record{r}, nil
	}
	rng := rand.New(rand.NewSource(3))
	var js []string
	var live [][]Value
	for i := 0; i < 400; i++ {
		if len(live) > 0 && rng.Intn(3) == 0 {
			at := rng.Intn(len(live))
			r := live[at]
			live = append(live[:at], live[at+1:]...)
			op := exec.OpDelete
			if rng.Intn(2) == 0 {
				op = exec.OpUpdateBefore
			}
			js = append(js, fmt.Sprintf(`{"op":%d,"k":%d,"v":%d,"ts":%d}`, op, r[0].I, r[1].I, r[2].I))
			continue
		}
		r := []Value{Int(int64(rng.Intn(4))), Int(int64(rng.Intn(5))), Int(int64(rng.Intn(30)))}
		live = append(live, r)
		js = append(js, fmt.Sprintf(`{"op":%d,"k":%d,"v":%d,"ts":%d}`, exec.OpInsert, r[0].I, r[1].I, r[2].I))
	}
	var want []string
	for _, r := range funcs(live) {
		want = append(want, fmt.Sprint(r))
	}
	sort.Strings(want)
	rec := fromJSON(t, mem, in, "["+strings.Join(js, ",")+"]")
	defer rec.Release()
	for _, size := range []int{1, 4, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			newOp := func() *OverChangelog {
				o, err := NewOverChangelog(mem, in, []int{0}, kernel, out)
				if err != nil {
					t.Fatal(err)
				}
				return o
			}
			o := newOp()
			folded := map[string]int{}
			apply := func(res arrow.Record, err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				if res == nil {
					return
				}
				defer res.Release()
				rows, err := readRows(res)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					k := fmt.Sprint(r[1:])
					switch exec.Op(r[0].I) {
					case exec.OpInsert, exec.OpUpdateAfter:
						folded[k]++
					default:
						if folded[k]--; folded[k] < 0 {
							t.Fatalf("retraction of %s, never emitted", k)
						}
					}
				}
			}
			chunks := cut(rec, size)
			defer releaseAll(chunks)
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
				apply(o.Push(ctx, ch, 0))
			}
			apply(o.Finish(ctx))
			if got := o.Stats().Groups; got > 2*len(live) {
				t.Errorf("state holds %d rows for %d live ones", got, len(live))
			}
			o.Close()
			var got []string
			for k, n := range folded {
				for ; n > 0; n-- {
					got = append(got, k)
				}
			}
			sort.Strings(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("folded output differs from the definition: %d rows, want %d", len(got), len(want))
			}
		})
	}
}
