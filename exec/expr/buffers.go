package expr

import (
	"errors"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ErrUnsupportedType is wrapped by errors about argument types a function
// has no kernel for; the planner should have prevented them.
var ErrUnsupportedType = errors.New("unsupported type")

// ErrUnknownFunction is wrapped by Call for names it does not know.
var ErrUnknownFunction = errors.New("unknown function")

// ErrOutOfRange is wrapped by arithmetic overflow and out-of-range cast
// errors ("BIGINT value is out of range in 'a + b'").
var ErrOutOfRange = errors.New("value is out of range")

// ErrInvalidArgument is wrapped by errors about a value a function cannot
// take (malformed JSON text, a bad regular expression in a column).
var ErrInvalidArgument = errors.New("invalid argument")

// ErrInvalidCast is wrapped by cast errors for unparsable input
// (`cannot cast "abc" to BIGINT`).
var ErrInvalidCast = errors.New("invalid cast")

// fixed lists the fixed-width Go types that map 1:1 onto Arrow value
// buffers, so one generic accessor serves every primitive type.
type fixed interface {
	~int32 | ~int64 | ~float64 | decimal128.Num | arrow.MonthDayNanoInterval
}

// number is the set of native numeric types arithmetic kernels are
// instantiated for (decimal has its own kernels).
type number interface {
	~int32 | ~int64 | ~float64
}

// values returns the typed value slice of a fixed-width array, honouring its
// offset. Values under NULL slots are unspecified.
func values[T fixed](a arrow.Array) []T {
	d := a.Data()
	bufs := d.Buffers()
	if len(bufs) < 2 || bufs[1] == nil || bufs[1].Len() == 0 {
		return nil
	}
	b := bufs[1].Bytes()
	var zero T
	sz := int(unsafe.Sizeof(zero))
	all := unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/sz)
	return all[d.Offset() : d.Offset()+d.Len()]
}

// newFixed allocates an uninitialised-but-zeroed value buffer for n values.
func newFixed[T fixed](mem memory.Allocator, n int) (*memory.Buffer, []T) {
	var zero T
	sz := int(unsafe.Sizeof(zero))
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(n * sz)
	if n == 0 {
		return buf, nil
	}
	b := buf.Bytes()
	return buf, unsafe.Slice((*T)(unsafe.Pointer(&b[0])), n)
}

// fillFixed builds an array of n copies of v.
func fillFixed[T fixed](mem memory.Allocator, typ arrow.DataType, v T, n int) arrow.Array {
	buf, out := newFixed[T](mem, n)
	for i := range out {
		out[i] = v
	}
	return makeArray(typ, n, nil, buf, 0)
}

// newBitmap allocates a zeroed bitmap of n bits.
func newBitmap(mem memory.Allocator, n int) *memory.Buffer {
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	b := buf.Bytes()
	for i := range b {
		b[i] = 0
	}
	return buf
}

func setAllBits(b []byte, n int) {
	full := n / 8
	for i := 0; i < full; i++ {
		b[i] = 0xff
	}
	if r := n % 8; r != 0 {
		b[full] = byte(1)<<r - 1
	}
}

// makeArray wraps buffers in an array, taking ownership of validity and
// vals (they are released here; the array holds its own references).
func makeArray(typ arrow.DataType, n int, validity, vals *memory.Buffer, nulls int) arrow.Array {
	if validity == nil {
		nulls = 0
	}
	d := array.NewData(typ, n, []*memory.Buffer{validity, vals}, nil, nulls, 0)
	a := array.MakeFromData(d)
	d.Release()
	if validity != nil {
		validity.Release()
	}
	if vals != nil {
		vals.Release()
	}
	return a
}

// validityBits returns the validity bitmap and bit offset of a, or nil when
// a has no NULLs (so callers can skip bitmap work entirely).
func validityBits(a arrow.Array) ([]byte, int) {
	if a.NullN() == 0 {
		return nil, 0
	}
	b := a.NullBitmapBytes()
	if b == nil {
		return nil, 0
	}
	return b, a.Data().Offset()
}

// combineValidity ANDs the validity of arrs (all of length n) into a new
// bitmap at offset 0. It returns nil when no input has NULLs; otherwise the
// buffer and its NULL count. With a single nullable input at offset 0, the
// input buffer is shared (retained) instead of copied.
func combineValidity(mem memory.Allocator, n int, arrs ...arrow.Array) (*memory.Buffer, int) {
	var out *memory.Buffer
	for _, a := range arrs {
		if a == nil {
			continue
		}
		bits, off := validityBits(a)
		if bits == nil {
			continue
		}
		if out == nil {
			if off == 0 {
				if b := a.Data().Buffers()[0]; b != nil && b.Len() >= int(bitutil.BytesForBits(int64(n))) {
					b.Retain()
					out = b
					continue
				}
			}
			out = newBitmap(mem, n)
			bitutil.CopyBitmap(bits, off, n, out.Bytes(), 0)
			continue
		}
		if out.Buf() != nil && isShared(out, arrs) {
			cp := newBitmap(mem, n)
			bitutil.CopyBitmap(out.Bytes(), 0, n, cp.Bytes(), 0)
			out.Release()
			out = cp
		}
		bitutil.BitmapAnd(out.Bytes(), bits, 0, int64(off), out.Bytes(), 0, int64(n))
	}
	if out == nil {
		return nil, 0
	}
	return out, n - bitutil.CountSetBits(out.Bytes(), 0, n)
}

// isShared reports whether buf is the validity buffer of one of arrs, in
// which case it must be copied before being modified.
func isShared(buf *memory.Buffer, arrs []arrow.Array) bool {
	for _, a := range arrs {
		if a != nil && a.Data().Buffers()[0] == buf {
			return true
		}
	}
	return false
}

// ownedValidity returns a validity bitmap for n rows that the caller may
// modify: a private copy of the AND of arrs, or all-valid if none has NULLs.
func ownedValidity(mem memory.Allocator, n int, arrs ...arrow.Array) *memory.Buffer {
	v, _ := combineValidity(mem, n, arrs...)
	if v == nil {
		v = newBitmap(mem, n)
		setAllBits(v.Bytes(), n)
		return v
	}
	if isShared(v, arrs) {
		cp := newBitmap(mem, n)
		bitutil.CopyBitmap(v.Bytes(), 0, n, cp.Bytes(), 0)
		v.Release()
		return cp
	}
	return v
}

// countNulls counts the clear bits of a validity bitmap of n bits.
func countNulls(v *memory.Buffer, n int) int {
	if v == nil {
		return 0
	}
	return n - bitutil.CountSetBits(v.Bytes(), 0, n)
}

// isValid reports whether row i of a validity bitmap (nil = all valid) is set.
func isValid(bits []byte, off, i int) bool {
	return bits == nil || bitutil.BitIsSet(bits, off+i)
}

// b2u converts a bool to 0/1 without a branch (the compiler emits SETcc).
func b2u(b bool) byte {
	var x byte
	if b {
		x = 1
	}
	return x
}
