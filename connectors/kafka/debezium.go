package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// Debezium change events ('format' = 'debezium-json', decoded by
// format.DebeziumDecoder): a source in this format is a changelog source
// (exec.ChangelogSource), and a sink writes updating results as
// envelopes.

// debeziumValues decodes envelopes into op plus the columns cols.
type debeziumValues struct{ d *format.DebeziumDecoder }

func newDebeziumValues(mem memory.Allocator, schema *arrow.Schema, cols []int) (*debeziumValues, error) {
	d, err := format.NewDebeziumDecoder(mem, schema, cols)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &debeziumValues{d}, nil
}

// appendRows decodes one event into 0, 1 or 2 change rows.
func (d *debeziumValues) appendRows(r *kgo.Record) (int, error) { return d.d.Append(r.Value) }

func (d *debeziumValues) append(v []byte) error { _, err := d.d.Append(v); return err }

// newRecord is op followed by the decoded columns.
func (d *debeziumValues) newRecord() arrow.Record { return d.d.NewRecord() }

func (d *debeziumValues) release() { d.d.Release() }

// Changelog reports whether the source reads changes: its format is
// debezium-json or upsert-json.
func (s *Source) Changelog() bool { return formatOf(s.cfg.format).changelog }

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
		w.produce(ctx, r, w.promiseFn)
	}
	return nil
}
