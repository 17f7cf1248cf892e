package file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxThriftDepth bounds the nesting of structs, lists and maps in a
// footer or page header: Parquet's own structures nest a few levels.
const maxThriftDepth = 64

// errThriftDepth is a thrift structure nested deeper than maxThriftDepth.
var errThriftDepth = errors.New("thrift structure nested too deeply")

// thriftCheck walks the thrift compact-protocol struct at the start of b
// without decoding it and returns how many bytes it takes, or
// io.ErrUnexpectedEOF when it (or a length or element count it claims)
// reaches past the end of b. parquet-go's thrift decoder allocates what a
// length or count claims before reading the bytes behind it — a string of
// 2 GiB, a list of 2^31 structs — so a few corrupt bytes of a footer or
// page header made it allocate gigabytes (a fuzzing worker stalled in the
// allocation for more than Go's 10 s per input and died: FuzzParquet).
// Every element takes at least one byte, so a structure that passes
// here cannot make the decoder allocate more than a small multiple of
// len(b). The walk is linear in len(b).
func thriftCheck(b []byte) (int, error) {
	w := thriftWalker{b: b}
	if err := w.structure(0); err != nil {
		return 0, err
	}
	return w.pos, nil
}

type thriftWalker struct {
	b   []byte
	pos int
}

// Compact protocol type codes.
const (
	tcBoolTrue  = 1
	tcBoolFalse = 2
	tcByte      = 3
	tcI16       = 4
	tcI32       = 5
	tcI64       = 6
	tcDouble    = 7
	tcBinary    = 8
	tcList      = 9
	tcSet       = 10
	tcMap       = 11
	tcStruct    = 12
	tcUUID      = 13
)

func (w *thriftWalker) left() int { return len(w.b) - w.pos }

func (w *thriftWalker) byte() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, io.ErrUnexpectedEOF
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.pos:])
	switch {
	case n == 0:
		return 0, io.ErrUnexpectedEOF
	case n < 0:
		return 0, fmt.Errorf("varint overflows 64 bits at byte %d", w.pos)
	}
	w.pos += n
	return v, nil
}

// skip advances n bytes, which must be there.
func (w *thriftWalker) skip(n uint64) error {
	if n > uint64(w.left()) {
		return io.ErrUnexpectedEOF
	}
	w.pos += int(n)
	return nil
}

func (w *thriftWalker) structure(depth int) error {
	if depth > maxThriftDepth {
		return errThriftDepth
	}
	for {
		h, err := w.byte()
		if err != nil {
			return err
		}
		if h == 0 { // stop
			return nil
		}
		if h>>4 == 0 { // long form: the field id follows
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		switch t := h & 0x0f; t {
		case tcBoolTrue, tcBoolFalse: // the value is in the type
		default:
			if err := w.value(t, depth); err != nil {
				return err
			}
		}
	}
}

// value walks one value of type t (a list element's or a field's).
func (w *thriftWalker) value(t byte, depth int) error {
	switch t {
	case tcBoolTrue, tcBoolFalse, tcByte:
		return w.skip(1)
	case tcI16, tcI32, tcI64:
		_, err := w.uvarint()
		return err
	case tcDouble:
		return w.skip(8)
	case tcUUID:
		return w.skip(16)
	case tcBinary:
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		return w.skip(n)
	case tcList, tcSet:
		h, err := w.byte()
		if err != nil {
			return err
		}
		n, et := uint64(h>>4), h&0x0f
		if n == 15 {
			if n, err = w.uvarint(); err != nil {
				return err
			}
		}
		return w.elements(n, 1, depth, et)
	case tcMap:
		n, err := w.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		return w.elements(n, 2, depth, kv>>4, kv&0x0f)
	case tcStruct:
		return w.structure(depth + 1)
	}
	return fmt.Errorf("unknown thrift type %d at byte %d", t, w.pos)
}

// elements walks n elements of the given types (one for a list, key and
// value for a map), each of which takes at least minBytes.
func (w *thriftWalker) elements(n uint64, minBytes int, depth int, types ...byte) error {
	if depth+1 > maxThriftDepth {
		return errThriftDepth
	}
	if n > uint64(w.left()/minBytes) {
		return io.ErrUnexpectedEOF
	}
	for range n {
		for _, t := range types {
			if err := w.value(t, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
