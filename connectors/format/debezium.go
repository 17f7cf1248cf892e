package format

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// Debezium change events ('format' = 'debezium-json', in Kafka values and
// in JSON-lines files): each event is an envelope {"before": row,
// "after": row, "op": "c|r|u|d"}, optionally wrapped in {"schema": …,
// "payload": …} when the producer's converter has schemas enabled. c and
// r are +I of after, u is -U of before then +U of after, d is -D of
// before; a null event (Kafka's tombstone after a delete) and truncate or
// message events change no row. An update without a before image
// (PostgreSQL without REPLICA IDENTITY FULL) cannot be retracted and is a
// bad event.

// debeziumEnvelope is the part of an event sluice reads.
type debeziumEnvelope struct {
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
	Op      string          `json:"op"`
	Payload json.RawMessage `json:"payload"`
	Schema  json.RawMessage `json:"schema"`
}

func isNullJSON(m json.RawMessage) bool { return len(m) == 0 || string(m) == "null" }

// parseDebezium reads one event, unwrapping a schema envelope (whose
// schema part it keeps in Schema); ok is false for an event with nothing
// in it (a null payload).
func parseDebezium(v []byte) (env debeziumEnvelope, ok bool, err error) {
	if err := json.Unmarshal(v, &env); err != nil {
		return env, false, notAnEvent("", err)
	}
	if env.Payload == nil || env.Op != "" {
		return env, true, nil
	}
	if isNullJSON(env.Payload) {
		return env, false, nil
	}
	schema := env.Schema
	var inner debeziumEnvelope
	if err := json.Unmarshal(env.Payload, &inner); err != nil {
		return env, false, notAnEvent("payload: ", err)
	}
	inner.Schema = schema
	return inner, true, nil
}

// notAnEvent is the error of a value that does not parse as an event, in
// JSON's terms rather than the Go decoder's (which names Go types).
func notAnEvent(where string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &RowError{Msg: fmt.Sprintf("not a Debezium change event: %sa JSON %s, not an object", where, te.Value)}
		}
		return &RowError{Msg: fmt.Sprintf("not a Debezium change event: %s%q is a JSON %s", where, te.Field, te.Value)}
	}
	return &RowError{Msg: fmt.Sprintf("not a Debezium change event: %s%v", where, err)}
}

// DebeziumDecoder decodes change events into records whose first column
// is op (exec.OpColumn) and the rest the selected columns.
type DebeziumDecoder struct {
	rows    *JSONDecoder // the before and after images
	ops     *array.Int8Builder
	opField arrow.Field
}

// NewDebeziumDecoder makes a decoder of events whose images have the
// columns of schema; cols selects the ones records hold (nil: all).
func NewDebeziumDecoder(mem memory.Allocator, schema *arrow.Schema, cols []int) (*DebeziumDecoder, error) {
	rows, err := NewJSONDecoder(mem, schema)
	if err != nil {
		return nil, err
	}
	if err := rows.SetColumns(cols); err != nil {
		rows.Release()
		return nil, err
	}
	return &DebeziumDecoder{rows: rows, ops: array.NewInt8Builder(mem),
		opField: arrow.Field{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}}, nil
}

// Append decodes one event (nil: a tombstone) into 0, 1 or 2 change
// rows. A bad event returns a *RowError or *FieldError and leaves no row
// behind.
func (d *DebeziumDecoder) Append(v []byte) (int, error) {
	if v == nil {
		return 0, nil
	}
	env, ok, err := parseDebezium(v)
	if err != nil || !ok {
		return 0, err
	}
	missing := func(name string) error {
		return &RowError{Msg: fmt.Sprintf("Debezium %q event without a %q image", env.Op, name)}
	}
	switch env.Op {
	case "c", "r":
		if isNullJSON(env.After) {
			return 0, missing("after")
		}
		return AppendChanges(d.rows, d.ops, env.After, exec.OpInsert, nil, 0)
	case "d":
		if isNullJSON(env.Before) {
			return 0, missing("before")
		}
		return AppendChanges(d.rows, d.ops, env.Before, exec.OpDelete, nil, 0)
	case "u":
		if isNullJSON(env.Before) {
			return 0, &RowError{Msg: `Debezium "u" event without a "before" image: the old row cannot be retracted (PostgreSQL needs REPLICA IDENTITY FULL)`}
		}
		if isNullJSON(env.After) {
			return 0, missing("after")
		}
		return AppendChanges(d.rows, d.ops, env.Before, exec.OpUpdateBefore, env.After, exec.OpUpdateAfter)
	case "t", "m":
		return 0, nil // truncate and message events change no row
	case "":
		return 0, &RowError{Msg: `not a Debezium change event: no "op"`}
	}
	return 0, &RowError{Msg: fmt.Sprintf("unknown Debezium op %q", env.Op)}
}

// AppendChanges appends the JSON row a as a change opA to rows and ops
// and, when b is not nil, the row b as opB after it, all or nothing: when
// b is bad, a is taken back, so a -U never goes without its +U, and
// neither image is decoded twice. It is the shared step of the JSON
// changelog decoders (Debezium envelopes, upserts).
func AppendChanges(rows *JSONDecoder, ops *array.Int8Builder, a []byte, opA exec.Op, b []byte, opB exec.Op) (int, error) {
	mark, before := rows.Mark(), rows.Len()
	if err := rows.Append(a); err != nil {
		return 0, err
	}
	n := 1
	if b != nil {
		if err := rows.Append(b); err != nil {
			rows.Unwind(mark)
			return 0, err
		}
		n = 2
	}
	if rows.Len() != before+n {
		// A policy other than fail dropped a bad image without an
		// error: the whole change goes with it.
		rows.Unwind(mark)
		return 0, nil
	}
	ops.Append(int8(opA))
	if n == 2 {
		ops.Append(int8(opB))
	}
	return n, nil
}

// NewRecord is op followed by the decoded columns of the rows appended
// since the last call; the caller owns it.
func (d *DebeziumDecoder) NewRecord() arrow.Record {
	return ChangeRecord(d.rows, d.ops, d.opField)
}

// ChangeRecord is the record of the rows and ops appended so far: op
// (field opField) first, then the rows' columns.
func ChangeRecord(rows *JSONDecoder, ops *array.Int8Builder, opField arrow.Field) arrow.Record {
	rec := rows.NewRecord()
	defer rec.Release()
	opArr := ops.NewArray()
	defer opArr.Release()
	fields := append([]arrow.Field{opField}, rec.Schema().Fields()...)
	return array.NewRecord(arrow.NewSchema(fields, nil), append([]arrow.Array{opArr}, rec.Columns()...), rec.NumRows())
}

// Len is the number of change rows the next record will hold.
func (d *DebeziumDecoder) Len() int { return d.rows.Len() }

// SetOnError sets the policy for a bad value in an image: under skip or
// null the event's rows are dropped or the value nulled as the JSON
// decoder does (a dropped image drops its whole event).
func (d *DebeziumDecoder) SetOnError(p ErrorPolicy) { d.rows.SetOnError(p) }

// Skipped counts images dropped under OnErrorSkip.
func (d *DebeziumDecoder) Skipped() int64 { return d.rows.Skipped() }

// Nulled counts values set to NULL under OnErrorNull.
func (d *DebeziumDecoder) Nulled() int64 { return d.rows.Nulled() }

// Release frees the builders.
func (d *DebeziumDecoder) Release() {
	d.rows.Release()
	d.ops.Release()
}
