package kafka

import (
	"math"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/connectors/format"
)

// rowEncoder renders one row of chosen columns as a Kafka record value or
// key. TODO(format): fold into connectors/format once it has per-row JSON
// and CSV encoders; the text of each value already comes from format's
// AppendValue so output matches the other sinks.
type rowEncoder struct {
	json  bool
	cols  []int
	names [][]byte // JSON: `"name":` per column
	// framed is set for the registry formats (avro, protobuf): it writes
	// Confluent-framed values of a registered schema.
	framed framedEncoder
}

// framedEncoder writes one row as a Confluent-framed value.
type framedEncoder interface {
	appendRow(dst []byte, rec arrow.Record, i int) []byte
}

func newRowEncoder(fmtName string, schema *arrow.Schema, cols []int) *rowEncoder {
	e := &rowEncoder{json: fmtName == "json", cols: cols}
	if e.json {
		for _, c := range cols {
			n := appendJSONString(nil, schema.Field(c).Name)
			e.names = append(e.names, append(n, ':'))
		}
	}
	return e
}

// appendRow appends row i of rec to dst: a JSON object or a CSV line
// without its line end.
func (e *rowEncoder) appendRow(dst []byte, rec arrow.Record, i int) []byte {
	if e.framed != nil {
		return e.framed.appendRow(dst, rec, i)
	}
	if e.json {
		dst = append(dst, '{')
		for j, c := range e.cols {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, e.names[j]...)
			dst = appendJSONValue(dst, rec.Column(c), i)
		}
		return append(dst, '}')
	}
	for j, c := range e.cols {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = appendCSVValue(dst, rec.Column(c), i)
	}
	return dst
}

// appendText appends the plain text of one value (a single-column key).
func appendText(dst []byte, arr arrow.Array, i int) []byte {
	return format.AppendValue(dst, arr, i)
}

func appendJSONValue(dst []byte, arr arrow.Array, i int) []byte {
	if arr.IsNull(i) {
		return append(dst, "null"...)
	}
	switch a := arr.(type) {
	case *array.Int64, *array.Int32, *array.Int16, *array.Int8, *array.Uint64, *array.Uint32, *array.Boolean, *array.Decimal128:
		return format.AppendValue(dst, arr, i)
	case *array.Float64:
		if f := a.Value(i); math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		return format.AppendValue(dst, arr, i)
	case *array.Float32:
		if f := float64(a.Value(i)); math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		return format.AppendValue(dst, arr, i)
	case *array.List: // ARRAY_AGG: a JSON array
		start, end := a.ValueOffsets(i)
		dst = append(dst, '[')
		for k := start; k < end; k++ {
			if k > start {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, a.ListValues(), int(k))
		}
		return append(dst, ']')
	}
	// Strings, timestamps and dates are JSON strings in the shared text form.
	start := len(dst)
	dst = format.AppendValue(dst, arr, i)
	s := string(dst[start:])
	return appendJSONString(dst[:start], s)
}

func appendCSVValue(dst []byte, arr arrow.Array, i int) []byte {
	if arr.IsNull(i) {
		return dst
	}
	start := len(dst)
	dst = format.AppendValue(dst, arr, i)
	v := dst[start:]
	quote := len(v) == 0 && arr.DataType().ID() == arrow.STRING // "" is not NULL
	for _, c := range v {
		if c == ',' || c == '"' || c == '\n' || c == '\r' {
			quote = true
			break
		}
	}
	if !quote {
		return dst
	}
	s := string(v)
	dst = append(dst[:start], '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
