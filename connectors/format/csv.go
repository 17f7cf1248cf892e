package format

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// CSVOptions are the CSV dialect options.
type CSVOptions struct {
	// Delimiter separates fields; 0 means ','. Must be a single byte.
	Delimiter rune
	// Null is the text that means NULL; the default "" makes an empty
	// unquoted field NULL. A quoted field is never NULL.
	Null string
	// Header says the first record holds the column names. Decoders
	// ignore it (readers skip the header record themselves); InferCSVRecords
	// and the file connector use it.
	Header bool
}

func (o CSVOptions) delim() byte {
	if o.Delimiter == 0 {
		return ','
	}
	return byte(o.Delimiter)
}

// CSVSplitter splits CSV records into fields: RFC 4180 quoting with ""
// for an embedded quote and newlines inside quotes, LF or CRLF record
// ends. Unquoted records, the common case, are split with IndexByte
// (vectorized) and need no copying.
type CSVSplitter struct {
	delim   byte
	fields  [][]byte
	quoted  []bool
	scratch []byte
}

// NewCSVSplitter makes a splitter for the delimiter.
func NewCSVSplitter(delim byte) *CSVSplitter {
	return &CSVSplitter{delim: delim}
}

// Split parses the record at the start of buf. It returns the fields
// (valid until the next call; they may point into buf), whether each was
// quoted, the bytes consumed including the record end, and the newlines
// consumed (for line numbers). ok is false when buf holds no complete
// record and more input may follow (atEOF false); at EOF the rest of buf
// is one record; empty buf is never a record. An unterminated quote at EOF returns a *RowError.
func (s *CSVSplitter) Split(buf []byte, atEOF bool) (fields [][]byte, quoted []bool, n, lines int, ok bool, err error) {
	s.fields, s.quoted = s.fields[:0], s.quoted[:0]
	if len(buf) == 0 {
		return nil, nil, 0, 0, false, nil
	}
	nl := bytes.IndexByte(buf, '\n')
	var line []byte
	if nl >= 0 {
		line = buf[:nl]
	} else if atEOF {
		line = buf
	} else {
		return nil, nil, 0, 0, false, nil
	}
	if bytes.IndexByte(line, '"') < 0 {
		n = len(line)
		if nl >= 0 {
			n++
			lines = 1
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		for {
			i := bytes.IndexByte(line, s.delim)
			if i < 0 {
				s.fields = append(s.fields, line)
				s.quoted = append(s.quoted, false)
				break
			}
			s.fields = append(s.fields, line[:i])
			s.quoted = append(s.quoted, false)
			line = line[i+1:]
		}
		return s.fields, s.quoted, n, lines, true, nil
	}
	return s.splitQuoted(buf, atEOF)
}

func (s *CSVSplitter) splitQuoted(buf []byte, atEOF bool) (fields [][]byte, quoted []bool, n, lines int, ok bool, err error) {
	s.scratch = s.scratch[:0]
	i := 0
	for {
		// Start of a field at i.
		if i < len(buf) && buf[i] == '"' {
			i++
			start := len(s.scratch)
			for {
				j := bytes.IndexByte(buf[i:], '"')
				if j < 0 {
					if !atEOF {
						return nil, nil, 0, 0, false, nil
					}
					return nil, nil, 0, 0, false, &RowError{Msg: "unterminated quoted field"}
				}
				seg := buf[i : i+j]
				lines += bytes.Count(seg, []byte{'\n'})
				s.scratch = append(s.scratch, seg...)
				i += j + 1
				if i < len(buf) && buf[i] == '"' {
					s.scratch = append(s.scratch, '"')
					i++
					continue
				}
				if i >= len(buf) && !atEOF {
					return nil, nil, 0, 0, false, nil
				}
				break
			}
			s.fields = append(s.fields, s.scratch[start:len(s.scratch):len(s.scratch)])
			s.quoted = append(s.quoted, true)
			// Tolerate junk between the closing quote and the delimiter
			// by appending it, as most readers do.
			for i < len(buf) && buf[i] != s.delim && buf[i] != '\n' && buf[i] != '\r' {
				last := len(s.fields) - 1
				s.fields[last] = append(s.fields[last], buf[i])
				i++
			}
		} else {
			j := i
			for j < len(buf) && buf[j] != s.delim && buf[j] != '\n' {
				j++
			}
			if j >= len(buf) && !atEOF {
				return nil, nil, 0, 0, false, nil
			}
			f := buf[i:j]
			if j < len(buf) && buf[j] == '\n' && len(f) > 0 && f[len(f)-1] == '\r' {
				f = f[:len(f)-1]
			}
			s.fields = append(s.fields, f)
			s.quoted = append(s.quoted, false)
			i = j
		}
		if i < len(buf) && buf[i] == '\r' && i+1 < len(buf) && buf[i+1] == '\n' {
			i++
		}
		if i >= len(buf) {
			if !atEOF {
				return nil, nil, 0, 0, false, nil
			}
			return s.fields, s.quoted, i, lines, true, nil
		}
		if buf[i] == '\n' {
			return s.fields, s.quoted, i + 1, lines + 1, true, nil
		}
		if buf[i] == '\r' { // lone CR after a quoted field at EOF
			i++
			if i >= len(buf) {
				return s.fields, s.quoted, i, lines, true, nil
			}
			continue
		}
		i++ // delimiter
		if i >= len(buf) {
			if !atEOF {
				return nil, nil, 0, 0, false, nil
			}
			s.fields = append(s.fields, nil)
			s.quoted = append(s.quoted, false)
			return s.fields, s.quoted, i, lines, true, nil
		}
	}
}

// SplitAll splits every record of data (used for small inputs such as a
// Kafka message or an inference sample).
func (s *CSVSplitter) SplitAll(data []byte, fn func(fields [][]byte, quoted []bool) error) error {
	for len(data) > 0 {
		fields, quoted, n, _, _, err := s.Split(data, true)
		if err != nil {
			return err
		}
		if err := fn(fields, quoted); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// CSVDecoder appends CSV records to Arrow builders. Fields map to the
// schema's columns by position (or by header names after MapHeader);
// columns not selected by SetColumns are never parsed.
type CSVDecoder struct {
	rows
	opts     CSVOptions
	null     []byte
	split    *CSVSplitter
	inCols   []int            // input field position → output column, or -1
	nfields  int              // expected field count
	fieldPos []int            // schema column → input field position
	fast     []fastCol        // AppendSimple's plan by input field
	fastOK   int8             // 0: plan stale, 1: fast path usable, -1: not
	dicts    map[int]*csvDict // dictionary-encoded output columns
}

// NewCSVDecoder makes a decoder producing records of schema (all columns
// until SetColumns narrows them).
func NewCSVDecoder(mem memory.Allocator, schema *arrow.Schema, opts CSVOptions) (*CSVDecoder, error) {
	d := &CSVDecoder{opts: opts, null: []byte(opts.Null), split: NewCSVSplitter(opts.delim())}
	if err := d.rows.init(mem, schema); err != nil {
		return nil, err
	}
	d.fieldPos = make([]int, schema.NumFields())
	for i := range d.fieldPos {
		d.fieldPos[i] = i
	}
	d.nfields = schema.NumFields()
	d.remap()
	return d, nil
}

// SetColumns selects the schema columns (indices, in output order) that
// records hold; nil selects all. It discards rows not yet taken.
func (d *CSVDecoder) SetColumns(cols []int) error {
	d.releaseDicts()
	if err := d.rows.setColumns(cols); err != nil {
		return err
	}
	d.remap()
	return nil
}

// Release frees the builders and dictionaries.
func (d *CSVDecoder) Release() {
	d.releaseDicts()
	d.rows.Release()
}

// MapHeader maps schema columns to input fields by the header's names
// (case-insensitive), so a declared schema may list columns in another
// order than the file. Every schema column must appear in the header.
func (d *CSVDecoder) MapHeader(header [][]byte) error {
	pos := make(map[string]int, len(header))
	for i, h := range header {
		k := strings.ToLower(strings.TrimSpace(string(h)))
		if _, dup := pos[k]; !dup {
			pos[k] = i
		}
	}
	for i, f := range d.full.Fields() {
		p, ok := pos[strings.ToLower(f.Name)]
		if !ok {
			return fmt.Errorf("column %q is not in the CSV header", f.Name)
		}
		d.fieldPos[i] = p
	}
	d.nfields = len(header)
	d.remap()
	return nil
}

func (d *CSVDecoder) remap() {
	d.fastOK = 0
	d.inCols = make([]int, d.nfields)
	for i := range d.inCols {
		d.inCols[i] = -1
	}
	for fi, p := range d.fieldPos {
		if oi := d.toOut[fi]; oi >= 0 {
			d.inCols[p] = oi
		}
	}
}

// AppendLine splits one whole record (which may hold quoted newlines;
// a trailing newline is allowed) and appends it.
func (d *CSVDecoder) AppendLine(line []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = d.recoverRow(p)
		}
	}()
	fields, quoted, _, _, _, err := d.split.Split(line, true)
	if err != nil {
		return d.rowErr(err.Error())
	}
	return d.appendFields(fields, quoted)
}

// rowErr applies the policy to a malformed row (nothing appended yet).
func (d *CSVDecoder) rowErr(msg string) error {
	if d.policy == OnErrorFail {
		return &RowError{Msg: msg}
	}
	d.skipped++
	return nil
}

// AppendFields appends one record split into fields; quoted (may be nil)
// marks fields that were quoted, which are never NULL. A wrong field
// count is a *RowError (padded with NULLs under OnErrorNull); a bad value
// is a *FieldError.
func (d *CSVDecoder) AppendFields(fields [][]byte, quoted []bool) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = d.recoverRow(p)
		}
	}()
	return d.appendFields(fields, quoted)
}

func (d *CSVDecoder) appendFields(fields [][]byte, quoted []bool) error {
	if len(fields) != d.nfields {
		if d.policy != OnErrorNull {
			return d.rowErr(fmt.Sprintf("expected %d fields, got %d", d.nfields, len(fields)))
		}
		d.nulled++
	}
	var firstErr error
	for p, oi := range d.inCols {
		if oi < 0 {
			continue
		}
		c := d.cols[oi]
		if p >= len(fields) || len(fields[p]) == len(d.null) && (quoted == nil || !quoted[p]) && bytes.Equal(fields[p], d.null) {
			if err := d.appendNull(oi); err != nil && firstErr == nil {
				firstErr = err
			}
			continue
		}
		v := fields[p]
		if c.kind == kDictString {
			d.appendDict(oi, v)
			continue
		}
		if !c.appendText(v) {
			if err := d.fieldErr(oi, v); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	d.endRow()
	return firstErr
}
