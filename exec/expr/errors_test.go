package expr

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

// TestPosError: a data error carries the position of the innermost call
// that knows one; calls without a position leave it to the next one out;
// other errors get none.
func TestPosError(t *testing.T) {
	mem := newMem(t)
	i64 := arrow.PrimitiveTypes.Int64
	rec := record(t, mem, []arrow.DataType{arrow.BinaryTypes.String, i64}, `[{"a": "1", "b": 1}, {"a": "x", "b": 4000000000000000000}]`)
	defer rec.Release()
	must := func(e Expr, err error) Expr {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	cast := func(pos Pos) Expr { return At(must(Call("cast", []Expr{col(rec, 0)}, i64)), pos) }
	add := func(l Expr, pos Pos) Expr {
		return At(must(Call("add", []Expr{l, Literal(i64, int64(1))}, i64)), pos)
	}
	mul := func(l Expr, pos Pos) Expr {
		return At(must(Call("mul", []Expr{l, Literal(i64, int64(4))}, i64)), pos)
	}
	cases := []struct {
		name string
		e    Expr
		want Pos
		is   error
	}{
		{"cast", cast(Pos{1, 8}), Pos{1, 8}, ErrInvalidCast},
		{"inner wins", add(cast(Pos{2, 12}), Pos{2, 3}), Pos{2, 12}, ErrInvalidCast},
		{"inner unknown", add(cast(Pos{}), Pos{2, 3}), Pos{2, 3}, ErrInvalidCast},
		{"overflow", add(mul(col(rec, 1), Pos{4, 1}), Pos{3, 1}), Pos{4, 1}, ErrOutOfRange},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.e.Eval(context.Background(), mem, rec)
			if err == nil {
				out.Release()
				t.Fatal("no error")
			}
			var pe *PosError
			if !errors.As(err, &pe) || pe.Pos != c.want {
				t.Fatalf("error %v (%#v): want a PosError at %v", err, err, c.want)
			}
			var de DataError
			if !errors.Is(err, c.is) || !errors.As(err, &de) {
				t.Errorf("error %v lost its kind", err)
			}
		})
	}
	if _, err := At(cast(Pos{}), Pos{}).Eval(context.Background(), mem, rec); err == nil || errors.As(err, new(*PosError)) {
		t.Errorf("a call without a position: err %v, want an error without a position", err)
	}
	if e := At(col(rec, 0), Pos{1, 1}); e.String() != "a" {
		t.Errorf("At changed a column: %s", e)
	}
}
