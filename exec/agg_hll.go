package exec

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/axiomhq/hyperloglog"
	"github.com/zeebo/xxh3"
)

// APPROX_COUNT_DISTINCT is a HyperLogLog sketch per group
// (github.com/axiomhq/hyperloglog: LogLog-Beta with 2^14 one-byte
// registers, sparse while small). Its relative standard error is
// 1.04/√16384 ≈ 0.81% (so within 2.5% about 99.7% of the time); while the
// sketch is sparse (a few thousand distinct values) it counts with
// 25-bit hashes, exact but for their rare collisions. A value is hashed
// (xxh3) from its distinctKey bytes, the bytes DISTINCT compares, and a
// sketch depends only on the set of those hashes, not on their order: so
// batch and streaming, any batch size and any parallelism estimate alike.
// A sketch cannot take a row out: the planner refuses the function over
// an updating input (COUNT(DISTINCT x) is exact and retracts).
//
// The parallel batch aggregate runs approx_count_distinct_state per morsel
// (the sketch's bytes, BINARY) and approx_count_distinct_merge over them.

// hllDef is approx_count_distinct (merge false) or its partial state.
func hllDef(state bool) aggDef {
	return aggDef{
		result: func(arg arrow.DataType) (arrow.DataType, error) {
			if !distinctKeyable(arg) {
				return nil, errUnsupportedArg
			}
			if state {
				return arrow.BinaryTypes.Binary, nil
			}
			return arrow.PrimitiveTypes.Int64, nil
		},
		state: func(_ memory.Allocator, _, _ arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
			return &hllState{state: state}, nil
		},
		distinctSame: true,
	}
}

// hllMergeDef is approx_count_distinct_merge: the count of the union of
// BINARY sketches (approx_count_distinct_state's values).
var hllMergeDef = aggDef{
	result: func(arg arrow.DataType) (arrow.DataType, error) {
		if arg.ID() != arrow.BINARY {
			return nil, errUnsupportedArg
		}
		return arrow.PrimitiveTypes.Int64, nil
	},
	state: func(_ memory.Allocator, _, _ arrow.DataType, _ AggParams, _ AggOptions) (AggState, error) {
		return &hllState{merge: true}, nil
	},
}

// hllState holds one sketch per group (nil until the group's first
// non-NULL value).
type hllState struct {
	state    bool // Result is the sketch's bytes, not its estimate
	merge    bool // the input is sketches' bytes
	sketches []*hyperloglog.Sketch
	rows     []int64 // values folded per group, for Bytes
	held     int64   // hllBytes over the groups with a sketch
}

// count adds n folded values to g's tally (Bytes).
func (s *hllState) count(g uint32, n int64) {
	if s.sketches[g] != nil {
		s.held -= hllBytes(s.rows[g])
	}
	s.rows[g] += n
	s.held += hllBytes(s.rows[g])
}

// hllBytes bounds a sketch's heap: ~4 bytes per sparse entry, at most the
// 2^14 dense registers.
func hllBytes(rows int64) int64 { return min(64+4*rows, 64+1<<14) }

func (s *hllState) Grow(n int) {
	s.sketches = growSlice(s.sketches, n)
	s.rows = growSlice(s.rows, n)
}

func (s *hllState) sketch(g uint32) *hyperloglog.Sketch {
	if s.sketches[g] == nil {
		s.sketches[g] = hyperloglog.New14()
	}
	return s.sketches[g]
}

func (s *hllState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	if s.merge {
		return s.mergeBytes(gids, arr, signs)
	}
	key, err := distinctKey(arr)
	if err != nil {
		return err
	}
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w < 0 {
			return errRetract("APPROX_COUNT_DISTINCT")
		}
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		s.count(g, 1)
		s.sketch(g).InsertHash(xxh3.HashString(key(i)))
	}
	return nil
}

// mergeBytes folds saved sketches into the groups.
func (s *hllState) mergeBytes(gids []uint32, arr arrow.Array, signs []int8) error {
	b, ok := arr.(*array.Binary)
	if !ok {
		return errUnsupportedArg
	}
	for i, g := range gids {
		w := weight(signs, i)
		if w < 0 {
			return errRetract("APPROX_COUNT_DISTINCT")
		}
		if w == 0 || b.IsNull(i) {
			continue
		}
		var other hyperloglog.Sketch
		if err := other.UnmarshalBinary(b.Value(i)); err != nil {
			return err
		}
		s.count(g, int64(len(b.Value(i))))
		if err := s.sketch(g).Merge(&other); err != nil {
			return err
		}
	}
	return nil
}

func (s *hllState) Merge(dst, src uint32) error {
	if s.sketches[src] != nil {
		s.count(dst, s.rows[src])
		if err := s.sketch(dst).Merge(s.sketches[src]); err != nil {
			return err
		}
	}
	s.Reset(src)
	return nil
}

func (s *hllState) Reset(g uint32) {
	if s.sketches[g] != nil {
		s.held -= hllBytes(s.rows[g])
	}
	s.sketches[g], s.rows[g] = nil, 0
}

func (s *hllState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.sketches))
	}
	if s.state {
		vals := make([]string, len(groups))
		valid := make([]bool, len(groups))
		for i, g := range groups {
			if sk := s.sketches[g]; sk != nil {
				b, err := sk.MarshalBinary()
				if err != nil {
					return nil, err
				}
				vals[i], valid[i] = string(b), true
			}
		}
		return buildStrings(mem, arrow.BinaryTypes.Binary, vals, valid)
	}
	vals := make([]int64, len(groups))
	for i, g := range groups {
		if sk := s.sketches[g]; sk != nil {
			vals[i] = int64(sk.Estimate())
		}
	}
	return newFixedArray(mem, arrow.PrimitiveTypes.Int64, vals, nil), nil
}

func (s *hllState) Save(dst []byte, g uint32) ([]byte, error) {
	sk := s.sketches[g]
	if sk == nil {
		return appendBool(dst, false), nil
	}
	b, err := sk.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return appendI64(appendStr(appendBool(dst, true), string(b)), s.rows[g]), nil
}

func (s *hllState) Load(g uint32, src []byte) ([]byte, error) {
	s.Reset(g)
	r := stateReader{b: src}
	if !r.boolean() {
		return r.done()
	}
	b, rows := r.str(), r.i64()
	if r.err != nil {
		return nil, r.err
	}
	sk := hyperloglog.New14()
	if err := sk.UnmarshalBinary([]byte(b)); err != nil {
		return nil, err
	}
	s.count(g, rows)
	s.sketches[g] = sk
	return r.done()
}

func (s *hllState) Bytes() int64 {
	return sliceBytes(s.sketches, 8) + sliceBytes(s.rows, 8) + s.held
}
