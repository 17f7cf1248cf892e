package exec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec/expr"
	"github.com/sluicesql/sluice/internal/valcmp"
)

// SortKey is one ORDER BY item.
type SortKey struct {
	Expr expr.Expr
	// Desc sorts values largest first.
	Desc bool
	// NullsFirst puts NULLs before every value (whatever Desc says).
	NullsFirst bool
}

// Sort is ORDER BY: it buffers its whole input, sorts stably (ties keep
// input order) and emits batches of DefaultBatchSize rows.
type Sort struct {
	mem   memory.Allocator
	input Operator
	keys  []SortKey
	out   arrow.Record
	perm  []int32
	pos   int
	done  bool
	once  lifecycle
	acct  *Account // memory budget (SetBudget); nil: unlimited
	par   int      // sorting goroutines (SetWorkers); 0 or 1: one
}

var _ Operator = (*Sort)(nil)

// NewSort returns input sorted by keys.
func NewSort(mem memory.Allocator, input Operator, keys []SortKey) *Sort {
	return &Sort{mem: mem, input: input, keys: keys}
}

// SetWorkers sorts on up to n goroutines; the order is the same at any n
// (see sortStable).
func (s *Sort) SetWorkers(n int) { s.par = n }

// Schema is the input's schema.
func (s *Sort) Schema() *arrow.Schema { return s.input.Schema() }

// Open opens the input once.
func (s *Sort) Open(ctx context.Context) error {
	return s.once.open(func() error { return s.input.Open(ctx) })
}

// Next sorts on the first call, then returns the rows in order.
func (s *Sort) Next(ctx context.Context) (arrow.Record, error) {
	if !s.done {
		s.done = true
		all, err := drainConcat(ctx, s.mem, s.input, s.acct)
		if err != nil {
			return nil, fmt.Errorf("sort: %w", err)
		}
		if all == nil {
			return nil, io.EOF
		}
		s.out = all
		perm, err := sortPerm(ctx, s.mem, all, s.keys, s.par)
		if err != nil {
			return nil, fmt.Errorf("sort: %w", err)
		}
		s.perm = perm
	}
	if s.out == nil || s.pos >= len(s.perm) {
		return nil, io.EOF
	}
	end := min(s.pos+DefaultBatchSize, len(s.perm))
	rec, err := takeRecord(ctx, s.mem, s.out.Schema(), s.out, s.perm[s.pos:end])
	if err != nil {
		return nil, fmt.Errorf("sort: %w", err)
	}
	s.pos = end
	return rec, nil
}

// Close releases the buffered rows and closes the input; idempotent.
func (s *Sort) Close() error {
	return s.once.close(func() error {
		if s.out != nil {
			s.out.Release()
			s.out = nil
		}
		s.acct.Close()
		return s.input.Close()
	})
}

// drainConcat reads op to the end and concatenates its records into one
// (nil when there were no rows).
// Each record is accounted to acct (nil: unlimited) as it arrives, so a
// build side or sort input past the budget fails early.
func drainConcat(ctx context.Context, mem memory.Allocator, op Operator, acct *Account) (arrow.Record, error) {
	var recs []arrow.Record
	defer func() { releaseAll(recs) }()
	for {
		rec, err := op.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		recs = append(recs, rec)
		if err := acct.Grow(recordBytes(rec)); err != nil {
			return nil, err
		}
	}
	return concatRecords(mem, op.Schema(), recs)
}

// concatRecords concatenates recs (nil when they hold no rows).
func concatRecords(mem memory.Allocator, schema *arrow.Schema, recs []arrow.Record) (arrow.Record, error) {
	var n int64
	for _, r := range recs {
		n += r.NumRows()
	}
	if n == 0 {
		return nil, nil
	}
	if len(recs) == 1 {
		recs[0].Retain()
		return recs[0], nil
	}
	cols := make([]arrow.Array, schema.NumFields())
	defer releaseArrays(cols)
	parts := make([]arrow.Array, len(recs))
	for c := range cols {
		for i, r := range recs {
			parts[i] = r.Column(c)
		}
		a, err := array.Concatenate(parts, mem)
		if err != nil {
			return nil, fmt.Errorf("concatenate column %d: %w", c, err)
		}
		cols[c] = a
	}
	return array.NewRecord(schema, cols, n), nil
}

// sortPerm evaluates keys over rec and returns the stable sorting
// permutation of its rows, sorted on up to workers goroutines.
func sortPerm(ctx context.Context, mem memory.Allocator, rec arrow.Record, keys []SortKey, workers int) ([]int32, error) {
	cmpRows, release, err := rowComparator(ctx, mem, rec, keys)
	if err != nil {
		return nil, err
	}
	defer release()
	perm := make([]int32, rec.NumRows())
	for i := range perm {
		perm[i] = int32(i)
	}
	sortStable(perm, workers, func(a, b int32) int { return cmpRows(int(a), int(b)) })
	return perm, nil
}

// rowComparator evaluates keys over rec and returns a three-way compare of
// two rows by them, plus a release for the evaluated keys.
func rowComparator(ctx context.Context, mem memory.Allocator, rec arrow.Record, keys []SortKey) (func(i, j int) int, func(), error) {
	cols, err := evalSortKeys(ctx, mem, rec, keys)
	if err != nil {
		return nil, nil, err
	}
	release := func() { releaseArrays(cols) }
	c, err := crossComparator(cols, cols, keys)
	if err != nil {
		release()
		return nil, nil, err
	}
	return c, release, nil
}

// evalSortKeys evaluates keys over rec, dictionaries decoded; the caller
// releases the arrays.
func evalSortKeys(ctx context.Context, mem memory.Allocator, rec arrow.Record, keys []SortKey) ([]arrow.Array, error) {
	cols := make([]arrow.Array, 0, len(keys))
	for _, key := range keys {
		a, err := key.Expr.Eval(ctx, mem, rec)
		if err != nil {
			releaseArrays(cols)
			return nil, fmt.Errorf("sort key %s: %w", key.Expr, err)
		}
		if a.DataType().ID() == arrow.DICTIONARY {
			d, err := decodeDictionary(ctx, mem, a)
			a.Release()
			if err != nil {
				releaseArrays(cols)
				return nil, err
			}
			a = d
		}
		cols = append(cols, a)
	}
	return cols, nil
}

// crossComparator compares row i of the key columns a with row j of the
// key columns b (evaluated by evalSortKeys for the same keys).
func crossComparator(a, b []arrow.Array, keys []SortKey) (func(i, j int) int, error) {
	cmps := make([]func(i, j int) int, len(keys))
	for k, key := range keys {
		c, err := keyCompare2(a[k], b[k], key)
		if err != nil {
			return nil, fmt.Errorf("sort key %s: %w", key.Expr, err)
		}
		cmps[k] = c
	}
	if len(cmps) == 1 {
		return cmps[0], nil
	}
	return func(i, j int) int {
		for _, c := range cmps {
			if r := c(i, j); r != 0 {
				return r
			}
		}
		return 0
	}, nil
}

// keyCompare wraps a value comparison with the key's direction and NULL
// placement.
func keyCompare(a arrow.Array, key SortKey) (func(i, j int) int, error) {
	return keyCompare2(a, a, key)
}

// keyCompare2 is keyCompare between row i of a and row j of b, arrays of
// one type (top-N compares a batch with the rows it keeps).
func keyCompare2(a, b arrow.Array, key SortKey) (func(i, j int) int, error) {
	vc, err := valueCompare2(a, b)
	if err != nil {
		return nil, err
	}
	sign := 1
	if key.Desc {
		sign = -1
	}
	nullSide := 1 // NULL sorts after values
	if key.NullsFirst {
		nullSide = -1
	}
	if a.NullN() == 0 && b.NullN() == 0 {
		if sign == 1 {
			return vc, nil
		}
		return func(i, j int) int { return -vc(i, j) }, nil
	}
	return func(i, j int) int {
		ni, nj := a.IsNull(i), b.IsNull(j)
		switch {
		case ni && nj:
			return 0
		case ni:
			return nullSide
		case nj:
			return -nullSide
		}
		return sign * vc(i, j)
	}, nil
}

// valueCompare returns a three-way comparison of the (non-NULL) values at
// rows i and j of a.
func valueCompare(a arrow.Array) (func(i, j int) int, error) { return valueCompare2(a, a) }

// valueCompare2 returns a three-way comparison of the (non-NULL) values at
// row i of a and row j of b, arrays of one type; the type switch is done
// here, once, so the comparison is a typed one.
func valueCompare2(a, b arrow.Array) (func(i, j int) int, error) {
	if !arrow.TypeEqual(a.DataType(), b.DataType()) {
		return nil, fmt.Errorf("cannot compare %s with %s", a.DataType(), b.DataType())
	}
	switch a.DataType().ID() {
	case arrow.BOOL:
		x, y := a.(*array.Boolean), b.(*array.Boolean)
		return func(i, j int) int {
			p, q := x.Value(i), y.Value(j)
			switch {
			case p == q:
				return 0
			case !p:
				return -1
			}
			return 1
		}, nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		at, err := stringAccessor(a)
		if err != nil {
			return nil, err
		}
		bt, err := stringAccessor(b)
		if err != nil {
			return nil, err
		}
		return func(i, j int) int { return cmp.Compare(at(i), bt(j)) }, nil
	case arrow.FLOAT32:
		return fixedCompare[float32](a, b), nil
	case arrow.FLOAT64:
		v := arrow.GetValues[float64](a.Data(), 1)
		w := arrow.GetValues[float64](b.Data(), 1)
		return func(i, j int) int { return valcmp.Floats(v[i], w[j]) }, nil
	case arrow.DECIMAL128:
		v := arrow.GetValues[decimal128.Num](a.Data(), 1)
		w := arrow.GetValues[decimal128.Num](b.Data(), 1)
		return func(i, j int) int { return v[i].Cmp(w[j]) }, nil
	case arrow.UINT8:
		return fixedCompare[uint8](a, b), nil
	case arrow.UINT16:
		return fixedCompare[uint16](a, b), nil
	case arrow.UINT32:
		return fixedCompare[uint32](a, b), nil
	case arrow.UINT64:
		return fixedCompare[uint64](a, b), nil
	case arrow.NULL:
		return func(i, j int) int { return 0 }, nil
	case arrow.INTERVAL_MONTH_DAY_NANO:
		x, y := a.(*array.MonthDayNanoInterval), b.(*array.MonthDayNanoInterval)
		return func(i, j int) int { return expr.CompareIntervals(x.Value(i), y.Value(j)) }, nil
	}
	if !intLike(a.DataType()) {
		return nil, fmt.Errorf("cannot order values of type %s", a.DataType())
	}
	switch a.DataType().(arrow.FixedWidthDataType).BitWidth() {
	case 8:
		return fixedCompare[int8](a, b), nil
	case 16:
		return fixedCompare[int16](a, b), nil
	case 32:
		return fixedCompare[int32](a, b), nil
	}
	return fixedCompare[int64](a, b), nil
}

func fixedCompare[T ordered](a, b arrow.Array) func(i, j int) int {
	v := arrow.GetValues[T](a.Data(), 1)
	w := arrow.GetValues[T](b.Data(), 1)
	return func(i, j int) int { return cmp.Compare(v[i], w[j]) }
}
