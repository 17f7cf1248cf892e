package exec

import (
	"context"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// BenchmarkIntGrouperManyKeys assigns 4M BIGINT rows with keys drawn at
// random from 1M values (about 980K distinct) in 8192-row batches: the
// group table alone, growth included, as GROUP BY over 1M keys uses it.
func BenchmarkIntGrouperManyKeys(b *testing.B) {
	const rows, keys = 1 << 22, 1_000_000
	mem := memory.NewGoAllocator()
	var cols []arrow.Array
	seed := uint64(7)
	for done := 0; done < rows; done += DefaultBatchSize {
		bld := array.NewInt64Builder(mem)
		for i := 0; i < DefaultBatchSize; i++ {
			seed = seed*6364136223846793005 + 1442695040888963407
			bld.Append(int64((seed >> 33) % keys))
		}
		cols = append(cols, bld.NewArray())
		bld.Release()
	}
	defer releaseArrays(cols)
	gids := make([]uint32, DefaultBatchSize)
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := 0; i < b.N; i++ {
		g := newIntGrouper()
		for _, c := range cols {
			nk, err := g.assign(context.Background(), mem, []arrow.Array{c}, nil, gids, true)
			if err != nil {
				b.Fatal(err)
			}
			releaseArrays(nk)
		}
		if g.numGroups() < keys*9/10 {
			b.Fatalf("%d groups", g.numGroups())
		}
	}
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}
