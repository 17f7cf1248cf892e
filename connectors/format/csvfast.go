package format

// maxFastFields bounds the records AppendSimple handles; wider records go
// through Split and AppendFields.
const maxFastFields = 64

// AppendSimple appends the complete, simple records at the start of buf —
// no quote character, a '\n' (or "\r\n") end, the expected field count and
// only valid values — up to max records, and returns the bytes and the
// records (= lines) consumed. It stops before the first record it cannot
// take whole (incomplete, quoted, blank, malformed or holding a bad value),
// which the caller then reads with Split and AppendFields, so errors and
// the on_error policy behave exactly as on the slow path. Splitting,
// parsing and appending in one pass over the bytes, with no per-field
// slices, is what makes plain CSV fast.
func (d *CSVDecoder) AppendSimple(buf []byte, max int) (n, recs int) {
	nf := d.nfields
	if nf <= 0 || nf > maxFastFields || max <= 0 {
		return 0, 0
	}
	delim := d.opts.delim()
	if delim == '"' || delim == '\n' || delim == '\r' {
		return 0, 0
	}
	for _, oi := range d.inCols {
		if oi >= 0 && d.cols[oi].kind != kInt64 && d.cols[oi].kind != kString {
			return 0, 0 // other kinds: slow path
		}
	}
	var ends [maxFastFields + 1]int
	var ints [maxFastFields]int64
	var nulls [maxFastFields]bool
	for _, oi := range d.inCols {
		if oi >= 0 {
			d.cols[oi].b.Reserve(max)
		}
	}
	null := d.null
	pos := 0
	for recs < max {
		// Find the field ends; give up on quotes and incomplete records.
		i, f := pos, 0
		ends[0] = pos - 1 // start of field p is ends[p]+1
		for {
			if i >= len(buf) {
				return pos, recs
			}
			c := buf[i]
			if c == delim {
				f++
				if f >= nf {
					return pos, recs
				}
				ends[f] = i
			} else if c == '\n' {
				break
			} else if c == '"' {
				return pos, recs
			}
			i++
		}
		if f != nf-1 {
			return pos, recs
		}
		lineEnd := i
		if lineEnd > pos && buf[lineEnd-1] == '\r' {
			lineEnd--
		}
		if lineEnd == pos && nf == 1 {
			return pos, recs // blank line
		}
		ends[nf] = lineEnd
		// Parse every projected field before appending any, so a bad
		// value leaves the builders untouched.
		for p, oi := range d.inCols {
			if oi < 0 {
				continue
			}
			v := buf[ends[p]+1 : ends[p+1]]
			nulls[p] = len(v) == len(null) && string(v) == string(null)
			if nulls[p] || d.cols[oi].kind != kInt64 {
				continue
			}
			x, ok := ParseInt(v)
			if !ok {
				return pos, recs
			}
			ints[p] = x
		}
		for p, oi := range d.inCols {
			if oi < 0 {
				continue
			}
			c := d.cols[oi]
			switch {
			case nulls[p]:
				c.b.AppendNull()
			case c.kind == kInt64:
				c.i64.UnsafeAppend(ints[p])
			default:
				c.str.BinaryBuilder.Append(buf[ends[p]+1 : ends[p+1]])
			}
		}
		d.n++
		recs++
		pos = i + 1
	}
	return pos, recs
}
