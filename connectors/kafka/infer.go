package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
)

// inferSample is how many records schema inference reads at most, and
// inferWait how long it waits for them once the brokers answered.
const (
	inferSample = 200
	inferWait   = 2 * time.Second
)

// inferJSONSchema samples the first records of the source's topics and
// infers the columns of their JSON values (the rows in them, for
// debezium-json), so CREATE SOURCE may omit them.
func inferJSONSchema(cfg *sourceConfig) (*arrow.Schema, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.connectTimeout+inferWait)
	defer cancel()
	cl, err := kgo.NewClient(cfg.clientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	s := &Source{cfg: cfg}
	adm := kadm.NewClient(cl)
	parts, err := s.ping(ctx, adm)
	if err != nil {
		return nil, err
	}
	topics := sortedTopics(parts)
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka: listing start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka: listing end offsets: %w", err)
	}
	consume := map[string]map[int32]kgo.Offset{}
	want := 0
	ends.Each(func(e kadm.ListedOffset) {
		st, _ := starts.Lookup(e.Topic, e.Partition)
		if n := e.Offset - st.Offset; n > 0 {
			if consume[e.Topic] == nil {
				consume[e.Topic] = map[int32]kgo.Offset{}
			}
			consume[e.Topic][e.Partition] = kgo.NewOffset().At(st.Offset)
			want += int(min(n, inferSample))
		}
	})
	want = min(want, inferSample)
	if want == 0 {
		return nil, optErr("cannot infer the columns of an empty topic: declare them in CREATE SOURCE")
	}
	cl.AddConsumePartitions(consume)
	var lines [][]byte
	wctx, wcancel := context.WithTimeout(ctx, inferWait)
	defer wcancel()
	for len(lines) < want && wctx.Err() == nil {
		fs := cl.PollFetches(wctx)
		fs.EachRecord(func(r *kgo.Record) {
			if len(lines) < inferSample && r.Value != nil && !r.Attrs.IsControl() {
				lines = append(lines, r.Value)
			}
		})
	}
	infer := format.InferJSON
	if cfg.format == "debezium-json" {
		infer = format.InferDebezium
	}
	schema, err := infer(lines)
	if err != nil {
		return nil, fmt.Errorf("kafka: inferring the columns from %d sampled records: %w", len(lines), err)
	}
	if schema.NumFields() == 0 {
		return nil, optErr("no columns found in %d sampled records: declare them in CREATE SOURCE", len(lines))
	}
	return schema, nil
}
