package format

import (
	"encoding/binary"
	"math/bits"
)

// maxFastFields bounds the records AppendSimple handles; wider records go
// through Split and AppendFields.
const maxFastFields = 64

// fastCol is AppendSimple's plan for one input field and the values it
// staged in the current call; staging whole columns and appending them to
// the builders in bulk at the end of the call is much cheaper than a
// builder call (with its validity bitmap update) per value.
type fastCol struct {
	oi    int  // output column; -1: the field is not read
	kind  kind // kInt64, kString, kDictString, or kUnsupported when not read
	c     *column
	dict  *csvDict
	ints  []int64 // staged kInt64 values
	idx   []int32 // staged kDictString indexes
	valid []bool
	nulls int
}

// planFast (re)builds the per-field plan; false when some read column has
// a kind the fast path does not handle.
func (d *CSVDecoder) planFast() bool {
	if d.fastOK != 0 {
		return d.fastOK > 0
	}
	d.fastOK = -1
	if d.nfields <= 0 || d.nfields > maxFastFields {
		return false
	}
	if delim := d.opts.delim(); delim == '"' || delim == '\n' || delim == '\r' {
		return false
	}
	plan := make([]fastCol, d.nfields)
	for p, oi := range d.inCols {
		plan[p].oi, plan[p].kind = oi, kUnsupported // kUnsupported: not read
		if oi < 0 {
			continue
		}
		c := d.cols[oi]
		switch c.kind {
		case kInt64, kString:
		case kDictString:
			plan[p].dict = d.dicts[oi]
		default:
			return false
		}
		plan[p].kind, plan[p].c = c.kind, c
	}
	d.fast, d.fastOK = plan, 1
	return true
}

// Byte-matching constants for finding field ends eight bytes at a time.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// zeroBytes has the high bit set in the lowest zero byte of x (higher
// ones may be false positives, which callers ignore by taking the lowest).
func zeroBytes(x uint64) uint64 { return (x - lsb) &^ x & msb }

// AppendSimple appends the complete, simple records at the start of buf —
// no quote character, a '\n' (or "\r\n") end, the expected field count and
// only valid values — up to max records, and returns the bytes and the
// records (= lines) consumed. It stops before the first record it cannot
// take whole (incomplete, quoted, blank, malformed or holding a bad value),
// which the caller then reads with Split and AppendFields, so errors and
// the on_error policy behave exactly as on the slow path. Splitting,
// parsing and staging in one pass over the bytes — integers parsed as
// their digits are found, short strings located eight bytes at a time and
// dictionary columns looked up as two machine words — with no per-field
// slices, is what makes plain CSV fast.
func (d *CSVDecoder) AppendSimple(buf []byte, max int) (n, recs int) {
	if max <= 0 || !d.planFast() {
		return 0, 0
	}
	plan := d.fast
	nf := len(plan)
	for p := range plan {
		fc := &plan[p]
		fc.ints, fc.idx, fc.valid, fc.nulls = fc.ints[:0], fc.idx[:0], fc.valid[:0], 0
		if fc.kind == kString {
			fc.c.b.Reserve(max)
		}
	}
	delim := d.opts.delim()
	null := d.null
	dw := uint64(delim) * lsb
	var starts, ends [maxFastFields]int
	var ints [maxFastFields]int64
	var idxs [maxFastFields]int32
	var nulls [maxFastFields]bool
	pos := 0
rows:
	for recs < max {
		i := pos
		for p := 0; p < nf; p++ {
			fc := &plan[p]
			start := i
			j := i
			switch fc.kind {
			case kInt64:
				// Digits inline; anything unusual goes to the generic
				// field end below and ParseInt.
				neg := false
				if j < len(buf) && buf[j] == '-' {
					neg = true
					j++
				}
				var x int64
				ds := j
				for j < len(buf) {
					c := buf[j] - '0'
					if c > 9 {
						break
					}
					x = x*10 + int64(c)
					j++
				}
				if j >= len(buf) {
					break rows // incomplete record
				}
				if t := buf[j]; j-ds > 0 && j-ds <= 17 && (t == delim || t == '\n' || t == '\r') {
					if neg {
						x = -x
					}
					ints[p] = x
					goto found
				}
			case kDictString:
				// Find the end in the first 16 bytes a word at a time and
				// look the value up by those words.
				if j+16 <= len(buf) {
					w0 := binary.LittleEndian.Uint64(buf[j : j+8])
					w1 := binary.LittleEndian.Uint64(buf[j+8 : j+16])
					m := zeroBytes(w0^dw) | zeroBytes(w0^('\n'*lsb)) | zeroBytes(w0^('"'*lsb)) | zeroBytes(w0^('\r'*lsb))
					if m != 0 {
						l := bits.TrailingZeros64(m) >> 3
						j += l
						if buf[j] == delim && p != nf-1 && (len(null) != l || string(buf[start:j]) != string(null)) {
							idxs[p] = fc.dict.short(w0&(1<<(8*l)-1), 0, buf[start:j])
							starts[p], ends[p], nulls[p] = start, j, false
							i = j + 1
							continue
						}
						goto found
					}
					m = zeroBytes(w1^dw) | zeroBytes(w1^('\n'*lsb)) | zeroBytes(w1^('"'*lsb)) | zeroBytes(w1^('\r'*lsb))
					if m != 0 {
						l := bits.TrailingZeros64(m) >> 3
						j += 8 + l
						if buf[j] == delim && p != nf-1 && (len(null) != 8+l || string(buf[start:j]) != string(null)) {
							idxs[p] = fc.dict.short(w0, w1&(1<<(8*l)-1), buf[start:j])
							starts[p], ends[p], nulls[p] = start, j, false
							i = j + 1
							continue
						}
						goto found
					}
					j += 16
				}
			}
			// Generic field end: the next delimiter or record end.
			for j < len(buf) {
				c := buf[j]
				if c == delim || c == '\n' || c == '"' {
					break
				}
				j++
			}
			if j >= len(buf) {
				break rows // incomplete record
			}
			if fc.kind == kInt64 && buf[j] != '"' {
				e := j
				if buf[j] == '\n' && e > start && buf[e-1] == '\r' {
					e--
				}
				v := buf[start:e]
				if len(v) != len(null) || string(v) != string(null) {
					x, ok := ParseInt(v)
					if !ok {
						break rows // a bad value: the slow path applies the policy
					}
					ints[p] = x
				}
			}
		found:
			// buf[j] ends the field: it must be the delimiter, or the
			// record end after the last field.
			t := buf[j]
			end := j
			if t == '\r' {
				if p != nf-1 || j+1 >= len(buf) || buf[j+1] != '\n' {
					break rows // a CR inside a field, or the buffer ends: the slow path decides
				}
				j++
				t = '\n'
			} else if t == '\n' && end > start && buf[end-1] == '\r' {
				end--
			}
			if t == '"' || (t == '\n') != (p == nf-1) || (t != '\n' && t != delim) {
				break rows
			}
			starts[p], ends[p] = start, end
			v := buf[start:end]
			nulls[p] = len(v) == len(null) && string(v) == string(null)
			if fc.kind == kDictString && !nulls[p] {
				idxs[p] = fc.dict.id(v)
			}
			i = j + 1
		}
		if nf == 1 && ends[0] == starts[0] {
			break rows // a blank line: the slow path skips it
		}
		for p := range plan {
			if c := plan[p].c; c != nil && (nulls[p] && c.notNull || c.unsigned && c.kind == kInt64 && ints[p] < 0) {
				break rows // a declared rule is broken: the slow path rejects the row
			}
		}
		// The whole record is valid: stage it.
		for p := range plan {
			fc := &plan[p]
			switch fc.kind {
			case kInt64:
				fc.ints = append(fc.ints, ints[p])
			case kDictString:
				fc.idx = append(fc.idx, idxs[p])
			case kString:
				if nulls[p] {
					fc.c.b.AppendNull()
				} else {
					fc.c.str.BinaryBuilder.Append(buf[starts[p]:ends[p]])
				}
				continue
			default:
				continue
			}
			fc.valid = append(fc.valid, !nulls[p])
			if nulls[p] {
				fc.nulls++
			}
		}
		d.n++
		recs++
		pos = i
	}
	d.flushFast()
	return pos, recs
}

// flushFast appends the staged columns to the builders.
func (d *CSVDecoder) flushFast() {
	for p := range d.fast {
		fc := &d.fast[p]
		var valid []bool
		if fc.nulls > 0 {
			valid = fc.valid
		}
		switch fc.kind {
		case kInt64:
			if len(fc.ints) > 0 {
				fc.c.i64.AppendValues(fc.ints, valid)
			}
		case kDictString:
			if len(fc.idx) > 0 {
				fc.c.i32.AppendValues(fc.idx, valid)
			}
		}
	}
}
