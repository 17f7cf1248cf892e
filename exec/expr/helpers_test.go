package expr

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

var (
	i32  = arrow.PrimitiveTypes.Int32
	i64  = arrow.PrimitiveTypes.Int64
	f64  = arrow.PrimitiveTypes.Float64
	str  = arrow.BinaryTypes.String
	boo  = arrow.FixedWidthTypes.Boolean
	tsus = &arrow.TimestampType{Unit: arrow.Microsecond}
	d32  = arrow.FixedWidthTypes.Date32
	ivl  = arrow.FixedWidthTypes.MonthDayNanoInterval
)

func dec(p, s int32) arrow.DataType { return &arrow.Decimal128Type{Precision: p, Scale: s} }

func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// record builds a record with columns a, b, c, ... of the given types from
// a JSON array of row objects.
func record(t testing.TB, mem memory.Allocator, types []arrow.DataType, rows string) arrow.Record {
	t.Helper()
	fields := make([]arrow.Field, len(types))
	for i, ty := range types {
		fields[i] = arrow.Field{Name: string(rune('a' + i)), Type: ty, Nullable: true}
	}
	rec, _, err := array.RecordFromJSON(mem, arrow.NewSchema(fields, nil), strings.NewReader(rows))
	if err != nil {
		t.Fatalf("RecordFromJSON: %v", err)
	}
	return rec
}

func col(rec arrow.Record, i int) Expr {
	return Column(i, rec.Column(i).DataType(), rec.ColumnName(i))
}

// evalCase is one table row: build an expression over rec, expect JSON
// values of type want (or an error matching errIs / errText).
type evalCase struct {
	name    string
	types   []arrow.DataType
	rows    string
	build   func(rec arrow.Record) (Expr, error)
	want    string // JSON array
	wantTyp arrow.DataType
	errIs   error
	errText string
}

func runCases(t *testing.T, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := newMem(t)
			rec := record(t, mem, tc.types, tc.rows)
			defer rec.Release()
			e, err := tc.build(rec)
			if err == nil {
				var got arrow.Array
				got, err = e.Eval(context.Background(), mem, rec)
				if err == nil {
					defer got.Release()
					if tc.errIs != nil || tc.errText != "" {
						t.Fatalf("want error, got %v", got)
					}
					want, _, jerr := array.FromJSON(mem, tc.wantTyp, strings.NewReader(tc.want))
					if jerr != nil {
						t.Fatalf("bad want JSON: %v", jerr)
					}
					defer want.Release()
					if !array.Equal(got, want) {
						t.Fatalf("%s:\n got  %v\n want %v", e, got, want)
					}
					if got.Len() != int(rec.NumRows()) {
						t.Fatalf("len %d", got.Len())
					}
					return
				}
			}
			if tc.errIs == nil && tc.errText == "" {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("error %v is not %v", err, tc.errIs)
			}
			if tc.errText != "" && !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("error %q does not contain %q", err, tc.errText)
			}
		})
	}
}

// fn builds Call(name, args(rec), ret).
func fn(name string, ret arrow.DataType, args ...func(rec arrow.Record) Expr) func(rec arrow.Record) (Expr, error) {
	return func(rec arrow.Record) (Expr, error) {
		es := make([]Expr, len(args))
		for i, a := range args {
			es[i] = a(rec)
		}
		return Call(name, es, ret)
	}
}

func c(i int) func(rec arrow.Record) Expr { return func(rec arrow.Record) Expr { return col(rec, i) } }

func lit(t arrow.DataType, v any) func(rec arrow.Record) Expr {
	return func(arrow.Record) Expr { return Literal(t, v) }
}

func sub(name string, ret arrow.DataType, args ...func(rec arrow.Record) Expr) func(rec arrow.Record) Expr {
	return func(rec arrow.Record) Expr {
		e, err := fn(name, ret, args...)(rec)
		if err != nil {
			panic(err)
		}
		return e
	}
}
