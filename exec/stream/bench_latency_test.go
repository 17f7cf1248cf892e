package stream

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/generator"
	"github.com/sluicesql/sluice/exec"
)

// BenchmarkPipelineGeneratorLatency is the middle layer between
// BenchmarkContinuousLatency (synthetic one-row batches) and the root
// package's BenchmarkStreamLatency (SQL and the Rows channel): the real
// generator reader, paced at 100K rows/s with the 1ms linger, through
// RunContinuous into a GROUP BY category (100 keys) with SUM(value) and
// MAX(ts), timed in Emit. Arrival of row i is its scheduled release time,
// reader start + i/rate (t0 is taken just before Open, so figures err
// high by the Open call). The batch size sub-benchmarks show what the
// generator's per-batch Reserve(BatchSize) costs: at 100K rows/s a 1ms
// linger flushes ~100-row batches, each reserving room for BatchSize.
//
//	go test -run XXX -bench PipelineGeneratorLatency -benchtime 3x ./exec/stream/
func BenchmarkPipelineGeneratorLatency(b *testing.B) {
	const rate = 100_000
	for _, batch := range []int{exec.DefaultBatchSize, 256} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				lat = append(lat, runGeneratorPipeline(b, rate, rate, batch)...)
			}
			if len(lat) != rate*b.N {
				b.Fatalf("%d latencies, want %d", len(lat), rate*b.N)
			}
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
			b.ReportMetric(ms(lat[len(lat)/2]), "p50_ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99_ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max_ms")
		})
	}
}

// runGeneratorPipeline streams rows generator rows at rate rows/s through
// a continuous group-by and returns every row's arrival → emit latency.
func runGeneratorPipeline(b *testing.B, rate, rows int64, batch int) []time.Duration {
	mem := checkedMem(b)
	src, err := generator.NewSource(connectors.Options{
		"rows_per_second": fmt.Sprint(rate), "max_rows": fmt.Sprint(rows), "categories": "100",
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	schema := src.Schema()
	g, err := NewGroupAggregate(mem, schema, []GroupKey{{Expr: col(schema, 0), Name: "category"}},
		[]AggSpec{{Func: AggSum, Arg: col(schema, 1), Name: "total"}, {Func: AggMax, Arg: col(schema, 2), Name: "last_ts"}})
	if err != nil {
		b.Fatal(err)
	}
	spacing := src.Config().Spacing()
	start := src.Config().Start.UnixMicro()
	lat := make([]time.Duration, 0, rows)
	last := int64(-1)
	t0 := time.Now()
	rd, err := src.Open(context.Background(), mem, exec.ScanSpec{BatchSize: batch, Linger: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	emit := func(_ context.Context, rec arrow.Record) error {
		now := time.Now()
		ops := rec.Column(0).(*array.Int8)
		ts := rec.Column(3).(*array.Timestamp)
		hi := int64(-1)
		for r := 0; r < int(rec.NumRows()); r++ {
			if exec.Op(ops.Value(r)) != exec.OpUpdateBefore {
				hi = max(hi, (int64(ts.Value(r))-start)/spacing.Microseconds())
			}
		}
		// One input batch (consecutive rows) makes one output record; its
		// largest MAX(ts) is the batch's last row.
		for i := last + 1; i <= hi; i++ {
			lat = append(lat, now.Sub(t0.Add(time.Duration(i)*spacing)))
		}
		last = max(last, hi)
		return nil
	}
	p := &Pipeline{Mem: mem, Reader: rd, Schema: schema, Op: g, Emit: emit}
	if err := p.RunContinuous(context.Background()); err != nil {
		b.Fatal(err)
	}
	return lat
}
