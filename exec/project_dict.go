package exec

import (
	"context"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
)

// dictionaryKeeper is an operator that can return some of its string
// output columns dictionary-encoded (int32 indices into the distinct
// values, as a Parquet dictionary page stores them) when its consumer asks:
// Scan, Filter (for columns its predicate does not read) and Gather (for
// the pipelines it runs). A consumer that asks must accept both a
// dictionary array and a plain one in those columns, and must decode
// before anything that expects plain strings sees them. Late
// materialisation: a string column that is only carried to the output is
// never built row by row for rows a filter or join drops.
type dictionaryKeeper interface {
	KeepDictionaries(cols []int)
}

// keepDictionaries asks in for the string columns cols dictionary-encoded
// when in can return them so; it reports whether it asked.
func keepDictionaries(in Operator, cols []int) bool {
	k, ok := in.(dictionaryKeeper)
	if !ok || len(cols) == 0 {
		return false
	}
	schema := in.Schema()
	var str []int
	for _, c := range cols {
		if c >= 0 && c < schema.NumFields() && schema.Field(c).Type.ID() == arrow.STRING {
			str = append(str, c)
		}
	}
	if len(str) == 0 {
		return false
	}
	k.KeepDictionaries(str)
	return true
}

// forwardedColumns returns the input columns (of n) that exprs only
// forward: read by some expression that is a bare column reference and by
// no other expression. They may arrive dictionary-encoded and be decoded
// for the survivors only.
func forwardedColumns(exprs []expr.Expr, n int) []int {
	bare := make([]bool, n)
	computed := make([]bool, n)
	for _, e := range exprs {
		if c, ok := expr.ColumnIndex(e); ok {
			if c >= 0 && c < n {
				bare[c] = true
			}
			continue
		}
		ok := expr.ColumnsRead(e, func(c int) {
			if c >= 0 && c < n {
				computed[c] = true
			}
		})
		if !ok {
			return nil
		}
	}
	var out []int
	for c := range n {
		if bare[c] && !computed[c] {
			out = append(out, c)
		}
	}
	return out
}

// readColumns reports which of n input columns the expressions read;
// false when one of them cannot be inspected.
func readColumns(n int, exprs ...expr.Expr) ([]bool, bool) {
	read := make([]bool, n)
	for _, e := range exprs {
		if e == nil {
			continue
		}
		ok := expr.ColumnsRead(e, func(c int) {
			if c >= 0 && c < n {
				read[c] = true
			}
		})
		if !ok {
			return nil, false
		}
	}
	return read, true
}

// decodeDictionaries replaces the dictionary arrays among cols by their
// plain values, in place (the replaced arrays are released).
func decodeDictionaries(ctx context.Context, mem memory.Allocator, cols []arrow.Array) error {
	for i, c := range cols {
		if c.DataType().ID() != arrow.DICTIONARY {
			continue
		}
		d, err := decodeDict(ctx, mem, c)
		if err != nil {
			return err
		}
		c.Release()
		cols[i] = d
	}
	return nil
}

// decodeDict is decodeDictionary reading int32 indices in bulk.
func decodeDict(ctx context.Context, mem memory.Allocator, c arrow.Array) (arrow.Array, error) {
	d, ok := c.(*array.Dictionary)
	if !ok {
		return decodeDictionary(ctx, mem, c)
	}
	ix, ok := d.Indices().(*array.Int32)
	if !ok {
		return decodeDictionary(ctx, mem, c)
	}
	idx := append([]int32(nil), ix.Int32Values()...)
	if d.NullN() > 0 {
		for i := range idx {
			if d.IsNull(i) {
				idx[i] = -1
			}
		}
	}
	return takeArray(ctx, mem, d.Dictionary(), idx)
}
