package exec

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/zeebo/xxh3"
)

// HashRows sets dst[i] to a 64-bit hash of row i of the key columns cols
// (all of one length) and returns dst, grown to the rows. It is the row
// hash of the exchanges (HashPartitioner): a pure function of the key
// values, with no random seed, so the same key hashes alike in every
// batch, producer, process and run. Keys equal as GROUP BY sees them
// hash alike: NULL is one value; -0 and 0, and all NaNs, are one value;
// a dictionary-encoded column hashes its values (each distinct value
// once per batch), never its indices; STRING, LARGE_STRING and the
// binary types holding the same bytes hash alike. Columns are hashed one at a
// time in tight typed loops (no per-row encoding), which is what makes a
// hash exchange cheap next to the operator behind it. Nested types are
// an error.
func HashRows(ctx context.Context, mem memory.Allocator, cols []arrow.Array, dst []uint64) ([]uint64, error) {
	if len(cols) == 0 {
		return dst[:0], nil
	}
	n := cols[0].Len()
	dst = growSlice(dst[:0], n)[:n]
	var tmp []uint64
	for c, col := range cols {
		out := dst
		if c > 0 {
			tmp = growSlice(tmp[:0], n)[:n]
			out = tmp
		}
		if err := hashColumn(ctx, mem, col, out); err != nil {
			return nil, err
		}
		if c > 0 {
			for i, h := range tmp {
				dst[i] = mix64(dst[i]*0x9e3779b97f4a7c15 + h)
			}
		}
	}
	return dst, nil
}

// nullHash is the hash of NULL in every type.
const nullHash = 0x6a09e667f3bcc908

// mix64 is a 64-bit finalizer (MurmurHash3's fmix64): every input bit
// affects every output bit, so nearby integers spread evenly.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// hashColumn writes the hash of each row of col into out.
func hashColumn(ctx context.Context, mem memory.Allocator, col arrow.Array, out []uint64) error {
	switch a := col.(type) {
	case *array.Null:
		for i := range out {
			out[i] = nullHash
		}
		return nil
	case *array.Dictionary:
		vals, err := HashRows(ctx, mem, []arrow.Array{a.Dictionary()}, nil)
		if err != nil {
			return err
		}
		idx := a.Indices()
		for i := range out {
			if idx.IsNull(i) {
				out[i] = nullHash
			} else {
				out[i] = vals[a.GetValueIndex(i)]
			}
		}
		return nil
	case *array.Boolean:
		for i := range out {
			out[i] = mix64(1)
			if a.Value(i) {
				out[i] = mix64(2)
			}
		}
	case *array.String, *array.Binary:
		hashBytes(col.Data(), arrow.GetOffsets[int32](col.Data(), 1), out)
	case *array.LargeString, *array.LargeBinary:
		hashBytes(col.Data(), arrow.GetOffsets[int64](col.Data(), 1), out)
	case *array.Float64:
		for i, v := range a.Float64Values() {
			out[i] = mix64(canonFloat(v))
		}
	case *array.Float32:
		for i, v := range a.Float32Values() {
			out[i] = mix64(canonFloat(float64(v)))
		}
	default:
		if intLike(col.DataType()) {
			hashInts(col, out)
			break
		}
		fw, ok := col.DataType().(arrow.FixedWidthDataType)
		if !ok || fw.BitWidth()%8 != 0 {
			return fmt.Errorf("cannot hash a key of type %s", col.DataType())
		}
		w := fw.BitWidth() / 8
		var buf []byte
		if b := col.Data().Buffers()[1]; b != nil {
			buf = b.Bytes()
		}
		off := col.Data().Offset()
		for i := range out {
			if p := (off + i) * w; p+w <= len(buf) {
				out[i] = xxh3.Hash(buf[p : p+w])
			}
		}
	}
	if col.NullN() > 0 {
		for i := range out {
			if col.IsNull(i) {
				out[i] = nullHash
			}
		}
	}
	return nil
}

// hashBytes hashes each row's bytes of a string or binary column: up to
// 16 bytes as two little-endian words and the length, through mix64 (a
// few multiplications, no call), longer values with xxh3.
func hashBytes[O int32 | int64](d arrow.ArrayData, offs []O, out []uint64) {
	var data []byte
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	for i := range out {
		start, end := int(offs[i]), int(offs[i+1])
		l := end - start
		if l > 16 {
			out[i] = xxh3.Hash(data[start:end])
			continue
		}
		var w0, w1 uint64
		if start+16 <= len(data) {
			w0 = binary.LittleEndian.Uint64(data[start:])
			w1 = binary.LittleEndian.Uint64(data[start+8:])
			if l < 8 {
				w0 &= (1 << (8 * uint(l))) - 1
				w1 = 0
			} else if l < 16 {
				w1 &= (1 << (8 * uint(l-8))) - 1
			}
		} else {
			w0, w1 = loadShort(data, start, l)
		}
		out[i] = mix64(mix64(w0^uint64(l)*0x9e3779b97f4a7c15) ^ w1)
	}
}

// hashInts hashes an integer-like column by its value widened to 64 bits.
func hashInts(col arrow.Array, out []uint64) {
	d := col.Data()
	if d.Buffers()[1] == nil {
		for i := range out {
			out[i] = mix64(0)
		}
		return
	}
	switch col.DataType().(arrow.FixedWidthDataType).BitWidth() {
	case 8:
		for i, v := range arrow.GetValues[int8](d, 1)[:len(out)] {
			out[i] = mix64(uint64(int64(v)))
		}
	case 16:
		for i, v := range arrow.GetValues[int16](d, 1)[:len(out)] {
			out[i] = mix64(uint64(int64(v)))
		}
	case 32:
		for i, v := range arrow.GetValues[int32](d, 1)[:len(out)] {
			out[i] = mix64(uint64(int64(v)))
		}
	default:
		for i, v := range arrow.GetValues[int64](d, 1)[:len(out)] {
			out[i] = mix64(uint64(v))
		}
	}
}

// PartitionOf maps a row hash (HashRows) to one of n partitions, as
// HashPartitioner does (Lemire's multiply-shift range reduction of the
// high bits: no division).
func PartitionOf(h uint64, n int) int32 {
	return int32((h >> 32) * uint64(n) >> 32)
}
