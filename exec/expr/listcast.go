package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// CAST(s AS T[]) reads a list's text as DuckDB does and as sluice prints
// one (AppendList): `[1, 2, NULL]`, brackets around elements separated by
// commas, spaces around an element dropped, an unquoted NULL (any case) a
// NULL element, an element in single or double quotes taken as written
// ('a, b', 'NULL' the string), a backslash taking the next character as
// it is ('it\'s'), and brackets inside an element kept with it. Each
// element is then cast to T as CAST(element AS T) would, and a bad one
// fails the cast naming the text and the element. `[]` and `[ ]` are
// empty lists.

// listElem is one element of a list's text: its text, or NULL.
type listElem struct {
	text string
	null bool
}

// splitListText splits a list's text into its elements (appended to
// dst); the error says what is malformed.
func splitListText(dst []listElem, s string) ([]listElem, error) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return dst, fmt.Errorf("a list is written in brackets, [a, b, …]")
	}
	inner := s[1 : len(s)-1]
	if strings.TrimSpace(inner) == "" {
		return dst, nil
	}
	var buf []byte
	keep := 0 // len(buf) up to the last character not an unquoted space
	quote := byte(0)
	quoted := false // the element has a quoted part
	depth := 0
	flush := func() {
		e := listElem{text: string(buf[:keep])}
		e.null = !quoted && strings.EqualFold(e.text, "NULL")
		dst = append(dst, e)
		buf, keep, quoted = buf[:0], 0, false
	}
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\\':
			if i+1 == len(inner) {
				return dst, fmt.Errorf("a backslash ends the list")
			}
			i++
			buf = append(buf, inner[i])
			keep = len(buf)
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				buf = append(buf, c)
			}
			keep = len(buf)
		case c == '\'' || c == '"':
			quote, quoted = c, true
			keep = len(buf)
		case c == ',' && depth == 0:
			flush()
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if len(buf) > 0 {
				buf = append(buf, c)
			}
		default:
			switch c {
			case '[':
				depth++
			case ']':
				if depth--; depth < 0 {
					return dst, fmt.Errorf("a ] closes no [")
				}
			}
			buf = append(buf, c)
			keep = len(buf)
		}
	}
	switch {
	case quote != 0:
		return dst, fmt.Errorf("a quote %c is not closed", quote)
	case depth > 0:
		return dst, fmt.Errorf("a [ is not closed")
	}
	flush()
	return dst, nil
}

// castStringToList casts each string of a to a list of type to: its
// elements split (splitListText) and cast to to's element type.
func castStringToList(ec *evalCtx, a *array.String, to *arrow.ListType) (arrow.Array, error) {
	n := a.Len()
	tname := sqlTypeName(to)
	eb := array.NewStringBuilder(ec.mem)
	defer eb.Release()
	offsets := make([]int32, n+1)
	var elems []listElem
	for i := 0; i < n; i++ {
		offsets[i] = int32(eb.Len())
		if a.IsNull(i) {
			continue
		}
		var err error
		if elems, err = splitListText(elems[:0], a.Value(i)); err != nil {
			return nil, &kindError{msg: fmt.Sprintf("cannot cast %q to %s: %v", a.Value(i), tname, err), kind: ErrInvalidCast}
		}
		for _, e := range elems {
			if e.null {
				eb.AppendNull()
			} else {
				eb.Append(e.text)
			}
		}
	}
	offsets[n] = int32(eb.Len())
	strs := eb.NewStringArray()
	defer strs.Release()
	vals, err := castArray(ec, strs, to.Elem())
	if err != nil {
		return nil, listCastError(ec, a, strs, offsets, to, err)
	}
	defer vals.Release()
	offBuf := memory.NewResizableBuffer(ec.mem)
	defer offBuf.Release()
	offBuf.Resize(4 * len(offsets))
	copy(arrow.Int32Traits.CastFromBytes(offBuf.Bytes()), offsets)
	valid, nulls := combineValidity(ec.mem, n, a)
	if valid != nil {
		defer valid.Release()
	}
	data := array.NewData(to, n, []*memory.Buffer{valid, offBuf}, []arrow.ArrayData{vals.Data()}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// listCastError names the list text and the element whose cast failed
// with err: found by casting the elements one at a time, once the cast of
// them all has failed.
func listCastError(ec *evalCtx, a, strs *array.String, offsets []int32, to *arrow.ListType, err error) error {
	for i := 0; i+1 < len(offsets); i++ {
		for k := int(offsets[i]); k < int(offsets[i+1]); k++ {
			if strs.IsNull(k) {
				continue
			}
			one := array.NewSlice(strs, int64(k), int64(k)+1)
			v, e := castArray(ec, one, to.Elem())
			one.Release()
			if e == nil {
				v.Release()
				continue
			}
			return &kindError{msg: fmt.Sprintf("cannot cast %q to %s: element %d, %q, cannot be cast to %s", a.Value(i), sqlTypeName(to),
				k-int(offsets[i])+1, strs.Value(k), sqlTypeName(to.Elem())), kind: ErrInvalidCast}
		}
	}
	return err
}
