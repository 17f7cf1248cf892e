package expr

import (
	"fmt"
	"strconv"
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

// castListToList casts each list of a to a list of type to, element by
// element as CAST(element AS T) would (BIGINT[] → INT[] checks each
// element's range, INT[] → VARCHAR[] prints each, VARCHAR[] → BIGINT[]
// parses each): the elements a's rows span are cast as one array and the
// offsets moved to start at 0. A bad element fails the cast naming the
// list and the element. Elements a NULL row spans (Arrow allows them)
// belong to no list: they are left out before the cast, so they cannot
// fail it.
func castListToList(ec *evalCtx, a *array.List, to *arrow.ListType) (arrow.Array, error) {
	n := a.Len()
	if n == 0 {
		return array.MakeArrayOfNull(ec.mem, to, 0), nil
	}
	out := make([]int32, n+1) // the result's offsets into elems
	var elems arrow.Array
	if nullsSpanElems(a) {
		var parts []arrow.Array
		for i := 0; i < n; i++ {
			out[i+1] = out[i]
			if lo, hi := a.ValueOffsets(i); a.IsValid(i) && hi > lo {
				parts = append(parts, array.NewSlice(a.ListValues(), lo, hi))
				out[i+1] += int32(hi - lo)
			}
		}
		var err error
		if len(parts) == 0 {
			elems = array.MakeArrayOfNull(ec.mem, a.ListValues().DataType(), 0)
		} else if elems, err = array.Concatenate(parts, ec.mem); err != nil {
			return nil, err
		}
		for _, p := range parts {
			p.Release()
		}
	} else {
		first, _ := a.ValueOffsets(0)
		var last int64
		for i := 0; i < n; i++ {
			lo, hi := a.ValueOffsets(i)
			out[i], last = int32(lo-first), hi
		}
		out[n] = int32(last - first)
		elems = array.NewSlice(a.ListValues(), first, last)
	}
	defer elems.Release()
	vals, err := castArray(ec, elems, to.Elem())
	if err != nil {
		return nil, listElemCastError(ec, a, elems, out, to, err)
	}
	defer vals.Release()
	offBuf := memory.NewResizableBuffer(ec.mem)
	defer offBuf.Release()
	offBuf.Resize(4 * (n + 1))
	copy(arrow.Int32Traits.CastFromBytes(offBuf.Bytes()), out)
	valid, nulls := combineValidity(ec.mem, n, a)
	if valid != nil {
		defer valid.Release()
	}
	data := array.NewData(to, n, []*memory.Buffer{valid, offBuf}, []arrow.ArrayData{vals.Data()}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

// nullsSpanElems reports whether a NULL row of a spans elements.
func nullsSpanElems(a *array.List) bool {
	if a.NullN() == 0 {
		return false
	}
	for i := 0; i < a.Len(); i++ {
		if lo, hi := a.ValueOffsets(i); a.IsNull(i) && hi > lo {
			return true
		}
	}
	return false
}

// listElemCastError names the list and the element whose cast failed
// with err, row i's elements being elems[offs[i]:offs[i+1]]: found by
// casting the elements one at a time, once the cast of them all has
// failed.
func listElemCastError(ec *evalCtx, a *array.List, elems arrow.Array, offs []int32, to *arrow.ListType, err error) error {
	show := formatter(a)
	elemText := formatter(elems)
	_, isStr := elems.(*array.String)
	for i := 0; i < a.Len(); i++ {
		for k := int(offs[i]); k < int(offs[i+1]); k++ {
			if elems.IsNull(k) {
				continue
			}
			one := array.NewSlice(elems, int64(k), int64(k)+1)
			v, e := castArray(ec, one, to.Elem())
			one.Release()
			if e == nil {
				v.Release()
				continue
			}
			t := elemText(k)
			if isStr {
				t = strconv.Quote(t)
			}
			return &kindError{msg: fmt.Sprintf("cannot cast %s to %s: element %d, %s, cannot be cast to %s", show(i), sqlTypeName(to),
				k-int(offs[i])+1, t, sqlTypeName(to.Elem())), kind: ErrInvalidCast}
		}
	}
	return err
}
