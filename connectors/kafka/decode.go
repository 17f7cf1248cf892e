package kafka

import (
	"fmt"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// Metadata column names: declared by name in CREATE SOURCE, they are
// filled from the Kafka record rather than decoded from its value.
const (
	MetaPartition = "_partition"
	MetaOffset    = "_offset"
	MetaTimestamp = "_timestamp"
	MetaKey       = "_key"
)

// metaKind says which record attribute fills a metadata column; metaNone
// marks a column decoded from the value.
type metaKind int8

const (
	metaNone metaKind = iota
	metaPartition
	metaOffset
	metaTimestamp
	metaKey
)

func metaKindOf(name string) metaKind {
	switch name {
	case MetaPartition:
		return metaPartition
	case MetaOffset:
		return metaOffset
	case MetaTimestamp:
		return metaTimestamp
	case MetaKey:
		return metaKey
	}
	return metaNone
}

// checkMetaType rejects a metadata column declared with a type it cannot
// hold, at CREATE SOURCE time rather than on the first record.
func checkMetaType(f arrow.Field) error {
	ok := false
	switch metaKindOf(f.Name) {
	case metaPartition:
		ok = f.Type.ID() == arrow.INT32 || f.Type.ID() == arrow.INT64
	case metaOffset:
		ok = f.Type.ID() == arrow.INT64
	case metaTimestamp:
		ok = f.Type.ID() == arrow.TIMESTAMP
	case metaKey:
		ok = f.Type.ID() == arrow.STRING
	default:
		return nil
	}
	if !ok {
		return optErr("metadata column %q cannot have type %s", f.Name, format.SQLTypeName(f.Type))
	}
	if exec.Constrained(f) && metaKindOf(f.Name) == metaKey {
		// The others are never NULL nor negative; a record's key may be
		// missing, and nothing checks it.
		return optErr("metadata column %q cannot be declared NOT NULL or UNSIGNED: filter with WHERE %s IS NOT NULL", f.Name, f.Name)
	}
	return nil
}

// valueDecoder decodes record values into Arrow columns. append returns a
// *format.FieldError or *format.RowError for a bad value, in which case
// the row is not part of the next record.
type valueDecoder interface {
	append(v []byte) error
	newRecord() arrow.Record
	release()
}

type csvValues struct{ d *format.CSVDecoder }

func (c csvValues) append(v []byte) error   { return c.d.AppendLine(v) }
func (c csvValues) newRecord() arrow.Record { return c.d.NewRecord() }
func (c csvValues) release()                { c.d.Release() }

// rawValues is the raw format: the whole value as one VARCHAR.
type rawValues struct {
	schema *arrow.Schema
	b      *array.StringBuilder
}

func (r *rawValues) append(v []byte) error {
	if v == nil {
		r.b.AppendNull()
	} else {
		r.b.BinaryBuilder.Append(v)
	}
	return nil
}

func (r *rawValues) newRecord() arrow.Record {
	a := r.b.NewArray()
	defer a.Release()
	return array.NewRecord(r.schema, []arrow.Array{a}, int64(a.Len()))
}

func (r *rawValues) release() { r.b.Release() }

// valueFormat is how record values are encoded: the format's name and,
// for avro, the schema registry and the schema id the columns came from
// (0 when they were declared).
type valueFormat struct {
	name      string
	changelog bool // a changelog format: decoders are multiRowDecoders
	reg       *registry
	readID    int
	// key names the columns the record key stands for (upsert-json).
	key []string
}

// newValueDecoder makes the decoder of the value columns: dataSchema holds
// the declared non-metadata columns, cols the ones to materialize.
func newValueDecoder(mem memory.Allocator, vf valueFormat, dataSchema *arrow.Schema, cols []int) (valueDecoder, error) {
	switch vf.name {
	case "avro":
		return newAvroValues(mem, vf.reg, vf.readID, dataSchema, cols), nil
	case "protobuf":
		return newProtoValues(mem, vf.reg, vf.readID, dataSchema, cols), nil
	case "raw":
		f := dataSchema.Field(0)
		return &rawValues{schema: arrow.NewSchema([]arrow.Field{f}, nil), b: array.NewStringBuilder(mem)}, nil
	case "csv":
		d, err := format.NewCSVDecoder(mem, dataSchema, format.CSVOptions{})
		if err != nil {
			return nil, fmt.Errorf("kafka: %w", err)
		}
		if err := d.SetColumns(cols); err != nil {
			d.Release()
			return nil, fmt.Errorf("kafka: %w", err)
		}
		return csvValues{d}, nil
	case "json":
		return newJSONValues(mem, dataSchema, cols)
	case "debezium-json":
		return newDebeziumValues(mem, dataSchema, cols)
	case "upsert-json":
		return newUpsertValues(mem, dataSchema, cols, vf.key)
	}
	return nil, optErr("unknown format %q", vf.name)
}

// outCol is one output column of a scan: a decoded value column (data is
// its index in the decoder's record) or a metadata column.
type outCol struct {
	field arrow.Field
	meta  metaKind
	data  int
}

// batchBuilder assembles one partition's records into an Arrow record in
// the scan's column order.
type batchBuilder struct {
	mem    memory.Allocator
	schema *arrow.Schema
	cols   []outCol
	dec    valueDecoder // nil when only metadata columns are read
	meta   []array.Builder
	rows   int
}

func newBatchBuilder(mem memory.Allocator, vf valueFormat, full *arrow.Schema, dataIdx []int, want []int) (*batchBuilder, error) {
	// Map full-schema indices of value columns to data-schema indices.
	toData := make(map[int]int, len(dataIdx))
	dataFields := make([]arrow.Field, len(dataIdx))
	for di, fi := range dataIdx {
		toData[fi] = di
		dataFields[di] = full.Field(fi)
	}
	bb := &batchBuilder{mem: mem}
	decCols := make([]int, 0, len(want))
	fields := make([]arrow.Field, 0, len(want))
	for _, fi := range want {
		if fi < 0 || fi >= full.NumFields() {
			bb.release()
			return nil, fmt.Errorf("kafka: scan column %d out of range", fi)
		}
		f := full.Field(fi)
		fields = append(fields, f)
		oc := outCol{field: f, meta: metaKindOf(f.Name), data: -1}
		if oc.meta == metaNone {
			oc.data = len(decCols)
			decCols = append(decCols, toData[fi])
		} else {
			bb.meta = append(bb.meta, array.NewBuilder(mem, f.Type))
		}
		bb.cols = append(bb.cols, oc)
	}
	bb.schema = arrow.NewSchema(fields, nil)
	// Every record is decoded even if no value column is read, so that a
	// bad record fails (or is skipped) the same way whatever the projection;
	// the raw format cannot fail and needs no decoding then.
	if len(decCols) > 0 || vf.name != "raw" {
		dataSchema := arrow.NewSchema(dataFields, nil)
		if len(dataFields) > 0 || vf.changelog {
			d, err := newValueDecoder(mem, vf, dataSchema, decCols)
			if err != nil {
				bb.release()
				return nil, err
			}
			bb.dec = d
		}
	}
	if _, ok := bb.dec.(multiRowDecoder); ok {
		bb.schema = arrow.NewSchema(append([]arrow.Field{{Name: exec.OpColumn, Type: arrow.PrimitiveTypes.Int8}}, fields...), nil)
	}
	return bb, nil
}

// multiRowDecoder is a valueDecoder of change events: one record value
// becomes 0, 1 or 2 rows, and newRecord's first column is op.
type multiRowDecoder interface {
	appendRows(r *kgo.Record) (int, error)
}

// add decodes one record; a decode error leaves the batch unchanged.
func (bb *batchBuilder) add(r *kgo.Record) error {
	n := 1
	if md, ok := bb.dec.(multiRowDecoder); ok {
		var err error
		if n, err = md.appendRows(r); err != nil {
			return err
		}
	} else if bb.dec != nil {
		if err := bb.dec.append(r.Value); err != nil {
			return err
		}
	}
	for range n {
		bb.addMeta(r)
	}
	return nil
}

// addMeta appends r's metadata columns for one row.
func (bb *batchBuilder) addMeta(r *kgo.Record) {
	mi := 0
	for _, c := range bb.cols {
		if c.meta == metaNone {
			continue
		}
		b := bb.meta[mi]
		mi++
		switch c.meta {
		case metaPartition:
			switch b := b.(type) {
			case *array.Int32Builder:
				b.Append(r.Partition)
			case *array.Int64Builder:
				b.Append(int64(r.Partition))
			}
		case metaOffset:
			b.(*array.Int64Builder).Append(r.Offset)
		case metaTimestamp:
			b.(*array.TimestampBuilder).Append(recordTime(r.Timestamp, c.field.Type.(*arrow.TimestampType).Unit))
		case metaKey:
			if r.Key == nil {
				b.AppendNull()
			} else {
				b.(*array.StringBuilder).BinaryBuilder.Append(r.Key)
			}
		}
	}
	bb.rows++
}

// recordTime converts a record's timestamp to the unit without going
// through nanoseconds, which overflow past the year 2262: a producer may
// set any millisecond timestamp.
func recordTime(t time.Time, unit arrow.TimeUnit) arrow.Timestamp {
	switch unit {
	case arrow.Second:
		return arrow.Timestamp(t.Unix())
	case arrow.Millisecond:
		return arrow.Timestamp(t.UnixMilli())
	case arrow.Microsecond:
		return arrow.Timestamp(t.UnixMicro())
	}
	return arrow.Timestamp(t.UnixNano())
}

// finish returns the rows added since the last finish; the caller owns it.
func (bb *batchBuilder) finish() arrow.Record {
	var dec arrow.Record
	if bb.dec != nil {
		dec = bb.dec.newRecord()
		defer dec.Release()
	}
	arrs := make([]arrow.Array, 0, len(bb.cols)+1)
	shift := 0
	if _, ok := bb.dec.(multiRowDecoder); ok {
		// Change events: op first, then the columns.
		shift = 1
		op := dec.Column(0)
		op.Retain()
		arrs = append(arrs, op)
	}
	mi := 0
	for _, c := range bb.cols {
		if c.meta == metaNone {
			a := dec.Column(c.data + shift)
			a.Retain()
			arrs = append(arrs, a)
		} else {
			arrs = append(arrs, bb.meta[mi].NewArray())
			mi++
		}
	}
	rec := array.NewRecord(bb.schema, arrs, int64(bb.rows))
	for _, a := range arrs {
		a.Release()
	}
	bb.rows = 0
	return rec
}

func (bb *batchBuilder) release() {
	if bb.dec != nil {
		bb.dec.release()
		bb.dec = nil
	}
	for _, b := range bb.meta {
		b.Release()
	}
	bb.meta = nil
}
