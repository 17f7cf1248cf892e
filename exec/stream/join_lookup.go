package stream

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
)

// lookupIndex is a lookup join's table in columns: the probe of a stream
// batch finds each row's matching table rows by key and gathers the
// output with one take per column, instead of joining row by row through
// Values. It is built from the table rows the join holds (the buckets,
// which stay the state and the source of truth) on the first stream
// batch after LoadTable.
type lookupIndex struct {
	table arrow.Record       // the table's value columns, one row per distinct row
	rows  map[string][]int32 // key (appendKey encoding) → table rows in bucket order, a row repeated by its multiplicity
	// dict and dictRows memoise a dictionary-encoded probe key (see
	// Join.DictionaryKey): entry e of dictionary dict matches table rows
	// dictRows[e], looked up once per dictionary, not once per row.
	dict     arrow.ArrayData
	dictRows [][]int32
}

func (x *lookupIndex) release() {
	if x == nil {
		return
	}
	if x.table != nil {
		x.table.Release()
	}
	x.releaseDict()
}

func (x *lookupIndex) releaseDict() {
	if x.dict != nil {
		x.dict.Release()
		x.dict, x.dictRows = nil, nil
	}
}

// dictEntries returns the table rows of each entry of d's dictionary.
func (x *lookupIndex) dictEntries(d *array.Dictionary) ([][]int32, error) {
	dd := d.Data().Dictionary()
	if dd == x.dict {
		return x.dictRows, nil
	}
	x.releaseDict()
	vals := d.Dictionary()
	key, err := newKeyAppender(vals)
	if err != nil {
		return nil, err
	}
	rows := make([][]int32, vals.Len())
	var buf []byte
	for e := range rows {
		var null bool
		if buf, null = key(buf[:0], e); !null {
			rows[e] = x.rows[string(buf)]
		}
	}
	dd.Retain()
	x.dict, x.dictRows = dd, rows
	return rows, nil
}

// DictionaryKey reports the stream input's column that may arrive
// dictionary-encoded (its values' type) instead of plain: a lookup
// join's single key that is a plain string column of the stream. Each
// dictionary entry is then looked up in the table once per dictionary,
// and the output and the residual get the column decoded. The compiler
// asks the scan for the column so when the join reads the scan's
// batches directly.
func (j *Join) DictionaryKey(input *arrow.Schema) (int, bool) {
	if j.spec.Timing != LookupJoin {
		return 0, false
	}
	sd := j.sides[1-j.spec.TableSide]
	if len(sd.keys) != 1 {
		return 0, false
	}
	col, ok := columnOf(sd.keys[0])
	if !ok || col < 0 || col >= input.NumFields() || input.Field(col).Type.ID() != arrow.STRING {
		return 0, false
	}
	return col, true
}

// plainColumns returns rec's columns with dictionary-encoded ones
// decoded (the caller releases them all).
func (j *Join) plainColumns(ctx context.Context, rec arrow.Record) ([]arrow.Array, error) {
	out := make([]arrow.Array, rec.NumCols())
	for c, col := range rec.Columns() {
		d, ok := col.(*array.Dictionary)
		if !ok {
			col.Retain()
			out[c] = col
			continue
		}
		dec, err := exec.TakeColumns(ctx, j.mem, []arrow.Array{d.Dictionary()}, dictCodes(d))
		if err != nil {
			releaseArrays(out[:c])
			return nil, err
		}
		out[c] = dec[0]
	}
	return out, nil
}

// decodedSchema is schema with each dictionary column's type replaced by
// its value type.
func decodedSchema(schema *arrow.Schema) *arrow.Schema {
	fields := schema.Fields()
	changed := false
	for i, f := range fields {
		if d, ok := f.Type.(*arrow.DictionaryType); ok {
			fields[i].Type, changed = d.ValueType, true
		}
	}
	if !changed {
		return schema
	}
	return arrow.NewSchema(fields, nil)
}

// hasDictionary reports whether a column of rec is dictionary-encoded.
func hasDictionary(rec arrow.Record) bool {
	for _, c := range rec.Columns() {
		if c.DataType().ID() == arrow.DICTIONARY {
			return true
		}
	}
	return false
}

// dictCodes returns the dictionary index of each row of d, -1 for NULL
// (read-only: Int32 indices without NULLs are returned in place).
func dictCodes(d *array.Dictionary) []int32 {
	i32, fast := d.Indices().(*array.Int32)
	nulls := d.NullN() > 0
	if fast && !nulls {
		return i32.Int32Values()
	}
	idx := make([]int32, d.Len())
	for i := range idx {
		switch {
		case nulls && d.IsNull(i):
			idx[i] = -1
		case fast:
			idx[i] = i32.Value(i)
		default:
			idx[i] = int32(d.GetValueIndex(i))
		}
	}
	return idx
}

// lookupTable returns the lookup index of the table side, building it.
func (j *Join) lookupTable() (*lookupIndex, error) {
	if j.look != nil {
		return j.look, nil
	}
	t := j.spec.TableSide
	sd := j.sides[t]
	st := sd.st
	x := &lookupIndex{rows: make(map[string][]int32, st.nbuckets)}
	var vals [][]Value
	for b := range st.nbuckets {
		if st.bucket(b).n == 0 {
			continue // free
		}
		var idx []int32
		for _, r := range st.rowsOf(b) {
			at := int32(len(vals))
			vals = append(vals, st.values(r))
			for n := st.m(r).n; n > 0; n-- {
				idx = append(idx, at)
			}
		}
		x.rows[st.keyOf(b)] = idx
	}
	rb := array.NewRecordBuilder(j.mem, DropOp(sd.schema))
	defer rb.Release()
	rec, err := buildRecord(rb, vals)
	if err != nil {
		return nil, err
	}
	x.table = rec
	j.look = x
	return x, nil
}

// dropLookup forgets the lookup index (the table changed or the join
// closed).
func (j *Join) dropLookup() {
	j.look.release()
	j.look = nil
}

// probeLookup joins a batch of a lookup join's stream with the table:
// the same rows, in the same order, as fold row by row (each row's
// matches in bucket order, a row of multiplicity n n times; an unmatched
// row of a kept stream side null-padded, +I or -D by its sign), built
// column by column. Stream rows are not kept.
func (j *Join) probeLookup(ctx context.Context, side int, rec arrow.Record) (arrow.Record, error) {
	sd := j.sides[side]
	if err := sameTypes(decodedSchema(rec.Schema()), sd.schema); err != nil {
		return nil, fmt.Errorf("stream: join input %d: %w", side+1, err)
	}
	x, err := j.lookupTable()
	if err != nil {
		return nil, err
	}
	n := int(rec.NumRows())
	keys := make([]keyAppender, len(sd.keys))
	var dict *array.Dictionary
	for i, k := range sd.keys {
		arr, err := k.Eval(ctx, j.mem, rec)
		if err != nil {
			return nil, fmt.Errorf("evaluating join key %s: %w", k, err)
		}
		defer arr.Release()
		if d, ok := arr.(*array.Dictionary); ok && len(sd.keys) == 1 {
			dict = d
			break
		}
		if keys[i], err = newKeyAppender(arr); err != nil {
			return nil, err
		}
	}
	probe, build := j.probeIdx[:0], j.buildIdx[:0]
	if dict != nil {
		entries, err := x.dictEntries(dict)
		if err != nil {
			return nil, err
		}
		codes := dictCodes(dict)
		for i := range n {
			if codes[i] < 0 {
				continue
			}
			for _, t := range entries[codes[i]] {
				probe, build = append(probe, int32(i)), append(build, t)
			}
		}
	} else {
		for i := range n {
			j.buf = j.buf[:0]
			null := false
			for _, k := range keys {
				var isNull bool
				j.buf, isNull = k(j.buf, i)
				null = null || isNull
			}
			if null {
				continue
			}
			for _, t := range x.rows[string(j.buf)] {
				probe, build = append(probe, int32(i)), append(build, t)
			}
		}
	}
	first := 0
	if sd.changelog {
		first = 1
	}
	in := rec.Columns()
	if hasDictionary(rec) {
		// The output and the residual get the strings.
		plain, err := j.plainColumns(ctx, rec)
		if err != nil {
			return nil, err
		}
		defer releaseArrays(plain)
		in = plain
	}
	streamCols := in[first:]
	if j.spec.Residual != nil && len(probe) > 0 {
		if probe, build, err = j.lookupResidual(ctx, side, streamCols, x.table, probe, build); err != nil {
			return nil, err
		}
	}
	var ops []int8
	if sd.changelog {
		op, ok := in[0].(*array.Int8)
		if !ok {
			return nil, fmt.Errorf("stream: join input %d: op column is %s, not TINYINT", side+1, rec.Column(0).DataType())
		}
		ops = op.Int8Values()
	}
	if j.outer(side) {
		probe, build = padUnmatched(n, probe, build, j.outProbe[:0], j.outBuild[:0])
	}
	j.probeIdx, j.buildIdx = probe, build
	if len(probe) == 0 {
		return nil, nil
	}
	var cols []arrow.Array
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	if j.update {
		ob := array.NewInt8Builder(j.mem)
		ob.Reserve(len(probe))
		for k, i := range probe {
			op := exec.OpInsert
			if ops != nil {
				op = exec.Op(ops[i])
			}
			if build[k] < 0 && (op == exec.OpUpdateBefore || op == exec.OpDelete) {
				op = exec.OpDelete
			} else if build[k] < 0 {
				op = exec.OpInsert
			}
			ob.UnsafeAppend(int8(op))
		}
		cols = append(cols, ob.NewArray())
		ob.Release()
	}
	mine, err := takeOrKeep(ctx, j, streamCols, probe, n)
	if err != nil {
		return nil, err
	}
	theirs, err := exec.TakeColumns(ctx, j.mem, x.table.Columns(), build)
	if err != nil {
		releaseArrays(mine)
		return nil, err
	}
	if side == 0 {
		cols = append(append(cols, mine...), theirs...)
	} else {
		cols = append(append(cols, theirs...), mine...)
	}
	return array.NewRecord(j.schema, cols, int64(len(probe))), nil
}

// lookupResidual keeps the candidate pairs (probe[k], build[k]) for
// which the residual holds, evaluated over the pairs' joined rows.
func (j *Join) lookupResidual(ctx context.Context, side int, streamCols []arrow.Array, table arrow.Record, probe, build []int32) ([]int32, []int32, error) {
	mine, err := exec.TakeColumns(ctx, j.mem, streamCols, probe)
	if err != nil {
		return nil, nil, err
	}
	defer releaseArrays(mine)
	theirs, err := exec.TakeColumns(ctx, j.mem, table.Columns(), build)
	if err != nil {
		return nil, nil, err
	}
	defer releaseArrays(theirs)
	cols := append(append([]arrow.Array(nil), mine...), theirs...)
	if side == 1 {
		cols = append(append([]arrow.Array(nil), theirs...), mine...)
	}
	pair := array.NewRecord(j.pair, cols, int64(len(probe)))
	defer pair.Release()
	arr, err := j.spec.Residual.Eval(ctx, j.mem, pair)
	if err != nil {
		return nil, nil, fmt.Errorf("evaluating join condition %s: %w", j.spec.Residual, err)
	}
	defer arr.Release()
	b, ok := arr.(*array.Boolean)
	if !ok {
		return nil, nil, fmt.Errorf("stream: join condition %s is %s, not BOOLEAN", j.spec.Residual, arr.DataType())
	}
	kept := 0
	for k := range probe {
		if b.IsValid(k) && b.Value(k) {
			probe[kept], build[kept] = probe[k], build[k]
			kept++
		}
	}
	return probe[:kept], build[:kept], nil
}

// padUnmatched returns the pairs with a (row, -1) pair for each of the n
// stream rows that has none, in row order (probe is ascending).
func padUnmatched(n int, probe, build, outP, outB []int32) ([]int32, []int32) {
	k := 0
	for i := range int32(n) {
		if k < len(probe) && probe[k] == i {
			for ; k < len(probe) && probe[k] == i; k++ {
				outP, outB = append(outP, i), append(outB, build[k])
			}
			continue
		}
		outP, outB = append(outP, i), append(outB, -1)
	}
	return outP, outB
}

// takeOrKeep gathers rows idx of cols; when idx is every row of the n in
// order (each stream row matched once), the columns are kept as they are.
func takeOrKeep(ctx context.Context, j *Join, cols []arrow.Array, idx []int32, n int) ([]arrow.Array, error) {
	same := len(idx) == n
	for k := 0; same && k < len(idx); k++ {
		same = idx[k] == int32(k)
	}
	if !same {
		return exec.TakeColumns(ctx, j.mem, cols, idx)
	}
	out := make([]arrow.Array, len(cols))
	for i, c := range cols {
		c.Retain()
		out[i] = c
	}
	return out, nil
}

// keyAppender appends row i's appendKey encoding to buf and reports a
// NULL; strings are read in place (reader copies them, for state).
type keyAppender func(buf []byte, i int) ([]byte, bool)

func newKeyAppender(arr arrow.Array) (keyAppender, error) {
	str := func(get func(int) string) keyAppender {
		return func(buf []byte, i int) ([]byte, bool) {
			if arr.IsNull(i) {
				return append(buf, byte(KNull)), true
			}
			s := get(i)
			buf = append(buf, byte(KString))
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
			return append(buf, s...), false
		}
	}
	switch a := arr.(type) {
	case *array.String:
		return str(a.Value), nil
	case *array.LargeString:
		return str(a.Value), nil
	case *array.Binary:
		return str(a.ValueString), nil
	case *array.LargeBinary:
		return str(func(i int) string { return string(a.Value(i)) }), nil
	}
	rd, err := reader(arr)
	if err != nil {
		return nil, err
	}
	return func(buf []byte, i int) ([]byte, bool) {
		v := rd(i)
		return appendKey(buf, v), v.IsNull()
	}, nil
}
