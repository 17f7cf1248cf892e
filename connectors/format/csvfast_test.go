package format

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// decodeCSV decodes data (no header) into one record, with the bulk path
// when fast is set, the way the file connector's reader mixes them.
func decodeCSV(t *testing.T, mem memory.Allocator, schema *arrow.Schema, cols []int, policy ErrorPolicy, data string, fast bool) (arrow.Record, []string, int) {
	t.Helper()
	d, err := NewCSVDecoder(mem, schema, CSVOptions{Delimiter: ','})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if err := d.SetColumns(cols); err != nil {
		t.Fatal(err)
	}
	d.SetOnError(policy)
	sp := NewCSVSplitter(',')
	buf := []byte(data)
	var errs []string
	lines, bulk := 0, 0
	for len(buf) > 0 {
		if fast {
			if n, recs := d.AppendSimple(buf, 1<<20); recs > 0 {
				buf = buf[n:]
				lines += recs
				bulk += recs
				continue
			}
		}
		fields, quoted, n, nl, ok, err := sp.Split(buf, true)
		if err != nil || !ok {
			errs = append(errs, fmt.Sprintf("split at line %d: %v", lines+1, err))
			break
		}
		line := lines + 1
		buf, lines = buf[n:], lines+nl
		if len(fields) == 1 && len(fields[0]) == 0 && !quoted[0] {
			continue
		}
		if err := d.AppendFields(fields, quoted); err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %v", line, err))
		}
	}
	return d.NewRecord(), errs, bulk
}

func TestAppendSimpleMatchesSlowPath(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	var big strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&big, "cat-%d,%d,%d.5\n", i%7, i*31-70000, i)
	}
	for _, tc := range []struct {
		name     string
		data     string
		cols     []int
		policy   ErrorPolicy
		wantBulk bool // the bulk path must take at least one record
	}{
		{"plain", "a,1,1.5\nb,-2,2\nc,+3,3\n", []int{0, 1}, OnErrorFail, true},
		{"crlf", "a,1,1.5\r\nb,2,2\r\n", []int{0, 1}, OnErrorFail, true},
		{"no final newline", "a,1,1.5\nb,2,2", []int{0, 1}, OnErrorFail, true},
		{"nulls", "a,,1\n,2,2\n,,\n", []int{0, 1}, OnErrorFail, true},
		{"quotes mid-file", "a,1,1\n\"b,x\",2,2\nc,3,3\n", []int{0, 1}, OnErrorFail, true},
		{"bad value fails", "a,1,1\nb,zz,2\nc,3,3\n", []int{0, 1}, OnErrorFail, true},
		{"bad value skipped", "a,1,1\nb,zz,2\nc,3,3\n", []int{0, 1}, OnErrorSkip, true},
		{"bad value nulled", "a,1,1\nb,zz,2\nc,3,3\n", []int{0, 1}, OnErrorNull, true},
		{"too few fields", "a,1,1\nb,2\nc,3,3\n", []int{0, 1}, OnErrorNull, true},
		{"too many fields", "a,1,1\nb,2,2,2\nc,3,3\n", []int{0, 1}, OnErrorSkip, true},
		{"blank lines", "a,1,1\n\n\nc,3,3\n", []int{0, 1}, OnErrorFail, true},
		{"unprojected bad float", "a,1,x\nb,2,y\n", []int{1, 0}, OnErrorFail, true},
		{"float column is slow path", "a,1,1.5\n", []int{0, 1, 2}, OnErrorFail, false},
		{"int overflow", "a,99999999999999999999,1\n", []int{0, 1}, OnErrorNull, false},
		{"many rows", big.String(), []int{1, 0}, OnErrorFail, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			want, wantErrs, _ := decodeCSV(t, mem, schema, tc.cols, tc.policy, tc.data, false)
			defer want.Release()
			got, gotErrs, bulk := decodeCSV(t, mem, schema, tc.cols, tc.policy, tc.data, true)
			defer got.Release()
			if !array.RecordEqual(got, want) {
				t.Errorf("bulk path:\n%v\nslow path:\n%v", got, want)
			}
			if fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
				t.Errorf("errors %v, want %v", gotErrs, wantErrs)
			}
			if tc.wantBulk != (bulk > 0) {
				t.Errorf("bulk path took %d records, want some: %v", bulk, tc.wantBulk)
			}
		})
	}
}

func TestAppendSimpleValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	}, nil)
	rec, errs, bulk := decodeCSV(t, mem, schema, nil, OnErrorFail, "x,-5\n,7\nyy,\n", true)
	defer rec.Release()
	if len(errs) != 0 || bulk != 3 {
		t.Fatalf("errs %v, bulk %d", errs, bulk)
	}
	want, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"k":"x","v":-5},{"k":null,"v":7},{"k":"yy","v":null}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Release()
	if !array.RecordEqual(rec, want) {
		t.Errorf("got\n%v\nwant\n%v", rec, want)
	}
}
