package kafka

import (
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecordTimestampRange: a record timestamp past the year 2262 (any
// int64 of milliseconds is a valid Kafka timestamp) used to overflow on
// its way through nanoseconds and come out as a date in 1677; it is now
// converted to the column's unit directly.
func TestRecordTimestampRange(t *testing.T) {
	mem := checkedMem(t)
	for _, unit := range []arrow.TimeUnit{arrow.Second, arrow.Millisecond, arrow.Microsecond} {
		full := schema(col("v", arrow.BinaryTypes.String), col(MetaTimestamp, &arrow.TimestampType{Unit: unit}))
		bb, err := newBatchBuilder(mem, valueFormat{name: "raw"}, full, []int{0}, []int{1})
		if err != nil {
			t.Fatal(err)
		}
		const ms = int64(10_000_000_000_000) // 2286-11-20
		if err := bb.add(&kgo.Record{Value: []byte("x"), Timestamp: time.UnixMilli(ms)}); err != nil {
			t.Fatal(err)
		}
		rec := bb.finish()
		got := int64(rec.Column(0).(*array.Timestamp).Value(0))
		want := map[arrow.TimeUnit]int64{arrow.Second: ms / 1000, arrow.Millisecond: ms, arrow.Microsecond: ms * 1000}[unit]
		if got != want {
			t.Errorf("%s: %d, want %d", unit, got, want)
		}
		rec.Release()
		bb.release()
	}
}
