package planner

import (
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"

	"github.com/sluicesql/sluice/internal/valcmp"
)

// FoldConstants evaluates calls whose arguments are all literals (casts of
// string literals to TIMESTAMP/DATE included), simplifies AND/OR with a
// constant side, removes filters that are constantly true, and turns a
// projection over constant rows into constant rows (SELECT 1+1).
func FoldConstants(p Plan) (Plan, bool, error) {
	return transformUp(p, foldNode)
}

func foldNode(p Plan) (Plan, bool, error) {
	switch x := p.(type) {
	case *Filter:
		pred, c, err := foldExpr(x.Pred)
		if err != nil {
			return nil, false, err
		}
		if l, ok := pred.(*Literal); ok && l.Value == true {
			return x.Input, true, nil
		}
		if c {
			return &Filter{Input: x.Input, Pred: pred}, true, nil
		}
	case *Project:
		exprs, c, err := foldList(x.Exprs)
		if err != nil {
			return nil, false, err
		}
		if v, ok := x.Input.(*Values); ok {
			rows := make([][]Expr, len(v.Rows))
			types := make([]arrow.DataType, len(exprs))
			for i, e := range exprs {
				types[i] = e.Type()
			}
			for i, r := range v.Rows {
				row := make([]Expr, len(exprs))
				for j, e := range exprs {
					f, _, err := foldExpr(substitute(e, r))
					if err != nil {
						return nil, false, err
					}
					row[j] = f
				}
				rows[i] = row
			}
			return &Values{Rows: rows, Names: x.Names, Types: types}, true, nil
		}
		if c {
			return &Project{Input: x.Input, Exprs: exprs, Names: x.Names}, true, nil
		}
	case *Join:
		if x.Cond == nil {
			return p, false, nil
		}
		cond, c, err := foldExpr(x.Cond)
		if err != nil {
			return nil, false, err
		}
		if l, ok := cond.(*Literal); ok && l.Value == true {
			cond, c = nil, true
		}
		if c {
			return &Join{Left: x.Left, Right: x.Right, Type: x.Type, Cond: cond}, true, nil
		}
	case *Aggregate:
		keys, c, err := foldList(x.Keys)
		if err != nil {
			return nil, false, err
		}
		aggs := append([]AggCall(nil), x.Aggs...)
		for i, a := range aggs {
			if a.Arg == nil {
				continue
			}
			f, ac, err := foldExpr(a.Arg)
			if err != nil {
				return nil, false, err
			}
			aggs[i].Arg = f
			c = c || ac
		}
		if c {
			return &Aggregate{Input: x.Input, Keys: keys, KeyNames: x.KeyNames, Aggs: aggs}, true, nil
		}
	}
	return p, false, nil
}

func foldList(es []Expr) ([]Expr, bool, error) {
	out := make([]Expr, len(es))
	changed := false
	for i, e := range es {
		f, c, err := foldExpr(e)
		if err != nil {
			return nil, false, err
		}
		out[i], changed = f, changed || c
	}
	return out, changed, nil
}

// foldExpr folds e bottom-up; changed reports whether anything folded.
func foldExpr(e Expr) (Expr, bool, error) {
	c, ok := e.(*Call)
	if !ok {
		return e, false, nil
	}
	changed := false
	args := make([]Expr, len(c.Args))
	allLit := true
	for i, a := range c.Args {
		f, ch, err := foldExpr(a)
		if err != nil {
			return nil, false, err
		}
		args[i], changed = f, changed || ch
		_, isLit := f.(*Literal)
		allLit = allLit && isLit
	}
	call := &Call{Func: c.Func, Args: args, Typ: c.Typ, Pos: c.Pos}
	if s := simplifyLogic(call); s != nil {
		return s, true, nil
	}
	if allLit && len(args) > 0 {
		v, ok, err := evalConst(call)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return v, true, nil
		}
	}
	if changed {
		return call, true, nil
	}
	return c, false, nil
}

func litBool(e Expr) (val, ok bool) {
	l, isLit := e.(*Literal)
	if !isLit {
		return false, false
	}
	b, isBool := l.Value.(bool)
	return b, isBool
}

// simplifyLogic drops constant sides of AND/OR and double negation.
func simplifyLogic(c *Call) Expr {
	if len(c.Args) == 2 && (c.Func == "and" || c.Func == "or") {
		identity := c.Func == "and" // true AND x = x; false OR x = x
		for i := 0; i < 2; i++ {
			if v, ok := litBool(c.Args[i]); ok {
				if v == identity {
					return c.Args[1-i]
				}
				return &Literal{Typ: TypeBoolean, Value: v} // false AND x, true OR x
			}
		}
	}
	if c.Func == "not" && len(c.Args) == 1 {
		if in, ok := c.Args[0].(*Call); ok && in.Func == "not" {
			return in.Args[0]
		}
	}
	return nil
}

// evalConst evaluates a call over literals; ok is false for functions it
// leaves to the executor.
func evalConst(c *Call) (Expr, bool, error) {
	vals := make([]any, len(c.Args))
	anyNull := false
	for i, a := range c.Args {
		vals[i] = a.(*Literal).Value
		anyNull = anyNull || vals[i] == nil
	}
	lit := func(v any) (Expr, bool, error) { return &Literal{Typ: c.Typ, Value: v}, true, nil }
	switch c.Func {
	case "cast":
		if isList(c.Typ) {
			return nil, false, nil // lists have no literals: the executor casts
		}
		v, err := convertValue(vals[0], c.Args[0].Type(), c.Typ)
		if err != nil {
			return nil, false, err
		}
		return lit(v)
	case "is_null":
		return lit(vals[0] == nil)
	case "is_not_null":
		return lit(vals[0] != nil)
	case "not":
		if anyNull {
			return lit(nil)
		}
		return lit(!vals[0].(bool))
	case "and", "or":
		a, aok := vals[0].(bool)
		b, bok := vals[1].(bool)
		if c.Func == "and" {
			if (aok && !a) || (bok && !b) {
				return lit(false)
			}
		} else if (aok && a) || (bok && b) {
			return lit(true)
		}
		if anyNull {
			return lit(nil)
		}
		if c.Func == "and" {
			return lit(a && b)
		}
		return lit(a || b)
	case "coalesce":
		for _, v := range vals {
			if v != nil {
				return lit(v)
			}
		}
		return lit(nil)
	}
	if anyNull {
		switch c.Func {
		case "add", "sub", "mul", "div", "intdiv", "mod", "neg", "eq", "ne", "lt", "le", "gt", "ge",
			"upper", "lower", "length", "concat", "like":
			return lit(nil)
		}
		return nil, false, nil
	}
	switch c.Func {
	case "neg":
		switch v := vals[0].(type) {
		case int64:
			return lit(-v)
		case float64:
			return lit(-v)
		}
	case "add", "sub", "mul", "div", "intdiv", "mod":
		return arithConst(c, vals[0], vals[1])
	case "eq", "ne", "lt", "le", "gt", "ge":
		cmp, ok := valcmp.Compare(vals[0], vals[1])
		if _, dec := vals[0].(decimal128.Num); dec && !arrow.TypeEqual(c.Args[0].Type(), c.Args[1].Type()) {
			ok = false // decimals compare by their digits at one scale only
		}
		if !ok {
			return nil, false, nil
		}
		r := map[string]bool{"eq": cmp == 0, "ne": cmp != 0, "lt": cmp < 0, "le": cmp <= 0, "gt": cmp > 0, "ge": cmp >= 0}[c.Func]
		return lit(r)
	case "upper":
		return lit(strings.ToUpper(vals[0].(string)))
	case "lower":
		return lit(strings.ToLower(vals[0].(string)))
	case "length":
		return lit(int64(len([]rune(vals[0].(string)))))
	case "concat":
		var sb strings.Builder
		for _, v := range vals {
			sb.WriteString(v.(string))
		}
		return lit(sb.String())
	}
	return nil, false, nil
}

func arithConst(c *Call, a, b any) (Expr, bool, error) {
	lit := func(v any) (Expr, bool, error) { return &Literal{Typ: c.Typ, Value: v}, true, nil }
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		if !ok || c.Typ.ID() != arrow.INT64 {
			return nil, false, nil
		}
		switch c.Func {
		case "add":
			if r := x + y; (r > x) == (y > 0) {
				return lit(r)
			}
		case "sub":
			if r := x - y; (r < x) == (y > 0) {
				return lit(r)
			}
		case "mul":
			if x == 0 || y == 0 {
				return lit(int64(0))
			}
			if r := x * y; r/y == x && !(x == -1 && y == -1<<63) && !(y == -1 && x == -1<<63) {
				return lit(r)
			}
		case "intdiv", "mod":
			if y == 0 {
				return lit(nil)
			}
			if y == -1 && x == -1<<63 {
				return nil, false, nil
			}
			if c.Func == "intdiv" {
				return lit(x / y)
			}
			return lit(x % y)
		}
	case float64:
		y, ok := b.(float64)
		if !ok || c.Typ.ID() != arrow.FLOAT64 {
			return nil, false, nil
		}
		switch c.Func {
		case "add":
			return lit(x + y)
		case "sub":
			return lit(x - y)
		case "mul":
			return lit(x * y)
		case "div":
			if y == 0 {
				return lit(nil)
			}
			return lit(x / y)
		}
	}
	return nil, false, nil
}
