package format

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestJSONNesting: nested values are matched bracket by bracket without
// recursion. Nesting deeper than MaxJSONDepth (a million levels here, in
// a kept VARCHAR column and in a skipped key) is a *RowError naming the
// limit, and so is a bracket closed by the wrong one, which used to be
// kept as text ("[}"); inference says the same.
func TestJSONNesting(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	d, err := NewJSONDecoder(mem, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Release()
	deep := strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)
	limit := strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth)
	for _, tc := range []struct{ line, err string }{
		{`{"category": ` + deep + `}`, "nested deeper than 1000 levels"},
		{`{"other": ` + deep + `, "value": 1}`, "nested deeper than 1000 levels"},
		{`{"category": [1, {"a": 2]}`, "{ closed by ]"},
		{`{"other": [}, "value": 1}`, "[ closed by }"},
		{`{"category": ` + limit + `, "value": 1}`, ""},
		{`{"category": [{"a": "]}"}, []], "value": 2}`, ""},
	} {
		err := d.Append([]byte(tc.line))
		var re *RowError
		if tc.err == "" {
			if err != nil {
				t.Errorf("%.40s: %v", tc.line, err)
			}
		} else if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%.40s: got %v, want %q", tc.line, err, tc.err)
		}
		if tc.err != "" {
			if _, err := InferJSON([][]byte{[]byte(tc.line)}); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("infer %.40s: got %v, want %q", tc.line, err, tc.err)
			}
		}
	}
	rec := d.NewRecord()
	defer rec.Release()
	if rec.NumRows() != 2 || rec.Column(0).(*array.String).Value(0) != limit ||
		rec.Column(0).(*array.String).Value(1) != `[{"a": "]}"}, []]` {
		t.Errorf("kept rows: %v", rec)
	}
}

// TestDecoderRecoversRow: a panic in the middle of a row (a decoder bug
// some input would trigger) leaves the row half-appended; recoverRow pads
// and drops it, and reports it by the error policy, so the decoder goes on
// with the next row instead of crashing or misaligning columns.
func TestDecoderRecoversRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, policy := range []ErrorPolicy{OnErrorFail, OnErrorSkip, OnErrorNull} {
		d, err := NewCSVDecoder(mem, testSchema(), CSVOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d.SetOnError(policy)
		if err := d.AppendLine([]byte("a,1,,,,")); err != nil {
			t.Fatal(err)
		}
		// A row cut short by a panic after two columns.
		d.cols[0].b.AppendNull()
		d.cols[1].b.AppendNull()
		err = d.recoverRow("runtime error: index out of range [3] with length 3")
		var re *RowError
		if policy == OnErrorFail {
			if !errors.As(err, &re) || !strings.Contains(err.Error(), "index out of range") {
				t.Errorf("%v: got %v", policy, err)
			}
		} else if err != nil || d.Skipped() != 1 {
			t.Errorf("%v: got %v, skipped %d", policy, err, d.Skipped())
		}
		if err := d.AppendLine([]byte("b,2,,,,")); err != nil {
			t.Fatal(err)
		}
		rec := d.NewRecord()
		checkRecord(t, rec, [][]string{{"a", "1"}, {"b", "2"}})
		rec.Release()
		d.Release()
	}
}

// TestDecimalHugeExponent: decimal128.FromString takes time that grows
// with the exponent (35 s for "1e400000000"), so one short CSV field could
// stall a scan; exponents far out of range are decided without it, and
// ordinary ones still parse.
func TestDecimalHugeExponent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" = not a DECIMAL(10,2)
	}{
		{"1e400000000", ""},
		{"1e99999999999999999999", ""},
		{"0e400000000", "0.00"},
		{"-1e-400000000", "0.00"},
		{"x1e-400000000", ""},
		{"1e", ""},
		{"1.5e2", "150.00"},
		{"12.345", "12.35"},
		{"2.5E-1", "0.25"},
	} {
		n, ok := parseDecimal([]byte(tc.in), 10, 2)
		got := ""
		if ok {
			got = n.ToString(2)
		}
		if got != tc.want {
			t.Errorf("%q: got %q (ok %v), want %q", tc.in, got, ok, tc.want)
		}
	}
}
