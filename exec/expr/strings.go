package expr

import (
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// String functions work on UTF-8 characters where MySQL does (length,
// substring) and return NULL when any argument is NULL.

func registerStrings() {
	unary := map[string]func(string) string{
		"upper": upperASCIIFast,
		"lower": lowerASCIIFast,
		"trim":  func(s string) string { return strings.Trim(s, " ") },
		"ltrim": func(s string) string { return strings.TrimLeft(s, " ") },
		"rtrim": func(s string) string { return strings.TrimRight(s, " ") },
	}
	for name, f := range unary {
		name, f := name, f
		registry[name] = func(args []Expr, ret arrow.DataType) (bound, error) {
			ts, err := argTypes(args, 1, 1)
			if err != nil {
				return bound{}, err
			}
			if ts[0].ID() != arrow.STRING {
				return bound{}, unsupported(name, ts...)
			}
			return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
				s := o[0].arr.(*array.String)
				return mapStrings(ec, []arrow.Array{s}, func(i int) string { return f(s.Value(i)) }), nil
			}}, nil
		}
	}
	registry["length"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 1, 1)
		if err != nil {
			return bound{}, err
		}
		if ts[0].ID() != arrow.STRING || ret.ID() != arrow.INT64 {
			return bound{}, unsupported("length", ts...)
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			s := o[0].arr.(*array.String)
			return mapFixed(ec, s, func(i int) int64 { return int64(utf8.RuneCountInString(s.Value(i))) }), nil
		}}, nil
	}
	registry["concat"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 1, -1)
		if err != nil {
			return bound{}, err
		}
		for _, t := range ts {
			if t.ID() != arrow.STRING {
				return bound{}, unsupported("concat", ts...)
			}
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			ss := make([]*array.String, len(o))
			as := make([]arrow.Array, len(o))
			for j := range o {
				ss[j] = o[j].arr.(*array.String)
				as[j] = o[j].arr
			}
			var sb strings.Builder
			return mapStrings(ec, as, func(i int) string {
				sb.Reset()
				for _, s := range ss {
					sb.WriteString(s.Value(i))
				}
				return sb.String()
			}), nil
		}}, nil
	}
	registry["substring"] = bindSubstring
	registry["replace"] = func(args []Expr, ret arrow.DataType) (bound, error) {
		ts, err := argTypes(args, 3, 3)
		if err != nil {
			return bound{}, err
		}
		for _, t := range ts {
			if t.ID() != arrow.STRING {
				return bound{}, unsupported("replace", ts...)
			}
		}
		return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
			s, from, to := o[0].arr.(*array.String), o[1].arr.(*array.String), o[2].arr.(*array.String)
			return mapStrings(ec, []arrow.Array{s, from, to}, func(i int) string {
				if from.Value(i) == "" {
					return s.Value(i)
				}
				return strings.ReplaceAll(s.Value(i), from.Value(i), to.Value(i))
			}), nil
		}}, nil
	}
}

func bindSubstring(args []Expr, ret arrow.DataType) (bound, error) {
	ts, err := argTypes(args, 2, 3)
	if err != nil {
		return bound{}, err
	}
	if ts[0].ID() != arrow.STRING {
		return bound{}, unsupported("substring", ts...)
	}
	for _, t := range ts[1:] {
		if t.ID() != arrow.INT64 && t.ID() != arrow.INT32 {
			return bound{}, unsupported("substring", ts...)
		}
	}
	return bound{k: func(ec *evalCtx, o []operand) (arrow.Array, error) {
		s := o[0].arr.(*array.String)
		as := []arrow.Array{s}
		var pos, cnt func(int) int64
		for j := 1; j < len(o); j++ {
			as = append(as, o[j].arr)
			var g func(int) int64
			if o[j].arr.DataType().ID() == arrow.INT32 {
				v := values[int32](o[j].arr)
				g = func(i int) int64 { return int64(v[i]) }
			} else {
				v := values[int64](o[j].arr)
				g = func(i int) int64 { return v[i] }
			}
			if j == 1 {
				pos = g
			} else {
				cnt = g
			}
		}
		return mapStrings(ec, as, func(i int) string {
			if cnt != nil {
				return substr(s.Value(i), pos(i), cnt(i), true)
			}
			return substr(s.Value(i), pos(i), 0, false)
		}), nil
	}}, nil
}

// substr is MySQL SUBSTRING(s, pos[, len]): 1-based, negative pos counts
// from the end, pos 0 or beyond the end gives ”, and a length below 1
// gives ”. Without a length (hasLen false) it runs to the end.
func substr(s string, pos, l int64, hasLen bool) string {
	if !hasLen {
		l = int64(len(s)) + 1
	} else if l < 1 {
		return ""
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		start, end, ok := substringBounds(int64(len(s)), pos, l)
		if !ok {
			return ""
		}
		return s[start:end]
	}
	rs := []rune(s)
	start, end, ok := substringBounds(int64(len(rs)), pos, l)
	if !ok {
		return ""
	}
	return string(rs[start:end])
}

// substringBounds turns MySQL's 1-based (or, negative, from-the-end)
// position and a length into [start, end) over n characters; ok is false
// when the result is empty.
func substringBounds(n, pos, l int64) (start, end int64, ok bool) {
	if pos < 0 {
		pos = n + pos + 1
		if pos < 1 {
			return 0, 0, false
		}
	}
	if pos == 0 || pos > n {
		return 0, 0, false
	}
	end = pos - 1 + l
	if end > n || end < 0 {
		end = n
	}
	return pos - 1, end, true
}

// mapStrings builds a STRING array of the batch from f, NULL wherever any
// of ins is NULL (f is not called there).
func mapStrings(ec *evalCtx, ins []arrow.Array, f func(i int) string) arrow.Array {
	b := array.NewStringBuilder(ec.mem)
	defer b.Release()
	b.Reserve(ec.n)
	v, _ := combineValidity(ec.mem, ec.n, ins...)
	var vb []byte
	if v != nil {
		vb = v.Bytes()
		defer v.Release()
	}
	for i := 0; i < ec.n; i++ {
		if !isValid(vb, 0, i) {
			b.AppendNull()
			continue
		}
		b.Append(f(i))
	}
	return b.NewArray()
}

func upperASCIIFast(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('a' <= c && c <= 'z') {
			return strings.ToUpper(s)
		}
	}
	return s
}

func lowerASCIIFast(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.ToLower(s)
		}
	}
	return s
}
