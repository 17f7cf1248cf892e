// Package planner turns parsed SQL queries into executable plans: it keeps
// the catalog of sources and sinks, binds names and types, builds a logical
// plan, optimises it with rewrite rules and lowers it to a physical plan
// whose nodes map one to one onto executor operators.
//
// # Types and coercion
//
// SQL types map to Arrow types: BIGINT→Int64, INT→Int32, DOUBLE→Float64,
// DECIMAL(p,s)→Decimal128(p,s), VARCHAR→String, BOOLEAN→Boolean,
// TIMESTAMP→Timestamp(µs, no time zone), DATE→Date32, and INTERVAL literals
// →MonthDayNanoInterval.
//
// Mixed operands are coerced MySQL-style, so the executor never sees two
// argument types in one arithmetic or comparison call (the planner inserts
// explicit `cast` calls):
//   - INT op BIGINT → BIGINT
//   - integer op DOUBLE → DOUBLE; integer op DECIMAL → DECIMAL
//   - DECIMAL op DOUBLE → DOUBLE
//   - `/` always yields DOUBLE (DuckDB-like, so 1/2 = 0.5); DIV is integer
//     division and yields BIGINT
//   - comparing a string with a number compares both as DOUBLE
//   - a string literal compared with a TIMESTAMP or DATE is converted to that
//     type while binding (an unparsable literal is a bind error at its
//     position); a string column against a time column is cast
//   - DATE vs TIMESTAMP compares as TIMESTAMP
//   - TIMESTAMP ± INTERVAL → TIMESTAMP, DATE ± INTERVAL → DATE
//
// Arithmetic on strings or booleans, SUM/AVG of non-numbers and the like are
// bind errors carrying the position of the offending expression.
package planner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/sluicesql/sluice/sql"
)

// Arrow types of the SQL types, shared so that type comparisons are cheap.
var (
	TypeBigInt    arrow.DataType = arrow.PrimitiveTypes.Int64
	TypeInt       arrow.DataType = arrow.PrimitiveTypes.Int32
	TypeDouble    arrow.DataType = arrow.PrimitiveTypes.Float64
	TypeVarchar   arrow.DataType = arrow.BinaryTypes.String
	TypeBoolean   arrow.DataType = arrow.FixedWidthTypes.Boolean
	TypeTimestamp arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond}
	TypeDate      arrow.DataType = arrow.FixedWidthTypes.Date32
	TypeInterval  arrow.DataType = arrow.FixedWidthTypes.MonthDayNanoInterval
	TypeNull      arrow.DataType = arrow.Null
)

// ParseType maps a type name as CREATE SOURCE and CAST accept it
// (sql.NormalizeType reads it: BIGINT, INTEGER, VARCHAR(20), DECIMAL(p,s),
// DOUBLE PRECISION, SIGNED, …; one table of names for both) to its Arrow
// type.
func ParseType(name string) (arrow.DataType, error) {
	norm, err := sql.NormalizeType(name)
	if err != nil {
		var se *sql.Error
		if errors.As(err, &se) {
			return nil, errors.New(se.Msg)
		}
		return nil, err
	}
	if elem, ok := strings.CutSuffix(norm, "[]"); ok {
		t, err := ParseType(elem)
		if err != nil {
			return nil, err
		}
		return arrow.ListOf(t), nil
	}
	base, args := norm, ""
	if i := strings.IndexByte(norm, '('); i >= 0 {
		base, args = norm[:i], norm[i+1:len(norm)-1]
	}
	switch base {
	case "BIGINT":
		return TypeBigInt, nil
	case "INT":
		return TypeInt, nil
	case "DOUBLE":
		return TypeDouble, nil
	case "VARCHAR":
		return TypeVarchar, nil
	case "BOOLEAN":
		return TypeBoolean, nil
	case "TIMESTAMP":
		return TypeTimestamp, nil
	case "DATE":
		return TypeDate, nil
	case "DECIMAL", "NUMERIC":
		p, s := int32(10), int32(0)
		if args != "" {
			parts := strings.Split(args, ",")
			if len(parts) > 2 {
				return nil, fmt.Errorf("malformed type %q", name)
			}
			v, err := strconv.Atoi(strings.TrimSpace(parts[0]))
			if err != nil {
				return nil, fmt.Errorf("malformed type %q: %w", name, err)
			}
			p = int32(v)
			if len(parts) == 2 {
				v, err := strconv.Atoi(strings.TrimSpace(parts[1]))
				if err != nil {
					return nil, fmt.Errorf("malformed type %q: %w", name, err)
				}
				s = int32(v)
			}
		}
		if p < 1 || p > 38 || s < 0 || s > p {
			return nil, fmt.Errorf("invalid type %q: DECIMAL needs 1 <= precision <= 38 and 0 <= scale <= precision", name)
		}
		return &arrow.Decimal128Type{Precision: p, Scale: s}, nil
	}
	return nil, fmt.Errorf("unknown type %q", name)
}

// TypeName renders an Arrow type as its SQL name (BIGINT, DECIMAL(10,2), …);
// DESCRIBE and error messages use it.
func TypeName(t arrow.DataType) string {
	if t == nil {
		return "NULL"
	}
	switch t.ID() {
	case arrow.INT64:
		return "BIGINT"
	case arrow.INT32:
		return "INT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.STRING:
		return "VARCHAR"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.TIMESTAMP:
		return "TIMESTAMP"
	case arrow.DATE32:
		return "DATE"
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("DECIMAL(%d,%d)", d.Precision, d.Scale)
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return "INTERVAL"
	case arrow.NULL:
		return "NULL"
	case arrow.LIST:
		return TypeName(t.(*arrow.ListType).Elem()) + "[]"
	}
	return strings.ToUpper(t.String())
}

func isInteger(t arrow.DataType) bool {
	return t.ID() == arrow.INT64 || t.ID() == arrow.INT32
}

func isDecimal(t arrow.DataType) bool { return t.ID() == arrow.DECIMAL128 }

func isNumeric(t arrow.DataType) bool {
	return isInteger(t) || isDecimal(t) || t.ID() == arrow.FLOAT64
}

func isTemporal(t arrow.DataType) bool {
	return t.ID() == arrow.TIMESTAMP || t.ID() == arrow.DATE32
}

func isString(t arrow.DataType) bool { return t.ID() == arrow.STRING }

func isNull(t arrow.DataType) bool { return t.ID() == arrow.NULL }

// decimalOf views a numeric type as a decimal: integers get enough digits
// for their range.
func decimalOf(t arrow.DataType) (p, s int32) {
	switch t.ID() {
	case arrow.INT32:
		return 10, 0
	case arrow.INT64:
		return 19, 0
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return d.Precision, d.Scale
	}
	return 38, 0
}

func makeDecimal(intDigits, scale int32) arrow.DataType {
	if scale > 38 {
		scale = 38
	}
	p := intDigits + scale
	if p > 38 {
		p = 38
	}
	if p < 1 {
		p = 1
	}
	return &arrow.Decimal128Type{Precision: p, Scale: scale}
}

// numericCommon is the type two numeric operands are computed in.
func numericCommon(a, b arrow.DataType) arrow.DataType {
	switch {
	case arrow.TypeEqual(a, b):
		return a
	case a.ID() == arrow.FLOAT64 || b.ID() == arrow.FLOAT64:
		return TypeDouble
	case isDecimal(a) || isDecimal(b):
		pa, sa := decimalOf(a)
		pb, sb := decimalOf(b)
		return makeDecimal(max(pa-sa, pb-sb), max(sa, sb))
	default: // both integers, different widths
		return TypeBigInt
	}
}

// compareCommon is the type two operands of a comparison (or of IN, CASE
// results, COALESCE, UNION columns) are converted to; ok is false when they
// cannot be compared.
func compareCommon(a, b arrow.DataType) (arrow.DataType, bool) {
	switch {
	case isNull(a):
		return b, true
	case isNull(b):
		return a, true
	case arrow.TypeEqual(a, b):
		return a, true
	case isNumeric(a) && isNumeric(b):
		return numericCommon(a, b), true
	case isString(a) && isNumeric(b), isNumeric(a) && isString(b):
		return TypeDouble, true
	case isTemporal(a) && isTemporal(b):
		return TypeTimestamp, true
	case isString(a) && isTemporal(b):
		return b, true
	case isTemporal(a) && isString(b):
		return a, true
	}
	return nil, false
}

// setOpCommon is the type a column of UNION, INTERSECT or EXCEPT takes
// when its sides differ. It is compareCommon's rule except where a side is
// a string: the other side's values are printed as strings (VARCHAR), as
// DuckDB and MySQL do, rather than the strings parsed as numbers (which
// fails on "books"); and a BOOLEAN beside an integer becomes the integer.
func setOpCommon(a, b arrow.DataType) (arrow.DataType, bool) {
	switch {
	case isNull(a) || isNull(b) || arrow.TypeEqual(a, b):
		return compareCommon(a, b)
	case isList(a) && isList(b):
		// Element by element, as DuckDB: [1] UNION ALL [2.5] is DECIMAL(2,1)[].
		t, ok := setOpCommon(a.(*arrow.ListType).Elem(), b.(*arrow.ListType).Elem())
		if !ok {
			return nil, false
		}
		return arrow.ListOf(t), true
	case isList(a) || isList(b):
		return nil, false
	case isString(a) || isString(b):
		return TypeVarchar, true
	case a.ID() == arrow.BOOL && isInteger(b):
		return b, true
	case b.ID() == arrow.BOOL && isInteger(a):
		return a, true
	}
	return compareCommon(a, b)
}

// canCast reports whether an explicit or implicit cast from → to is defined
// for the executor.
func canCast(from, to arrow.DataType) bool {
	if isNull(from) || arrow.TypeEqual(from, to) {
		return true
	}
	switch {
	case isList(from) && isString(to):
		return true // printed as DuckDB prints a list, [1, 2, 3]
	case isString(from) && isList(to):
		// Read as DuckDB reads '[1, 2, 3]', each element cast.
		return canCast(from, to.(*arrow.ListType).Elem())
	case isList(from) && isList(to):
		// Element by element, as DuckDB: BIGINT[] → INT[], INT[] → VARCHAR[].
		return canCast(from.(*arrow.ListType).Elem(), to.(*arrow.ListType).Elem())
	case isList(from) || isList(to):
		return false
	case isNumeric(to):
		return isNumeric(from) || isString(from) || from.ID() == arrow.BOOL
	case isString(to):
		return !isNull(to)
	case to.ID() == arrow.BOOL:
		return isNumeric(from) || isString(from)
	case isTemporal(to):
		return isTemporal(from) || isString(from)
	}
	return false
}

// narrowFor is the type an integer literal is treated as when combined
// with an operand of type other: small enough for INT next to an INT, and
// only as many digits as it has next to a DECIMAL. So `n = 1` needs no cast
// of the INT column n and `price * 2` stays DECIMAL(10,2)-sized.
func narrowFor(e Expr, other arrow.DataType) arrow.DataType {
	l, ok := e.(*Literal)
	if !ok || other == nil {
		return e.Type()
	}
	v, ok := l.Value.(int64)
	if !ok {
		return e.Type()
	}
	switch other.ID() {
	case arrow.INT32:
		if v >= -1<<31 && v < 1<<31 {
			return TypeInt
		}
	case arrow.DECIMAL128:
		digits := int32(len(strconv.FormatInt(v, 10)))
		if v < 0 {
			digits--
		}
		return &arrow.Decimal128Type{Precision: digits, Scale: 0}
	}
	return e.Type()
}

// isList reports whether t is a list (ARRAY_AGG's result).
func isList(t arrow.DataType) bool { return t != nil && t.ID() == arrow.LIST }

// checkListKeys refuses a list where rows are grouped, sorted or made
// distinct (GROUP BY, ORDER BY, DISTINCT, UNION, INTERSECT, EXCEPT,
// PARTITION BY): lists have no order or equality in sluice yet, so no
// operator gets a key it cannot hash or compare.
func checkListKeys(p Plan) error {
	refuse := func(what string, t arrow.DataType) error {
		return fmt.Errorf("cannot %s a list (%s): lists can be selected, not grouped, sorted or compared", what, TypeName(t))
	}
	sortKeys := func(keys []SortKey) error {
		for _, k := range keys {
			if isList(k.Expr.Type()) {
				return refuse("order by", k.Expr.Type())
			}
		}
		return nil
	}
	var err error
	switch x := p.(type) {
	case *Aggregate:
		for _, k := range x.Keys {
			if isList(k.Type()) {
				err = refuse("group by", k.Type())
			}
		}
	case *Sort:
		err = sortKeys(x.Keys)
	case *TopN:
		err = sortKeys(x.Keys)
	case *Distinct:
		for _, f := range x.Input.Schema().Fields {
			if isList(f.Type) {
				err = refuse("take DISTINCT rows of", f.Type)
			}
		}
	case *Analytic:
		for _, k := range x.Partition {
			if isList(k.Type()) {
				err = refuse("partition by", k.Type())
			}
		}
		if err == nil {
			err = sortKeys(x.Order)
		}
	}
	if err != nil {
		return err
	}
	for _, c := range p.Children() {
		if err := checkListKeys(c); err != nil {
			return err
		}
	}
	return nil
}

func isInterval(t arrow.DataType) bool { return t.ID() == arrow.INTERVAL_MONTH_DAY_NANO }
