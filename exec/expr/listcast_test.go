package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestCastListToList: a list cast element by element over a sliced
// array, where a NULL row spans elements that cannot be cast (Arrow
// allows it; they belong to no list and must not fail the cast), and a
// bad element of a real list names the list and the element.
func TestCastListToList(t *testing.T) {
	mem := newMem(t)
	vals, _, err := array.FromJSON(mem, str, strings.NewReader(`["0", "1", "2", "x", "y", "3", null, "z"]`))
	if err != nil {
		t.Fatal(err)
	}
	defer vals.Release()
	offs := memory.NewBufferBytes(arrow.Int32Traits.CastToBytes([]int32{0, 1, 3, 5, 7, 8}))
	valid := memory.NewBufferBytes([]byte{0b01011}) // rows 0, 1, 3 valid; 2 and 4 NULL
	data := array.NewData(arrow.ListOf(str), 5, []*memory.Buffer{valid, offs}, []arrow.ArrayData{vals.Data()}, 2, 0)
	defer data.Release()
	whole := array.NewListData(data)
	defer whole.Release()
	for _, tc := range []struct {
		lo, hi int64
		want   string
	}{
		{0, 5, `[["0"], ["1", "2"], null, ["3", null], null]`},
		{1, 4, `[["1", "2"], null, ["3", null]]`},
		{2, 3, `[null]`},
		{3, 3, `[]`},
	} {
		in := array.NewSlice(whole, tc.lo, tc.hi)
		ec := &evalCtx{mem: mem}
		got, err := castArray(ec, in, arrow.ListOf(i64))
		in.Release()
		if err != nil {
			t.Fatalf("[%d:%d]: %v", tc.lo, tc.hi, err)
		}
		want, _, err := array.FromJSON(mem, arrow.ListOf(str), strings.NewReader(tc.want))
		if err != nil {
			t.Fatal(err)
		}
		wantI, err := castArray(ec, want, arrow.ListOf(i64))
		if err != nil {
			t.Fatal(err)
		}
		if !array.Equal(got, wantI) {
			t.Errorf("[%d:%d]: got %v, want %v", tc.lo, tc.hi, got, wantI)
		}
		got.Release()
		want.Release()
		wantI.Release()
	}
	bad, _, err := array.FromJSON(mem, arrow.ListOf(str), strings.NewReader(`[["1"], null, ["2", "z"]]`))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Release()
	_, err = castArray(&evalCtx{mem: mem}, bad, arrow.ListOf(i32))
	if want := `cannot cast [2, z] to INT[]: element 2, "z", cannot be cast to INT`; err == nil || err.Error() != want || !errors.Is(err, ErrInvalidCast) {
		t.Fatalf("error %v, want %q", err, want)
	}
}
