package stream

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
)

// OverCarry is a window function of an OverAggregate whose frame starts
// at UNBOUNDED PRECEDING and ends at the current row. Its frame reaches
// every earlier row of the partition, which the operator does not keep:
// the rows it drops from a partition's history (every row no bounded
// frame still reaches) are folded into one running value per partition,
// and the kernel's value over the rows kept is combined with it. Every
// dropped row is older than every row kept, and every row still to be
// emitted newer, so the combination is the function over the whole
// frame, as the batch operator computes it.
type OverCarry struct {
	// Col is the function's column in OverSpec.Out.
	Col int
	// Func is "sum", "count", "count_star", "min", "max" or
	// "first_value" (functions whose value over a frame combines from
	// its parts; LAST_VALUE needs none, AVG would need its sum and count).
	Func string
	// Arg is the input column the function reads (-1 for count_star).
	Arg int
}

// carryVal is one partition's running value of one OverCarry: V over
// the rows dropped so far; Has says a row was folded (FIRST_VALUE keeps
// a NULL first value).
type carryVal struct {
	V   Value
	Has bool
}

// checkCarries refuses carries the operator cannot combine.
func checkCarries(spec OverSpec, inCols int) error {
	for _, c := range spec.Carry {
		switch c.Func {
		case "sum", "count", "count_star", "min", "max", "first_value":
		default:
			return fmt.Errorf("stream: %s OVER (… UNBOUNDED PRECEDING …) has no running form", c.Func)
		}
		if c.Col < inCols || c.Col >= spec.Out.NumFields() {
			return fmt.Errorf("stream: OVER carry column %d out of range", c.Col)
		}
		if (c.Arg < 0) != (c.Func == "count_star") || c.Arg >= inCols {
			return fmt.Errorf("stream: OVER carry argument %d out of range", c.Arg)
		}
	}
	return nil
}

// foldCarry folds rows (a partition's rows leaving its history, oldest
// first) into the partition's running values.
func (o *OverAggregate) foldCarry(k string, rows [][]Value) error {
	if len(o.spec.Carry) == 0 || len(rows) == 0 {
		return nil
	}
	cs := o.carry[k]
	if cs == nil {
		cs = make([]carryVal, len(o.spec.Carry))
		for i, c := range o.spec.Carry {
			if c.Func == "count" || c.Func == "count_star" {
				cs[i].V = Int(0)
			}
		}
		o.carry[k] = cs
	}
	for _, r := range rows {
		for i, c := range o.spec.Carry {
			var v Value
			if c.Arg >= 0 {
				v = r[c.Arg]
			}
			var err error
			if cs[i], err = foldOne(c.Func, cs[i], v); err != nil {
				return err
			}
		}
	}
	return nil
}

// foldOne adds one row's argument v to a running value.
func foldOne(fn string, c carryVal, v Value) (carryVal, error) {
	switch fn {
	case "first_value":
		if !c.Has {
			c = carryVal{V: v, Has: true}
		}
		return c, nil
	case "count_star":
		c.V.I++
	case "count":
		if !v.IsNull() {
			c.V.I++
		}
	default:
		if v.IsNull() {
			return c, nil
		}
		if !c.Has || c.V.IsNull() {
			c.V = v
			break
		}
		var err error
		if c.V, err = combineValues(fn, c.V, v); err != nil {
			return c, err
		}
	}
	c.Has = true
	return c, nil
}

// applyCarry combines each carried function's column of the output row r
// (of a partition with running values) with the rows dropped before.
func (o *OverAggregate) applyCarry(r []Value) error {
	if len(o.spec.Carry) == 0 {
		return nil
	}
	cs := o.carry[o.partKey(r)]
	if cs == nil {
		return nil
	}
	for i, c := range o.spec.Carry {
		cv := cs[i]
		if !cv.Has {
			continue
		}
		cur := r[c.Col]
		switch {
		case c.Func == "first_value":
			r[c.Col] = cv.V
		case c.Func == "count" || c.Func == "count_star":
			r[c.Col] = Int(cur.I + cv.V.I)
		case cv.V.IsNull():
		case cur.IsNull():
			r[c.Col] = cv.V
		default:
			v, err := combineValues(c.Func, cv.V, cur)
			if err != nil {
				return err
			}
			r[c.Col] = v
		}
	}
	return nil
}

// combineValues is SUM, MIN or MAX of two non-NULL values of one kind.
func combineValues(fn string, a, b Value) (Value, error) {
	switch fn {
	case "min":
		if Compare(b, a) < 0 {
			return b, nil
		}
		return a, nil
	case "max":
		if Compare(b, a) > 0 {
			return b, nil
		}
		return a, nil
	}
	switch a.K {
	case KInt:
		s := a.I + b.I
		if (s > a.I) != (b.I > 0) {
			return Value{}, fmt.Errorf("SUM OVER (…): %w", exec.ErrOverflow)
		}
		return Int(s), nil
	case KFloat:
		return Float(a.F + b.F), nil
	case KDecimal:
		return Dec(a.Num().Add(b.Num())), nil
	}
	return Value{}, fmt.Errorf("stream: SUM OVER (…) of %v values", a.K)
}

// carryBytes is what the running values hold.
func (o *OverAggregate) carryBytes() int64 {
	var n int64
	for k, cs := range o.carry {
		n += carryKeyBytes(k, cs)
	}
	return n
}

// carryKeyBytes is what partition k's running values cs hold.
func carryKeyBytes(k string, cs []carryVal) int64 {
	n := int64(len(k)) + 16
	for _, c := range cs {
		n += valueBytes(c.V)
	}
	return n
}
