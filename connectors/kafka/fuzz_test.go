package kafka

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connectors/format"
)

// FuzzRecordDecode feeds arbitrary record values and keys through the
// record decoders (json, csv, raw, with metadata columns and projections)
// and checks the contract: a bad value is a *format.FieldError or
// *format.RowError that leaves the batch unchanged, never a panic (nor one
// the decoders' last line of defence had to catch); every column of a
// batch has one value per added record; and the rows do not depend on
// where batches end.
//
//	go test ./connectors/kafka -run XXX -fuzz FuzzRecordDecode -fuzztime 5m
//
// values holds one record value per 0x1e-separated part.
func FuzzRecordDecode(f *testing.F) {
	for _, s := range []string{
		`{"s":"x","i":1,"f":1.5,"ts":"2026-01-01T00:00:05Z","d":"2026-01-02","b":true,"n":7,"m":"1.25"}` + "\x1e" +
			`{"s":{"a":[1,2]},"i":"abc"}` + "\x1e" + `{"ts":1767225605000,"S":"case"}`,
		"x,1,1.5,2026-01-01 00:00:05,2026-01-02,true,7,1.25\x1e\"q\"\"\",,,,,,,\x1e1,2\x1e",
		`{"i":` + "\x1e" + `[1]` + "\x1e" + `{"s":"\ud800"}` + "\x1e" + `{"s":[[[[}`,
	} {
		for mode := uint8(0); mode < 6; mode++ {
			f.Add([]byte(s), []byte("key"), mode, int32(3), int64(42), int64(1767225600000))
		}
	}
	f.Fuzz(func(t *testing.T, values, key []byte, mode uint8, partition int32, offset, tsMillis int64) {
		fmtName := []string{"json", "csv", "raw"}[int(mode%3)]
		var data []arrow.Field
		if fmtName == "raw" {
			data = []arrow.Field{col("v", arrow.BinaryTypes.String)}
		} else {
			data = []arrow.Field{
				col("s", arrow.BinaryTypes.String), col("i", arrow.PrimitiveTypes.Int64),
				col("f", arrow.PrimitiveTypes.Float64), col("ts", &arrow.TimestampType{Unit: arrow.Microsecond}),
				col("d", arrow.FixedWidthTypes.Date32), col("b", arrow.FixedWidthTypes.Boolean),
				col("n", arrow.PrimitiveTypes.Int32), col("m", &arrow.Decimal128Type{Precision: 10, Scale: 2}),
			}
		}
		meta := []arrow.Field{
			col(MetaPartition, arrow.PrimitiveTypes.Int32), col(MetaOffset, arrow.PrimitiveTypes.Int64),
			col(MetaTimestamp, &arrow.TimestampType{Unit: arrow.Millisecond}), col(MetaKey, arrow.BinaryTypes.String),
		}
		// Metadata columns first or last; every column or a projection.
		fields := append(append([]arrow.Field(nil), data...), meta...)
		if mode&0x10 != 0 {
			fields = append(append([]arrow.Field(nil), meta...), data...)
		}
		full := arrow.NewSchema(fields, nil)
		var dataIdx, want []int
		for i, fl := range fields {
			if metaKindOf(fl.Name) == metaNone {
				dataIdx = append(dataIdx, i)
			}
			if mode&0x20 == 0 || i%2 == int(mode>>6&1) {
				want = append(want, i)
			}
		}
		mem := checkedMem(t)
		all, err := newBatchBuilder(mem, valueFormat{name: fmtName}, full, dataIdx, want)
		if err != nil {
			t.Fatal(err)
		}
		defer all.release()
		one, err := newBatchBuilder(mem, valueFormat{name: fmtName}, full, dataIdx, want)
		if err != nil {
			t.Fatal(err)
		}
		defer one.release()
		var rowsAll, rowsOne []string
		added := 0
		for i, v := range bytes.Split(values, []byte{0x1e}) {
			r := &kgo.Record{Value: v, Key: key, Partition: partition, Offset: offset + int64(i),
				Timestamp: time.UnixMilli(tsMillis)}
			if len(v) == 0 && i%2 == 1 {
				r.Value = nil // a tombstone
			}
			err := all.add(r)
			if err2 := one.add(r); (err == nil) != (err2 == nil) {
				t.Fatalf("record %d: %v, then %v", i, err, err2)
			}
			if err != nil {
				var fe *format.FieldError
				var re *format.RowError
				if !errors.As(err, &fe) && !errors.As(err, &re) {
					t.Fatalf("record %d: error of an unexpected kind: %v", i, err)
				}
				if strings.Contains(err.Error(), "cannot decode the row") {
					t.Fatalf("record %d: the decoder panicked: %v", i, err)
				}
				continue
			}
			added++
			rec := one.finish()
			if rec.NumRows() != 1 {
				t.Fatalf("record %d: a batch of %d rows", i, rec.NumRows())
			}
			rowsOne = append(rowsOne, rowsOf(rec)...)
			rec.Release()
		}
		rec := all.finish()
		defer rec.Release()
		if int(rec.NumRows()) != added || int(rec.NumCols()) != len(want) {
			t.Fatalf("%d rows × %d columns for %d records × %d columns", rec.NumRows(), rec.NumCols(), added, len(want))
		}
		for c := 0; c < int(rec.NumCols()); c++ {
			if rec.Column(c).Len() != added {
				t.Fatalf("column %d has %d values for %d rows", c, rec.Column(c).Len(), added)
			}
		}
		rowsAll = rowsOf(rec)
		if strings.Join(rowsAll, "\n") != strings.Join(rowsOne, "\n") {
			t.Fatalf("one batch:\n%s\na batch per record:\n%s", strings.Join(rowsAll, "\n"), strings.Join(rowsOne, "\n"))
		}
	})
}
