package sluice

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/engine"
)

type allocatorKey struct{}

// Allocator returns the allocator of the query that called a SourceFunc,
// so the records it builds are accounted to the DB's allocator (a checked
// allocator in tests). Outside a SourceFunc it returns the Go allocator.
func Allocator(ctx context.Context) memory.Allocator {
	if m, ok := ctx.Value(allocatorKey{}).(memory.Allocator); ok {
		return m
	}
	return memory.NewGoAllocator()
}

// chanBatchRows caps the rows SourceFromChan puts in one record.
const chanBatchRows = 1024

// SourceFromChan turns a channel of structs into a source: it returns the
// schema derived from T's exported fields and a SourceFunc for
// RegisterSource. Each field becomes a column named by its `sluice:"name"`
// tag or else its name in snake_case (`sluice:"-"` skips it). int, int64
// map to BIGINT; int32 to INT; float64, float32 to DOUBLE; string to
// VARCHAR; bool to BOOLEAN; time.Time to TIMESTAMP; a pointer to any of
// these is a nullable column. Values waiting in the channel are batched
// into one record (up to 1024 rows) so a busy channel is read at columnar
// speed, while a quiet one still delivers each value at once. The source
// ends when ch is closed; a channel is read by one scan at a time, so
// register it with Unbounded() and run one query over it.
func SourceFromChan[T any](ch <-chan T) (*arrow.Schema, SourceFunc, error) {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, nil, fmt.Errorf("SourceFromChan: %s is not a struct type", t)
	}
	var fields []arrow.Field
	var index []int
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Tag.Get("sluice")
		if name == "-" {
			continue
		}
		if name == "" {
			name = snakeCase(f.Name)
		}
		ft, nullable := f.Type, false
		if ft.Kind() == reflect.Pointer {
			ft, nullable = ft.Elem(), true
		}
		dt := goArrowType(ft)
		if dt == nil {
			return nil, nil, fmt.Errorf("SourceFromChan: field %s has unsupported type %s", f.Name, f.Type)
		}
		fields = append(fields, arrow.Field{Name: name, Type: dt, Nullable: nullable})
		index = append(index, i)
	}
	if len(fields) == 0 {
		return nil, nil, fmt.Errorf("SourceFromChan: %s has no exported fields", t)
	}
	schema := arrow.NewSchema(fields, nil)
	fn := func(ctx context.Context, emit func(arrow.Record) error) error {
		b := array.NewRecordBuilder(Allocator(ctx), schema)
		defer b.Release()
		for {
			var v T
			var ok bool
			select {
			case v, ok = <-ch:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !ok {
				return nil
			}
			n := 0
			for ok {
				appendStruct(b, reflect.ValueOf(v), index)
				n++
				if n == chanBatchRows {
					break
				}
				select {
				case v, ok = <-ch:
				default:
					ok = false
				}
			}
			rec := b.NewRecord()
			err := emit(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
	}
	return schema, fn, nil
}

var timeType = reflect.TypeFor[time.Time]()

func goArrowType(t reflect.Type) arrow.DataType {
	if t == timeType {
		return engine.TimestampType
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return arrow.PrimitiveTypes.Int64
	case reflect.Int32:
		return arrow.PrimitiveTypes.Int32
	case reflect.Float64, reflect.Float32:
		return arrow.PrimitiveTypes.Float64
	case reflect.String:
		return arrow.BinaryTypes.String
	case reflect.Bool:
		return arrow.FixedWidthTypes.Boolean
	}
	return nil
}

// appendStruct appends the fields index of struct v as one row.
func appendStruct(b *array.RecordBuilder, v reflect.Value, index []int) {
	for col, i := range index {
		f := v.Field(i)
		fb := b.Field(col)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				fb.AppendNull()
				continue
			}
			f = f.Elem()
		}
		switch fb := fb.(type) {
		case *array.Int64Builder:
			fb.Append(f.Int())
		case *array.Int32Builder:
			fb.Append(int32(f.Int()))
		case *array.Float64Builder:
			fb.Append(f.Float())
		case *array.StringBuilder:
			fb.Append(f.String())
		case *array.BooleanBuilder:
			fb.Append(f.Bool())
		case *array.TimestampBuilder:
			fb.Append(arrow.Timestamp(f.Interface().(time.Time).UnixMicro()))
		}
	}
}

// snakeCase turns a Go field name into a column name: CustomerID →
// customer_id, Value → value.
func snakeCase(s string) string {
	rs := []rune(s)
	var out strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 {
			prevLower := unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || (nextLower && unicode.IsUpper(rs[i-1])) {
				out.WriteByte('_')
			}
		}
		out.WriteRune(unicode.ToLower(r))
	}
	return out.String()
}
