package format

import (
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// WriteCSV writes rec as CSV (comma-delimited, RFC 4180 quoting), with a
// header row of the column names when header is true. NULL is an empty
// field; an empty string is written as "" so it reads back as a string.
// The changelog op column prints as +I/-U/+U/-D.
func WriteCSV(w io.Writer, rec arrow.Record, header bool) error {
	return WriteCSVDelim(w, rec, header, ',')
}

// WriteCSVDelim is WriteCSV with another single-byte delimiter.
func WriteCSVDelim(w io.Writer, rec arrow.Record, header bool, delim byte) error {
	buf := make([]byte, 0, 64*1024)
	schema := rec.Schema()
	if header {
		for i, f := range schema.Fields() {
			if i > 0 {
				buf = append(buf, delim)
			}
			buf = appendCSVField(buf, []byte(f.Name), delim, false)
		}
		buf = append(buf, '\n')
	}
	cols := rec.Columns()
	var scratch []byte
	for r := 0; r < int(rec.NumRows()); r++ {
		for c, a := range cols {
			if c > 0 {
				buf = append(buf, delim)
			}
			if a.IsNull(r) {
				continue
			}
			_, isStr := a.(*array.String)
			scratch = AppendFieldValue(scratch[:0], schema.Field(c), a, r)
			buf = appendCSVField(buf, scratch, delim, isStr)
		}
		buf = append(buf, '\n')
		if len(buf) > 60*1024 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	return nil
}

// WriteCSVHeader writes just the header row of schema, for an output
// that has no rows but must still name its columns.
func WriteCSVHeader(w io.Writer, schema *arrow.Schema, delim byte) error {
	var buf []byte
	for i, f := range schema.Fields() {
		if i > 0 {
			buf = append(buf, delim)
		}
		buf = appendCSVField(buf, []byte(f.Name), delim, false)
	}
	buf = append(buf, '\n')
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

func appendCSVField(dst, v []byte, delim byte, quoteEmpty bool) []byte {
	needs := len(v) == 0 && quoteEmpty
	if !needs {
		for _, c := range v {
			if c == delim || c == '"' || c == '\n' || c == '\r' {
				needs = true
				break
			}
		}
	}
	if !needs {
		return append(dst, v...)
	}
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			break
		}
		dst = append(dst, v[:i+1]...)
		dst = append(dst, '"')
		v = v[i+1:]
	}
	dst = append(dst, v...)
	return append(dst, '"')
}

// WriteJSONLines writes rec as one JSON object per line, keys in column
// order. NULL is null; numbers and booleans are JSON literals (DECIMAL
// too, unquoted, so no precision is lost); timestamps, dates and strings
// are strings; the changelog op column is "+I"/"-U"/"+U"/"-D". NaN and
// infinities, which JSON cannot express, are null.
func WriteJSONLines(w io.Writer, rec arrow.Record) error {
	buf := make([]byte, 0, 64*1024)
	schema := rec.Schema()
	keys := make([][]byte, schema.NumFields())
	for i, f := range schema.Fields() {
		keys[i] = append(strconv.AppendQuote(nil, f.Name), ':')
	}
	cols := rec.Columns()
	var scratch []byte
	for r := 0; r < int(rec.NumRows()); r++ {
		buf = append(buf, '{')
		for c, a := range cols {
			if c > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, keys[c]...)
			buf = appendJSONValue(buf, &scratch, schema.Field(c), a, r)
		}
		buf = append(buf, '}', '\n')
		if len(buf) > 60*1024 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write json: %w", err)
		}
	}
	return nil
}

func appendJSONValue(dst []byte, scratch *[]byte, f arrow.Field, a arrow.Array, r int) []byte {
	if a.IsNull(r) {
		return append(dst, "null"...)
	}
	if IsOpColumn(f) {
		return appendJSONString(dst, AppendFieldValue((*scratch)[:0], f, a, r))
	}
	switch x := a.(type) {
	case *array.Int64, *array.Int32, *array.Int16, *array.Int8, *array.Uint64, *array.Uint32,
		*array.Boolean, *array.Decimal128:
		return AppendValue(dst, a, r)
	case *array.List: // a JSON array of the elements by these rules
		start, end := x.ValueOffsets(r)
		vals := x.ListValues()
		ef := x.DataType().(*arrow.ListType).ElemField()
		dst = append(dst, '[')
		for k := start; k < end; k++ {
			if k > start {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, scratch, ef, vals, int(k))
		}
		return append(dst, ']')
	case *array.Float64:
		v := x.Value(r)
		if v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308 {
			return append(dst, "null"...)
		}
		return AppendValue(dst, a, r)
	case *array.Float32:
		v := float64(x.Value(r))
		if v != v || v > 3.4e38 || v < -3.4e38 {
			return append(dst, "null"...)
		}
		return AppendValue(dst, a, r)
	}
	*scratch = AppendValue((*scratch)[:0], a, r)
	return appendJSONString(dst, *scratch)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
