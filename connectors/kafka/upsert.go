package kafka

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// Upserts ('format' = 'upsert-json', ksqlDB's and Flink's upsert-kafka):
// a record is the latest row of its key (the record key; 'key' names the
// columns it stands for), a record with a null value (a tombstone)
// deletes the key's row. Each value is a JSON object carrying every
// column. A source in this format is a changelog source keyed by 'key':
// the reader remembers each key's live value, so the first record of a
// key is +I, a later one -U of the old row and +U of the new one, and a
// tombstone -D of the old row (a tombstone of an unknown key is nothing).
// A reader resuming from checkpointed offsets first reads each partition
// from the start of the log (the startup timestamp with
// 'scan.startup.mode' = 'timestamp') up to those offsets to learn the
// live values again, without emitting them; a source started at 'latest'
// re-learns only from the start of the log. A sink in this format writes
// rows under their key and deletes as tombstones.

// upsertValues decodes upserts into op plus the columns cols.
type upsertValues struct {
	rows    *format.JSONDecoder
	ops     *array.Int8Builder
	opField arrow.Field
	live    map[string][]byte // record key → the value of its live row
}

func newUpsertValues(mem memory.Allocator, schema *arrow.Schema, cols []int) (*upsertValues, error) {
	d, err := format.NewJSONDecoder(mem, schema)
	if err == nil {
		if err = d.SetColumns(cols); err != nil {
			d.Release()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &upsertValues{rows: d, ops: array.NewInt8Builder(mem),
		opField: arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}, live: map[string][]byte{}}, nil
}

// appendRows turns one record into 0, 1 or 2 change rows.
func (u *upsertValues) appendRows(r *kgo.Record) (int, error) {
	if r.Key == nil {
		if r.Value == nil {
			return 0, nil
		}
		return 0, &format.RowError{Msg: "upsert-json record without a key: its row cannot be upserted"}
	}
	old, had := u.live[string(r.Key)]
	var n int
	var err error
	switch {
	case r.Value == nil:
		if !had {
			return 0, nil
		}
		if n, err = format.AppendChanges(u.rows, u.ops, old, exec.OpDelete, nil, 0); err == nil && n > 0 {
			delete(u.live, string(r.Key))
		}
		return n, err
	case had:
		n, err = format.AppendChanges(u.rows, u.ops, old, exec.OpUpdateBefore, r.Value, exec.OpUpdateAfter)
	default:
		n, err = format.AppendChanges(u.rows, u.ops, r.Value, exec.OpInsert, nil, 0)
	}
	if err == nil && n > 0 {
		u.live[string(r.Key)] = bytes.Clone(r.Value)
	}
	return n, err
}

// learn records r's change to the live values without emitting it (a
// resuming reader replaying what it emitted before).
func (u *upsertValues) learn(r *kgo.Record) {
	switch {
	case r.Key == nil:
	case r.Value == nil:
		delete(u.live, string(r.Key))
	default:
		u.live[string(r.Key)] = bytes.Clone(r.Value)
	}
}

func (u *upsertValues) append(v []byte) error {
	_, err := u.appendRows(&kgo.Record{Value: v})
	return err
}

func (u *upsertValues) newRecord() arrow.Record { return format.ChangeRecord(u.rows, u.ops, u.opField) }

func (u *upsertValues) release() {
	u.rows.Release()
	u.ops.Release()
}

// ChangelogKey is the 'key' of an upsert-json source in the schema's
// spelling (each key value has at most one live row), nil for other
// formats.
func (s *Source) ChangelogKey() []string {
	if !formatOf(s.cfg.format).keyed {
		return nil
	}
	out := make([]string, len(s.cfg.key))
	for i, k := range s.cfg.key {
		out[i] = k
		for _, f := range s.schema.Fields() {
			if strings.EqualFold(f.Name, k) {
				out[i] = f.Name
			}
		}
	}
	return out
}

// checkUpsertKey rejects a 'key' naming no decoded column.
func checkUpsertKey(cfg *sourceConfig, schema *arrow.Schema) error {
	for _, k := range cfg.key {
		found := false
		for _, f := range schema.Fields() {
			if strings.EqualFold(f.Name, k) && metaKindOf(f.Name) == metaNone {
				found = true
			}
		}
		if !found {
			return optErr("'key' column %q is not a column of the source", k)
		}
	}
	return nil
}

// relearn replays, for an upsert reader resuming at the offsets upTo
// (those of partitions the checkpoint holds), each partition from its
// learning start to upTo into the live values.
func (r *Reader) relearn(ctx context.Context, upTo map[tp]int64) error {
	u, ok := r.bb.dec.(*upsertValues)
	if !ok || len(upTo) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(r.src.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var topics []string
	seen := map[string]bool{}
	for k := range upTo {
		if !seen[k.t] {
			seen[k.t] = true
			topics = append(topics, k.t)
		}
	}
	var listed kadm.ListedOffsets
	if r.src.cfg.startMode == StartTimestamp {
		listed, err = adm.ListOffsetsAfterMilli(ctx, r.src.cfg.startMillis, topics...)
	} else {
		listed, err = adm.ListStartOffsets(ctx, topics...)
	}
	if err != nil {
		return fmt.Errorf("kafka: listing offsets to re-learn upserts: %w", err)
	}
	consume := map[string]map[int32]kgo.Offset{}
	left := 0
	for k, hi := range upTo {
		lo, ok := listed.Lookup(k.t, k.p)
		if !ok || lo.Err != nil || lo.Offset < 0 || lo.Offset >= hi {
			continue
		}
		if consume[k.t] == nil {
			consume[k.t] = map[int32]kgo.Offset{}
		}
		consume[k.t][k.p] = kgo.NewOffset().At(lo.Offset)
		left++
	}
	if left == 0 {
		return nil
	}
	cl.AddConsumePartitions(consume)
	done := map[tp]bool{}
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("kafka: re-learning upserts of %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			k := tp{fp.Topic, fp.Partition}
			hi := upTo[k]
			for _, rec := range fp.Records {
				if rec.Offset < hi && !rec.Attrs.IsControl() {
					u.learn(rec)
				}
			}
			// Reaching hi, or the log's end when compaction removed the
			// records just before hi, ends the partition.
			if n := len(fp.Records); !done[k] && n > 0 && (fp.Records[n-1].Offset+1 >= hi || fp.Records[n-1].Offset+1 >= fp.HighWatermark) {
				done[k] = true
				left--
			}
		})
	}
	return nil
}
