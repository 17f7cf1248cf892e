package stream

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

var kvwSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "w", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// kvwLog is kvwSchema as a changelog (every row an insert): a top-N over
// it holds every row, so it skips none.
var kvwLog = arrow.NewSchema(append([]arrow.Field{opField}, kvwSchema.Fields()...), nil)

// TestRankTopNSkipsRowsThatCannotEnter: over an append-only input the
// per-key top-N skips rows worse than a full key's last row before
// reading them. Its changelog must be the one of the same rows read as
// a changelog of inserts (where nothing is skipped), and fold to each
// key's top rows computed directly, for every numbering, limit and
// batch size, with
// many ties on the sort keys (a tie is not worse: under ROW_NUMBER the
// whole row breaks it, under RANK it is a peer), duplicate rows and
// NULLs.
func TestRankTopNSkipsRowsThatCannotEnter(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	var js, logJS []string
	var rows [][]Value
	for range 400 {
		k, w := string(rune('a'+rng.IntN(20))), int64(rng.IntN(3))
		v, vjs := Int(int64(rng.IntN(6))), ""
		vjs = fmt.Sprint(v.I)
		if rng.IntN(20) == 0 {
			v, vjs = Value{}, "null"
		}
		js = append(js, fmt.Sprintf(`{"k":%q,"v":%s,"w":%d}`, k, vjs, w))
		logJS = append(logJS, fmt.Sprintf(`{"op":0,"k":%q,"v":%s,"w":%d}`, k, vjs, w))
		rows = append(rows, []Value{Str(k), v, Int(w)})
	}
	orders := map[string][]SortKey{
		"v desc":        {{Col: 1, Desc: true}},
		"v desc, w asc": {{Col: 1, Desc: true}, {Col: 2}},
		"w asc":         {{Col: 2}},
	}
	for name, keys := range orders {
		for _, fn := range []RankFunc{RowNumber, Rank, DenseRank} {
			for _, n := range []int{1, 2, 3} {
				want := directTopN(rows, keys, fn, n)
				for _, batch := range []int{1, 3, 7, 64, 1000} {
					t.Run(fmt.Sprintf("%s/fn=%d/n=%d/batch=%d", name, fn, n, batch), func(t *testing.T) {
						mem := checkedMem(t)
						rec := fromJSON(t, mem, kvwSchema, "["+strings.Join(js, ",")+"]")
						defer rec.Release()
						logRec := fromJSON(t, mem, kvwLog, "["+strings.Join(logJS, ",")+"]")
						defer logRec.Release()
						run := func(sch *arrow.Schema, rec arrow.Record, keys []SortKey) []string {
							top, err := NewRankTopN(mem, sch, []int{sch.NumFields() - 3}, keys, n, "rn")
							if err != nil {
								t.Fatal(err)
							}
							defer top.Close()
							top.SetRankFunc(fn)
							batches := cut(rec, batch)
							defer releaseAll(batches)
							return pushAll(t, top, batches, true)
						}
						out := run(kvwSchema, rec, keys)
						shifted := slices.Clone(keys)
						for i := range shifted {
							shifted[i].Col++
						}
						if twin := run(kvwLog, logRec, shifted); !slices.Equal(out, twin) {
							t.Fatalf("changelog differs from the one over inserts, which skips nothing:\ngot  %q\nwant %q", out, twin)
						}
						var lines []string
						for _, l := range out {
							lines = append(lines, strings.Replace(l, "|", "\t", 1))
						}
						got, err := FoldLines(lines)
						if err != nil {
							t.Fatal(err)
						}
						if !slices.Equal(got, want) {
							t.Fatalf("folds to %d rows, want %d:\ngot  %q\nwant %q", len(got), len(want), got, want)
						}
					})
				}
			}
		}
	}
}

// directTopN is each key's rows numbered by fn and kept up to n, rendered
// k|v|w|rn and sorted: ordered by the sort keys, ties by the whole row
// (TopN.less), as the operator breaks them.
func directTopN(rows [][]Value, keys []SortKey, fn RankFunc, n int) []string {
	byKey := map[string][][]Value{}
	for _, r := range rows {
		byKey[r[0].S] = append(byKey[r[0].S], r)
	}
	cmpKeys := func(a, b []Value) int {
		for _, k := range keys {
			c := Compare(a[k.Col], b[k.Col])
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	var out []string
	for _, rs := range byKey {
		slices.SortStableFunc(rs, func(a, b []Value) int {
			if c := cmpKeys(a, b); c != 0 {
				return c
			}
			for i := range a {
				if c := Compare(a[i], b[i]); c != 0 {
					return c
				}
			}
			return 0
		})
		groups := 0
		for i, r := range rs {
			num := i + 1
			if i == 0 || cmpKeys(rs[i-1], r) != 0 {
				groups++
			}
			switch fn {
			case Rank:
				num = 1 + slices.IndexFunc(rs, func(o []Value) bool { return cmpKeys(o, r) == 0 })
			case DenseRank:
				num = groups
			}
			if num > n {
				continue
			}
			out = append(out, renderRow(kvwSchema, r)+"|"+fmt.Sprint(num))
		}
	}
	slices.Sort(out)
	return out
}
