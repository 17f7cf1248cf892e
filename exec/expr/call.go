package expr

import (
	"context"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// operand is one evaluated argument: either a whole array or, for Literal
// arguments of scalar-aware kernels, the constant itself so `value > 10`
// never materialises a column of tens.
type operand struct {
	arr    arrow.Array // nil when scalar
	scalar any         // the literal value when arr == nil (nil = NULL)
	typ    arrow.DataType
}

func (o operand) isScalar() bool { return o.arr == nil }

// evalCtx carries what a kernel needs besides its operands.
type evalCtx struct {
	ctx  context.Context
	mem  memory.Allocator
	n    int            // rows in the batch
	ret  arrow.DataType // result type
	call *call          // for error messages
}

// kernel computes a call over one batch.
type kernel func(ec *evalCtx, args []operand) (arrow.Array, error)

// bound is what binding a function to its argument types yields.
type bound struct {
	k kernel
	// scalarAware kernels accept scalar operands (at most all but one;
	// Call.Eval materialises the first argument when all are scalar).
	scalarAware bool
}

// binder checks argument types and returns the kernel, precompiling
// whatever depends only on constant arguments (LIKE patterns, IN sets).
type binder func(args []Expr, ret arrow.DataType) (bound, error)

var registry map[string]binder

func init() {
	registry = map[string]binder{}
	registerArith()
	registerInterval()
	registerLists()
	registerCompare()
	registerLogic()
	registerCond()
	registerLike()
	registerIn()
	registerCast()
	registerStrings()
	registerMath()
	registerTime()
	registerCheck()
	registerStringFuncs()
	registerRegex()
	registerJSON()
	registerTimeFuncs()
	registerMathFuncs()
	registerAggArgs()
}

// call is a function applied to argument expressions.
type call struct {
	name string
	args []Expr
	ret  arrow.DataType
	b    bound
	pos  Pos // where the SQL text has the call; zero when unknown
}

// Call returns the expression name(args...) with result type ret. It fails
// for unknown names and for argument types the function cannot take, so
// type errors surface at plan time rather than on the first batch.
func Call(name string, args []Expr, ret arrow.DataType) (Expr, error) {
	bind, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("call %s: %w", name, ErrUnknownFunction)
	}
	if ret == nil {
		return nil, fmt.Errorf("call %s: no result type", name)
	}
	for i, a := range args {
		if a == nil {
			return nil, fmt.Errorf("call %s: argument %d is nil", name, i+1)
		}
	}
	b, err := bind(args, ret)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", name, err)
	}
	return &call{name: name, args: args, ret: ret, b: b}, nil
}

// Eval implements Expr.
func (c *call) Eval(ctx context.Context, mem memory.Allocator, rec arrow.Record) (arrow.Array, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := int(rec.NumRows())
	if n == 0 {
		return array.MakeArrayOfNull(mem, c.ret, 0), nil
	}
	ops := make([]operand, len(c.args))
	defer func() {
		for _, o := range ops {
			if o.arr != nil {
				o.arr.Release()
			}
		}
	}()
	allScalar := true
	for i, a := range c.args {
		ops[i].typ = a.DataType()
		if l, ok := a.(*literal); ok && c.b.scalarAware {
			ops[i].scalar = l.value
			continue
		}
		allScalar = false
		arr, err := a.Eval(ctx, mem, rec)
		if err != nil {
			return nil, c.pos.wrap(err)
		}
		if arr.Len() != n {
			arr.Release()
			return nil, fmt.Errorf("%s: argument %d has %d rows, batch has %d", c, i+1, arr.Len(), n)
		}
		ops[i].arr = arr
	}
	if allScalar && len(ops) > 0 {
		arr, err := broadcast(mem, ops[0].typ, ops[0].scalar, n)
		if err != nil {
			return nil, err
		}
		ops[0].arr = arr
	}
	ec := &evalCtx{ctx: ctx, mem: mem, n: n, ret: c.ret, call: c}
	out, err := c.b.k(ec, ops)
	if err != nil {
		return nil, c.pos.wrap(err)
	}
	return out, nil
}

// DataType implements Expr.
func (c *call) DataType() arrow.DataType { return c.ret }

var infix = map[string]string{
	"add": "+", "sub": "-", "mul": "*", "div": "/", "intdiv": "DIV", "mod": "%",
	"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
	"and": "AND", "or": "OR", "like": "LIKE",
}

// String implements Expr: infix for operators, name(args) otherwise.
func (c *call) String() string {
	if op, ok := infix[c.name]; ok && len(c.args) == 2 {
		return wrapParen(c.args[0]) + " " + op + " " + wrapParen(c.args[1])
	}
	strs := make([]string, len(c.args))
	for i, a := range c.args {
		strs[i] = a.String()
	}
	switch c.name {
	case "neg":
		return "-" + wrapParen(c.args[0])
	case "not":
		return "NOT " + wrapParen(c.args[0])
	case "is_null":
		return wrapParen(c.args[0]) + " IS NULL"
	case "is_not_null":
		return wrapParen(c.args[0]) + " IS NOT NULL"
	case "in":
		if len(strs) > 0 {
			return wrapParen(c.args[0]) + " IN (" + strings.Join(strs[1:], ", ") + ")"
		}
	case "cast":
		if len(strs) == 1 {
			return "CAST(" + strs[0] + " AS " + sqlTypeName(c.ret) + ")"
		}
	case "case":
		var sb strings.Builder
		sb.WriteString("CASE")
		i := 0
		for ; i+1 < len(strs); i += 2 {
			sb.WriteString(" WHEN " + strs[i] + " THEN " + strs[i+1])
		}
		if i < len(strs) {
			sb.WriteString(" ELSE " + strs[i])
		}
		sb.WriteString(" END")
		return sb.String()
	}
	return c.name + "(" + strings.Join(strs, ", ") + ")"
}

func wrapParen(e Expr) string {
	if c, ok := e.(*call); ok {
		if _, inf := infix[c.name]; inf {
			return "(" + c.String() + ")"
		}
	}
	return e.String()
}

// TypeName is t's SQL name in messages (BIGINT, DECIMAL(38,2)), for
// operators that report data errors the way expressions do.
func TypeName(t arrow.DataType) string { return sqlTypeName(t) }

// sqlTypeName is the MySQL-style name used in messages and EXPLAIN.
func sqlTypeName(t arrow.DataType) string {
	switch t.ID() {
	case arrow.INT32:
		return "INT"
	case arrow.INT64:
		return "BIGINT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.DECIMAL128:
		d := t.(*arrow.Decimal128Type)
		return fmt.Sprintf("DECIMAL(%d,%d)", d.Precision, d.Scale)
	case arrow.STRING, arrow.LARGE_STRING:
		return "VARCHAR"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.TIMESTAMP:
		return "TIMESTAMP"
	case arrow.DATE32:
		return "DATE"
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return "INTERVAL"
	case arrow.LIST:
		return sqlTypeName(t.(*arrow.ListType).Elem()) + "[]"
	}
	return strings.ToUpper(t.String())
}

// argTypes checks the argument count is within [min, max] (max < 0 means
// unbounded) and returns the argument types.
func argTypes(args []Expr, min, max int) ([]arrow.DataType, error) {
	if len(args) < min || (max >= 0 && len(args) > max) {
		if min == max {
			return nil, fmt.Errorf("takes %d arguments, got %d", min, len(args))
		}
		return nil, fmt.Errorf("takes %d to %d arguments, got %d", min, max, len(args))
	}
	ts := make([]arrow.DataType, len(args))
	for i, a := range args {
		ts[i] = a.DataType()
	}
	return ts, nil
}

// literalValue reports whether e is a literal and its value.
func literalValue(e Expr) (any, bool) {
	l, ok := e.(*literal)
	if !ok {
		return nil, false
	}
	return l.value, true
}

// materialize turns a scalar operand into an array of n rows (a no-op,
// retained, for array operands); the caller releases the result.
func materialize(ec *evalCtx, o operand) (arrow.Array, error) {
	if o.arr != nil {
		o.arr.Retain()
		return o.arr, nil
	}
	return broadcast(ec.mem, o.typ, o.scalar, ec.n)
}

func unsupported(name string, ts ...arrow.DataType) error {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = sqlTypeName(t)
	}
	return fmt.Errorf("%s(%s): %w", name, strings.Join(names, ", "), ErrUnsupportedType)
}
