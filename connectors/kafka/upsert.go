package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

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
// deletes the key's row. Each value is a JSON object of the row's
// columns; a key column it lacks comes from the record key (Flink's
// 'key.fields'): a key of one column is its value as text (as the sink
// writes it) or a JSON object holding it, a key of several columns a JSON
// object of them. A source in this format is a changelog source keyed by 'key':
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
//
// The live rows are the source's state: counted (ReaderState, so Stats,
// metrics and EXPLAIN ANALYZE show them), accounted to the query's
// memory budget (past it the query fails naming the source, whatever
// 'on_error' says) and, with 'state.ttl', forgotten once their key went
// unchanged that long; a later record of a forgotten key is then an
// insert, as after a tombstone.
type upsertValues struct {
	rows    *format.JSONDecoder
	ops     *array.Int8Builder
	opField arrow.Field
	live    map[string]liveRow // record key → its live row
	keys    []arrow.Field      // the key columns, as the schema spells them

	acct      *exec.Account // the live rows' bytes; nil: unlimited
	ttl       time.Duration // forget rows unchanged this long; 0: never
	now       func() time.Time
	swept     time.Time    // last sweep for expired rows
	nkeys     atomic.Int64 // len(live), for ReaderState from any goroutine
	liveBytes atomic.Int64 // what the live rows take
}

// liveRow is a key's live value and when it last changed.
type liveRow struct {
	v  []byte
	at time.Time
}

// liveRowOverhead is what a map entry costs besides its key and value
// bytes: the string and slice headers, the time, the map's slot.
const liveRowOverhead = 80

func liveRowBytes(key string, v []byte) int64 {
	return int64(len(key)+cap(v)) + liveRowOverhead
}

// bound makes the live rows count against acct and expire after ttl.
func (u *upsertValues) bound(acct *exec.Account, ttl time.Duration) {
	u.acct, u.ttl = acct, ttl
}

// set makes v the live row of key (nil: none), at time at; the budget is
// checked first, so a row past it is never kept.
func (u *upsertValues) set(key string, v []byte, at time.Time) error {
	old, had := u.live[key]
	var delta int64
	if had {
		delta -= liveRowBytes(key, old.v)
	}
	if v != nil {
		delta += liveRowBytes(key, v)
	}
	if err := u.acct.Grow(delta); err != nil {
		return err
	}
	if v == nil {
		delete(u.live, key)
	} else {
		u.live[key] = liveRow{v: v, at: at}
	}
	u.nkeys.Store(int64(len(u.live)))
	u.liveBytes.Add(delta)
	return nil
}

// expire forgets the live rows unchanged for the ttl, sweeping at most
// four times per ttl (each sweep walks the map).
func (u *upsertValues) expire(now time.Time) {
	if u.ttl <= 0 || now.Sub(u.swept) < u.ttl/4 {
		return
	}
	u.swept = now
	for k, row := range u.live {
		if now.Sub(row.at) >= u.ttl {
			_ = u.set(k, nil, now) // shrinking never fails
		}
	}
}

// clock is the time changes are stamped with (processing time).
func (u *upsertValues) clock() time.Time {
	if u.ttl <= 0 {
		return time.Time{} // nothing expires: no clock read per record
	}
	if u.now != nil {
		return u.now()
	}
	return time.Now()
}

// state reports the live rows (exec.StatefulReader).
func (u *upsertValues) state() (int, int64) { return int(u.nkeys.Load()), u.liveBytes.Load() }

// close releases the live rows' share of the budget.
func (u *upsertValues) close() { u.acct.Close() }

func newUpsertValues(mem memory.Allocator, schema *arrow.Schema, cols []int, key []string) (*upsertValues, error) {
	d, err := format.NewJSONDecoder(mem, schema)
	if err == nil {
		if err = d.SetColumns(cols); err != nil {
			d.Release()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	u := &upsertValues{rows: d, ops: array.NewInt8Builder(mem),
		opField: arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}, live: map[string]liveRow{}}
	for _, k := range key {
		for _, f := range schema.Fields() {
			if strings.EqualFold(f.Name, k) {
				u.keys = append(u.keys, f)
				break
			}
		}
	}
	return u, nil
}

// withKey is value with the key columns it lacks filled in from the
// record key, so a topic whose values leave the key out (it is in the
// record key already) reads whole rows. A value that is no JSON object
// is returned as it is, for the decoder to report.
func (u *upsertValues) withKey(key, value []byte) ([]byte, error) {
	if len(u.keys) == 0 {
		return value, nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(value, &fields) != nil {
		return value, nil
	}
	var missing []arrow.Field
	for _, k := range u.keys {
		if !hasField(fields, k.Name) {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return value, nil
	}
	vals, err := u.keyValues(key)
	if err != nil {
		return nil, err
	}
	out := []byte{'{'}
	for _, k := range missing {
		v, ok := lookupField(vals, k.Name)
		if !ok {
			return nil, &format.RowError{Msg: fmt.Sprintf("upsert-json: column %q is neither in the value nor in the record key", k.Name)}
		}
		name, _ := json.Marshal(k.Name)
		out = append(append(append(out, name...), ':'), v...)
		out = append(out, ',')
	}
	rest := bytes.TrimSpace(value)[1:] // after the object's '{'
	if len(fields) == 0 {
		out[len(out)-1] = '}' // the value was {}: no comma before its end
		return out, nil
	}
	return append(out, rest...), nil
}

// keyValues reads the record key as JSON values by column name: a key
// of one column is that column's value as text, unless it is a JSON
// object naming the column; a key of several columns is a JSON object.
func (u *upsertValues) keyValues(key []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	trimmed := bytes.TrimSpace(key)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &obj) == nil {
		if len(u.keys) > 1 || hasField(obj, u.keys[0].Name) {
			return obj, nil
		}
	}
	if len(u.keys) > 1 {
		return nil, &format.RowError{Msg: fmt.Sprintf("upsert-json: the record key %q is not a JSON object of the key columns", key)}
	}
	k := u.keys[0]
	v := json.RawMessage(trimmed)
	if k.Type.ID() == arrow.STRING || k.Type.ID() == arrow.LARGE_STRING || !json.Valid(trimmed) {
		// Text as a JSON string: a key column of another type then
		// fails to decode with the column's name, like a bad value.
		v, _ = json.Marshal(string(key))
	}
	return map[string]json.RawMessage{k.Name: v}, nil
}

// hasField and lookupField find a JSON object's member by a column name,
// ignoring case as the JSON decoder does.
func hasField(obj map[string]json.RawMessage, name string) bool {
	_, ok := lookupField(obj, name)
	return ok
}

func lookupField(obj map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	if v, ok := obj[name]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// appendRows turns one record into 0, 1 or 2 change rows.
func (u *upsertValues) appendRows(r *kgo.Record) (int, error) {
	if r.Key == nil {
		if r.Value == nil {
			return 0, nil
		}
		return 0, &format.RowError{Msg: "upsert-json record without a key: its row cannot be upserted"}
	}
	now := u.clock()
	u.expire(now)
	prev, had := u.live[string(r.Key)]
	old := prev.v
	value := r.Value
	if value != nil {
		var err error
		if value, err = u.withKey(r.Key, value); err != nil {
			return 0, err
		}
	}
	var n int
	var err error
	switch {
	case r.Value == nil:
		if !had {
			return 0, nil
		}
		if n, err = format.AppendChanges(u.rows, u.ops, old, exec.OpDelete, nil, 0); err == nil && n > 0 {
			_ = u.set(string(r.Key), nil, now)
		}
		return n, err
	}
	// The new live row is kept first, so a row past the memory budget
	// is never emitted; a value that does not decode puts the old back.
	key := string(r.Key)
	if err := u.set(key, bytes.Clone(value), now); err != nil {
		return 0, err
	}
	if had {
		n, err = format.AppendChanges(u.rows, u.ops, old, exec.OpUpdateBefore, value, exec.OpUpdateAfter)
	} else {
		n, err = format.AppendChanges(u.rows, u.ops, value, exec.OpInsert, nil, 0)
	}
	if err != nil || n == 0 {
		if had {
			_ = u.set(key, old, prev.at)
		} else {
			_ = u.set(key, nil, now)
		}
	}
	return n, err
}

// learn records r's change to the live values without emitting it (a
// resuming reader replaying what it emitted before), stamped with the
// record's timestamp, so rows unchanged for 'state.ttl' before the
// restart expire at once. Past the memory budget it fails as reading
// would.
func (u *upsertValues) learn(r *kgo.Record) error {
	switch {
	case r.Key == nil:
	case r.Value == nil:
		return u.set(string(r.Key), nil, r.Timestamp)
	default:
		if v, err := u.withKey(r.Key, r.Value); err == nil {
			return u.set(string(r.Key), bytes.Clone(v), r.Timestamp)
		}
	}
	return nil
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
				if rec.Offset < hi && !rec.Attrs.IsControl() && ferr == nil {
					if err := u.learn(rec); err != nil {
						ferr = fmt.Errorf("kafka %s/%d/%d: re-learning upserts: %w", k.t, k.p, rec.Offset, err)
					}
				}
			}
			// Reaching hi, or the log's end when compaction removed the
			// records just before hi, ends the partition.
			if n := len(fp.Records); !done[k] && n > 0 && (fp.Records[n-1].Offset+1 >= hi || fp.Records[n-1].Offset+1 >= fp.HighWatermark) {
				done[k] = true
				left--
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	return nil
}

var _ exec.StatefulReader = (*Reader)(nil)

// ReaderState is the live rows an upsert-json reader keeps (none for
// other formats): exec.StatefulReader.
func (r *Reader) ReaderState() (keys int, bytes int64) {
	if r.upsert != nil {
		return r.upsert.state()
	}
	return 0, 0
}
