package format

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

func testSchema() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ts", Type: TimestampType, Nullable: true},
		{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
}

func TestParseTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-01 00:00:05", time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC), true},
		{"2026-01-01T00:00:05Z", time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC), true},
		{"2026-03-01 12:30:05.25", time.Date(2026, 3, 1, 12, 30, 5, 250e6, time.UTC), true},
		{"1969-12-31 23:59:59.5", time.Date(1969, 12, 31, 23, 59, 59, 500e6, time.UTC), true},
		{"2024-02-29 10:00", time.Date(2024, 2, 29, 10, 0, 0, 0, time.UTC), true},
		{"2026-01-01T02:00:00+02:00", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2026-01-01", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"2023-02-29 00:00:00", time.Time{}, false},
		{"2026-13-01 00:00:00", time.Time{}, false},
		{"abc", time.Time{}, false},
		{"2026-01-01 00:00:05 junk", time.Time{}, false},
	} {
		ns, ok := ParseTimestamp([]byte(tc.in))
		if ok != tc.ok || (ok && ns != tc.want.UnixNano()) {
			t.Errorf("ParseTimestamp(%q) = %d,%v; want %d,%v", tc.in, ns, ok, tc.want.UnixNano(), tc.ok)
		}
	}
}

func TestTextRules(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{string(AppendTimestamp(nil, time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC).UnixNano())), "2026-01-01 00:00:05"},
		{string(AppendTimestamp(nil, time.Date(2026, 1, 1, 0, 0, 5, 120e6, time.UTC).UnixNano())), "2026-01-01 00:00:05.12"},
		{string(AppendTimestamp(nil, time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC).UnixNano())), "1969-12-31 23:59:59.000001"},
		{string(AppendDate(nil, int32(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC).Unix()/86400))), "2026-02-03"},
		{string(AppendFloat(nil, 0.1, 64)), "0.1"},
		{string(AppendFloat(nil, 1e20, 64)), "100000000000000000000"},
		{string(AppendFloat(nil, 1e21, 64)), "1e+21"},
		{string(AppendFloat(nil, 1.5e-7, 64)), "1.5e-07"},
		{string(AppendFloat(nil, 3, 64)), "3"},
		{string(AppendFloat(nil, -2.5, 64)), "-2.5"},
		{string(AppendFloat(nil, math.Inf(1), 64)), "+Inf"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q want %q", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		in       string
		want, ok bool
	}{{"true", true, true}, {"FALSE", false, true}, {"1", true, true}, {"0", false, true}, {"yes", false, false}} {
		v, ok := ParseBool([]byte(tc.in))
		if v != tc.want || ok != tc.ok {
			t.Errorf("ParseBool(%q) = %v,%v", tc.in, v, ok)
		}
	}
}

func TestCSVSplitter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     string
		delim  byte
		want   [][]string
		quoted [][]bool
	}{
		{"plain", "a,b,c\n1,,3\n", ',', [][]string{{"a", "b", "c"}, {"1", "", "3"}}, nil},
		{"crlf", "a,b\r\nc,d\r\n", ',', [][]string{{"a", "b"}, {"c", "d"}}, nil},
		{"no final newline", "a,b\nc,d", ',', [][]string{{"a", "b"}, {"c", "d"}}, nil},
		{"quotes", `"x,y","he said ""hi""",z` + "\n", ',', [][]string{{"x,y", `he said "hi"`, "z"}}, nil},
		{"embedded newline", "\"line1\nline2\",2\r\n3,4\n", ',', [][]string{{"line1\nline2", "2"}, {"3", "4"}}, nil},
		{"empty quoted", `"",x,` + "\n", ',', [][]string{{"", "x", ""}}, [][]bool{{true, false, false}}},
		{"semicolon", "a;b,c;\"d;e\"\n", ';', [][]string{{"a", "b,c", "d;e"}}, nil},
		{"tab", "a\tb\n", '\t', [][]string{{"a", "b"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewCSVSplitter(tc.delim)
			var got [][]string
			var gotQ [][]bool
			if err := s.SplitAll([]byte(tc.in), func(f [][]byte, q []bool) error {
				var r []string
				for _, x := range f {
					r = append(r, string(x))
				}
				got = append(got, r)
				gotQ = append(gotQ, append([]bool(nil), q...))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %q want %q", got, tc.want)
			}
			for i := range got {
				if strings.Join(got[i], "|") != strings.Join(tc.want[i], "|") || len(got[i]) != len(tc.want[i]) {
					t.Errorf("record %d: got %q want %q", i, got[i], tc.want[i])
				}
			}
			for i, q := range tc.quoted {
				for j := range q {
					if gotQ[i][j] != q[j] {
						t.Errorf("quoted[%d][%d] = %v", i, j, gotQ[i][j])
					}
				}
			}
		})
	}
	// Incomplete input asks for more.
	s := NewCSVSplitter(',')
	if _, _, _, _, ok, err := s.Split([]byte("\"abc\nde"), false); ok || err != nil {
		t.Errorf("incomplete quoted record: ok=%v err=%v", ok, err)
	}
	if _, _, _, _, _, err := s.Split([]byte("\"abc\nde"), true); err == nil {
		t.Errorf("unterminated quote at EOF: want error")
	}
}

func TestCSVDecoder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewCSVDecoder(mem, testSchema(), CSVOptions{Null: "NA"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	for _, l := range []string{
		"a,1,2026-01-01 00:00:05,2026-01-02,1.5,true\n",
		"NA,NA,2026-01-01T00:00:06.5Z,NA,NA,0",
		`"",-7,NA,NA,2,NA`,
	} {
		if err := d.AppendLine([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	rec := d.NewRecord()
	defer rec.Release()
	want := [][]string{
		{"a", "1", "2026-01-01 00:00:05", "2026-01-02", "1.5", "true"},
		{"NULL", "NULL", "2026-01-01 00:00:06.5", "NULL", "NULL", "false"},
		{"", "-7", "NULL", "NULL", "2", "NULL"},
	}
	checkRecord(t, rec, want)

	// A bad value: fail reports it, the row is dropped, the decoder goes on.
	err = d.AppendLine([]byte("x,abc,NA,NA,NA,NA"))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Column != "value" || fe.Value != "abc" || fe.Type != "BIGINT" {
		t.Fatalf("got %v", err)
	}
	if got := err.Error(); got != `column "value": cannot parse "abc" as BIGINT` {
		t.Errorf("message %q", got)
	}
	var re *RowError
	if err := d.AppendLine([]byte("x,1")); !errors.As(err, &re) {
		t.Errorf("short row: got %v", err)
	}
	if d.Len() != 0 {
		t.Errorf("bad rows kept: %d", d.Len())
	}
	d.SetOnError(OnErrorSkip)
	for _, l := range []string{"y,1,NA,NA,NA,NA", "x,abc,NA,NA,NA,NA", "x,1", "z,2,NA,NA,NA,NA"} {
		if err := d.AppendLine([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	rec2 := d.NewRecord()
	defer rec2.Release()
	checkRecord(t, rec2, [][]string{{"y", "1", "NULL", "NULL", "NULL", "NULL"}, {"z", "2", "NULL", "NULL", "NULL", "NULL"}})
	if d.Skipped() != 2 {
		t.Errorf("skipped %d", d.Skipped())
	}
	d.SetOnError(OnErrorNull)
	if err := d.AppendLine([]byte("x,abc,NA,NA,zz,NA")); err != nil {
		t.Fatal(err)
	}
	rec3 := d.NewRecord()
	defer rec3.Release()
	checkRecord(t, rec3, [][]string{{"x", "NULL", "NULL", "NULL", "NULL", "NULL"}})
	if d.Nulled() != 2 {
		t.Errorf("nulled %d", d.Nulled())
	}
}

func TestCSVDecoderProjectionAndHeader(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "value", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "category", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	d, err := NewCSVDecoder(mem, schema, CSVOptions{Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	if err := d.MapHeader([][]byte{[]byte("Category"), []byte("junk"), []byte("VALUE")}); err != nil {
		t.Fatal(err)
	}
	if err := d.SetColumns([]int{0}); err != nil {
		t.Fatal(err)
	}
	// "junk" and "category" are never parsed; only value is.
	if err := d.AppendLine([]byte("a;notanumber;5")); err != nil {
		t.Fatal(err)
	}
	rec := d.NewRecord()
	defer rec.Release()
	if rec.NumCols() != 1 || rec.Schema().Field(0).Name != "value" {
		t.Fatalf("schema %s", rec.Schema())
	}
	checkRecord(t, rec, [][]string{{"5"}})
	if err := d.MapHeader([][]byte{[]byte("x")}); err == nil {
		t.Error("header without the columns: want error")
	}
}

func TestJSONDecoder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewJSONDecoder(mem, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	for _, l := range []string{
		`{"category":"a\"b\u00e9","value":1,"ts":"2026-01-01T00:00:05Z","d":"2026-01-02","f":1.5,"b":true,"extra":{"x":[1,2]}}`,
		`{ "value" : null , "ts": 1767225605000, "Category": "c" }`,
		`{"category":{"nested":1},"value":"42","category":"dup"}`,
	} {
		if err := d.Append([]byte(l)); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
	}
	rec := d.NewRecord()
	defer rec.Release()
	checkRecord(t, rec, [][]string{
		{"a\"bé", "1", "2026-01-01 00:00:05", "2026-01-02", "1.5", "true"},
		{"c", "NULL", "2026-01-01 00:00:05", "NULL", "NULL", "NULL"},
		{`{"nested":1}`, "42", "NULL", "NULL", "NULL", "NULL"},
	})
	var fe *FieldError
	if err := d.Append([]byte(`{"value":"abc"}`)); !errors.As(err, &fe) || fe.Column != "value" {
		t.Errorf("got %v", err)
	}
	var re *RowError
	if err := d.Append([]byte(`{"value":1`)); !errors.As(err, &re) {
		t.Errorf("truncated: got %v", err)
	}
	if err := d.Append([]byte(`[1]`)); !errors.As(err, &re) {
		t.Errorf("array: got %v", err)
	}
	if d.Len() != 0 {
		t.Errorf("bad rows kept: %d", d.Len())
	}
	d.SetOnError(OnErrorSkip)
	_ = d.Append([]byte(`{"value":"abc"}`))
	_ = d.Append([]byte(`{"value":7}`))
	rec2 := d.NewRecord()
	defer rec2.Release()
	checkRecord(t, rec2, [][]string{{"NULL", "7", "NULL", "NULL", "NULL", "NULL"}})
}

func checkRecord(t *testing.T, rec arrow.Record, want [][]string) {
	t.Helper()
	if int(rec.NumRows()) != len(want) {
		t.Fatalf("rows %d want %d", rec.NumRows(), len(want))
	}
	for r, row := range want {
		for c, w := range row {
			if got := FormatValue(rec.Column(c), r); got != w {
				t.Errorf("row %d col %d: got %q want %q", r, c, got, w)
			}
		}
	}
}

func TestEncoders(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "op", Type: arrow.PrimitiveTypes.Int8},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "ts", Type: TimestampType, Nullable: true},
	}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[
		{"op":0,"s":"a,\"b\"","v":0.1,"ts":1767225605000000},
		{"op":1,"s":"","v":null,"ts":null},
		{"op":3,"s":null,"v":1e300,"ts":1767225605250000}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rec, true); err != nil {
		t.Fatal(err)
	}
	wantCSV := "op,s,v,ts\n+I,\"a,\"\"b\"\"\",0.1,2026-01-01 00:00:05\n-U,\"\",,\n-D,,1e+300,2026-01-01 00:00:05.25\n"
	if buf.String() != wantCSV {
		t.Errorf("csv:\n%s\nwant:\n%s", buf.String(), wantCSV)
	}
	buf.Reset()
	if err := WriteJSONLines(&buf, rec); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"op":"+I","s":"a,\"b\"","v":0.1,"ts":"2026-01-01 00:00:05"}
{"op":"-U","s":"","v":null,"ts":null}
{"op":"-D","s":null,"v":1e+300,"ts":"2026-01-01 00:00:05.25"}
`
	if buf.String() != wantJSON {
		t.Errorf("json:\n%s\nwant:\n%s", buf.String(), wantJSON)
	}
	// What WriteCSV writes, the CSV decoder reads back (empty string vs NULL).
	in := arrow.NewSchema(schema.Fields()[1:], nil)
	d, err := NewCSVDecoder(mem, in, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	sub := rec.NewSlice(0, 3)
	defer sub.Release()
	proj := array.NewRecord(in, sub.Columns()[1:], 3)
	defer proj.Release()
	buf.Reset()
	if err := WriteCSV(&buf, proj, false); err != nil {
		t.Fatal(err)
	}
	if err := d.split.SplitAll(buf.Bytes(), d.AppendFields); err != nil {
		t.Fatal(err)
	}
	back := d.NewRecord()
	defer back.Release()
	if !array.RecordEqual(back, proj) {
		t.Errorf("round trip:\n%v\n%v", back, proj)
	}
}

func TestInfer(t *testing.T) {
	csv := "id,price,ts,day,flag,name,empty\n1,1.5,2026-01-01 00:00:00,2026-01-01,true,x,\n2,2,2026-01-01T00:00:01Z,2026-01-02,0,y,\n,,,,,,\n"
	var records [][]string
	if err := NewCSVSplitter(',').SplitAll([]byte(csv), func(fields [][]byte, _ []bool) error {
		rec := make([]string, len(fields))
		for i, f := range fields {
			rec[i] = string(f)
		}
		records = append(records, rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s, err := InferCSVRecords(records, CSVOptions{Header: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id:BIGINT", "price:DOUBLE", "ts:TIMESTAMP", "day:DATE", "flag:BOOLEAN", "name:VARCHAR", "empty:VARCHAR"}
	for i, f := range s.Fields() {
		if got := f.Name + ":" + SQLTypeName(f.Type); got != want[i] {
			t.Errorf("field %d: %s want %s", i, got, want[i])
		}
	}
	js := [][]byte{
		[]byte(`{"a":1,"b":"2026-01-01 00:00:00","c":true,"d":{"x":1},"e":1}`),
		[]byte(``),
		[]byte(`{"a":2,"e":2.5,"f":"x","g":null}`),
	}
	s, err = InferJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"a:BIGINT", "b:TIMESTAMP", "c:BOOLEAN", "d:VARCHAR", "e:DOUBLE", "f:VARCHAR", "g:VARCHAR"}
	if s.NumFields() != len(want) {
		t.Fatalf("schema %s", s)
	}
	for i, f := range s.Fields() {
		if got := f.Name + ":" + SQLTypeName(f.Type); got != want[i] {
			t.Errorf("field %d: %s want %s", i, got, want[i])
		}
	}
}

// TestListColumns: a T[] column reads a CSV field as a list's text and a
// JSON array natively; a list with a bad element is refused whole, so
// under on_error = null it is NULL and none of its elements lands in the
// lists after it.
func TestListColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
		{Name: "s", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	}, nil)
	c, err := NewCSVDecoder(mem, schema, CSVOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	j, err := NewJSONDecoder(mem, schema)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Release()
	c.SetOnError(OnErrorNull)
	j.SetOnError(OnErrorNull)
	for _, l := range []string{`"[1, 2, 3000000000]","[a, 'b, c']"`, `"[4, NULL]",[]`, `,`} {
		if err := c.AppendLine([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{`{"l":[1,2,3000000000],"s":["a","b, c"]}`, `{"l":[4, null],"s":[]}`, `{"l":[[5]],"s":["\u00e9\"",null]}`} {
		if err := j.Append([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		d    interface{ NewRecord() arrow.Record }
		want [][]string
	}{
		{c, [][]string{{"NULL", "[a, 'b, c']"}, {"[4, NULL]", "[]"}, {"NULL", "NULL"}}},
		{j, [][]string{{"NULL", "[a, 'b, c']"}, {"[4, NULL]", "[]"}, {"NULL", `['é"', NULL]`}}},
	} {
		rec := tc.d.NewRecord()
		checkRecord(t, rec, tc.want)
		rec.Release()
	}
	c.SetOnError(OnErrorFail)
	var fe *FieldError
	if err := c.AppendLine([]byte(`"[1, x]",`)); !errors.As(err, &fe) || err.Error() != `column "l": cannot parse "[1, x]" as INT[]` {
		t.Errorf("got %v", err)
	}
}
