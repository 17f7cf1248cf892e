package format

import (
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/internal/listtext"
)

// ErrorPolicy says what a decoder does with a value it cannot parse or a
// malformed row: the WITH option on_error = fail | skip | null.
type ErrorPolicy int

// Error policies.
const (
	// OnErrorFail makes Append return the error; the bad row is dropped
	// and the decoder stays usable.
	OnErrorFail ErrorPolicy = iota
	// OnErrorSkip drops the bad row, counts it in Skipped, and returns nil.
	OnErrorSkip
	// OnErrorNull sets each bad value to NULL, counts it in Nulled, and
	// keeps the row. A CSV row with a wrong field count is padded with
	// NULLs (extra fields ignored).
	OnErrorNull
)

// ParseErrorPolicy parses the on_error option; "" means fail.
func ParseErrorPolicy(s string) (ErrorPolicy, error) {
	switch strings.ToLower(s) {
	case "", "fail":
		return OnErrorFail, nil
	case "skip":
		return OnErrorSkip, nil
	case "null":
		return OnErrorNull, nil
	}
	return 0, fmt.Errorf("on_error must be fail, skip or null, not %q", s)
}

type kind uint8

const (
	kInt64 kind = iota
	kInt32
	kFloat64
	kString
	kBool
	kTimestamp
	kDate
	kDecimal
	kInt8
	kList
	kUnsupported
)

// column appends text values to one Arrow builder of a known type; the
// kind switch is one predictable branch per value, cheaper than an
// interface call and with no per-row allocation.
type column struct {
	name  string
	typ   arrow.DataType
	kind  kind
	b     array.Builder
	i64   *array.Int64Builder
	i32   *array.Int32Builder
	i8    *array.Int8Builder
	f64   *array.Float64Builder
	str   *array.StringBuilder
	bl    *array.BooleanBuilder
	ts    *array.TimestampBuilder
	unit  arrow.TimeUnit
	date  *array.Date32Builder
	dec   *array.Decimal128Builder
	prec  int32
	scale int32
	lst   *array.ListBuilder
	elem  *column         // a list's elements (its builder lst's values)
	elems []listtext.Elem // a list's text split, reused
	seen  uint32          // row generation that last set this column (JSON)
	// notNull and unsigned are the column's declared rules (see
	// exec.ConstraintChecker): a row breaking one is rejected whole.
	notNull, unsigned bool
}

func newColumn(mem memory.Allocator, f arrow.Field) (*column, error) {
	c := &column{name: f.Name, typ: f.Type, notNull: exec.NotNull(f), unsigned: exec.Unsigned(f)}
	if l, ok := f.Type.(*arrow.ListType); ok {
		// T[]: a CSV field written as DuckDB writes a list ('[1, 2]'), a
		// JSON array; each element parsed as a T column's value.
		c.kind, c.lst = kList, array.NewListBuilder(mem, l.Elem())
		c.b = c.lst
		c.elem = &column{name: f.Name, typ: l.Elem()}
		if c.elem.bind(c.lst.ValueBuilder()) {
			return c, nil
		}
		c.lst.Release()
	} else if c.bind(array.NewBuilder(mem, f.Type)) {
		return c, nil
	} else {
		c.b.Release()
	}
	return nil, fmt.Errorf("column %q: type %s is not supported by the text formats (declare it VARCHAR and CAST it)", f.Name, SQLTypeName(f.Type))
}

// bind makes b the column's builder, of the column's type; false if the
// text formats do not read that type.
func (c *column) bind(b array.Builder) bool {
	c.b = b
	switch t := b.(type) {
	case *array.Int64Builder:
		c.kind, c.i64 = kInt64, t
	case *array.Int32Builder:
		c.kind, c.i32 = kInt32, t
	case *array.Int8Builder:
		// TINYINT: a changelog's op column on the wire of a Kafka
		// exchange, or a declared TINYINT column.
		c.kind, c.i8 = kInt8, t
	case *array.Float64Builder:
		c.kind, c.f64 = kFloat64, t
	case *array.StringBuilder:
		c.kind, c.str = kString, t
	case *array.BooleanBuilder:
		c.kind, c.bl = kBool, t
	case *array.TimestampBuilder:
		c.kind, c.ts, c.unit = kTimestamp, t, c.typ.(*arrow.TimestampType).Unit
	case *array.Date32Builder:
		c.kind, c.date = kDate, t
	case *array.Decimal128Builder:
		d := c.typ.(*arrow.Decimal128Type)
		c.kind, c.dec, c.prec, c.scale = kDecimal, t, d.Precision, d.Scale
	default:
		return false
	}
	return true
}

// appendText parses v and appends it; false means v is not a valid value
// of the column's type (nothing was appended).
func (c *column) appendText(v []byte) bool { return c.parseText(v, true) }

// parseText parses v and, when apply, appends it; false means v is not a
// valid value of the column's type (nothing was appended).
func (c *column) parseText(v []byte, apply bool) bool {
	switch c.kind {
	case kInt64:
		x, ok := ParseInt(v)
		if ok && !(c.unsigned && x < 0) {
			if apply {
				c.i64.Append(x)
			}
			return true
		}
		return false
	case kInt32:
		x, ok := ParseInt(v)
		if ok && x == int64(int32(x)) && !(c.unsigned && x < 0) {
			if apply {
				c.i32.Append(int32(x))
			}
			return true
		}
		return false
	case kInt8:
		x, ok := ParseInt(v)
		if ok && x == int64(int8(x)) && !(c.unsigned && x < 0) {
			if apply {
				c.i8.Append(int8(x))
			}
			return true
		}
		return false
	case kFloat64:
		x, ok := ParseFloat(v)
		if ok && apply {
			c.f64.Append(x)
		}
		return ok
	case kString:
		if apply {
			c.str.BinaryBuilder.Append(v)
		}
		return true
	case kBool:
		x, ok := ParseBool(v)
		if ok && apply {
			c.bl.Append(x)
		}
		return ok
	case kTimestamp:
		ns, ok := ParseTimestamp(v)
		if ok && apply {
			c.ts.Append(NanosToTimestamp(ns, c.unit))
		}
		return ok
	case kDate:
		d, ok := ParseDate(v)
		if ok && apply {
			c.date.Append(arrow.Date32(d))
		}
		return ok
	case kDecimal:
		n, ok := parseDecimal(v, c.prec, c.scale)
		if ok && apply {
			c.dec.Append(n)
		}
		return ok
	case kList:
		var err error
		if c.elems, err = listtext.Split(c.elems[:0], string(v)); err != nil {
			return false
		}
		return c.appendElems(apply)
	}
	return false
}

// appendElems appends a list of the elements in c.elems, all or nothing:
// false, with nothing appended, if one is not a value of the element
// type. Only when apply; else it only checks.
func (c *column) appendElems(apply bool) bool {
	for _, e := range c.elems {
		if !e.Null && !c.elem.parseText([]byte(e.Text), false) {
			return false
		}
	}
	if apply {
		c.lst.Append(true)
		for _, e := range c.elems {
			if e.Null {
				c.elem.b.AppendNull()
			} else {
				c.elem.parseText([]byte(e.Text), true)
			}
		}
	}
	return true
}

// rows is the shared row assembly of the decoders: a projection from
// input fields to output columns, the error policy, and the rows that
// must be dropped from the current batch.
type rows struct {
	mem    memory.Allocator
	full   *arrow.Schema // the decoder's full schema
	out    *arrow.Schema // the projected output schema
	cols   []*column     // output columns
	toOut  []int         // full field index → output index, or -1
	policy ErrorPolicy
	n      int   // rows appended to the builders, dropped ones included
	drop   []int // builder row indices to drop at NewRecord
	gen    uint32
	bad    bool // the current row is to be dropped

	skipped, nulled int64
}

func (r *rows) init(mem memory.Allocator, schema *arrow.Schema) error {
	r.mem, r.full = mem, schema
	return r.setColumns(nil)
}

func (r *rows) setColumns(cols []int) error {
	if cols == nil {
		cols = make([]int, r.full.NumFields())
		for i := range cols {
			cols[i] = i
		}
	}
	newCols := make([]*column, 0, len(cols))
	fields := make([]arrow.Field, 0, len(cols))
	toOut := make([]int, r.full.NumFields())
	for i := range toOut {
		toOut[i] = -1
	}
	for oi, fi := range cols {
		if fi < 0 || fi >= r.full.NumFields() {
			releaseCols(newCols)
			return fmt.Errorf("column index %d out of range", fi)
		}
		c, err := newColumn(r.mem, r.full.Field(fi))
		if err != nil {
			releaseCols(newCols)
			return err
		}
		newCols = append(newCols, c)
		fields = append(fields, r.full.Field(fi))
		toOut[fi] = oi
	}
	releaseCols(r.cols)
	r.cols, r.toOut = newCols, toOut
	md := r.full.Metadata()
	r.out = arrow.NewSchema(fields, &md)
	r.n, r.drop = 0, r.drop[:0]
	return nil
}

func releaseCols(cols []*column) {
	for _, c := range cols {
		c.b.Release()
	}
}

// fieldErr applies the policy to a bad value in output column oi that
// has not been appended yet: it appends NULL and either records the row
// as bad or counts the null. A NOT NULL column cannot take the NULL, so
// its row is skipped under OnErrorNull.
func (r *rows) fieldErr(oi int, v []byte) error {
	c := r.cols[oi]
	c.b.AppendNull()
	if r.policy == OnErrorNull && !c.notNull && !(c.unsigned && negativeText(v)) {
		r.nulled++
		return nil
	}
	if r.bad {
		return nil
	}
	r.bad = true
	if r.policy != OnErrorFail {
		return nil
	}
	fe := &FieldError{Column: c.name, Value: string(v), Type: SQLTypeName(c.typ)}
	if c.unsigned && negativeText(v) {
		if _, ok := ParseInt(v); ok {
			fe.Reason = fmt.Sprintf("is UNSIGNED, but the value %s is negative", v)
		}
	}
	return fe
}

// appendNull appends a missing value to output column oi; a NOT NULL
// column rejects the row instead, by the policy (skipped unless it fails).
func (r *rows) appendNull(oi int) error {
	c := r.cols[oi]
	c.b.AppendNull()
	if !c.notNull || r.bad {
		return nil
	}
	r.bad = true
	if r.policy != OnErrorFail {
		return nil
	}
	return &FieldError{Column: c.name, Type: SQLTypeName(c.typ), Reason: "is NOT NULL, but the value is NULL or missing"}
}

// negativeText reports whether v is written as a negative number.
func negativeText(v []byte) bool { return len(v) > 1 && v[0] == '-' }

// endRow finishes a row; a bad row is dropped from the batch later.
func (r *rows) endRow() {
	if r.bad {
		r.drop = append(r.drop, r.n)
		if r.policy != OnErrorFail {
			r.skipped++
		}
		r.bad = false
	}
	r.n++
}

// abortRow completes a half-appended row with NULLs, marks it dropped
// and reports the malformed row by the policy: err under OnErrorFail,
// else nil with the row counted as skipped.
func (r *rows) abortRow(err error) error {
	for _, c := range r.cols {
		switch c.b.Len() - r.n {
		case 0:
			c.b.AppendNull()
		case 1:
		default:
			// The builders are out of step: not a state to go on from.
			panic(fmt.Sprintf("decoder: column %q has %d values for %d rows", c.name, c.b.Len(), r.n+1))
		}
	}
	r.bad = true
	policy := r.policy
	r.policy = OnErrorSkip // count it as skipped in endRow
	r.endRow()
	r.policy = policy
	if policy == OnErrorFail {
		r.skipped--
		return err
	}
	return nil
}

// recoverRow is the decoders' last line of defence, called with the value
// of a panic inside an Append: the row is completed and dropped like a
// malformed one, so the decoder stays usable and the caller gets a
// *RowError instead of a crash. A panic is a decoder bug that some input
// triggers; the fuzzers look for them.
func (r *rows) recoverRow(p any) error {
	return r.abortRow(&RowError{Msg: fmt.Sprintf("cannot decode the row: %v", p)})
}

// Mark is the position after the rows appended so far, for Unwind.
func (r *rows) Mark() int { return r.n }

// Unwind takes back the rows appended since Mark returned mark: they are
// dropped from the next record without counting as skipped. A decoder of
// changes uses it to keep a pair of rows (-U and +U) all or nothing
// without decoding either twice.
func (r *rows) Unwind(mark int) {
	keep := r.drop[:0]
	for _, d := range r.drop {
		if d < mark {
			keep = append(keep, d)
		}
	}
	for i := mark; i < r.n; i++ {
		keep = append(keep, i)
	}
	r.drop = keep
}

// Len is the number of rows the next record will hold.
func (r *rows) Len() int { return r.n - len(r.drop) }

// Schema is the schema of the records NewRecord returns.
func (r *rows) Schema() *arrow.Schema { return r.out }

// Skipped counts rows dropped under OnErrorSkip since the decoder was made.
func (r *rows) Skipped() int64 { return r.skipped }

// Nulled counts values set to NULL under OnErrorNull.
func (r *rows) Nulled() int64 { return r.nulled }

// SetOnError sets the error policy.
func (r *rows) SetOnError(p ErrorPolicy) { r.policy = p }

// NewRecord returns the rows appended so far and resets the builders. The
// caller owns the record.
func (r *rows) NewRecord() arrow.Record {
	arrs := make([]arrow.Array, len(r.cols))
	for i, c := range r.cols {
		dataLen := 0
		if c.str != nil {
			dataLen = c.str.DataLen()
		}
		arrs[i] = c.b.NewArray()
		// The next batch is likely the same size: reserve it at once
		// instead of growing by doubling.
		c.b.Reserve(r.n)
		if c.str != nil {
			c.str.ReserveData(dataLen)
		}
	}
	n := int64(r.n)
	if len(r.drop) > 0 {
		arrs, n = r.dropRows(arrs)
	}
	rec := array.NewRecord(r.out, arrs, n)
	for _, a := range arrs {
		a.Release()
	}
	r.n, r.drop = 0, r.drop[:0]
	return rec
}

// dropRows removes the rows listed in r.drop: the rare error path, so it
// concatenates slices instead of making the hot path track validity.
func (r *rows) dropRows(arrs []arrow.Array) ([]arrow.Array, int64) {
	type span struct{ lo, hi int64 }
	var keep []span
	lo := int64(0)
	for _, d := range r.drop {
		if int64(d) > lo {
			keep = append(keep, span{lo, int64(d)})
		}
		lo = int64(d) + 1
	}
	if lo < int64(r.n) {
		keep = append(keep, span{lo, int64(r.n)})
	}
	total := int64(r.n - len(r.drop))
	out := make([]arrow.Array, len(arrs))
	for i, a := range arrs {
		if len(keep) == 0 {
			out[i] = array.NewSlice(a, 0, 0)
		} else {
			parts := make([]arrow.Array, len(keep))
			for j, s := range keep {
				parts[j] = array.NewSlice(a, s.lo, s.hi)
			}
			c, err := array.Concatenate(parts, r.mem)
			for _, p := range parts {
				p.Release()
			}
			if err != nil {
				c = array.NewSlice(a, 0, 0) // unreachable for same-typed parts
			}
			out[i] = c
		}
		a.Release()
	}
	return out, total
}

// Release frees the builders.
func (r *rows) Release() {
	releaseCols(r.cols)
	r.cols = nil
}
