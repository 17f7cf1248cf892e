package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// WatermarkHeader marks a repartition topic's watermark records: not a
// row, but the watermarks its upstream writer had reached, as a JSON
// object of source partition ("topic/partition") → watermark in the
// event-time column's unit. Every upstream process writes one into every
// repartition partition at each commit, after the rows it covers.
const WatermarkHeader = "sluice.watermark"

var _ exec.WatermarkWriter = (*Writer)(nil)

// isWatermark reports whether rec is a watermark record.
func isWatermark(rec *kgo.Record) bool {
	for _, h := range rec.Headers {
		if h.Key == WatermarkHeader {
			return true
		}
	}
	return false
}

// WriteWatermarks implements exec.WatermarkWriter: one watermark record
// holding marks goes to every partition of the topic, in the open
// transaction, after the rows written so far (a reader meets it after
// them).
func (w *Writer) WriteWatermarks(ctx context.Context, marks map[string]int64) error {
	if len(marks) == 0 {
		return nil
	}
	if !w.cfg.marks {
		return fmt.Errorf("kafka sink: topic %q carries no watermarks", w.cfg.topic)
	}
	if w.closed {
		return fmt.Errorf("kafka sink: write after close")
	}
	if err := w.initProducer(ctx); err != nil {
		return err
	}
	if w.markParts <= 0 {
		pctx, cancel := context.WithTimeout(ctx, w.cfg.connectTimeout)
		md, err := w.adm.Metadata(pctx, w.cfg.topic)
		cancel()
		if err != nil {
			return fmt.Errorf("kafka sink: metadata of %q: %w", w.cfg.topic, err)
		}
		td, ok := md.Topics[w.cfg.topic]
		if !ok || td.Err != nil || len(td.Partitions) == 0 {
			return fmt.Errorf("kafka sink: no partitions of %q to write watermarks to", w.cfg.topic)
		}
		w.markParts = len(td.Partitions)
	}
	val, err := json.Marshal(marks)
	if err != nil {
		return fmt.Errorf("kafka sink: encoding watermarks: %w", err)
	}
	for p := range w.markParts {
		rec := &kgo.Record{Topic: w.cfg.topic, Partition: int32(p), Value: val,
			Headers: []kgo.RecordHeader{{Key: WatermarkHeader}}}
		w.cl.Produce(ctx, rec, w.promiseFn)
		w.produced++
	}
	return nil
}

// markPartitioner places a repartition topic's rows by their key (as
// kgo's key partitioner: murmur2, as Kafka's) and its watermark records
// by their Partition; the records of other topics by their Partition.
type markPartitioner struct {
	topic string
	def   kgo.Partitioner
}

// ForTopic implements kgo.Partitioner.
func (p markPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t != p.topic {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return markTopicPartitioner{inner: p.def.ForTopic(t)}
}

type markTopicPartitioner struct{ inner kgo.TopicPartitioner }

// RequiresConsistency implements kgo.TopicPartitioner.
func (p markTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return isWatermark(r) || p.inner.RequiresConsistency(r)
}

// Partition implements kgo.TopicPartitioner.
func (p markTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if isWatermark(r) {
		return int(r.Partition)
	}
	return p.inner.Partition(r, n)
}

// OnNewBatch implements kgo.TopicPartitionerOnNewBatch.
func (p markTopicPartitioner) OnNewBatch() {
	if nb, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// carried is a repartition partition's view of the watermarks its
// upstream writers carried across: per source partition the highest
// seen, and the least over all of them last handed on.
type carried struct {
	marks map[string]int64
	sent  int64
}

// fold merges a watermark record's marks and reports the partition's
// watermark, the least over every source partition of upstream (the
// lowest value when one has carried none yet), and whether it moved
// past the one last handed on.
func (c *carried) fold(value []byte, upstream []string) (int64, bool, error) {
	var marks map[string]int64
	if err := json.Unmarshal(value, &marks); err != nil {
		return 0, false, fmt.Errorf("watermark record: %w", err)
	}
	if c.marks == nil {
		c.marks, c.sent = map[string]int64{}, math.MinInt64
	}
	for k, v := range marks {
		if old, ok := c.marks[k]; !ok || v > old {
			c.marks[k] = v
		}
	}
	wm := int64(math.MaxInt64)
	for _, k := range upstream {
		v, ok := c.marks[k]
		if !ok {
			return c.sent, false, nil
		}
		wm = min(wm, v)
	}
	if len(upstream) == 0 || wm <= c.sent {
		return c.sent, false, nil
	}
	c.sent = wm
	return wm, true, nil
}
