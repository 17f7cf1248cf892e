package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// Debezium change events ('format' = 'debezium-json'): each value is an
// envelope {"before": row, "after": row, "op": "c|r|u|d"}, optionally
// wrapped in {"schema": …, "payload": …} when the producer's converter
// has schemas enabled. A source in this format is a changelog source
// (exec.ChangelogSource): c and r are +I of after, u is -U of before then
// +U of after, d is -D of before; a tombstone (null value, which Debezium
// sends after a delete for log compaction) carries no change and is
// skipped. An update without a before image (PostgreSQL without REPLICA
// IDENTITY FULL) cannot be retracted and is a bad record.

// debeziumEnvelope is the part of an event sluice reads.
type debeziumEnvelope struct {
	Before  json.RawMessage  `json:"before"`
	After   json.RawMessage  `json:"after"`
	Op      string           `json:"op"`
	Payload *json.RawMessage `json:"payload"`
}

func isNull(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }

// debeziumValues decodes envelopes into op plus the columns cols.
type debeziumValues struct {
	rows    *format.JSONDecoder // the before/after images
	check   *format.JSONDecoder // an update's after image, decoded first to keep -U/+U paired
	ops     *array.Int8Builder
	opField arrow.Field
}

func newDebeziumValues(mem memory.Allocator, schema *arrow.Schema, cols []int) (*debeziumValues, error) {
	d := &debeziumValues{ops: array.NewInt8Builder(mem), opField: arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}}
	var err error
	for _, p := range []**format.JSONDecoder{&d.rows, &d.check} {
		if *p, err = format.NewJSONDecoder(mem, schema); err == nil {
			err = (*p).SetColumns(cols)
		}
		if err != nil {
			d.release()
			return nil, fmt.Errorf("kafka: %w", err)
		}
	}
	return d, nil
}

// appendRows decodes one event into 0, 1 or 2 change rows.
func (d *debeziumValues) appendRows(v []byte) (int, error) {
	if v == nil {
		return 0, nil // a tombstone
	}
	var env debeziumEnvelope
	if err := json.Unmarshal(v, &env); err != nil {
		return 0, &format.RowError{Msg: fmt.Sprintf("not a Debezium change event: %v", err)}
	}
	if env.Payload != nil && env.Op == "" {
		if isNull(*env.Payload) {
			return 0, nil
		}
		if err := json.Unmarshal(*env.Payload, &env); err != nil {
			return 0, &format.RowError{Msg: fmt.Sprintf("not a Debezium change event: payload: %v", err)}
		}
	}
	image := func(name string, m json.RawMessage, op exec.Op) error {
		if isNull(m) {
			return &format.RowError{Msg: fmt.Sprintf("Debezium %q event without a %q image", env.Op, name)}
		}
		if err := d.rows.Append(m); err != nil {
			return err
		}
		d.ops.Append(int8(op))
		return nil
	}
	switch env.Op {
	case "c", "r":
		return 1, image("after", env.After, exec.OpInsert)
	case "d":
		return 1, image("before", env.Before, exec.OpDelete)
	case "u":
		if isNull(env.Before) {
			return 0, &format.RowError{Msg: `Debezium "u" event without a "before" image: the old row cannot be retracted (PostgreSQL needs REPLICA IDENTITY FULL)`}
		}
		if isNull(env.After) {
			return 0, &format.RowError{Msg: `Debezium "u" event without an "after" image`}
		}
		// Decode after alone first: if it is bad, nothing was appended.
		if err := d.check.Append(env.After); err != nil {
			return 0, err
		}
		d.check.NewRecord().Release()
		if err := image("before", env.Before, exec.OpUpdateBefore); err != nil {
			return 0, err
		}
		return 2, image("after", env.After, exec.OpUpdateAfter)
	case "t", "m":
		return 0, nil // truncate and message events change no row
	case "":
		return 0, &format.RowError{Msg: `not a Debezium change event: no "op"`}
	}
	return 0, &format.RowError{Msg: fmt.Sprintf("unknown Debezium op %q", env.Op)}
}

func (d *debeziumValues) append(v []byte) error { _, err := d.appendRows(v); return err }

// newRecord is op followed by the decoded columns.
func (d *debeziumValues) newRecord() arrow.Record {
	rec := d.rows.NewRecord()
	defer rec.Release()
	ops := d.ops.NewArray()
	defer ops.Release()
	fields := append([]arrow.Field{d.opField}, rec.Schema().Fields()...)
	return array.NewRecord(arrow.NewSchema(fields, nil), append([]arrow.Array{ops}, rec.Columns()...), rec.NumRows())
}

func (d *debeziumValues) release() {
	for _, p := range []*format.JSONDecoder{d.rows, d.check} {
		if p != nil {
			p.Release()
		}
	}
	d.ops.Release()
}

// Changelog reports whether the source reads change events (debezium-json).
func (s *Source) Changelog() bool { return s.cfg.format == "debezium-json" }

// writeDebezium writes each change of rec as a Debezium envelope: +I as
// "c", a -U followed by the +U of the same key as one "u" with both
// images, -D (and a -U left alone) as "d", a lone +U as "c". Records are
// keyed like the upsert format's, so a compacted topic keeps each key's
// last change.
func (w *Writer) writeDebezium(ctx context.Context, rec arrow.Record, ops *array.Int8) error {
	n := int(rec.NumRows())
	op := func(i int) exec.Op {
		if ops == nil {
			return exec.OpInsert
		}
		return exec.Op(ops.Value(i))
	}
	key := func(dst []byte, i int) []byte {
		switch {
		case w.keyEnc != nil:
			return w.keyEnc.appendRow(dst, rec, i)
		case len(w.keyIdx) == 1:
			return appendText(dst, rec.Column(w.keyIdx[0]), i)
		}
		return dst
	}
	now := time.Now()
	var scratch []byte
	for i := 0; i < n; i++ {
		var v []byte
		before, after, code := -1, -1, "c"
		switch op(i) {
		case exec.OpInsert, exec.OpUpdateAfter:
			after = i
		case exec.OpDelete:
			before, code = i, "d"
		case exec.OpUpdateBefore:
			before, code = i, "d"
		}
		// One key per envelope: a -U pairs with the +U after it when
		// both have this key.
		var k []byte
		if len(w.keyIdx) > 0 {
			k = key(nil, i)
		}
		pairs := before >= 0 && op(i) == exec.OpUpdateBefore && i+1 < n && op(i+1) == exec.OpUpdateAfter
		if pairs && len(w.keyIdx) > 0 {
			scratch = key(scratch[:0], i+1)
			pairs = string(scratch) == string(k)
		}
		if pairs {
			after, code = i+1, "u"
			i++
		}
		v = append(v, `{"before":`...)
		if before >= 0 {
			v = w.valEnc.appendRow(v, rec, before)
		} else {
			v = append(v, "null"...)
		}
		v = append(v, `,"after":`...)
		if after >= 0 {
			v = w.valEnc.appendRow(v, rec, after)
		} else {
			v = append(v, "null"...)
		}
		v = append(v, `,"op":"`...)
		v = append(v, code...)
		v = append(v, `"}`...)
		r := &kgo.Record{Key: k, Value: v, Timestamp: now}
		w.cl.Produce(ctx, r, w.promiseFn)
		w.produced++
	}
	return nil
}
