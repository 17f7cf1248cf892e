package format

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/internal/listtext"
)

// JSONDecoder appends JSON objects (one per Append) to Arrow builders.
// Keys match column names exactly, or else case-insensitively; unknown
// keys are skipped without being decoded; a missing key is NULL. A
// nested object or array in a VARCHAR column is kept as its JSON text;
// a JSON number in a TIMESTAMP column is epoch milliseconds.
type JSONDecoder struct {
	rows
	index   map[string]int // key → output column
	scratch []byte
	raw     bool
}

// NewJSONDecoder makes a decoder producing records of schema.
func NewJSONDecoder(mem memory.Allocator, schema *arrow.Schema) (*JSONDecoder, error) {
	d := &JSONDecoder{}
	if err := d.rows.init(mem, schema); err != nil {
		return nil, err
	}
	d.reindex()
	return d, nil
}

// SetColumns selects the schema columns (indices, in output order) that
// records hold; nil selects all. It discards rows not yet taken.
func (d *JSONDecoder) SetColumns(cols []int) error {
	if err := d.rows.setColumns(cols); err != nil {
		return err
	}
	d.reindex()
	return nil
}

func (d *JSONDecoder) reindex() {
	d.index = make(map[string]int, 2*len(d.cols))
	for oi, c := range d.cols {
		if _, ok := d.index[strings.ToLower(c.name)]; !ok {
			d.index[strings.ToLower(c.name)] = oi
		}
	}
	for oi, c := range d.cols {
		d.index[c.name] = oi
	}
}

// MaxJSONDepth is how deeply objects and arrays may nest inside a JSON
// value (Jackson's default limit); deeper nesting is a *RowError, so no
// consumer of a nested value kept as text meets unbounded nesting.
const MaxJSONDepth = 1000

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) errf(format string, args ...any) error {
	return &RowError{Msg: fmt.Sprintf("invalid JSON at byte %d: ", s.i) + fmt.Sprintf(format, args...)}
}

// str reads a string starting after its opening quote; the result points
// into b when there are no escapes, else into *scratch.
func (s *jsonScanner) str(scratch *[]byte) ([]byte, error) {
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			v := s.b[start:s.i]
			s.i++
			return v, nil
		}
		if c == '\\' {
			break
		}
		s.i++
	}
	if s.i >= len(s.b) {
		return nil, s.errf("unterminated string")
	}
	out := append((*scratch)[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			*scratch = out
			return out, nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, s.errf("bad escape")
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, s.errf("bad \\u escape")
				}
				if utf16.IsSurrogate(r) && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					r2, ok := s.hex4()
					if !ok {
						return nil, s.errf("bad \\u escape")
					}
					r = utf16.DecodeRune(r, r2)
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, s.errf("bad escape \\%c", e)
			}
		default:
			out = append(out, c)
			s.i++
		}
	}
	return nil, s.errf("unterminated string")
}

func (s *jsonScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r*16 + rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r*16 + rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r*16 + rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// skip passes over one value of any kind, returning its raw text.
func (s *jsonScanner) skip(scratch *[]byte) ([]byte, error) {
	start := s.i
	if s.i >= len(s.b) {
		return nil, s.errf("missing value")
	}
	switch s.b[s.i] {
	case '"':
		s.i++
		if _, err := s.str(scratch); err != nil {
			return nil, err
		}
	case '{', '[':
		// Brackets must match; the open ones are a stack of bytes, not
		// recursion, so nesting costs no goroutine stack.
		var open [64]byte
		stack := open[:0]
		for s.i < len(s.b) {
			switch c := s.b[s.i]; c {
			case '{', '[':
				if len(stack) >= MaxJSONDepth {
					return nil, s.errf("nested deeper than %d levels", MaxJSONDepth)
				}
				stack = append(stack, c)
				s.i++
			case '}', ']':
				if top := stack[len(stack)-1]; c != top+2 { // '['+2 = ']', '{'+2 = '}'
					return nil, s.errf("%c closed by %c", top, c)
				}
				stack = stack[:len(stack)-1]
				s.i++
				if len(stack) == 0 {
					return s.b[start:s.i], nil
				}
			case '"':
				s.i++
				if _, err := s.str(scratch); err != nil {
					return nil, err
				}
			default:
				s.i++
			}
		}
		return nil, s.errf("unterminated %c", s.b[start])
	default:
		for s.i < len(s.b) {
			c := s.b[s.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			s.i++
		}
		if s.i == start {
			return nil, s.errf("missing value")
		}
	}
	return s.b[start:s.i], nil
}

// Append decodes one JSON object and appends it as a row. Invalid JSON
// is a *RowError; a value of the wrong type a *FieldError (subject to
// the error policy).
func (d *JSONDecoder) Append(line []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = d.recoverRow(p)
		}
	}()
	return d.append(line)
}

func (d *JSONDecoder) append(line []byte) error {
	s := jsonScanner{b: line}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return d.badRow(s.errf("expected an object"))
	}
	s.i++
	d.gen++
	var firstErr error
	for {
		s.ws()
		if s.i >= len(s.b) {
			return d.abortRow(s.errf("unterminated object"))
		}
		if s.b[s.i] == '}' {
			s.i++
			break
		}
		if s.b[s.i] == ',' {
			s.i++
			s.ws()
		}
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return d.abortRow(s.errf("expected a key"))
		}
		s.i++
		key, err := s.str(&d.scratch)
		if err != nil {
			return d.abortRow(err)
		}
		oi, ok := d.index[bstr(key)]
		if !ok {
			oi, ok = d.index[strings.ToLower(string(key))]
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return d.abortRow(s.errf("expected ':'"))
		}
		s.i++
		s.ws()
		if !ok || d.cols[oi].seen == d.gen {
			if _, err := s.skip(&d.scratch); err != nil {
				return d.abortRow(err)
			}
			continue
		}
		c := d.cols[oi]
		if s.i >= len(s.b) {
			return d.abortRow(s.errf("missing value"))
		}
		var v []byte
		isStr := s.b[s.i] == '"'
		if isStr {
			s.i++
			v, err = s.str(&d.scratch)
		} else {
			v, err = s.skip(&d.scratch)
		}
		if err != nil {
			return d.abortRow(err)
		}
		c.seen = d.gen
		switch {
		case !isStr && len(v) == 4 && string(v) == "null":
			if err := d.appendNull(oi); err != nil && firstErr == nil {
				firstErr = err
			}
		case !isStr && c.kind == kTimestamp && len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9'):
			ms, ok := ParseInt(v)
			if ok {
				c.ts.Append(NanosToTimestamp(ms*1e6, c.unit))
			} else if err := d.fieldErr(oi, v); err != nil && firstErr == nil {
				firstErr = err
			}
		case !isStr && c.kind == kList && len(v) > 0 && v[0] == '[':
			if !d.appendArray(c, v) {
				if err := d.fieldErr(oi, v); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		default:
			if !c.appendText(v) {
				if err := d.fieldErr(oi, v); err != nil && firstErr == nil {
					firstErr = err
				}
			}
		}
	}
	for oi, c := range d.cols {
		if c.seen != d.gen {
			if err := d.appendNull(oi); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	d.endRow()
	return firstErr
}

// appendArray appends the JSON array raw (its text, brackets included)
// to the list column c: each element a string or a scalar read as a
// value of the element type, null a NULL element; false, with nothing
// appended, when an element is not one (a nested array or object is
// none).
func (d *JSONDecoder) appendArray(c *column, raw []byte) bool {
	s := jsonScanner{b: raw, i: 1}
	c.elems = c.elems[:0]
	for {
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		if s.b[s.i] == ']' {
			break
		}
		if len(c.elems) > 0 {
			if s.b[s.i] != ',' {
				return false
			}
			s.i++
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
		}
		if s.b[s.i] == '"' {
			s.i++
			v, err := s.str(&d.scratch)
			if err != nil {
				return false
			}
			c.elems = append(c.elems, listtext.Elem{Text: string(v)})
			continue
		}
		v, err := s.skip(&d.scratch)
		if err != nil || len(v) == 0 || v[0] == '[' || v[0] == '{' {
			return false
		}
		c.elems = append(c.elems, listtext.Elem{Text: string(v), Null: string(v) == "null"})
	}
	return c.appendElems(true)
}

// abortRow completes a half-appended row with NULLs, marks it dropped
// and reports the malformed row by the policy.
func (d *JSONDecoder) abortRow(err error) error { return d.rows.abortRow(err) }

// badRow reports a malformed row before anything was appended.
func (d *JSONDecoder) badRow(err error) error {
	if d.policy == OnErrorFail {
		return err
	}
	d.skipped++
	return nil
}
