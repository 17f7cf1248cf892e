package expr

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sluicesql/sluice/internal/interval"
)

// literal is a constant broadcast to every row. Calls recognise literal
// arguments and use scalar kernels, so the broadcast array is only built
// when a literal is evaluated on its own (e.g. SELECT 1).
type literal struct {
	typ   arrow.DataType
	value any // nil means NULL; otherwise the Go type documented on Literal
}

// Literal returns a constant expression of type typ. value is nil (NULL)
// or: int64 for Int64, int32 for Int32, float64 for Float64, string for
// String, bool for Boolean, decimal128.Num for Decimal128, arrow.Timestamp
// (µs) for Timestamp, arrow.Date32 for Date32 and arrow.MonthDayNanoInterval
// for intervals. Plain Go ints are accepted for the integer types for
// convenience; other mismatches make Eval fail rather than panic.
func Literal(typ arrow.DataType, value any) Expr {
	return &literal{typ: typ, value: normalizeLiteral(typ, value)}
}

// normalizeLiteral converts convenient Go values (int, time-ish ints) to the
// exact Go type the kernels expect for typ, leaving anything else as is.
func normalizeLiteral(typ arrow.DataType, v any) any {
	if v == nil {
		return nil
	}
	var i int64
	isInt := true
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	default:
		isInt = false
	}
	if !isInt {
		return v
	}
	switch typ.ID() {
	case arrow.INT64:
		return i
	case arrow.INT32:
		return int32(i)
	case arrow.FLOAT64:
		return float64(i)
	case arrow.TIMESTAMP:
		return arrow.Timestamp(i)
	case arrow.DATE32:
		return arrow.Date32(i)
	case arrow.DECIMAL128:
		return decimal128.FromI64(i).IncreaseScaleBy(typ.(*arrow.Decimal128Type).Scale)
	}
	return v
}

// Eval implements Expr by materialising the constant rec.NumRows() times.
func (l *literal) Eval(_ context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error) {
	return broadcast(mem, l.typ, l.value, int(rec.NumRows()))
}

// DataType implements Expr.
func (l *literal) DataType() arrow.DataType { return l.typ }

// String implements Expr, rendering the constant as SQL.
func (l *literal) String() string { return formatLiteral(l.typ, l.value) }

func formatLiteral(typ arrow.DataType, v any) string {
	if v == nil {
		return "NULL"
	}
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case bool:
		if x {
			return "TRUE"
		}
		return "FALSE"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case decimal128.Num:
		if dt, ok := typ.(*arrow.Decimal128Type); ok {
			return x.ToString(dt.Scale)
		}
	case arrow.Timestamp:
		return "TIMESTAMP '" + formatTimestamp(int64(x)) + "'"
	case arrow.Date32:
		return "DATE '" + formatDate(int32(x)) + "'"
	case arrow.MonthDayNanoInterval:
		return interval.SQL(x)
	}
	return fmt.Sprint(v)
}

// broadcast builds an array of n copies of v (nil = all NULL).
func broadcast(mem memory.Allocator, typ arrow.DataType, v any, n int) (arrow.Array, error) {
	if v == nil {
		return array.MakeArrayOfNull(mem, typ, n), nil
	}
	bad := func() (arrow.Array, error) {
		return nil, fmt.Errorf("literal %v (%T) does not match type %s", v, v, typ)
	}
	switch typ.ID() {
	case arrow.INT64:
		x, ok := v.(int64)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.INT32:
		x, ok := v.(int32)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.FLOAT64:
		x, ok := v.(float64)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.DECIMAL128:
		x, ok := v.(decimal128.Num)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.TIMESTAMP:
		x, ok := v.(arrow.Timestamp)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.DATE32:
		x, ok := v.(arrow.Date32)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.INTERVAL_MONTH_DAY_NANO:
		x, ok := v.(arrow.MonthDayNanoInterval)
		if !ok {
			return bad()
		}
		return fillFixed(mem, typ, x, n), nil
	case arrow.BOOL:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		buf := newBitmap(mem, n)
		if x {
			setAllBits(buf.Bytes(), n)
		}
		return makeArray(typ, n, nil, buf, 0), nil
	case arrow.STRING:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		b := array.NewStringBuilder(mem)
		defer b.Release()
		b.Reserve(n)
		b.ReserveData(n * len(x))
		for i := 0; i < n; i++ {
			b.Append(x)
		}
		return b.NewArray(), nil
	}
	return nil, fmt.Errorf("literal of type %s: %w", typ, ErrUnsupportedType)
}
