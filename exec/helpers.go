package exec

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// Collect opens op, drains it and closes it, returning every record it
// produced. The caller owns the records and must Release each one; on error
// the records read so far are released and nil is returned.
func Collect(ctx context.Context, op Operator) ([]arrow.Record, error) {
	if err := op.Open(ctx); err != nil {
		op.Close()
		return nil, fmt.Errorf("open: %w", err)
	}
	var out []arrow.Record
	for {
		rec, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			releaseAll(out)
			op.Close()
			return nil, err
		}
		out = append(out, rec)
	}
	if err := op.Close(); err != nil {
		releaseAll(out)
		return nil, fmt.Errorf("close: %w", err)
	}
	return out, nil
}

// Drain opens op, reads it to the end discarding every record, closes it
// and reports the number of rows seen; benchmarks and tests use it when
// only the row count or the side effects matter.
func Drain(ctx context.Context, op Operator) (int64, error) {
	if err := op.Open(ctx); err != nil {
		op.Close()
		return 0, fmt.Errorf("open: %w", err)
	}
	var n int64
	for {
		rec, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			op.Close()
			return n, err
		}
		n += rec.NumRows()
		rec.Release()
	}
	return n, op.Close()
}

func releaseAll(recs []arrow.Record) {
	for _, r := range recs {
		if r != nil {
			r.Release()
		}
	}
}

func releaseArrays(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

// takeArray gathers arr[idx[i]] for every i into a new array; a negative
// index yields NULL (outer-join padding).
func takeArray(ctx context.Context, mem memory.Allocator, arr arrow.Array, idx []int32) (arrow.Array, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := expr.TakeArray(mem, arr, idx)
	if err != nil {
		return nil, fmt.Errorf("take %s: %w", arr.DataType(), err)
	}
	return out, nil
}

// TakeColumns returns rows idx of each of cols, in that order, as new
// arrays the caller releases (the streaming window aggregate takes a
// batch's distinct keys with it).
func TakeColumns(ctx context.Context, mem memory.Allocator, cols []arrow.Array, idx []int32) ([]arrow.Array, error) {
	return takeColumns(ctx, mem, cols, idx)
}

// takeColumns gathers the rows idx of every column (negative = NULL).
func takeColumns(ctx context.Context, mem memory.Allocator, cols []arrow.Array, idx []int32) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(cols))
	for i, c := range cols {
		a, err := takeArray(ctx, mem, c, idx)
		if err != nil {
			releaseArrays(out)
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// TakeRecord gathers the rows idx of rec, in that order, into a new
// record the caller releases; rec is not released.
func TakeRecord(ctx context.Context, mem memory.Allocator, rec arrow.Record, idx []int32) (arrow.Record, error) {
	return takeRecord(ctx, mem, rec.Schema(), rec, idx)
}

// takeRecord gathers the rows idx of rec into a new record with schema.
func takeRecord(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, rec arrow.Record, idx []int32) (arrow.Record, error) {
	cols, err := takeColumns(ctx, mem, rec.Columns(), idx)
	if err != nil {
		return nil, err
	}
	defer releaseArrays(cols)
	return array.NewRecord(schema, cols, int64(len(idx))), nil
}

// filterRecord keeps the rows of rec where mask is true (NULL counts as
// false, as in SQL WHERE).
func filterRecord(ctx context.Context, mem memory.Allocator, rec arrow.Record, mask arrow.Array) (arrow.Record, error) {
	out, err := expr.Filter(ctx, mem, rec, mask)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return out, nil
}

// newFixedArray builds an array of the fixed-width type dt whose physical
// values are vals (int64 for timestamps, int32 for dates, …). valid may be
// nil for "all valid"; otherwise valid[i] false makes row i NULL.
func newFixedArray[T arrow.FixedWidthType](mem memory.Allocator, dt arrow.DataType, vals []T, valid []bool) arrow.Array {
	n := len(vals)
	data := memory.NewResizableBuffer(mem)
	data.Resize(len(arrow.GetBytes(vals)))
	copy(data.Bytes(), arrow.GetBytes(vals))
	defer data.Release()
	var bitmap *memory.Buffer
	nulls := 0
	if valid != nil {
		for _, v := range valid[:n] {
			if !v {
				nulls++
			}
		}
	}
	if nulls > 0 {
		bitmap = memory.NewResizableBuffer(mem)
		bitmap.Resize(int(bitutil.BytesForBits(int64(n))))
		bm := bitmap.Bytes()
		for i := range bm {
			bm[i] = 0
		}
		for i, v := range valid[:n] {
			if v {
				bitutil.SetBit(bm, i)
			}
		}
		defer bitmap.Release()
	}
	d := array.NewData(dt, n, []*memory.Buffer{bitmap, data}, nil, nulls, 0)
	defer d.Release()
	return array.MakeFromData(d)
}

// evalAll evaluates every expression over rec, checking each result has
// one value per row; on error nothing stays allocated.
func evalAll(ctx context.Context, mem memory.Allocator, rec arrow.Record, exprs []exprEvaluator) ([]arrow.Array, error) {
	out := make([]arrow.Array, len(exprs))
	for i, e := range exprs {
		a, err := e.Eval(ctx, mem, rec)
		if err != nil {
			releaseArrays(out)
			return nil, fmt.Errorf("eval %s: %w", e.String(), err)
		}
		if a.Len() != int(rec.NumRows()) {
			a.Release()
			releaseArrays(out)
			return nil, fmt.Errorf("eval %s: %d rows for a %d-row batch", e.String(), a.Len(), rec.NumRows())
		}
		out[i] = a
	}
	return out, nil
}

// exprEvaluator is the subset of expr.Expr operators call; keeping it
// local lets helpers take []expr.Expr without conversion loops.
type exprEvaluator interface {
	Eval(ctx context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error)
	String() string
}

// nullableFields returns fs with every field nullable (the outer side of
// an outer join).
func nullableFields(fs []arrow.Field) []arrow.Field {
	out := make([]arrow.Field, len(fs))
	for i, f := range fs {
		f.Nullable = true
		out[i] = f
	}
	return out
}

// isValid reports whether row i of arr is not NULL, cheap when the array
// has no NULLs at all.
func isValid(arr arrow.Array, i int) bool {
	return arr.NullN() == 0 || arr.IsValid(i)
}

// valueType unwraps a dictionary type to its value type: operators that
// materialize keys (aggregate, sort) output plain arrays.
func valueType(dt arrow.DataType) arrow.DataType {
	if d, ok := dt.(*arrow.DictionaryType); ok {
		return d.ValueType
	}
	return dt
}

// decodeDictionary turns a dictionary array into a plain array of its
// value type; other arrays are returned retained, unchanged.
func decodeDictionary(ctx context.Context, mem memory.Allocator, arr arrow.Array) (arrow.Array, error) {
	d, ok := arr.(*array.Dictionary)
	if !ok {
		arr.Retain()
		return arr, nil
	}
	idx := make([]int32, d.Len())
	for i := range idx {
		if d.IsValid(i) {
			idx[i] = int32(d.GetValueIndex(i))
		} else {
			idx[i] = -1
		}
	}
	return takeArray(ctx, mem, d.Dictionary(), idx)
}
