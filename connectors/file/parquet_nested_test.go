package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

func listsSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "li", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "ls", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "lb", Type: arrow.ListOf(arrow.FixedWidthTypes.Boolean), Nullable: true},
		{Name: "lt", Type: arrow.ListOf(format.TimestampType), Nullable: true},
		{Name: "ld", Type: arrow.ListOf(&arrow.Decimal128Type{Precision: 10, Scale: 2}), Nullable: true},
		{Name: "lf", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
		{Name: "iv", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true},
	}, nil)
}

// listLen is row i's list length: -1 NULL, 0 empty, one long list of
// 30,000 elements (several pages), and otherwise up to 6.
func listLen(i int) int {
	switch {
	case i == 1234:
		return 30000
	case i%5 == 0:
		return -1
	case i%5 == 1:
		return 0
	}
	return i % 7
}

// listRow is row i's id and lists as the reader's rows print: the lists'
// elements j are NULL where (i+j)%4 == 0.
func listRow(i int) string {
	n := listLen(i)
	cols := []string{fmt.Sprint(i)}
	for c := 0; c < 6; c++ {
		if n < 0 {
			cols = append(cols, "NULL")
			continue
		}
		var b strings.Builder
		b.WriteByte('[')
		for j := 0; j < n; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			if (i+j)%4 == 0 {
				b.WriteString("NULL")
				continue
			}
			switch c {
			case 0:
				fmt.Fprint(&b, i*10+j)
			case 1:
				fmt.Fprintf(&b, "s%d", j)
			case 2:
				fmt.Fprint(&b, j%2 == 0)
			case 3:
				b.Write(format.AppendTimestamp(nil, (1767225600000000+int64(j)*1000000)*1000))
			case 4:
				fmt.Fprintf(&b, "%d.%02d", j, i%100)
			case 5:
				b.Write(format.AppendFloat(nil, float64(j)/4, 64))
			}
		}
		b.WriteByte(']')
		cols = append(cols, b.String())
	}
	return strings.Join(cols, "|")
}

// listInterval is row i's interval (NULL where i%3 == 0).
func listInterval(i int) arrow.MonthDayNanoInterval {
	return arrow.MonthDayNanoInterval{Months: int32(i % 13), Days: int32(i % 40), Nanoseconds: int64(i) * 1500 * 1e6}
}

// writeLists writes n rows of listsSchema through the file sink.
func writeLists(t testing.TB, mem memory.Allocator, path string, n, groupRows int) {
	t.Helper()
	writeThroughSink(t, mem, path, listsSchema(), n, groupRows, func(bld *array.RecordBuilder, i int) {
		bld.Field(0).(*array.Int64Builder).Append(int64(i))
		k := listLen(i)
		for c := 1; c <= 6; c++ {
			lb := bld.Field(c).(*array.ListBuilder)
			if k < 0 {
				lb.AppendNull()
				continue
			}
			lb.Append(true)
			vb := lb.ValueBuilder()
			for j := 0; j < k; j++ {
				if (i+j)%4 == 0 {
					vb.AppendNull()
					continue
				}
				switch c {
				case 1:
					vb.(*array.Int64Builder).Append(int64(i*10 + j))
				case 2:
					vb.(*array.StringBuilder).Append(fmt.Sprintf("s%d", j))
				case 3:
					vb.(*array.BooleanBuilder).Append(j%2 == 0)
				case 4:
					vb.(*array.TimestampBuilder).Append(arrow.Timestamp(1767225600000000 + int64(j)*1000000))
				case 5:
					d, _ := decimalFrom(fmt.Sprintf("%d.%02d", j, i%100))
					vb.(*array.Decimal128Builder).Append(d)
				case 6:
					vb.(*array.Float64Builder).Append(float64(j) / 4)
				}
			}
		}
		if i%3 == 0 {
			bld.Field(7).AppendNull()
		} else {
			bld.Field(7).(*array.MonthDayNanoIntervalBuilder).Append(listInterval(i))
		}
	})
}

// wantListRow is row i of writeLists as scan prints it.
func wantListRow(i int) string {
	if i%3 == 0 {
		return listRow(i) + "|NULL"
	}
	b := array.NewMonthDayNanoIntervalBuilder(memory.NewGoAllocator())
	defer b.Release()
	b.Append(listInterval(i))
	a := b.NewArray()
	defer a.Release()
	return listRow(i) + "|" + format.FormatValue(a, 0)
}

// TestParquetListsRoundTrip: list columns of every element type (NULL
// lists, empty lists, NULL elements, a list over several pages) and
// intervals written by the sink read back alike through every read path:
// whole batches of 1, 7 and 1024 rows, a projection, rows selected by a
// filter on another column (late materialisation), a resume inside a row
// group, and morsels splitting row groups.
func TestParquetListsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "lists.parquet")
	const n = 3000
	writeLists(t, mem, path, n, 700)

	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Schema().Equal(listsSchema()) {
		t.Fatalf("inferred schema:\n%s\nwant\n%s", src.Schema(), listsSchema())
	}
	for _, bs := range []int{1, 7, 1024} {
		rows, _, err := scan(t, src, exec.ScanSpec{BatchSize: bs})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != n {
			t.Fatalf("batch %d: %d rows", bs, len(rows))
		}
		for i, row := range rows {
			if want := wantListRow(i); row != want {
				t.Fatalf("batch %d: row %d:\n%.300s\nwant\n%.300s", bs, i, row, want)
			}
		}
	}
	// A projection of lists alone, and with a filter on id: only rows
	// 2990 and on are decoded for the lists.
	rows, _, err := scan(t, src, exec.ScanSpec{Columns: []int{2, 0}, BatchSize: 100,
		Filters: []exec.Predicate{{Column: 0, Op: "ge", Value: int64(1230)}, {Column: 0, Op: "le", Value: int64(1240)}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		parts := strings.Split(r, "|")
		got = append(got, parts[1]+"|"+parts[0])
	}
	var want []string
	for i := 1230; i <= 1240; i++ {
		want = append(want, fmt.Sprintf("%d|%s", i, strings.Split(wantListRow(i), "|")[2]))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("filtered:\n%.500s\nwant\n%.500s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Resume inside a row group (the rows before are skipped).
	rows, _, err = scan(t, src, exec.ScanSpec{Columns: []int{0, 1}, From: exec.Offsets{"file:" + path: 1233}})
	if err != nil || len(rows) != n-1233 || rows[0] != strings.Join(strings.Split(wantListRow(1233), "|")[:2], "|") {
		t.Errorf("resume: %d rows, first %.100q, %v", len(rows), rows, err)
	}
	// Morsels split the row groups: they read the same rows.
	spec := exec.ScanSpec{BatchSize: 64, MorselBytes: 4000}
	whole, _, err := scan(t, src, spec)
	if err != nil {
		t.Fatal(err)
	}
	parts, morsels, err := readMorsels(t, src, spec)
	if err != nil {
		t.Fatal(err)
	}
	if morsels <= 5 || strings.Join(parts, "\n") != strings.Join(whole, "\n") {
		t.Errorf("%d morsels read %d rows, the whole scan %d", morsels, len(parts), len(whole))
	}
}

// TestParquetLegacyLists: the older list layouts other writers use read
// as lists: a bare repeated column (never NULL) and the two-level LIST
// group whose repeated child is the element.
func TestParquetLegacyLists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "legacy.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	g := &orderedGroup{Group: parquet.Group{}}
	bare := parquet.Repeated(parquet.Int(64))
	two := parquet.Optional(twoLevelList{parquet.Group{"array": parquet.Repeated(parquet.String())}})
	g.Group["bare"], g.Group["two"] = bare, two
	g.fields = []parquet.Field{namedField{Node: bare, name: "bare"}, namedField{Node: two, name: "two"}}
	w := parquet.NewWriter(f, parquet.NewSchema("legacy", g))
	rows := []parquet.Row{
		{parquet.Int64Value(1).Level(0, 1, 0), parquet.Int64Value(2).Level(1, 1, 0), parquet.ByteArrayValue([]byte("a")).Level(0, 2, 1)},
		{parquet.NullValue().Level(0, 0, 0), parquet.NullValue().Level(0, 0, 1)},
		{parquet.Int64Value(3).Level(0, 1, 0), parquet.NullValue().Level(0, 1, 1)},
		{parquet.NullValue().Level(0, 0, 0), parquet.ByteArrayValue([]byte("b")).Level(0, 2, 1), parquet.ByteArrayValue([]byte("c")).Level(1, 2, 1)},
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	src, err := NewSource(connectors.Options{"path": path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(format.SQLTypeName(src.Schema().Field(0).Type), " ", format.SQLTypeName(src.Schema().Field(1).Type)); got != "BIGINT[] VARCHAR[]" {
		t.Fatalf("inferred %s", got)
	}
	for _, bs := range []int{1, 3} {
		got, _, err := scan(t, src, exec.ScanSpec{BatchSize: bs})
		if err != nil {
			t.Fatal(err)
		}
		if want := "[1, 2]|[a]\n[]|NULL\n[3]|[]\n[]|[b, c]"; strings.Join(got, "\n") != want {
			t.Errorf("batch %d:\n%s\nwant\n%s", bs, strings.Join(got, "\n"), want)
		}
	}
}

// twoLevelList is a LIST group in the legacy two-level form: its
// repeated child is the element.
type twoLevelList struct{ parquet.Group }

func (twoLevelList) Type() parquet.Type { return parquet.List(parquet.String()).Type() }

// TestParquetIntervalRefused: an interval Parquet's INTERVAL cannot hold
// exactly is refused naming the column and the value, never truncated.
func TestParquetIntervalRefused(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, tc := range []struct {
		iv   arrow.MonthDayNanoInterval
		want string
	}{
		{arrow.MonthDayNanoInterval{Nanoseconds: 1500000}, `column "iv": interval 00:00:00.0015 has a part below a millisecond`},
		{arrow.MonthDayNanoInterval{Days: -1}, `column "iv": interval -1 day is negative`},
		{arrow.MonthDayNanoInterval{Nanoseconds: 1200 * 3600 * 1e9}, `column "iv": interval 1200:00:00 has a time part of 2^32 milliseconds`},
	} {
		schema := arrow.NewSchema([]arrow.Field{{Name: "iv", Type: arrow.FixedWidthTypes.MonthDayNanoInterval, Nullable: true}}, nil)
		sink, err := NewSink(connectors.Options{"path": filepath.Join(t.TempDir(), "iv.parquet")})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		w, err := sink.Open(ctx, mem, schema, exec.SinkMode{})
		if err != nil {
			t.Fatal(err)
		}
		b := array.NewMonthDayNanoIntervalBuilder(mem)
		b.Append(arrow.MonthDayNanoInterval{Months: 1})
		b.Append(tc.iv)
		a := b.NewArray()
		rec := array.NewRecord(schema, []arrow.Array{a}, 2)
		err = w.Write(ctx, rec)
		if err == nil {
			err = w.Commit(ctx, nil)
		}
		rec.Release()
		a.Release()
		b.Release()
		w.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.iv, err, tc.want)
		}
	}
}
