package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

func init() {
	connectors.RegisterSource("kafka", SourceOptions, func(env connectors.Env, opts connectors.Options, declared *arrow.Schema) (exec.Source, error) {
		return newSource(env, opts, declared)
	})
	connectors.RegisterSink("kafka", SinkOptions, func(env connectors.Env, opts connectors.Options) (exec.Sink, error) {
		return newSink(env, opts)
	})
}

// Source is a Kafka topic (or several) read as a table. It is unbounded:
// each Open starts an independent reader, which in batch mode
// (ScanSpec.Bounded) stops at the end offsets listed at Open.
type Source struct {
	cfg     *sourceConfig
	schema  *arrow.Schema
	dataIdx []int // indices of the columns decoded from the value
	scale   scaleOutConfig
	// valueFormat is cfg.format with, for avro, its registry.
	valueFormat valueFormat
}

var _ exec.Source = (*Source)(nil)

// NewSource makes a source from its WITH options and declared schema. The
// csv format needs a declared schema; json without one infers it from a
// sample of the topic's first records (contacting the brokers now), as
// do upsert-json and debezium-json (from the envelopes); raw
// defaults to a single VARCHAR column named value. Declared columns named _partition, _offset,
// _timestamp or _key are filled from the record's metadata.
//
// NewSource reads TLS files from any path; the registered 'kafka'
// connector confines them to the session's sandbox.
func NewSource(opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	return newSource(connectors.Env{}, opts, declared)
}

func newSource(env connectors.Env, opts connectors.Options, declared *arrow.Schema) (*Source, error) {
	cfg, err := parseSourceConfig(env.Files, opts)
	if err != nil {
		return nil, err
	}
	readID := 0
	if declared == nil {
		switch cfg.format {
		case "raw":
			declared = arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
		case "json", "upsert-json", "debezium-json":
			if declared, err = inferJSONSchema(cfg); err != nil {
				return nil, err
			}
		case "avro":
			if declared, readID, err = inferAvroSchema(cfg); err != nil {
				return nil, err
			}
		case "protobuf":
			if declared, readID, err = inferProtoSchema(cfg); err != nil {
				return nil, err
			}
		default:
			return nil, optErr("format %s needs a declared schema: CREATE SOURCE name (col TYPE, ...) WITH (...)", cfg.format)
		}
	}
	s := &Source{cfg: cfg, schema: declared, valueFormat: valueFormat{name: cfg.format, changelog: formatOf(cfg.format).changelog, readID: readID, key: cfg.key}}
	if formatOf(cfg.format).registry {
		if s.valueFormat.reg, err = registryFor(cfg.registryURL); err != nil {
			return nil, err
		}
	}
	if s.scale, err = parseScaleOut(opts, declared); err != nil {
		return nil, err
	}
	for i, f := range declared.Fields() {
		if err := checkMetaType(f); err != nil {
			return nil, err
		}
		if metaKindOf(f.Name) == metaNone {
			s.dataIdx = append(s.dataIdx, i)
		}
	}
	if err := checkUpsertKey(cfg, declared); err != nil {
		return nil, err
	}
	if cfg.format == "raw" {
		if len(s.dataIdx) != 1 || declared.Field(s.dataIdx[0]).Type.ID() != arrow.STRING {
			return nil, optErr("format raw reads the value into one VARCHAR column (besides metadata columns)")
		}
	}
	return s, nil
}

// Schema is the declared schema, metadata columns included.
func (s *Source) Schema() *arrow.Schema { return s.schema }

// Bounded is false: a topic has no end of its own.
func (s *Source) Bounded() bool { return false }

// Open starts a reader. It fails within 'connect.timeout' when the brokers
// cannot be reached, and names any configured topic that does not exist.
// With 'group.id' set and an unbounded scan the reader joins the consumer
// group and reads only the partitions assigned to it.
func (s *Source) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	return s.OpenReader(ctx, mem, spec)
}

// OpenReader is Open returning the concrete reader, whose CommitOffsets
// and Skipped the engine may use.
func (s *Source) OpenReader(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (*Reader, error) {
	cols := spec.Columns
	if cols == nil {
		cols = make([]int, s.schema.NumFields())
		for i := range cols {
			cols[i] = i
		}
	}
	bb, err := newBatchBuilder(mem, s.valueFormat, s.schema, s.dataIdx, cols)
	if err != nil {
		return nil, err
	}
	r := newReader(s, bb, spec)
	if u, ok := bb.dec.(*upsertValues); ok {
		r.upsert = u
		u.bound(spec.Budget.Account(fmt.Sprintf("upsert-json source %s: live row by key", strings.Join(s.cfg.topics, ","))), spec.StateTTL)
	}
	if err := r.start(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (s *Source) clientOpts() []kgo.Opt {
	opts := s.cfg.clientOpts(
		kgo.KeepControlRecords(), // to step offsets past transaction markers
		kgo.DisableClientMetrics(),
	)
	if s.cfg.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	return opts
}

// modeOffset is the kgo offset of the startup mode (group-offsets resets
// to the earliest offset when the group has committed nothing).
func (s *Source) modeOffset() kgo.Offset {
	switch s.cfg.startMode {
	case StartLatest:
		return kgo.NewOffset().AtEnd()
	case StartTimestamp:
		return kgo.NewOffset().AfterMilli(s.cfg.startMillis)
	}
	return kgo.NewOffset().AtStart()
}

// ping fetches metadata within the connect timeout, which proves the
// brokers answer, and returns the topics to read with their partitions.
func (s *Source) ping(ctx context.Context, adm *kadm.Client) (map[string][]int32, error) {
	pctx, cancel := context.WithTimeout(ctx, s.cfg.connectTimeout)
	defer cancel()
	start := time.Now()
	md, err := adm.Metadata(pctx, s.cfg.topics...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if d := s.cfg.describeErr(err); d != err {
			return nil, d
		}
		return nil, s.cfg.unreachable("kafka", start, err)
	}
	out := map[string][]int32{}
	for name, td := range md.Topics {
		if td.IsInternal {
			continue
		}
		if s.cfg.pattern != nil && !s.cfg.pattern.MatchString(name) {
			continue
		}
		if errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("kafka: topic %q does not exist", name)
		}
		if td.Err != nil {
			return nil, fmt.Errorf("kafka: topic %q: %w", name, td.Err)
		}
		for p := range td.Partitions {
			out[name] = append(out[name], p)
		}
		sort.Slice(out[name], func(i, j int) bool { return out[name][i] < out[name][j] })
	}
	for _, t := range s.cfg.topics {
		if _, ok := out[t]; !ok {
			return nil, fmt.Errorf("kafka: topic %q does not exist", t)
		}
	}
	return out, nil
}

// startOffsets resolves where each partition starts, as exact offsets, for
// a reader that assigns partitions itself (no group membership).
func (s *Source) startOffsets(ctx context.Context, adm *kadm.Client, parts map[string][]int32, from exec.Offsets) (map[string]map[int32]int64, error) {
	topics := make([]string, 0, len(parts))
	for t := range parts {
		topics = append(topics, t)
	}
	var listed kadm.ListedOffsets
	var err error
	switch s.cfg.startMode {
	case StartEarliest:
		listed, err = adm.ListStartOffsets(ctx, topics...)
	case StartLatest:
		listed, err = s.endOffsets(ctx, adm, topics)
	case StartTimestamp:
		listed, err = adm.ListOffsetsAfterMilli(ctx, s.cfg.startMillis, topics...)
	case StartGroupOffsets:
		listed, err = adm.ListStartOffsets(ctx, topics...)
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: listing start offsets: %w", err)
	}
	var committed kadm.OffsetResponses
	if s.cfg.startMode == StartGroupOffsets {
		committed, err = adm.FetchOffsetsForTopics(ctx, s.cfg.group, topics...)
		if errors.Is(err, kerr.GroupIDNotFound) {
			committed, err = nil, nil // a new group: nothing committed yet
		}
		if err != nil {
			return nil, fmt.Errorf("kafka: fetching offsets of group %q: %w", s.cfg.group, err)
		}
	}
	var ends kadm.ListedOffsets
	out := map[string]map[int32]int64{}
	for t, ps := range parts {
		out[t] = map[int32]int64{}
		for _, p := range ps {
			if off, ok := from[offsetKey(t, p)]; ok {
				out[t][p] = off
				continue
			}
			if c, ok := committed.Lookup(t, p); ok && c.Err == nil && c.At >= 0 {
				out[t][p] = c.At
				continue
			}
			lo, ok := listed.Lookup(t, p)
			if !ok || lo.Err != nil {
				return nil, fmt.Errorf("kafka: no start offset for %s/%d: %v", t, p, lo.Err)
			}
			if lo.Offset < 0 { // no record at or after the timestamp: start at the end
				if ends == nil {
					if ends, err = s.endOffsets(ctx, adm, topics); err != nil {
						return nil, fmt.Errorf("kafka: listing end offsets: %w", err)
					}
				}
				e, _ := ends.Lookup(t, p)
				lo.Offset = e.Offset
			}
			out[t][p] = lo.Offset
		}
	}
	return out, nil
}

// endOffsets lists the offsets a bounded read stops at: the last stable
// offset under read_committed, so open transactions cannot stall the end.
func (s *Source) endOffsets(ctx context.Context, adm *kadm.Client, topics []string) (kadm.ListedOffsets, error) {
	if s.cfg.readCommitted {
		return adm.ListCommittedOffsets(ctx, topics...)
	}
	return adm.ListEndOffsets(ctx, topics...)
}

// offsetKey is the Offsets key of a partition: "topic/partition".
func offsetKey(topic string, p int32) string { return fmt.Sprintf("%s/%d", topic, p) }

// parseOffsetKey splits an Offsets key; topic names cannot hold '/'.
func parseOffsetKey(k string) (string, int32, error) {
	i := strings.LastIndexByte(k, '/')
	if i <= 0 {
		return "", 0, fmt.Errorf("kafka: offset key %q is not topic/partition", k)
	}
	var p int32
	if _, err := fmt.Sscanf(k[i+1:], "%d", &p); err != nil {
		return "", 0, fmt.Errorf("kafka: offset key %q is not topic/partition", k)
	}
	return k[:i], p, nil
}

// toKgoOffsets converts exec offsets for commit requests.
func toKgoOffsets(offs exec.Offsets) (map[string]map[int32]kgo.EpochOffset, error) {
	out := map[string]map[int32]kgo.EpochOffset{}
	for k, v := range offs {
		t, p, err := parseOffsetKey(k)
		if err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[int32]kgo.EpochOffset{}
		}
		out[t][p] = kgo.EpochOffset{Epoch: -1, Offset: v}
	}
	return out, nil
}

var errClosed = errors.New("kafka: reader is closed")
