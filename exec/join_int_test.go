package exec

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec/expr"
)

// TestHashJoinIntKey: a join on one integer-like key (BIGINT, INT,
// TIMESTAMP) through joinIntTable returns exactly the pairs a nested loop
// finds, in probe order with each left row's build rows ascending — with
// repeated build keys, keys the build side lacks, NULLs on both sides,
// and enough distinct keys that probes collide in the table.
func TestHashJoinIntKey(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	gen := func(n, keys int) ([]*int64, string) {
		vals := make([]*int64, n)
		var b strings.Builder
		b.WriteString("[")
		for i := range vals {
			if i > 0 {
				b.WriteString(",")
			}
			if rng.Intn(10) == 0 {
				fmt.Fprintf(&b, `{"k":null,"v":%d}`, i)
				continue
			}
			k := int64(rng.Intn(keys)) * 1_000_003 // spread out; below 2^31 (fits INT)
			vals[i] = &k
			fmt.Fprintf(&b, `{"k":%d,"v":%d}`, k, i)
		}
		b.WriteString("]")
		return vals, b.String()
	}
	for _, typ := range []arrow.DataType{i64, arrow.PrimitiveTypes.Int32, arrow.FixedWidthTypes.Timestamp_us} {
		for _, tc := range []struct{ nl, nr, keys int }{{50, 20, 10}, {700, 600, 400}, {300, 2000, 1500}} {
			lv, ldata := gen(tc.nl, tc.keys)
			rv, rdata := gen(tc.nr, tc.keys)
			var want []string
			for l, a := range lv {
				for r, b := range rv {
					if a != nil && b != nil && *a == *b {
						want = append(want, fmt.Sprintf("%d|%d", l, r))
					}
				}
			}
			for _, bs := range batchSizes {
				t.Run(fmt.Sprintf("%s/%dx%d/batch%d", typ, tc.nl, tc.nr, bs), func(t *testing.T) {
					mem := newMem(t)
					s := schemaOf(f("k", typ), f("v", i64))
					k := []expr.Expr{col(0, typ)}
					op, err := NewHashJoin(mem, input(t, mem, s, ldata, bs), input(t, mem, s, rdata, bs), JoinInner, k, k, nil)
					if err != nil {
						t.Fatal(err)
					}
					if err := op.SetOutput([]int{1, 3}); err != nil {
						t.Fatal(err)
					}
					eq(t, collect(t, op), want)
				})
			}
		}
	}
}
