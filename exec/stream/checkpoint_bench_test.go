package stream

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// BenchmarkCheckpointGrowingKeys is a streaming GROUP BY over a growing
// key space (each batch of 4096 rows brings 3072 new keys and updates
// 1024 old ones) checkpointed every second of wall time, as a continuous
// query with a checkpoint directory is: with full checkpoints (every one
// rewrites the whole, growing state) and with incremental ones (the
// changed groups only, compacted every DefaultCompactEvery). It reports
// input rows per wall second and per CPU second (process CPU, so
// comparable under load), the checkpoints taken and the bytes the last
// one wrote. The gap grows with the state: run a fixed number of batches,
// the same for both.
//
//	go test ./exec/stream -run '^$' -bench CheckpointGrowingKeys -benchtime 300x
func BenchmarkCheckpointGrowingKeys(b *testing.B) {
	for _, mode := range []struct {
		name    string
		compact int
	}{{"full", -1}, {"incremental", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			schema := arrow.NewSchema([]arrow.Field{
				{Name: "k", Type: arrow.PrimitiveTypes.Int64},
				{Name: "v", Type: arrow.PrimitiveTypes.Int64},
			}, nil)
			g, err := NewGroupAggregate(mem, schema, []GroupKey{{Expr: col(schema, 0), Name: "k"}},
				[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(schema, 1), Name: "s"}})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			ck := NewCheckpointer(b.TempDir(), 0, 0)
			ck.CompactEvery = mode.compact
			const rows = 4096
			rb := array.NewRecordBuilder(mem, schema)
			defer rb.Release()
			ctx := context.Background()
			var next int64 // the next new key
			last := time.Now()
			b.ResetTimer()
			cpu0, wall0 := cpuNow(b), time.Now()
			for i := range b.N {
				// Building the batch is timed too: StopTimer reads the
				// memory statistics, stopping the world, every batch.
				for r := range rows {
					k := next
					if r%4 == 3 && next > 0 { // an old key
						k = (int64(i)*7919 + int64(r)*104729) % next
					} else {
						next++
					}
					rb.Field(0).(*array.Int64Builder).Append(k)
					rb.Field(1).(*array.Int64Builder).Append(int64(r))
				}
				rec := rb.NewRecord()
				out, err := g.Push(ctx, rec, 0)
				rec.Release()
				if err != nil {
					b.Fatal(err)
				}
				if out != nil {
					out.Release()
				}
				if now := time.Now(); now.Sub(last) >= time.Second {
					if err := ck.saveFor(g, exec.Offsets{"t/0": int64(i)}, nil, 0); err != nil {
						b.Fatal(err)
					}
					last = now
				}
			}
			b.StopTimer()
			cpu, wall := cpuNow(b)-cpu0, time.Since(wall0)
			saves, _, bytes := ck.LastSave()
			b.ReportMetric(float64(b.N*rows)/wall.Seconds(), "rows/s")
			b.ReportMetric(float64(b.N*rows)/cpu.Seconds(), "rows/cpu-s")
			b.ReportMetric(float64(saves), "checkpoints")
			b.ReportMetric(float64(bytes), "last-ckpt-bytes")
			b.ReportMetric(float64(next), "keys")
		})
	}
}
