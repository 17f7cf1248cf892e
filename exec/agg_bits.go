package exec

import (
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// bitOp is BIT_AND, BIT_OR or BIT_XOR.
type bitOp int8

const (
	bitAnd bitOp = iota
	bitOr
	bitXor
)

func bitResultType(arg arrow.DataType) (arrow.DataType, error) {
	if isInteger(arg) {
		return arg, nil
	}
	return nil, errUnsupportedArg
}

func bitDef(op bitOp) aggDef {
	return aggDef{
		result: bitResultType,
		state: func(_ memory.Allocator, arg, _ arrow.DataType, _ AggParams, opts AggOptions) (AggState, error) {
			switch arg.ID() {
			case arrow.INT8:
				return newBitState[int8](op, arg, opts), nil
			case arrow.INT16:
				return newBitState[int16](op, arg, opts), nil
			case arrow.INT32:
				return newBitState[int32](op, arg, opts), nil
			case arrow.INT64:
				return newBitState[int64](op, arg, opts), nil
			case arrow.UINT8:
				return newBitState[uint8](op, arg, opts), nil
			case arrow.UINT16:
				return newBitState[uint16](op, arg, opts), nil
			case arrow.UINT32:
				return newBitState[uint32](op, arg, opts), nil
			case arrow.UINT64:
				return newBitState[uint64](op, arg, opts), nil
			}
			return nil, errUnsupportedArg
		},
		// BIT_AND and BIT_OR of the distinct values are those of all.
		distinctSame: op != bitXor,
	}
}

func newBitState[T integer](op bitOp, typ arrow.DataType, opts AggOptions) *bitState[T] {
	return &bitState[T]{op: op, typ: typ, counts: opts.Retract && op != bitXor}
}

// bitState is BIT_AND/BIT_OR/BIT_XOR over an integer type: per group the
// net count of non-NULL values and the folded bits. XOR retracts by
// itself; AND and OR over a retracting input keep, per group, how many
// live values have each bit set (AND: all of them, OR: any), so a
// retraction is exact.
type bitState[T integer] struct {
	op     bitOp
	typ    arrow.DataType
	counts bool // per-bit counts (AND/OR under retraction)
	acc    []uint64
	n      []int64
	per    [][64]int64
}

func (s *bitState[T]) Grow(n int) {
	s.acc = growSlice(s.acc, n)
	s.n = growSlice(s.n, n)
	if s.counts {
		s.per = growSlice(s.per, n)
	}
}

// add folds v into g with weight w.
func (s *bitState[T]) add(g uint32, v uint64, w int64) {
	s.n[g] += w
	if s.counts {
		p := &s.per[g]
		for b := v; b != 0; b &= b - 1 {
			p[bits.TrailingZeros64(b)] += w
		}
		s.recompute(g)
		return
	}
	switch {
	case s.op == bitXor:
		s.acc[g] ^= v
	case w < 0:
		return // refused in Update
	case s.n[g] == 1 && s.op == bitAnd:
		s.acc[g] = v
	case s.op == bitAnd:
		s.acc[g] &= v
	default:
		s.acc[g] |= v
	}
}

func (s *bitState[T]) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		if w < 0 && !s.counts && s.op != bitXor {
			return errRetract("BIT_AND/BIT_OR")
		}
		s.add(g, uint64(vals[i]), w)
	}
	return nil
}

func (s *bitState[T]) Merge(dst, src uint32) error {
	switch {
	case s.n[src] == 0:
	case s.counts:
		for k, c := range s.per[src] {
			s.per[dst][k] += c
		}
		s.n[dst] += s.n[src]
		s.recompute(dst)
	case s.n[dst] == 0 || s.op == bitOr:
		s.acc[dst] |= s.acc[src]
		s.n[dst] += s.n[src]
	case s.op == bitAnd:
		s.acc[dst] &= s.acc[src]
		s.n[dst] += s.n[src]
	default:
		s.acc[dst] ^= s.acc[src]
		s.n[dst] += s.n[src]
	}
	s.Reset(src)
	return nil
}

// recompute sets g's bits from its per-bit counts.
func (s *bitState[T]) recompute(g uint32) {
	s.acc[g] = 0
	for k, c := range s.per[g] {
		if (s.op == bitAnd && c == s.n[g]) || (s.op == bitOr && c > 0) {
			s.acc[g] |= 1 << k
		}
	}
}

func (s *bitState[T]) Reset(g uint32) {
	s.acc[g], s.n[g] = 0, 0
	if s.counts {
		s.per[g] = [64]int64{}
	}
}

func (s *bitState[T]) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.n))
	}
	vals := make([]T, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		vals[i], valid[i] = T(s.acc[g]), s.n[g] != 0
	}
	return newFixedArray(mem, s.typ, vals, valid), nil
}

func (s *bitState[T]) Save(dst []byte, g uint32) ([]byte, error) {
	dst = appendU64(appendI64(dst, s.n[g]), s.acc[g])
	if s.counts {
		for _, c := range s.per[g] {
			dst = appendI64(dst, c)
		}
	}
	return dst, nil
}

func (s *bitState[T]) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.n[g], s.acc[g] = r.i64(), r.u64()
	if s.counts {
		for k := range s.per[g] {
			s.per[g][k] = r.i64()
		}
	}
	return r.done()
}

func (s *bitState[T]) Bytes() int64 {
	return sliceBytes(s.acc, 8) + sliceBytes(s.n, 8) + sliceBytes(s.per, 64*8)
}
