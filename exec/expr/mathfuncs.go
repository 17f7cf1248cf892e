package expr

import (
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

// More math: the DOUBLE functions return NULL outside their domain
// (SQRT(-1), LN(0)), as MySQL does; GREATEST and LEAST are NULL when any
// argument is (MySQL; DuckDB skips NULLs); TRUNCATE cuts toward zero.

func registerMathFuncs() {
	unaryF := map[string]func(float64) (float64, bool){
		"sqrt":  func(x float64) (float64, bool) { return math.Sqrt(x), x >= 0 },
		"ln":    func(x float64) (float64, bool) { return math.Log(x), x > 0 },
		"log10": func(x float64) (float64, bool) { return math.Log10(x), x > 0 },
		"log2":  func(x float64) (float64, bool) { return math.Log2(x), x > 0 },
		"exp":   func(x float64) (float64, bool) { return math.Exp(x), true },
	}
	for name, f := range unaryF {
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if _, err := checkArgs(name, args, 1, 1, isF64); err != nil {
				return bound{}, err
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				x := floatAt(o[0].arr)
				return rowFixed(ec, []arrow.Array{o[0].arr}, func(i int) (float64, bool, error) {
					v, ok := f(x(i))
					if ok && math.IsInf(v, 0) {
						return 0, false, outOfRange(ec, "DOUBLE")
					}
					return v, ok, nil
				})
			}}, nil
		}
	}
	binaryF := map[string]func(a, b float64) (float64, bool){
		"power": func(a, b float64) (float64, bool) {
			v := math.Pow(a, b)
			return v, !math.IsNaN(v)
		},
		// log(base, x), MySQL's two-argument LOG.
		"log": func(b, x float64) (float64, bool) { return math.Log(x) / math.Log(b), x > 0 && b > 0 && b != 1 },
	}
	for name, f := range binaryF {
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if _, err := checkArgs(name, args, 2, 2, isF64); err != nil {
				return bound{}, err
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				x, y := floatAt(a[0]), floatAt(a[1])
				return rowFixed(ec, a, func(i int) (float64, bool, error) {
					v, ok := f(x(i), y(i))
					if ok && math.IsInf(v, 0) {
						return 0, false, outOfRange(ec, "DOUBLE")
					}
					return v, ok, nil
				})
			}}, nil
		}
	}
	registry["sign"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := checkArgs("sign", args, 1, 1, isNumber)
		if err != nil {
			return bound{}, err
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			a := o[0].arr
			var sgn func(i int) int64
			switch ts[0].ID() {
			case arrow.FLOAT64:
				x := floatAt(a)
				sgn = func(i int) int64 { return signOf(x(i) > 0, x(i) < 0) }
			case arrow.DECIMAL128:
				x := values[decimal128.Num](a)
				sgn = func(i int) int64 { return int64(x[i].Sign()) }
			default:
				x := intAt(a)
				sgn = func(i int) int64 { return signOf(x(i) > 0, x(i) < 0) }
			}
			return mapFixed(ec, a, sgn), nil
		}}, nil
	}
	registry["truncate"] = bindTruncate
	for _, name := range []string{"greatest", "least"} {
		want := 1
		if name == "least" {
			want = -1
		}
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			ts, err := argTypes(args, 1, -1)
			if err != nil {
				return bound{}, err
			}
			for _, t := range ts {
				if !arrow.TypeEqual(t, ret) || rowCompare(t) == nil {
					return bound{}, unsupported(name, ts...)
				}
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				a, release, err := materializeAll(ec, o)
				if err != nil {
					return nil, err
				}
				defer release()
				// The result takes row i of the best argument: gather its
				// index per row, then take.
				cmp := rowCompare(ret)
				idx := make([]int, ec.n)
				valid := make([]bool, ec.n)
				for i := 0; i < ec.n; i++ {
					best, ok := 0, true
					for j := range a {
						if a[j].IsNull(i) {
							ok = false
							break
						}
						if j > 0 && cmp(a[j], a[best], i)*want > 0 {
							best = j
						}
					}
					idx[i], valid[i] = best, ok
				}
				return pickRows(ec, a, idx, valid)
			}}, nil
		}
	}
}

func isNumber(t arrow.Type) bool {
	return t == arrow.INT32 || t == arrow.INT64 || t == arrow.FLOAT64 || t == arrow.DECIMAL128
}

func signOf(pos, neg bool) int64 {
	switch {
	case pos:
		return 1
	case neg:
		return -1
	}
	return 0
}

// rowCompare compares row i of two arrays of type t (-1, 0, 1); nil when
// t has no order here.
func rowCompare(t arrow.DataType) func(x, y arrow.Array, i int) int {
	three := func(less, greater bool) int {
		switch {
		case less:
			return -1
		case greater:
			return 1
		}
		return 0
	}
	switch t.ID() {
	case arrow.INT32, arrow.INT64:
		return func(x, y arrow.Array, i int) int { a, b := intAt(x)(i), intAt(y)(i); return three(a < b, a > b) }
	case arrow.FLOAT64:
		return func(x, y arrow.Array, i int) int { a, b := floatAt(x)(i), floatAt(y)(i); return three(a < b, a > b) }
	case arrow.DECIMAL128:
		return func(x, y arrow.Array, i int) int {
			return values[decimal128.Num](x)[i].Cmp(values[decimal128.Num](y)[i])
		}
	case arrow.STRING:
		return func(x, y arrow.Array, i int) int { return strings.Compare(strAt(x)(i), strAt(y)(i)) }
	case arrow.TIMESTAMP, arrow.DATE32:
		return func(x, y arrow.Array, i int) int {
			a, b := temporalMicros(x)(i), temporalMicros(y)(i)
			return three(a < b, a > b)
		}
	}
	return nil
}

// pickRows builds the result whose row i is row i of arrs[idx[i]] (NULL
// where !valid[i]).
func pickRows(ec *evalCtx, arrs []arrow.Array, idx []int, valid []bool) (arrow.Array, error) {
	switch ec.ret.ID() {
	case arrow.STRING:
		return rowStrings(ec, nil, func(i int) (string, bool, error) {
			if !valid[i] {
				return "", false, nil
			}
			return strAt(arrs[idx[i]])(i), true, nil
		})
	case arrow.INT32:
		return rowFixed(ec, nil, func(i int) (int32, bool, error) { return values[int32](arrs[idx[i]])[i], valid[i], nil })
	case arrow.INT64:
		return rowFixed(ec, nil, func(i int) (int64, bool, error) { return values[int64](arrs[idx[i]])[i], valid[i], nil })
	case arrow.FLOAT64:
		return rowFixed(ec, nil, func(i int) (float64, bool, error) { return values[float64](arrs[idx[i]])[i], valid[i], nil })
	case arrow.DECIMAL128:
		return rowFixed(ec, nil, func(i int) (decimal128.Num, bool, error) {
			return values[decimal128.Num](arrs[idx[i]])[i], valid[i], nil
		})
	case arrow.TIMESTAMP:
		return rowFixed(ec, nil, func(i int) (arrow.Timestamp, bool, error) {
			return values[arrow.Timestamp](arrs[idx[i]])[i], valid[i], nil
		})
	case arrow.DATE32:
		return rowFixed(ec, nil, func(i int) (arrow.Date32, bool, error) {
			return values[arrow.Date32](arrs[idx[i]])[i], valid[i], nil
		})
	}
	return nil, unsupported("greatest", ec.ret)
}

// bindTruncate is MySQL's TRUNCATE(x, d): x cut toward zero at d decimal
// places (d < 0 zeroes digits left of the point). The planner picks the
// result type (DECIMAL with scale max(0, min(d, s)) for a literal d).
func bindTruncate(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := checkArgs("truncate", args, 2, 2, isNumber, isInt)
	if err != nil {
		return bound{}, err
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		a, release, err := materializeAll(ec, o)
		if err != nil {
			return nil, err
		}
		defer release()
		d := intAt(a[1])
		switch ts[0].ID() {
		case arrow.FLOAT64:
			x := floatAt(a[0])
			return rowFixed(ec, a, func(i int) (float64, bool, error) {
				p := math.Pow(10, float64(clamp(d(i), -308, 308)))
				if math.IsInf(x(i)*p, 0) {
					return x(i), true, nil
				}
				return math.Trunc(x(i)*p) / p, true, nil
			})
		case arrow.DECIMAL128:
			x := values[decimal128.Num](a[0])
			s, target := decScale(ts[0]), decScale(ec.ret)
			return rowFixed(ec, a, func(i int) (decimal128.Num, bool, error) {
				k := int32(clamp(d(i), -38, 38))
				v := x[i]
				if k < s {
					// Drop s-k digits toward zero, then scale back up.
					div := decimal128.GetScaleMultiplier(int(min(s-k, 38)))
					q, _ := v.Div(div)
					if s-k > 38 {
						q = decimal128.Num{}
					}
					var ok bool
					if v, ok = rescaleDec(q, k, target); !ok {
						return v, false, outOfRange(ec, sqlTypeName(ec.ret))
					}
					return v, true, nil
				}
				r, ok := rescaleDec(v, s, target)
				if !ok {
					return r, false, outOfRange(ec, sqlTypeName(ec.ret))
				}
				return r, true, nil
			})
		default:
			x := intAt(a[0])
			return rowFixed(ec, a, func(i int) (int64, bool, error) {
				k := d(i)
				if k >= 0 {
					return x(i), true, nil
				}
				if k < -18 {
					return 0, true, nil
				}
				p := int64(math.Pow10(int(-k)))
				return x(i) / p * p, true, nil
			})
		}
	}}, nil
}
