package expr

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
)

func decScale(t arrow.DataType) int32 {
	if d, ok := t.(*arrow.Decimal128Type); ok {
		return d.Scale
	}
	return 0
}

func decPrec(t arrow.DataType) int32 {
	if d, ok := t.(*arrow.Decimal128Type); ok {
		return d.Precision
	}
	return 38
}

// rescaleDec changes the scale of v, rounding half away from zero when the
// scale shrinks; ok is false on 128-bit overflow.
func rescaleDec(v decimal128.Num, from, to int32) (decimal128.Num, bool) {
	switch {
	case from == to:
		return v, true
	case to > from:
		k := to - from
		if k > 38 {
			return v, false
		}
		if k <= 38 && !v.Abs().Less(decimal128.GetScaleMultiplier(int(38-k))) {
			// Might not fit: go through big.Int to be sure.
			b := v.BigInt()
			b.Mul(b, decimal128.GetScaleMultiplier(int(k)).BigInt())
			if b.BitLen() > 126 {
				return v, false
			}
			return decimal128.FromBigInt(b), true
		}
		return v.Mul(decimal128.GetScaleMultiplier(int(k))), true
	default:
		k := from - to
		if k > 38 {
			return decimal128.Num{}, true
		}
		if hi := v.HighBits(); (hi == 0 && v.LowBits() < 1<<63) || (hi == -1 && v.LowBits() >= 1<<63) {
			if k <= 18 {
				x := int64(v.LowBits())
				m := int64(1)
				for i := int32(0); i < k; i++ {
					m *= 10
				}
				q, r := x/m, x%m
				if r < 0 {
					r = -r
				}
				if 2*r >= m {
					if x < 0 {
						q--
					} else {
						q++
					}
				}
				return decimal128.FromI64(q), true
			}
		}
		return v.ReduceScaleBy(k, true), true
	}
}

// mulDec multiplies two unscaled decimals; ok is false when the product
// needs more than 126 bits of magnitude (beyond DECIMAL(38)). Operands that
// fit in 64 bits (every DECIMAL(18) and most values of wider types) take
// one 64×64→128-bit multiply; others go through big.Int.
func mulDec(p, q decimal128.Num) (decimal128.Num, bool) {
	if x, okx := int64Of(p); okx {
		if y, oky := int64Of(q); oky {
			neg := (x < 0) != (y < 0)
			hi, lo := bits.Mul64(absU64(x), absU64(y))
			if hi>>62 != 0 {
				return decimal128.Num{}, false
			}
			r := decimal128.New(int64(hi), lo)
			if neg {
				r = r.Negate()
			}
			return r, true
		}
	}
	bp := p.BigInt()
	bp.Mul(bp, q.BigInt())
	if bp.BitLen() > 126 {
		return decimal128.Num{}, false
	}
	return decimal128.FromBigInt(bp), true
}

// int64Of returns v as an int64 when it fits.
func int64Of(v decimal128.Num) (int64, bool) {
	hi, lo := v.HighBits(), v.LowBits()
	if (hi == 0 && lo < 1<<63) || (hi == -1 && lo >= 1<<63) {
		return int64(lo), true
	}
	return 0, false
}

// absU64 is |x| as an unsigned number (exact for math.MinInt64).
func absU64(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

// decimalArith implements DECIMAL add/sub/mul/div/mod/intdiv. Results are
// rescaled to the result scale the planner chose and must fit its
// precision, else the call fails like MySQL's "DECIMAL value is out of
// range". Division or modulo by zero is NULL.
func decimalArith(ec *evalCtx, op string, x, y operand) (arrow.Array, error) {
	n := ec.n
	if nullScalar(x, y) {
		return array.MakeArrayOfNull(ec.mem, ec.ret, n), nil
	}
	sa, sb := decScale(x.typ), decScale(y.typ)
	sr, pr := decScale(ec.ret), decPrec(ec.ret)
	a, b := sideOf[decimal128.Num](x), sideOf[decimal128.Num](y)
	validity := ownedValidity(ec.mem, n, arrs(x, y)...)
	vb := validity.Bytes()
	retInt := ec.ret.ID() == arrow.INT64
	buf, out := newFixed[decimal128.Num](ec.mem, n)
	var ints []int64
	if retInt {
		buf.Release()
		buf, ints = newFixed[int64](ec.mem, n)
	}
	fail := func() (arrow.Array, error) {
		buf.Release()
		validity.Release()
		tn := "DECIMAL"
		if retInt {
			tn = "BIGINT"
		}
		return nil, outOfRange(ec, tn)
	}
	// Align both sides to a common scale once for add/sub/mod.
	common := sa
	if sb > common {
		common = sb
	}
	if op == "mul" && !retInt {
		// The common case of a multiply (price * 0.908): one tight loop.
		for i := 0; i < n; i++ {
			if !bitutil.BitIsSet(vb, i) {
				continue
			}
			r, ok := mulDec(a.at(i), b.at(i))
			if ok {
				r, ok = rescaleDec(r, sa+sb, sr)
			}
			if !ok || !r.FitsInPrecision(pr) {
				return fail()
			}
			out[i] = r
		}
		return makeArray(ec.ret, n, validity, buf, countNulls(validity, n)), nil
	}
	for i := 0; i < n; i++ {
		if !bitutil.BitIsSet(vb, i) {
			continue
		}
		p, q := a.at(i), b.at(i)
		var r decimal128.Num
		var ok bool
		switch op {
		case "add", "sub":
			if p, ok = rescaleDec(p, sa, sr); !ok {
				return fail()
			}
			if q, ok = rescaleDec(q, sb, sr); !ok {
				return fail()
			}
			if op == "add" {
				r = p.Add(q)
			} else {
				r = q.Negate().Add(p)
			}
		case "mul":
			if r, ok = mulDec(p, q); !ok {
				return fail()
			}
			if r, ok = rescaleDec(r, sa+sb, sr); !ok {
				return fail()
			}
		case "div", "intdiv":
			if q.Sign() == 0 {
				bitutil.ClearBit(vb, i)
				continue
			}
			target := sr
			if op == "intdiv" {
				target = 0
			}
			// p/10^sa ÷ q/10^sb = (p·10^(target+1-sa+sb) / q) / 10^(target+1), then round.
			bp, bq := p.BigInt(), q.BigInt()
			shift := int64(target) + 1 - int64(sa) + int64(sb)
			ten := big.NewInt(10)
			if shift >= 0 {
				bp.Mul(bp, new(big.Int).Exp(ten, big.NewInt(shift), nil))
			} else {
				bq.Mul(bq, new(big.Int).Exp(ten, big.NewInt(-shift), nil))
			}
			quo := new(big.Int).Quo(bp, bq)
			if op == "intdiv" {
				quo.Quo(quo, ten) // truncate
			} else {
				rem := new(big.Int).Rem(quo, ten)
				quo.Quo(quo, ten)
				if rem.CmpAbs(big.NewInt(5)) >= 0 {
					if quo.Sign() < 0 || (quo.Sign() == 0 && rem.Sign() < 0) {
						quo.Sub(quo, big.NewInt(1))
					} else {
						quo.Add(quo, big.NewInt(1))
					}
				}
			}
			if quo.BitLen() > 126 {
				return fail()
			}
			r = decimal128.FromBigInt(quo)
		case "mod":
			if q.Sign() == 0 {
				bitutil.ClearBit(vb, i)
				continue
			}
			p, _ = rescaleDec(p, sa, common)
			q, _ = rescaleDec(q, sb, common)
			_, rem := p.Div(q)
			if r, ok = rescaleDec(rem, common, sr); !ok {
				return fail()
			}
		default:
			return fail()
		}
		if retInt {
			if hi, lo := r.HighBits(), r.LowBits(); !((hi == 0 && lo < 1<<63) || (hi == -1 && lo >= 1<<63)) {
				return fail()
			}
			ints[i] = int64(r.LowBits())
			continue
		}
		if !r.FitsInPrecision(pr) {
			return fail()
		}
		out[i] = r
	}
	return makeArray(ec.ret, n, validity, buf, countNulls(validity, n)), nil
}

func decimalNeg(ec *evalCtx, o []operand) (arrow.Array, error) {
	in := values[decimal128.Num](o[0].arr)
	buf, out := newFixed[decimal128.Num](ec.mem, ec.n)
	for i := range out {
		out[i] = in[i].Negate()
	}
	v, nulls := combineValidity(ec.mem, ec.n, o[0].arr)
	return makeArray(ec.ret, ec.n, v, buf, nulls), nil
}

// maxDecimalExp bounds the exponents ParseDecimal hands to
// decimal128.FromString beyond the mantissa's length: no DECIMAL(38)
// value needs more.
const maxDecimalExp = 2 * 38

// ParseDecimal parses s (`12.5`, `-1e3`) as a DECIMAL(prec, scale).
// decimal128.FromString goes through big.Float, whose cost grows with the
// exponent (35 s for "1e400000000") and which panics once the exponent
// overflows it, so an exponent that far out of range is decided here
// without it: the value overflows (unless its digits are all zero), or
// rounds to zero. Input readers and the cast kernel share it; the
// planner's constant conversion keeps the same rule.
func ParseDecimal(s string, prec, scale int32) (decimal128.Num, error) {
	if strings.Trim(s, "0123456789+-.eE") != "" {
		return decimal128.Num{}, fmt.Errorf("invalid decimal %q", s) // FromString panics on "inf"
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant := s[:i]
		exp, err := strconv.ParseInt(s[i+1:], 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return decimal128.Num{}, fmt.Errorf("invalid decimal %q", s)
		}
		if limit := int64(len(mant) + maxDecimalExp); exp > limit || exp < -limit {
			if _, err := decimal128.FromString(mant, prec, scale); err != nil {
				return decimal128.Num{}, err
			}
			if exp > 0 && strings.ContainsAny(mant, "123456789") {
				return decimal128.Num{}, ErrOutOfRange
			}
			return decimal128.Num{}, nil
		}
	}
	return decimal128.FromString(s, prec, scale)
}
