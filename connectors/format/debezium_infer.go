package format

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
)

// connectField is one field of a Kafka Connect schema, as Debezium's
// JSON converter writes it with schemas enabled.
type connectField struct {
	Type   string         `json:"type"`
	Name   string         `json:"name"`
	Field  string         `json:"field"`
	Fields []connectField `json:"fields"`
}

// InferDebezium is the columns of the rows in Debezium change events
// (events, one per element; nil elements are tombstones): from the
// Connect schema of the first event that carries one (the struct named
// "after" or "before"), else inferred as InferJSON does from the sampled
// after images (the before image of a delete). Row columns are nullable.
func InferDebezium(events [][]byte) (*arrow.Schema, error) {
	var images [][]byte
	bad := 0
	var firstErr error
	for i, v := range events {
		if v == nil {
			continue
		}
		env, ok, err := parseDebezium(v)
		if err != nil {
			if bad++; firstErr == nil {
				firstErr = fmt.Errorf("event %d: %w", i+1, err)
			}
			continue
		}
		if !ok {
			continue
		}
		if s := connectRowSchema(env.Schema); s != nil {
			return s, nil
		}
		switch {
		case !isNullJSON(env.After):
			images = append(images, env.After)
		case !isNullJSON(env.Before):
			images = append(images, env.Before)
		}
	}
	if len(images) == 0 {
		if firstErr != nil {
			return nil, fmt.Errorf("infer debezium-json: no change event to infer the columns from: %w", firstErr)
		}
		return nil, errors.New("infer debezium-json: no change event with a row image to infer the columns from")
	}
	s, err := InferJSON(images)
	if err != nil {
		return nil, fmt.Errorf("infer debezium-json: the row images: %w", err)
	}
	return s, nil
}

// connectRowSchema is the row schema in a Connect envelope schema, nil
// when there is none.
func connectRowSchema(raw json.RawMessage) *arrow.Schema {
	if isNullJSON(raw) {
		return nil
	}
	var env connectField
	if json.Unmarshal(raw, &env) != nil || env.Type != "struct" {
		return nil
	}
	for _, want := range []string{"after", "before"} {
		for _, f := range env.Fields {
			if f.Field != want || f.Type != "struct" || len(f.Fields) == 0 {
				continue
			}
			fields := make([]arrow.Field, len(f.Fields))
			for i, c := range f.Fields {
				fields[i] = arrow.Field{Name: c.Field, Type: connectType(c), Nullable: true}
			}
			return arrow.NewSchema(fields, nil)
		}
	}
	return nil
}

// connectType is the column type of a Connect field. Logical types the
// JSON images carry as epoch milliseconds are TIMESTAMP; those in other
// units (io.debezium.time.MicroTimestamp, NanoTimestamp, Date as days)
// stay numbers rather than be misread; decimals (base64 bytes by
// default), nested structs, arrays and maps are VARCHAR text.
func connectType(f connectField) arrow.DataType {
	switch f.Name {
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		return TimestampType
	}
	switch f.Type {
	case "int8", "int16", "int32", "int64":
		return arrow.PrimitiveTypes.Int64
	case "float", "float32", "double", "float64":
		return arrow.PrimitiveTypes.Float64
	case "boolean":
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}
