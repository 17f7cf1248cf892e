package expr

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/sluicesql/sluice/internal/valcmp"
)

// List functions, DuckDB's: list_value(a, b, …) builds a list of its
// arguments, list_len its length, list_extract(l, i) the element at the
// 1-based position i (negative from the end; NULL past either end),
// list_slice(l, a[, b]) the elements from position a to b inclusive (as
// l[a:b]; negative from the end, clamped to the list; without b to the
// end), list_contains(l, x) whether an element equals x (NULL elements
// never do; NaN equals NaN, as DuckDB).

// listFunc is one list function: check validates the argument types the
// planner bound, eval computes the column over the batch's arguments,
// each materialised to an array of the batch's rows.
type listFunc struct {
	check func(args []Expr, ret arrow.DataType) error
	eval  func(ec *evalCtx, a []arrow.Array) (arrow.Array, error)
}

// listFuncs are the list functions by kernel name; registerLists checks
// the arguments and runs eval through arrayKernel.
var listFuncs = map[string]listFunc{
	"list_value":    {checkListValue, evalListValue},
	"list_len":      {checkListArgs("list_len", 1, 1, nil), evalListLen},
	"list_extract":  {checkListArgs("list_extract", 2, 2, arrow.PrimitiveTypes.Int64), evalListExtract},
	"list_slice":    {checkListArgs("list_slice", 2, 3, arrow.PrimitiveTypes.Int64), evalListSlice},
	"list_contains": {checkListArgs("list_contains", 2, 2, nil), evalListContains},
	"string_slice":  {checkStringSlice, evalStringSlice},
}

func registerLists() {
	for name, f := range listFuncs {
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			if err := f.check(args, ret); err != nil {
				return bound{}, err
			}
			return bound{k: arrayKernel(f.eval)}, nil
		}
	}
}

func checkListValue(args []Expr, ret arrow.DataType) error {
	lt, ok := ret.(*arrow.ListType)
	if !ok || len(args) == 0 {
		return fmt.Errorf("list_value: returns %s", sqlTypeName(ret))
	}
	for _, a := range args {
		if !arrow.TypeEqual(a.DataType(), lt.Elem()) {
			return unsupported("list_value", a.DataType())
		}
	}
	return nil
}

// checkListArgs checks a call of name takes a list first, then lo-1 to
// hi-1 more arguments, each of type rest when rest is set.
func checkListArgs(name string, lo, hi int, rest arrow.DataType) func([]Expr, arrow.DataType) error {
	return func(args []Expr, _ arrow.DataType) error {
		if len(args) < lo || len(args) > hi || args[0].DataType().ID() != arrow.LIST {
			return fmt.Errorf("%s takes a list and %d to %d more arguments", name, lo-1, hi-1)
		}
		for _, a := range args[1:] {
			if rest != nil && !arrow.TypeEqual(a.DataType(), rest) {
				return unsupported(name, a.DataType())
			}
		}
		return nil
	}
}

func evalListValue(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
	all, err := array.Concatenate(a, ec.mem)
	if err != nil {
		return nil, err
	}
	defer all.Release()
	k, n := len(a), ec.n
	idx := make([]int32, 0, k*n)
	offs := make([]int32, n+1)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			idx = append(idx, int32(j*n+i))
		}
		offs[i+1] = int32((i + 1) * k)
	}
	return takeList(ec, all, idx, offs, nil)
}

// takeList builds a list column of ec.n rows of type ec.ret whose
// elements are src's rows idx, row i holding idx[offs[i]:offs[i+1]];
// validity (owned by takeList; nil: no NULL rows) marks the NULL rows.
func takeList(ec *evalCtx, src arrow.Array, idx, offs []int32, validity *memory.Buffer) (arrow.Array, error) {
	vals, err := TakeArray(ec.mem, src, idx)
	if err != nil {
		if validity != nil {
			validity.Release()
		}
		return nil, err
	}
	defer vals.Release()
	ob := memory.NewResizableBuffer(ec.mem)
	ob.Resize(len(offs) * 4)
	copy(arrow.Int32Traits.CastFromBytes(ob.Bytes()), offs)
	nulls := 0
	if validity != nil {
		nulls = countNulls(validity, ec.n)
	}
	data := array.NewData(ec.ret, ec.n, []*memory.Buffer{validity, ob}, []arrow.ArrayData{vals.Data()}, nulls, 0)
	ob.Release()
	if validity != nil {
		validity.Release()
	}
	defer data.Release()
	return array.MakeFromData(data), nil
}

func evalListLen(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
	l := a[0].(*array.List)
	return rowFixed(ec, a, func(i int) (int64, bool, error) {
		s, e := l.ValueOffsets(i)
		return e - s, true, nil
	})
}

func evalListExtract(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
	l, at := a[0].(*array.List), values[int64](a[1])
	idx := make([]int32, ec.n)
	for i := range idx {
		idx[i] = -1
		if l.IsNull(i) || a[1].IsNull(i) {
			continue
		}
		s, e := l.ValueOffsets(i)
		p := at[i]
		switch {
		case p > 0 && p <= e-s:
			idx[i] = int32(s + p - 1)
		case p < 0 && -p <= e-s:
			idx[i] = int32(e + p)
		}
	}
	return TakeArray(ec.mem, l.ListValues(), idx)
}

// evalListSlice is DuckDB's list_slice: positions from 1, a negative one
// counted from the end (-1 the last), the begin clamped to the first
// element and 0 read as 1, the end clamped to the last; begin past end is
// the empty list, and a NULL list or bound gives NULL.
func evalListSlice(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
	l := a[0].(*array.List)
	begin := values[int64](a[1])
	validity := ownedValidity(ec.mem, ec.n, a...)
	vb := validity.Bytes()
	idx := make([]int32, 0, l.ListValues().Len())
	offs := make([]int32, ec.n+1)
	for i := 0; i < ec.n; i++ {
		offs[i+1] = offs[i]
		if !bitutil.BitIsSet(vb, i) {
			continue
		}
		s, e := l.ValueOffsets(i)
		n := e - s
		b, to := begin[i], int64(math.MaxInt64)
		if len(a) > 2 {
			to = values[int64](a[2])[i]
		}
		b, to = sliceBounds(n, b, to)
		for p := b; p <= to; p++ {
			idx = append(idx, int32(s+p-1))
		}
		offs[i+1] = int32(len(idx))
	}
	return takeList(ec, l.ListValues(), idx, offs, validity)
}

// sliceBounds are the 1-based positions from b to to inclusive that
// DuckDB's slice [b:to] of n elements or characters takes: a negative one
// counted from the end (-1 the last), b clamped to 1 (0 read as 1), to
// clamped to n; b past to takes none.
func sliceBounds(n, b, to int64) (int64, int64) {
	if b < 0 {
		b += n + 1
	}
	if to < 0 {
		to += n + 1
	}
	return max(b, 1), min(to, n)
}

func checkStringSlice(args []Expr, _ arrow.DataType) error {
	if len(args) < 2 || len(args) > 3 || args[0].DataType().ID() != arrow.STRING {
		return fmt.Errorf("string_slice takes a string and 1 to 2 more arguments")
	}
	for _, a := range args[1:] {
		if !arrow.TypeEqual(a.DataType(), arrow.PrimitiveTypes.Int64) {
			return unsupported("string_slice", a.DataType())
		}
	}
	return nil
}

// evalStringSlice is DuckDB's slice of a string, s[a:b]: the characters
// from position a to b inclusive, by list_slice's rules (sliceBounds); a
// NULL string or bound gives NULL.
func evalStringSlice(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
	s := a[0].(*array.String)
	begin := values[int64](a[1])
	var end []int64
	if len(a) > 2 {
		end = values[int64](a[2])
	}
	var runes []int // byte offset of each character, then the length
	return rowStrings(ec, a, func(i int) (string, bool, error) {
		v := s.Value(i)
		to := int64(math.MaxInt64)
		if end != nil {
			to = end[i]
		}
		ascii := true
		for k := 0; k < len(v) && ascii; k++ {
			ascii = v[k] < utf8.RuneSelf
		}
		if ascii {
			b, e := sliceBounds(int64(len(v)), begin[i], to)
			if b > e {
				return "", true, nil
			}
			return v[b-1 : e], true, nil
		}
		runes = runes[:0]
		for k := range v {
			runes = append(runes, k)
		}
		runes = append(runes, len(v))
		b, e := sliceBounds(int64(len(runes)-1), begin[i], to)
		if b > e {
			return "", true, nil
		}
		return v[runes[b-1]:runes[e]], true, nil
	})
}

func evalListContains(ec *evalCtx, a []arrow.Array) (arrow.Array, error) {
	l := a[0].(*array.List)
	vals := l.ListValues()
	// Elements and the value have one type (the planner casts).
	eq := equalAt(vals, a[1])
	return rowBools(ec, a, func(i int) (bool, bool, error) {
		s, e := l.ValueOffsets(i)
		for k := s; k < e; k++ {
			if !vals.IsNull(int(k)) && eq(int(k), i) {
				return true, true, nil
			}
		}
		return false, true, nil
	})
}

// equalAt reports whether row k of a equals row i of b, two arrays of one
// type, compared as typed values (valcmp); NaN equals only NaN.
func equalAt(a, b arrow.Array) func(k, i int) bool {
	if x, ok := a.(*array.MonthDayNanoInterval); ok {
		y := b.(*array.MonthDayNanoInterval)
		return func(k, i int) bool { return CompareIntervals(x.Value(k), y.Value(i)) == 0 }
	}
	va, vb := goValue(a), goValue(b)
	return func(k, i int) bool {
		x, y := va(k), vb(i)
		if fx, ok := x.(float64); ok {
			if fy, ok := y.(float64); ok && (fx != fx || fy != fy) {
				return fx != fx && fy != fy
			}
		}
		c, ok := valcmp.Compare(x, y)
		return ok && c == 0
	}
}

// goValue reads row i of a as the Go value valcmp compares (nil for a
// type it does not know, which then equals nothing).
func goValue(a arrow.Array) func(i int) any {
	switch x := a.(type) {
	case *array.Int64:
		return func(i int) any { return x.Value(i) }
	case *array.Int32:
		return func(i int) any { return x.Value(i) }
	case *array.Float64:
		return func(i int) any { return x.Value(i) }
	case *array.String:
		return func(i int) any { return x.Value(i) }
	case *array.Boolean:
		return func(i int) any { return x.Value(i) }
	case *array.Timestamp:
		return func(i int) any { return x.Value(i) }
	case *array.Date32:
		return func(i int) any { return x.Value(i) }
	case *array.Decimal128:
		return func(i int) any { return x.Value(i) }
	}
	return func(int) any { return nil }
}

// AppendList appends row i of a (not NULL) as DuckDB prints a list:
// `[1, NULL, 3]`, each element as elem appends it (k indexes
// a.ListValues()); a string element is quoted ('it\'s') only when it is
// empty, would read as NULL, or holds a quote, a backslash, a comma, a
// bracket or surrounding spaces. The output sinks and CAST(l AS VARCHAR)
// print lists through it.
func AppendList(dst []byte, a *array.List, i int, elem func(dst []byte, k int) []byte) []byte {
	start, end := a.ValueOffsets(i)
	vals := a.ListValues()
	quoted := vals.DataType().ID() == arrow.STRING || vals.DataType().ID() == arrow.LARGE_STRING
	dst = append(dst, '[')
	for k := start; k < end; k++ {
		if k > start {
			dst = append(dst, ", "...)
		}
		if vals.IsNull(int(k)) {
			dst = append(dst, "NULL"...)
			continue
		}
		n := len(dst)
		dst = elem(dst, int(k))
		if s := string(dst[n:]); quoted && needsListQuote(s) {
			dst = append(dst[:n], '\'')
			for _, c := range []byte(s) {
				if c == '\'' || c == '\\' {
					dst = append(dst, '\\')
				}
				dst = append(dst, c)
			}
			dst = append(dst, '\'')
		}
	}
	return append(dst, ']')
}

// needsListQuote reports whether a string element must be quoted to be
// read back as itself.
func needsListQuote(s string) bool {
	if s == "" || strings.EqualFold(s, "NULL") || s[0] == ' ' || s[len(s)-1] == ' ' {
		return true
	}
	return strings.ContainsAny(s, "',\\[]{}\"")
}

// listText renders row i of a list column as CAST(l AS VARCHAR) does, as
// DuckDB prints it (BOOLEAN elements true/false, the rest as CAST of the
// element to VARCHAR).
func listText(l *array.List) func(i int) string {
	vals := l.ListValues()
	var elem func(dst []byte, k int) []byte
	if b, ok := vals.(*array.Boolean); ok {
		elem = func(dst []byte, k int) []byte {
			if b.Value(k) {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		}
	} else {
		f := formatter(vals)
		elem = func(dst []byte, k int) []byte { return append(dst, f(k)...) }
	}
	var buf []byte
	return func(i int) string {
		buf = AppendList(buf[:0], l, i, elem)
		return string(buf)
	}
}
