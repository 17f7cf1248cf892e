package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// AssignRows over a list of a batch's rows groups exactly as Assign over
// a copy of those rows: the same ids in the same order of first
// appearance, the same new keys, and the other entries of gids left
// alone; for every grouper (integer, string, dictionary, several keys),
// batch after batch into one table.
func TestGroupTableAssignRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	makeCols := func(kind string, n int) []arrow.Array {
		ib := array.NewInt64Builder(mem)
		defer ib.Release()
		sb := array.NewStringBuilder(mem)
		defer sb.Release()
		db := array.NewDictionaryBuilder(mem, &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}).(*array.BinaryDictionaryBuilder)
		defer db.Release()
		for range n {
			k := rng.IntN(40)
			if k == 0 {
				ib.AppendNull()
				sb.AppendNull()
				db.AppendNull()
				continue
			}
			ib.Append(int64(k))
			s := fmt.Sprintf("key-%d", k)
			if k%5 == 0 {
				s = fmt.Sprintf("a longer key than sixteen bytes %d", k)
			}
			sb.Append(s)
			db.AppendString(s)
		}
		ints, strs, dict := ib.NewArray(), sb.NewArray(), db.NewArray()
		switch kind {
		case "int":
			strs.Release()
			dict.Release()
			return []arrow.Array{ints}
		case "string":
			ints.Release()
			dict.Release()
			return []arrow.Array{strs}
		case "dictionary":
			ints.Release()
			strs.Release()
			return []arrow.Array{dict}
		}
		dict.Release()
		return []arrow.Array{ints, strs}
	}
	for _, kind := range []string{"int", "string", "dictionary", "two keys"} {
		t.Run(kind, func(t *testing.T) {
			var a, b *GroupTable
			for batch := range 5 {
				n := 1 + rng.IntN(300)
				cols := makeCols(kind, n)
				if a == nil {
					types := make([]arrow.DataType, len(cols))
					for i, c := range cols {
						types[i] = c.DataType()
					}
					var err error
					if a, err = NewGroupTable(types); err != nil {
						t.Fatal(err)
					}
					if b, err = NewGroupTable(types); err != nil {
						t.Fatal(err)
					}
				}
				var rows []int32
				for r := range n {
					if rng.IntN(3) > 0 {
						rows = append(rows, int32(r))
					}
				}
				gids := make([]uint32, n)
				for i := range gids {
					gids[i] = 1 << 30
				}
				newA, err := a.AssignRows(ctx, mem, cols, rows, gids, true)
				if err != nil {
					t.Fatal(err)
				}
				taken, err := takeColumns(ctx, mem, cols, rows)
				if err != nil {
					t.Fatal(err)
				}
				want := make([]uint32, len(rows))
				newB, err := b.Assign(ctx, mem, taken, want, true)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]uint32, len(rows))
				for k, r := range rows {
					got[k] = gids[r]
					gids[r] = 1 << 30
				}
				if !slices.Equal(got, want) {
					t.Fatalf("batch %d: AssignRows gave %v, Assign of the rows %v", batch, got, want)
				}
				for i, g := range gids {
					if g != 1<<30 {
						t.Fatalf("batch %d: row %d, not listed, got group %d", batch, i, g)
					}
				}
				if len(newA) != len(newB) {
					t.Fatalf("batch %d: %d new key arrays, want %d", batch, len(newA), len(newB))
				}
				for i := range newA {
					if !array.Equal(newA[i], newB[i]) {
						t.Fatalf("batch %d: new keys %v, want %v", batch, newA[i], newB[i])
					}
				}
				releaseArrays(newA)
				releaseArrays(newB)
				releaseArrays(taken)
				releaseArrays(cols)
			}
		})
	}
}
