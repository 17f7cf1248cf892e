package kafka

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluicesql/sluice/connectors/format"
)

// BenchmarkValueDecode decodes the same orders as JSON and as
// Confluent-framed Avro and Protobuf into Arrow (the value decoders a Kafka scan uses),
// in records per second: make bench reports them side by side.
func BenchmarkValueDecode(b *testing.B) {
	const n = 8192
	reg := srfake.New()
	defer reg.Close()
	const s = `{"type":"record","name":"O","fields":[{"name":"category","type":"string"},{"name":"value","type":"long"},{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`
	reg.SeedSchema("o-value", 1, 1, sr.Schema{Schema: s, Type: sr.TypeAvro})
	const ps = `syntax = "proto3"; import "google/protobuf/timestamp.proto"; message O { string category = 1; int64 value = 2; google.protobuf.Timestamp ts = 3; }`
	reg.SeedSchema("p-value", 1, 2, sr.Schema{Schema: ps, Type: sr.TypeProtobuf})
	rg, err := registryFor(reg.URL())
	if err != nil {
		b.Fatal(err)
	}
	sch := schema(col("category", arrow.BinaryTypes.String), col("value", arrow.PrimitiveTypes.Int64), col("ts", format.TimestampType))
	values := map[string][][]byte{}
	for i := range n {
		ts := time.UnixMilli(1767225600000 + int64(i)).UTC()
		values["json"] = append(values["json"], fmt.Appendf(nil, `{"category":"cat-%02d","value":%d,"ts":"%s"}`, i%100, i*7, ts.Format("2006-01-02 15:04:05.000")))
		values["avro"] = append(values["avro"], confluent(b, 1, s, map[string]any{"category": fmt.Sprintf("cat-%02d", i%100), "value": int64(i * 7), "ts": ts}))
		values["protobuf"] = append(values["protobuf"], pbValue(b, 2, ps, nil, map[string]any{"category": fmt.Sprintf("cat-%02d", i%100), "value": int64(i * 7), "ts": ts}))
	}
	for _, name := range []string{"json", "avro", "protobuf"} {
		b.Run(name, func(b *testing.B) {
			mem := memory.NewGoAllocator()
			d, err := newValueDecoder(mem, valueFormat{name: name, reg: rg}, sch, []int{0, 1, 2})
			if err != nil {
				b.Fatal(err)
			}
			defer d.release()
			b.ResetTimer()
			for i := range b.N {
				if err := d.append(values[name][i%n]); err != nil {
					b.Fatal(err)
				}
				if i%n == n-1 {
					d.newRecord().Release()
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
