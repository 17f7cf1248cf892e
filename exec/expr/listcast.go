package expr

import (
	"fmt"
	"strconv"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/internal/listtext"
)

// CAST(s AS T[]) reads a list's text with listtext.Split, as DuckDB
// does and as sluice prints one (AppendList). Each element is then cast
// to T as CAST(element AS T) would, and a bad one fails the cast naming
// the text and the element.

// castStringToList casts each string of a to a list of type to: its
// elements split (listtext.Split) and cast to to's element type.
func castStringToList(ec *evalCtx, a *array.String, to *arrow.ListType) (arrow.Array, error) {
	n := a.Len()
	tname := sqlTypeName(to)
	eb := array.NewStringBuilder(ec.mem)
	defer eb.Release()
	offsets := make([]int32, n+1)
	var elems []listtext.Elem
	for i := 0; i < n; i++ {
		offsets[i] = int32(eb.Len())
		if a.IsNull(i) {
			continue
		}
		var err error
		if elems, err = listtext.Split(elems[:0], a.Value(i)); err != nil {
			return nil, &kindError{msg: fmt.Sprintf("cannot cast %q to %s: %v", a.Value(i), tname, err), kind: ErrInvalidCast}
		}
		for _, e := range elems {
			if e.Null {
				eb.AppendNull()
			} else {
				eb.Append(e.Text)
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
	i, k, ok := firstBadElement(ec, strs, offsets, to)
	if !ok {
		return err
	}
	return &kindError{msg: fmt.Sprintf("cannot cast %q to %s: element %d, %q, cannot be cast to %s", a.Value(i), sqlTypeName(to),
		k-int(offsets[i])+1, strs.Value(k), sqlTypeName(to.Elem())), kind: ErrInvalidCast}
}

// firstBadElement is the row i and element k (of elems[offs[i]:offs[i+1]])
// of the first non-NULL element whose cast to to's element type fails,
// cast one at a time; ok is false when every element casts alone.
func firstBadElement(ec *evalCtx, elems arrow.Array, offs []int32, to *arrow.ListType) (i, k int, ok bool) {
	for i = 0; i+1 < len(offs); i++ {
		for k = int(offs[i]); k < int(offs[i+1]); k++ {
			if elems.IsNull(k) {
				continue
			}
			one := array.NewSlice(elems, int64(k), int64(k)+1)
			v, e := castArray(ec, one, to.Elem())
			one.Release()
			if e != nil {
				return i, k, true
			}
			v.Release()
		}
	}
	return 0, 0, false
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
	i, k, ok := firstBadElement(ec, elems, offs[:a.Len()+1], to)
	if !ok {
		return err
	}
	t := formatter(elems)(k)
	if _, isStr := elems.(*array.String); isStr {
		t = strconv.Quote(t)
	}
	return &kindError{msg: fmt.Sprintf("cannot cast %s to %s: element %d, %s, cannot be cast to %s", formatter(a)(i), sqlTypeName(to),
		k-int(offs[i])+1, t, sqlTypeName(to.Elem())), kind: ErrInvalidCast}
}
