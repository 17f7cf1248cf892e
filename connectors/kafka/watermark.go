package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/exec"
)

// WatermarkHeader marks a repartition topic's watermark records: not a
// row, but the watermarks its upstream writer had reached, as a JSON
// object of source partition ("topic/partition") → watermark in the
// event-time column's unit. Every upstream process writes one into every
// repartition partition at each commit, after the rows it covers.
const WatermarkHeader = "sluice.watermark"

// IdleHeader, on a watermark record, lists (a JSON array) the source
// partitions of its marks that are idle: no row for the source's
// 'watermark.idle_timeout'. An idle partition holds no window back
// downstream, as in one process; its value (its own watermark, moving
// on with processing time while it stays idle) counts only when every
// partition of the input is idle.
const IdleHeader = "sluice.idle"

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
func (w *Writer) WriteWatermarks(ctx context.Context, marks map[string]int64, idle []string) error {
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
	headers := []kgo.RecordHeader{{Key: WatermarkHeader}}
	if len(idle) > 0 {
		list, err := json.Marshal(idle)
		if err != nil {
			return fmt.Errorf("kafka sink: encoding idle partitions: %w", err)
		}
		headers = append(headers, kgo.RecordHeader{Key: IdleHeader, Value: list})
	}
	for p := range w.markParts {
		rec := &kgo.Record{Topic: w.cfg.topic, Partition: int32(p), Value: val, Headers: headers}
		w.produce(ctx, rec, w.promiseFn)
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
// seen while it was active, the value of those idle now, and per input
// (a group of the reader's carry) the watermark last handed on.
type carried struct {
	marks map[string]int64
	idle  map[string]int64
	sent  []int64
}

// carriedState is carried as it is saved with the state of the
// operator's instance (Batch.Carried) and restored by its partition's
// next owner: the source partitions' watermarks as of the rows the
// state covers.
type carriedState struct {
	Marks map[string]int64 `json:"marks"`
	Idle  map[string]int64 `json:"idle,omitempty"`
}

// fold merges a watermark record's marks (those its IdleHeader lists
// are idle: they hold no input back) and reports each input's
// watermark, the least over its active source partitions (the greatest
// when all are idle; the lowest value while one has carried nothing
// yet), and whether one moved past the one last handed on.
func (c *carried) fold(rec *kgo.Record, groups [][]string) ([]int64, bool, error) {
	var marks map[string]int64
	if err := json.Unmarshal(rec.Value, &marks); err != nil {
		return nil, false, fmt.Errorf("watermark record: %w", err)
	}
	var idle []string
	for _, h := range rec.Headers {
		if h.Key == IdleHeader {
			if err := json.Unmarshal(h.Value, &idle); err != nil {
				return nil, false, fmt.Errorf("watermark record's idle partitions: %w", err)
			}
		}
	}
	c.init(len(groups))
	isIdle := make(map[string]bool, len(idle))
	for _, k := range idle {
		isIdle[k] = true
	}
	for k, v := range marks {
		if isIdle[k] {
			if old, ok := c.idle[k]; !ok || v > old {
				c.idle[k] = v
			}
			continue
		}
		delete(c.idle, k)
		if old, ok := c.marks[k]; !ok || v > old {
			c.marks[k] = v
		}
	}
	moved := c.recompute(groups)
	// A copy: the batch that carries it is read on another goroutine
	// while later records move c.sent on (a shared slice let an earlier
	// batch's watermark jump ahead of its rows, so a join downstream of
	// the hop dropped them as late).
	return slices.Clone(c.sent), moved, nil
}

// init makes the maps and one watermark per input.
func (c *carried) init(inputs int) {
	if c.marks == nil {
		c.marks, c.idle = map[string]int64{}, map[string]int64{}
	}
	for len(c.sent) < inputs {
		c.sent = append(c.sent, math.MinInt64)
	}
}

// recompute sets each input's watermark from the marks and reports
// whether one moved.
func (c *carried) recompute(groups [][]string) bool {
	moved := false
	for g, keys := range groups {
		low, top, active, known := int64(math.MaxInt64), int64(math.MinInt64), false, len(keys) > 0
		for _, k := range keys {
			if v, ok := c.idle[k]; ok {
				top = max(top, v)
				continue
			}
			v, ok := c.marks[k]
			if !ok {
				known = false
				break
			}
			low, active = min(low, v), true
		}
		if !known {
			continue
		}
		wm := low
		if !active {
			wm = top // every source partition idle
		}
		if wm > c.sent[g] {
			c.sent[g], moved = wm, true
		}
	}
	return moved
}

// state is c's saved form (carriedState), nil before any mark.
func (c *carried) state() []byte {
	if c.marks == nil {
		return nil
	}
	b, err := json.Marshal(carriedState{Marks: c.marks, Idle: c.idle})
	if err != nil {
		return nil // maps of strings to integers always encode
	}
	return b
}

// restore merges a saved state (state) into c: a source partition's
// highest active watermark, and idleness of those c has heard nothing
// of yet. The marks read since come after the saved ones, so they win.
func (c *carried) restore(state []byte, groups [][]string) error {
	var s carriedState
	if err := json.Unmarshal(state, &s); err != nil {
		return fmt.Errorf("restoring carried watermarks: %w", err)
	}
	c.init(len(groups))
	for k, v := range s.Marks {
		if old, ok := c.marks[k]; !ok || v > old {
			c.marks[k] = v
		}
	}
	for k, v := range s.Idle {
		if _, heard := c.marks[k]; !heard {
			if _, ok := c.idle[k]; !ok {
				c.idle[k] = v
			}
		}
	}
	// The watermarks handed on stay as they were: the next mark read
	// hands on the restored view (the operator hears of it then; were
	// it counted as handed on here, a watermark the restore alone
	// moved would reach the operator only once a mark moved it
	// further).
	return nil
}

var _ exec.CarryRestorer = (*Reader)(nil)

// RestoreCarried implements exec.CarryRestorer.
func (r *Reader) RestoreCarried(id int32, state []byte) error {
	if len(state) == 0 || r.src.cfg.carry == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.parts {
		if st.id == id {
			return st.carried.restore(state, r.src.cfg.carry)
		}
	}
	return nil // no longer held: its next owner restores it
}
