package expr

import (
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// LIKE matching is byte-wise and case-sensitive (a binary collation): %
// matches any run of characters, _ exactly one UTF-8 character, and \
// escapes the next pattern character.

func registerLike() { registry["like"] = bindLike }

func bindLike(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, 2)
	if err != nil {
		return bound{}, err
	}
	if ts[0].ID() != arrow.STRING || ts[1].ID() != arrow.STRING {
		return bound{}, unsupported("like", ts...)
	}
	var constPat *likePattern
	constNull := false
	if v, ok := literalValue(args[1]); ok {
		if v == nil {
			constNull = true
		} else {
			constPat = compileLike(v.(string))
		}
	}
	return bound{scalarAware: true, k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		if nullScalar(o[0]) || constNull {
			return array.MakeArrayOfNull(ec.mem, arrow.FixedWidthTypes.Boolean, ec.n), nil
		}
		if o[0].isScalar() { // constant value, column pattern: rare
			a, err := materialize(ec, o[0])
			if err != nil {
				return nil, err
			}
			defer a.Release()
			o = []operand{{arr: a, typ: o[0].typ}, o[1]}
		}
		s := o[0].arr.(*array.String)
		buf := newBitmap(ec.mem, ec.n)
		out := buf.Bytes()
		if constPat != nil {
			p := constPat
			packBits(out, ec.n, func(i int) bool { return p.match(s.Value(i)) })
			v, nulls := combineValidity(ec.mem, ec.n, s)
			return makeArray(arrow.FixedWidthTypes.Boolean, ec.n, v, buf, nulls), nil
		}
		pats := o[1].arr.(*array.String)
		var last string
		var p *likePattern
		packBits(out, ec.n, func(i int) bool {
			if pats.IsNull(i) {
				return false
			}
			if ps := pats.Value(i); p == nil || ps != last {
				p, last = compileLike(ps), strings.Clone(ps)
			}
			return p.match(s.Value(i))
		})
		v, nulls := combineValidity(ec.mem, ec.n, s, pats)
		return makeArray(arrow.FixedWidthTypes.Boolean, ec.n, v, buf, nulls), nil
	}}, nil
}

type likeKind int

const (
	likeExact likeKind = iota
	likePrefix
	likeSuffix
	likeContains
	likeGeneral
)

// likePattern is a compiled pattern: a fast path for the common shapes
// ('abc', 'abc%', '%abc', '%abc%'), else a token list for the general
// matcher.
type likePattern struct {
	kind likeKind
	lit  string
	toks []likeTok
}

type likeTok struct {
	kind byte // 'l' literal, '%' any run, '_' one char
	lit  string
}

func compileLike(p string) *likePattern {
	var toks []likeTok
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			toks = append(toks, likeTok{kind: 'l', lit: cur.String()})
			cur.Reset()
		}
	}
	for i := 0; i < len(p); i++ {
		switch ch := p[i]; ch {
		case '\\':
			if i+1 < len(p) {
				i++
				cur.WriteByte(p[i])
			} else {
				cur.WriteByte('\\')
			}
		case '%':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != '%' {
				toks = append(toks, likeTok{kind: '%'})
			}
		case '_':
			flush()
			toks = append(toks, likeTok{kind: '_'})
		default:
			cur.WriteByte(ch)
		}
	}
	flush()
	lp := &likePattern{kind: likeGeneral, toks: toks}
	switch {
	case len(toks) == 0:
		lp.kind, lp.lit = likeExact, ""
	case len(toks) == 1 && toks[0].kind == 'l':
		lp.kind, lp.lit = likeExact, toks[0].lit
	case len(toks) == 1 && toks[0].kind == '%':
		lp.kind, lp.lit = likePrefix, ""
	case len(toks) == 2 && toks[0].kind == 'l' && toks[1].kind == '%':
		lp.kind, lp.lit = likePrefix, toks[0].lit
	case len(toks) == 2 && toks[0].kind == '%' && toks[1].kind == 'l':
		lp.kind, lp.lit = likeSuffix, toks[1].lit
	case len(toks) == 3 && toks[0].kind == '%' && toks[1].kind == 'l' && toks[2].kind == '%':
		lp.kind, lp.lit = likeContains, toks[1].lit
	}
	return lp
}

func (p *likePattern) match(s string) bool {
	switch p.kind {
	case likeExact:
		return s == p.lit
	case likePrefix:
		return strings.HasPrefix(s, p.lit)
	case likeSuffix:
		return strings.HasSuffix(s, p.lit)
	case likeContains:
		return strings.Contains(s, p.lit)
	}
	return matchToks(p.toks, s)
}

// matchToks is the classic wildcard matcher with single-star backtracking:
// on a mismatch, retry from the last % with one more character consumed.
// Linear-ish in practice, O(len(s)·len(toks)) worst case.
func matchToks(toks []likeTok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case '%':
				starT, starS = ti, si
				ti++
				continue
			case '_':
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ti++
					continue
				}
			case 'l':
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		ti, si = starT+1, starS
	}
}
