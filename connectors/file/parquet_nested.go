package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/encoding"
	pqformat "github.com/parquet-go/parquet-go/format"

	"github.com/sluicesql/sluice/internal/interval"
)

// Lists and intervals in Parquet files, written and read.
//
// A list column is written in the standard three-level LIST layout that
// DuckDB, Spark, Arrow and parquet-go write: an optional group annotated
// LIST holding a repeated group "list" holding an optional "element". Its
// one leaf column carries, for every element, a repetition level (0 for a
// row's first element, 1 for the next ones) and a definition level: 0 for
// a NULL list, 1 for an empty one, 2 for a NULL element, 3 for a value.
//
// An interval is Parquet's INTERVAL: a FIXED_LEN_BYTE_ARRAY(12) of three
// little-endian unsigned 32-bit counts, months, days and milliseconds. An
// interval it cannot hold exactly (a negative part, a time with a part
// below a millisecond, or of 2^32 milliseconds and more) is refused by the
// sink, naming the column and the value, rather than truncated as DuckDB
// truncates a microsecond part.

// writeNested writes a record with list columns: each row's values in
// column order, a list's one value per element (or one for a NULL or
// empty list) with its levels.
func (e *parquetEncoder) writeNested(rec arrow.Record) error {
	nr := int(rec.NumRows())
	vals := e.vals[:0]
	e.ends = e.ends[:0]
	for r := 0; r < nr; r++ {
		for c, col := range rec.Columns() {
			if l, ok := col.(*array.List); ok {
				vals = appendListValues(vals, l, r, c)
				continue
			}
			vals = append(vals, parquetValue(col, r, c))
		}
		e.ends = append(e.ends, len(vals))
	}
	e.vals = vals
	e.rows = e.rows[:0]
	start := 0
	for _, end := range e.ends {
		e.rows = append(e.rows, parquet.Row(vals[start:end:end]))
		start = end
	}
	return e.writeRows()
}

// appendListValues appends the leaf values of row r of list column c.
func appendListValues(vals []parquet.Value, l *array.List, r, c int) []parquet.Value {
	if l.IsNull(r) {
		return append(vals, parquet.NullValue().Level(0, 0, c))
	}
	lo, hi := l.ValueOffsets(r)
	if lo == hi {
		return append(vals, parquet.NullValue().Level(0, 1, c))
	}
	elems := l.ListValues()
	for i := lo; i < hi; i++ {
		rep := 1
		if i == lo {
			rep = 0
		}
		if elems.IsNull(int(i)) {
			vals = append(vals, parquet.NullValue().Level(rep, 2, c))
			continue
		}
		vals = append(vals, parquetValue(elems, int(i), c).Level(rep, 3, c))
	}
	return vals
}

// parquetInterval is iv as a Parquet INTERVAL value; iv must fit
// (intervalMisfit).
func parquetInterval(iv arrow.MonthDayNanoInterval) parquet.Value {
	var b [12]byte
	binary.LittleEndian.PutUint32(b[0:], uint32(iv.Months))
	binary.LittleEndian.PutUint32(b[4:], uint32(iv.Days))
	binary.LittleEndian.PutUint32(b[8:], uint32(iv.Nanoseconds/1e6))
	return parquet.FixedLenByteArrayValue(b[:])
}

// intervalMisfit says why iv cannot be written as a Parquet INTERVAL
// exactly; "" when it can.
func intervalMisfit(iv arrow.MonthDayNanoInterval) string {
	switch {
	case iv.Months < 0 || iv.Days < 0 || iv.Nanoseconds < 0:
		return "is negative, which Parquet's INTERVAL (unsigned months, days and milliseconds) cannot hold"
	case iv.Nanoseconds%1e6 != 0:
		return "has a part below a millisecond, which Parquet's INTERVAL (months, days and milliseconds) cannot hold"
	case iv.Nanoseconds/1e6 > 1<<32-1:
		return "has a time part of 2^32 milliseconds (about 49.7 days) or more, which Parquet's INTERVAL cannot hold"
	}
	return ""
}

// checkParquetIntervals refuses a record holding an interval that
// Parquet's INTERVAL cannot hold exactly, naming the column and the value.
func checkParquetIntervals(rec arrow.Record) error {
	for c, col := range rec.Columns() {
		a, lo, hi := col, 0, col.Len()
		if l, ok := col.(*array.List); ok && l.Len() > 0 {
			// The elements of the record's rows (a slice's child holds more).
			a = l.ListValues()
			from, _ := l.ValueOffsets(0)
			_, to := l.ValueOffsets(l.Len() - 1)
			lo, hi = int(from), int(to)
		}
		ivs, ok := a.(*array.MonthDayNanoInterval)
		if !ok {
			continue
		}
		for i := lo; i < hi; i++ {
			if ivs.IsNull(i) {
				continue
			}
			if why := intervalMisfit(ivs.Value(i)); why != "" {
				return fmt.Errorf("parquet sink: column %q: interval %s %s (CAST it AS VARCHAR, or write CSV or JSON)",
					rec.ColumnName(c), interval.Append(nil, ivs.Value(i)), why)
			}
		}
	}
	return nil
}

// listColumn reads top-level column c as a list when it is one sluice
// reads: the standard three-level LIST group (its repeated group holding
// one leaf element), the legacy two-level form (a LIST group whose
// repeated child is the element itself), or a bare repeated leaf (a list
// of required values that is never NULL), of an element type read flat
// (leafType). Lists of groups (structs, maps) and nested lists are left
// out, as other nested columns are.
func listColumn(c *parquet.Column, declared []parquet.Kind) (pqCol, bool) {
	var leaf *parquet.Column
	switch {
	case c.Leaf() && c.Repeated():
		leaf = c
	case !c.Leaf() && !c.Repeated() && isListGroup(c) && len(c.Columns()) == 1:
		rep := c.Columns()[0]
		switch {
		case !rep.Repeated():
		case rep.Leaf():
			leaf = rep
		case len(rep.Columns()) == 1 && rep.Columns()[0].Leaf() && !rep.Columns()[0].Repeated():
			leaf = rep.Columns()[0]
		}
	}
	if leaf == nil || leaf.MaxRepetitionLevel() != 1 {
		return pqCol{}, false
	}
	pc := pqCol{name: c.Name(), leaf: leaf.Index(), maxDef: leaf.MaxDefinitionLevel(), phys: leaf.Type().Kind(), list: true}
	pc.repDef = pc.maxDef
	if leaf.Optional() {
		pc.repDef--
	}
	if pc.repDef < 1 || !leafType(&pc, leaf, declared) {
		return pqCol{}, false
	}
	pc.typ = arrow.ListOf(pc.typ)
	return pc, true
}

// isListGroup reports whether group c is annotated LIST (as a logical or
// a converted type).
func isListGroup(c *parquet.Column) bool {
	if lt := c.Type().LogicalType(); lt != nil {
		if _, ok := lt.Value.(*pqformat.ListType); ok {
			return true
		}
	}
	ct := c.Type().ConvertedType()
	return ct != nil && *ct == deprecated.List
}

// loadLevels takes the levels of list page p, checking there is one
// repetition and one definition level per value and that none exceeds
// the column's maxima.
func (c *colCursor) loadLevels(p parquet.Page) error {
	c.reps, c.defs = p.RepetitionLevels(), p.DefinitionLevels()
	if len(c.reps) < c.n || len(c.defs) < c.n {
		return fmt.Errorf("page has %d repetition and %d definition levels for %d values", len(c.reps), len(c.defs), c.n)
	}
	c.reps, c.defs = c.reps[:c.n], c.defs[:c.n]
	maxDef := byte(c.pc.maxDef)
	for i, r := range c.reps {
		if r > 1 || c.defs[i] > maxDef {
			return fmt.Errorf("value %d of the page has repetition level %d and definition level %d (at most 1 and %d)", i+1, r, c.defs[i], maxDef)
		}
	}
	return nil
}

// listRows reads the next k rows of a list column into lb: with sel only
// the rows it lists (ascending offsets in [0, k)), with lb nil none (a
// skip). A row starts at a value of repetition level 0 and takes the
// values of level 1 after it, which may go on in the next page, so a
// row is complete only at the next row's start or the chunk's end. A
// start's definition level says whether the list is NULL (below
// repDef-1), empty (repDef-1) or holds an element (repDef and above); an
// element is a value at the column's maxDef and NULL below it. The
// elements of a row are appended as one range of the page (appendRange),
// so a list costs what its flat values cost plus its levels.
func (c *colCursor) listRows(lb *array.ListBuilder, k int, sel []int32) error {
	var vb array.Builder
	if lb != nil {
		vb = lb.ValueBuilder()
		lb.Reserve(k)
	}
	done, j, keep := 0, 0, false
	for {
		if c.page == nil || c.row >= c.n {
			if err := c.load(); err != nil {
				if done == k && errors.Is(err, io.ErrUnexpectedEOF) {
					break // the chunk's end closes the last row
				}
				return err
			}
		}
		if c.reps[c.row] == 0 {
			if done == k {
				break
			}
			keep = lb != nil && (sel == nil || (j < len(sel) && int(sel[j]) == done))
			if keep && sel != nil {
				j++
			}
			done++
			if def := int(c.defs[c.row]); def < c.pc.repDef {
				if keep {
					if def < c.pc.repDef-1 {
						lb.AppendNull()
					} else {
						lb.AppendEmptyValue()
					}
				}
				c.row++
				continue
			}
			if keep {
				lb.Append(true)
			}
		} else if done == 0 {
			return fmt.Errorf("value %d of the page continues a list no row started", c.row+1)
		}
		// The row's elements in this page: up to the next row's start.
		e := c.row + 1
		for e < c.n && c.reps[e] != 0 {
			e++
		}
		for i := c.row; i < e; i++ {
			if int(c.defs[i]) < c.pc.repDef {
				return fmt.Errorf("value %d of the page is inside a list but has definition level %d (an element has %d or more)", i+1, c.defs[i], c.pc.repDef)
			}
		}
		n := c.validIn(c.row, e)
		if keep {
			if err := c.appendRange(vb, c.row, e, c.dense, c.dense+n); err != nil {
				return err
			}
		}
		c.dense += n
		c.row = e
	}
	c.at += int64(done)
	return nil
}

// appendIntervals appends n Parquet INTERVAL values (twelve bytes each:
// months, days, milliseconds) from value dFrom on, or those idx points
// at, spread over valid.
func appendIntervals(b *array.MonthDayNanoIntervalBuilder, data encoding.Values, idx []int32, valid []bool, dFrom, n int) error {
	buf, size := data.FixedLenByteArray()
	if size != 12 {
		return fmt.Errorf("interval values have %d bytes, not 12", size)
	}
	j := dFrom
	for i := 0; i < n; i++ {
		if valid != nil && !valid[i] {
			b.AppendNull()
			continue
		}
		k := j
		if idx != nil {
			k = int(idx[j])
		}
		j++
		if k < 0 || (k+1)*12 > len(buf) {
			return fmt.Errorf("interval value %d out of range", k)
		}
		v := buf[k*12 : k*12+12]
		months, days := binary.LittleEndian.Uint32(v[0:]), binary.LittleEndian.Uint32(v[4:])
		if months > math.MaxInt32 || days > math.MaxInt32 {
			return fmt.Errorf("interval of %d months and %d days is out of range", months, days)
		}
		b.Append(arrow.MonthDayNanoInterval{Months: int32(months), Days: int32(days), Nanoseconds: int64(binary.LittleEndian.Uint32(v[8:])) * 1e6})
	}
	return nil
}
