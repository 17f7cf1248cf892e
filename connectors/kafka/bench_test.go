package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// BenchmarkKafkaPassthrough copies a JSON topic to another through the
// connectors (decode into Arrow, encode back) and, for scale, with plain
// franz-go consume+produce of the same records (no decoding at all).
func BenchmarkKafkaPassthrough(b *testing.B) {
	const n = 20000
	_, addr := newCluster(b, map[string]int32{"in": 4, "out": 4})
	cl := manualClient(b, addr)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = rec("in", int32(i%4), fmt.Sprintf(`{"category":"c%d","value":%d}`, i%10, i))
	}
	produceTo(b, cl, recs...)
	ctx := context.Background()

	b.Run("sluice", func(b *testing.B) {
		mem := checkedMem(b)
		src, err := NewSource(opts("topic", "in", "brokers", addr, "format", "json"), ordersSchema)
		if err != nil {
			b.Fatal(err)
		}
		sink, err := NewSink(opts("topic", "out", "brokers", addr, "format", "json"))
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			r, err := src.OpenReader(ctx, mem, exec.ScanSpec{Bounded: true})
			if err != nil {
				b.Fatal(err)
			}
			w, err := sink.OpenWriter(ctx, src.Schema(), exec.SinkMode{})
			if err != nil {
				b.Fatal(err)
			}
			rows := 0
			for {
				bt, err := r.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				rows += int(bt.Record.NumRows())
				err = w.Write(ctx, bt.Record)
				bt.Record.Release()
				if err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Commit(ctx, r.Offsets()); err != nil {
				b.Fatal(err)
			}
			w.Close()
			r.Close()
			if rows != n {
				b.Fatalf("copied %d rows, want %d", rows, n)
			}
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
	})

	b.Run("franz-go", func(b *testing.B) {
		ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "in")
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			parts := map[int32]kgo.Offset{}
			ends.Each(func(o kadm.ListedOffset) { parts[o.Partition] = kgo.NewOffset().AtStart() })
			c, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addr, ",")...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"in": parts}),
				kgo.DefaultProduceTopic("out"), kgo.ProducerLinger(5*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			copied := 0
			for copied < n {
				fs := c.PollFetches(ctx)
				if err := fs.Err0(); err != nil {
					b.Fatal(err)
				}
				fs.EachRecord(func(r *kgo.Record) {
					c.Produce(ctx, &kgo.Record{Value: r.Value}, func(_ *kgo.Record, err error) {
						if err != nil {
							b.Error(err)
						}
					})
					copied++
				})
			}
			if err := c.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
		b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "records/s")
	})
}
