package format

import (
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// kDictString marks a string column the CSV decoder dictionary-encodes
// (see CSVDecoder.KeepDictionaries). Its column's builder holds int32
// indexes into the column's csvDict.
const kDictString = kUnsupported + 1

// MaxCSVDictionary is the number of distinct values past which a
// dictionary-encoded CSV column goes back to plain strings (from the next
// batch on): a column with that many distinct values is not worth
// grouping through a dictionary, and every batch that adds values copies
// the dictionary once.
const MaxCSVDictionary = 1 << 12

// CSVDictType is the Arrow type of a CSV string column the decoder
// returns dictionary-encoded.
var CSVDictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// csvDict maps a column's distinct values to dense ids in order of first
// appearance. Values of at most 16 bytes (typical categories) are packed
// into two words and found without hashing bytes; longer ones go through
// a Go map.
type csvDict struct {
	slots []dictSlot
	shift uint
	long  map[string]int32
	data  []byte  // values, concatenated
	offs  []int32 // value k is data[offs[k]:offs[k+1]]
	arr   *array.String
}

type dictSlot struct {
	w0, w1 uint64
	l      uint32
	id     int32 // value id + 1; 0 = empty
}

func newCSVDict() *csvDict {
	return &csvDict{slots: make([]dictSlot, 256), shift: 64 - 8, long: map[string]int32{}, offs: []int32{0}}
}

func (t *csvDict) len() int { return len(t.offs) - 1 }

// id returns the id of v, adding it when new.
func (t *csvDict) id(v []byte) int32 {
	l := len(v)
	if l > 16 {
		if id, ok := t.long[string(v)]; ok {
			return id
		}
		id := t.add(v)
		t.long[string(v)] = id
		return id
	}
	var buf [16]byte
	copy(buf[:], v)
	return t.short(binary.LittleEndian.Uint64(buf[:]), binary.LittleEndian.Uint64(buf[8:]), v)
}

// short returns the id of v (at most 16 bytes), given as two
// little-endian words zero-padded past len(v), adding it when new.
func (t *csvDict) short(w0, w1 uint64, v []byte) int32 {
	l := len(v)
	mask := uint64(len(t.slots) - 1)
	j := (w0 ^ (w1+uint64(l))*0x9E3779B97F4A7C15) * 0xC2B2AE3D27D4EB4F >> t.shift
	for {
		s := &t.slots[j]
		if s.w0 == w0 && s.w1 == w1 && s.l == uint32(l) && s.id != 0 {
			return s.id - 1
		}
		if s.id == 0 {
			id := t.add(v)
			*s = dictSlot{w0: w0, w1: w1, l: uint32(l), id: id + 1}
			if 4*t.len() > len(t.slots) {
				t.grow()
			}
			return id
		}
		j = (j + 1) & mask
	}
}

func (t *csvDict) add(v []byte) int32 {
	id := int32(t.len())
	t.data = append(t.data, v...)
	t.offs = append(t.offs, int32(len(t.data)))
	return id
}

func (t *csvDict) grow() {
	old := t.slots
	t.slots = make([]dictSlot, 2*len(old))
	t.shift--
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.id == 0 {
			continue
		}
		j := (s.w0 ^ (s.w1+uint64(s.l))*0x9E3779B97F4A7C15) * 0xC2B2AE3D27D4EB4F >> t.shift
		for t.slots[j].id != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = s
	}
}

// values returns the dictionary as a string array, rebuilt only when
// values were added since the last call, so consecutive batches share one
// dictionary (a grouping consumer then maps each value once, not once per
// batch). The decoder keeps a reference; the caller does not release it.
func (d *CSVDecoder) dictValues(t *csvDict) *array.String {
	if t.arr != nil && t.arr.Len() == t.len() {
		return t.arr
	}
	if t.arr != nil {
		t.arr.Release()
	}
	sb := array.NewStringBuilder(d.mem)
	defer sb.Release()
	sb.Reserve(t.len())
	sb.ReserveData(len(t.data))
	for k := 0; k < t.len(); k++ {
		sb.BinaryBuilder.Append(t.data[t.offs[k]:t.offs[k+1]])
	}
	t.arr = sb.NewStringArray()
	return t.arr
}

// KeepDictionaries makes the decoder return the given output columns
// (indices into the SetColumns order), which must be strings,
// dictionary-encoded: an int32 index per row into the column's distinct
// values so far, the same dictionary array for every batch until new
// values appear. Only a consumer that accepts dictionary arrays in those
// columns may ask (a GROUP BY key read straight from the scan): the
// records then no longer match Schema in those columns. A column whose
// distinct values pass MaxCSVDictionary goes back to plain strings from
// the next batch on. Call it after SetColumns (which resets it) and before
// appending rows.
func (d *CSVDecoder) KeepDictionaries(cols []int) error {
	if d.n > 0 {
		return fmt.Errorf("csv: KeepDictionaries with %d rows pending", d.n)
	}
	for _, oi := range cols {
		if oi < 0 || oi >= len(d.cols) {
			return fmt.Errorf("csv: dictionary column %d out of range (%d columns)", oi, len(d.cols))
		}
		c := d.cols[oi]
		if c.kind == kDictString {
			continue
		}
		if c.kind != kString {
			return fmt.Errorf("csv: column %q is %s, not a string: it cannot be dictionary-encoded", c.name, c.typ)
		}
		ib := array.NewInt32Builder(d.mem)
		c.b.Release()
		c.str, c.b, c.i32, c.kind = nil, ib, ib, kDictString
		if d.dicts == nil {
			d.dicts = map[int]*csvDict{}
		}
		d.dicts[oi] = newCSVDict()
	}
	d.fastOK = 0
	return nil
}

// plainAgain turns dictionary column oi back into a plain string column
// (between batches).
func (d *CSVDecoder) plainAgain(oi int) {
	c := d.cols[oi]
	sb := array.NewStringBuilder(d.mem)
	c.b.Release()
	c.i32, c.str, c.b, c.kind = nil, sb, sb, kString
	if t := d.dicts[oi]; t.arr != nil {
		t.arr.Release()
	}
	delete(d.dicts, oi)
	d.fastOK = 0
}

// appendDict appends one value of a dictionary column (slow path).
func (d *CSVDecoder) appendDict(oi int, v []byte) {
	d.cols[oi].i32.Append(d.dicts[oi].id(v))
}

// NewRecord returns the rows appended so far and resets the builders; the
// caller owns the record. Dictionary columns (KeepDictionaries) come back
// as dictionary arrays.
func (d *CSVDecoder) NewRecord() arrow.Record {
	if len(d.dicts) == 0 {
		return d.rows.NewRecord()
	}
	// The builders of dictionary columns hold the int32 indexes: build
	// the record with that type, then wrap them.
	out := d.out
	fields := append([]arrow.Field(nil), out.Fields()...)
	for oi := range d.dicts {
		fields[oi].Type = arrow.PrimitiveTypes.Int32
	}
	d.out = arrow.NewSchema(fields, nil)
	rec := d.rows.NewRecord()
	d.out = out
	defer rec.Release()
	cols := make([]arrow.Array, rec.NumCols())
	copy(cols, rec.Columns())
	var wrapped []arrow.Array
	for oi, t := range d.dicts {
		a := array.NewDictionaryArray(CSVDictType, cols[oi], d.dictValues(t))
		wrapped = append(wrapped, a)
		cols[oi] = a
		fields[oi].Type = CSVDictType
	}
	res := array.NewRecord(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	for _, a := range wrapped {
		a.Release()
	}
	for oi, t := range d.dicts {
		if t.len() > MaxCSVDictionary {
			d.plainAgain(oi)
		}
	}
	return res
}

// releaseDicts drops the dictionaries' arrays.
func (d *CSVDecoder) releaseDicts() {
	for _, t := range d.dicts {
		if t.arr != nil {
			t.arr.Release()
			t.arr = nil
		}
	}
	d.dicts = nil
}
