package file

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

func allTypesSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: format.TimestampType, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "i", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "amount", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	}, nil)
}

// writeParquet writes n rows (value = row number) through the file sink.
func writeParquet(t testing.TB, mem memory.Allocator, path string, n, groupRows int) {
	t.Helper()
	writeThroughSink(t, mem, path, allTypesSchema(), n, groupRows, func(bld *array.RecordBuilder, i int) {
		if i%7 == 3 {
			for _, f := range bld.Fields() {
				f.AppendNull()
			}
			return
		}
		bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("cat-%02d", i%10))
		bld.Field(1).(*array.Int64Builder).Append(int64(i))
		bld.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(1767225600000000 + int64(i)*1500000))
		bld.Field(3).(*array.Date32Builder).Append(arrow.Date32(20454 + i))
		bld.Field(4).(*array.Float64Builder).Append(float64(i) / 4)
		bld.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
		bld.Field(6).(*array.Int32Builder).Append(int32(-i))
		n, _ := decimalFrom(fmt.Sprintf("%d.%02d", i, i%100))
		bld.Field(7).(*array.Decimal128Builder).Append(n)
	})
}

// writeThroughSink writes n rows of schema, row i appended by row,
// through the file sink in batches of 1000.
func writeThroughSink(t testing.TB, mem memory.Allocator, path string, schema *arrow.Schema, n, groupRows int, row func(bld *array.RecordBuilder, i int)) {
	t.Helper()
	sink, err := NewSink(connectors.Options{"path": path, "row_group_rows": fmt.Sprint(groupRows)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := sink.Open(ctx, mem, schema, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	bld := array.NewRecordBuilder(mem, schema)
	defer bld.Release()
	for i := 0; i < n; i++ {
		row(bld, i)
		if bld.Field(0).Len() == 1000 || i == n-1 {
			rec := bld.NewRecord()
			err := w.Write(ctx, rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestParquetRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "sales.parquet")
	const n = 1000
	writeParquet(t, mem, path, n, 100)

	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Schema().Equal(allTypesSchema()) {
		t.Fatalf("inferred schema:\n%s\nwant\n%s", src.Schema(), allTypesSchema())
	}
	rows, r, err := scan(t, src, exec.ScanSpec{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("%d rows", len(rows))
	}
	for _, i := range []int{0, 3, 5, 999} {
		want := "NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL"
		if i%7 != 3 {
			want = fmt.Sprintf("cat-%02d|%d|%s|%s|%s|%v|%d|%d.%02d", i%10, i,
				format.AppendTimestamp(nil, (1767225600000000+int64(i)*1500000)*1000),
				format.AppendDate(nil, int32(20454+i)), format.AppendFloat(nil, float64(i)/4, 64), i%2 == 0, -i, i, i%100)
		}
		if rows[i] != want {
			t.Errorf("row %d: %q want %q", i, rows[i], want)
		}
	}
	if st := r.Stats(); st.RowGroupsRead != 10 || st.RowGroupsSkipped != 0 {
		t.Errorf("stats %+v", st)
	}

	// Projection plus a predicate: value >= 950 can only match the last
	// row group; the rest are skipped by statistics.
	rows, r, err = scan(t, src, exec.ScanSpec{Columns: []int{1, 0},
		Filters: []exec.Predicate{{Column: 1, Op: "ge", Value: int64(950)}}})
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.RowGroupsRead != 1 || st.RowGroupsSkipped != 9 {
		t.Errorf("stats %+v", st)
	}
	// Inside the row group read, only the rows that may match are
	// returned (the predicate column is decoded first).
	want := 0
	for i := 950; i < 1000; i++ {
		if i%7 != 3 {
			want++
		}
	}
	if len(rows) != want || rows[0] != "950|cat-00" {
		t.Errorf("rows %d (want %d), first %q", len(rows), want, rows[0])
	}
	for _, row := range rows {
		if v, err := strconv.Atoi(strings.Split(row, "|")[0]); err != nil || v < 950 {
			t.Errorf("row %q does not match value >= 950", row)
		}
	}
	for _, tc := range []struct {
		p    exec.Predicate
		read int64
	}{
		{exec.Predicate{Column: 1, Op: "eq", Value: int64(150)}, 1},
		{exec.Predicate{Column: 1, Op: "lt", Value: int64(100)}, 1},
		{exec.Predicate{Column: 1, Op: "gt", Value: int64(5000)}, 0},
		{exec.Predicate{Column: 0, Op: "eq", Value: "zzz"}, 0},
		{exec.Predicate{Column: 0, Op: "eq", Value: "cat-05"}, 10},
		{exec.Predicate{Column: 2, Op: "le", Value: arrow.Timestamp(1767225600000000)}, 1},
		{exec.Predicate{Column: 1, Op: "is_null"}, 10},
	} {
		_, r, err := scan(t, src, exec.ScanSpec{Columns: []int{1}, Filters: []exec.Predicate{tc.p}})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Stats().RowGroupsRead; got != tc.read {
			t.Errorf("%+v: read %d groups, want %d", tc.p, got, tc.read)
		}
	}
	// Resume in the middle of a row group.
	rows, _, err = scan(t, src, exec.ScanSpec{Columns: []int{1}, From: exec.Offsets{"file:" + path: 995}})
	if err != nil || strings.Join(rows, ",") != "995,996,NULL,998,999" {
		t.Errorf("resume: %q %v", rows, err)
	}
	// A declared schema must match the file.
	bad := arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.String}}, nil)
	if _, err := NewSource(connectors.Options{"path": path}, bad); err == nil {
		t.Error("mismatched declared type: want error")
	}
	sub := arrow.NewSchema([]arrow.Field{{Name: "VALUE", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	src2, err := NewSource(connectors.Options{"path": path}, sub)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err = scan(t, src2, exec.ScanSpec{})
	if err != nil || len(rows) != n || rows[1] != "1" {
		t.Errorf("declared subset: %d rows %v", len(rows), err)
	}
}

func decimalFrom(s string) (decimal128.Num, error) {
	return decimal128.FromString(s, 10, 2)
}
