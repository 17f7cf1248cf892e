package exec

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// quantileKind is how a quantile picks its value.
type quantileKind int8

const (
	quantileCont   quantileKind = iota // PERCENTILE_CONT: interpolates
	quantileDisc                       // PERCENTILE_DISC: a value of the group
	quantileMedian                     // MEDIAN: CONT at 0.5 for numbers and times, DISC for the rest
)

// contType is the type PERCENTILE_CONT computes over arg, as DuckDB does:
// DOUBLE over numbers, the argument's own type over DECIMAL and
// TIMESTAMP, TIMESTAMP over DATE; nil where values cannot be
// interpolated.
func contType(arg arrow.DataType) arrow.DataType {
	switch {
	case isInteger(arg), arg.ID() == arrow.FLOAT32, arg.ID() == arrow.FLOAT64:
		return arrow.PrimitiveTypes.Float64
	case arg.ID() == arrow.DECIMAL128, arg.ID() == arrow.TIMESTAMP:
		return arg
	case arg.ID() == arrow.DATE32:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	}
	return nil
}

func quantileDef(kind quantileKind) aggDef {
	return aggDef{
		result: func(arg arrow.DataType) (arrow.DataType, error) {
			t := contType(arg)
			switch {
			case kind == quantileCont && t != nil, kind == quantileMedian && t != nil:
				return t, nil
			case kind != quantileCont && sortable(arg) && encodable(arg) && arg.ID() != arrow.NULL:
				return arg, nil
			}
			return nil, errUnsupportedArg
		},
		state: func(_ memory.Allocator, arg, res arrow.DataType, p AggParams, _ AggOptions) (AggState, error) {
			s := &quantileState{arg: arg, typ: res, frac: p.Fraction, cont: kind == quantileCont}
			if kind == quantileMedian {
				s.frac, s.cont = 0.5, contType(arg) != nil
			}
			s.desc = len(p.Order) == 1 && p.Order[0].Desc
			if s.frac < 0 || s.frac > 1 || math.IsNaN(s.frac) {
				return nil, errBadFraction
			}
			return s, nil
		},
	}
}

// quantileState is PERCENTILE_CONT, PERCENTILE_DISC and MEDIAN: each group
// keeps the bag of its live values, so a retraction is exact. Over n
// values in order, DISC at fraction f is the value at 0-based rank
// ⌈n·f⌉ − 1 (at least 0), the first whose cumulative share reaches f; CONT
// interpolates linearly between ranks ⌊(n−1)·f⌋ and ⌈(n−1)·f⌉, so MEDIAN
// of an even count averages the two middle values. DECIMAL and TIMESTAMP
// interpolations truncate toward the lower rank's unit, as DuckDB's do.
type quantileState struct {
	arg, typ arrow.DataType
	frac     float64
	cont     bool
	desc     bool // WITHIN GROUP (ORDER BY x DESC): ranks count from the greatest
	bagGroups
	buf []byte
}

func (s *quantileState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	key, err := valueKeyer(arr)
	if err != nil {
		return err
	}
	raw, err := rawCell(arr)
	if err != nil {
		return err
	}
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		s.buf = key(s.buf[:0], i)
		s.held += s.bags[g].add(bytesAsString(s.buf), raw(i), w, s.seq)
		s.seq++
	}
	return nil
}

func (s *quantileState) Merge(dst, src uint32) error {
	for _, e := range s.bags[src].entries {
		s.held += s.bags[dst].add(e.key, e.raw, e.cnt, e.seq)
	}
	s.Reset(src)
	return nil
}

func (s *quantileState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.bags))
	}
	valid := make([]bool, len(groups))
	if !s.cont {
		raws := make([]string, len(groups))
		for i, g := range groups {
			b := &s.bags[g]
			if b.n <= 0 {
				continue
			}
			r := min(max(int64(math.Ceil(float64(b.n)*s.frac))-1, 0), b.n-1)
			if s.desc {
				r = b.n - 1 - r
			}
			raws[i], valid[i] = b.at(r).raw, true
		}
		return buildRaw(mem, s.typ, raws, valid)
	}
	// lo, hi and the weight of hi for each valid group.
	los, his := make([]string, len(groups)), make([]string, len(groups))
	ds := make([]float64, len(groups))
	for i, g := range groups {
		b := &s.bags[g]
		if b.n <= 0 {
			continue
		}
		f := s.frac
		if s.desc {
			f = 1 - f // the same interpolation, from the other end
		}
		pos := float64(b.n-1) * f
		lo := math.Floor(pos)
		los[i], his[i], ds[i], valid[i] = b.at(int64(lo)).raw, b.at(int64(math.Ceil(pos))).raw, pos-lo, true
	}
	switch s.typ.ID() {
	case arrow.FLOAT64:
		vals := make([]float64, len(groups))
		for i := range vals {
			if valid[i] {
				lo, hi := rawFloat(s.arg, los[i]), rawFloat(s.arg, his[i])
				vals[i] = lo
				if ds[i] != 0 {
					vals[i] = lo + (hi-lo)*ds[i]
				}
			}
		}
		return newFixedArray(mem, s.typ, vals, valid), nil
	case arrow.DECIMAL128:
		vals := make([]decimal128.Num, len(groups))
		for i := range vals {
			if valid[i] {
				lo, hi := rawDecimal(los[i]), rawDecimal(his[i])
				vals[i] = lo
				if ds[i] != 0 {
					diff := hi.Sub(lo).ToFloat64(0) * ds[i]
					step, err := decimal128.FromFloat64(math.Trunc(diff), 38, 0)
					if err != nil {
						return nil, err
					}
					vals[i] = lo.Add(step)
				}
			}
		}
		return newFixedArray(mem, s.typ, vals, valid), nil
	}
	// TIMESTAMP (from TIMESTAMP or DATE).
	vals := make([]int64, len(groups))
	for i := range vals {
		if valid[i] {
			lo, hi := rawTime(s.arg, los[i]), rawTime(s.arg, his[i])
			vals[i] = lo
			if ds[i] != 0 {
				vals[i] = lo + int64(math.Trunc(float64(hi-lo)*ds[i]))
			}
		}
	}
	return newFixedArray(mem, s.typ, vals, valid), nil
}

// rawFloat reads a rawCell value of a numeric type as a float64.
func rawFloat(t arrow.DataType, raw string) float64 {
	b := []byte(raw)
	le := binary.LittleEndian
	switch t.ID() {
	case arrow.FLOAT64:
		return math.Float64frombits(le.Uint64(b))
	case arrow.FLOAT32:
		return float64(math.Float32frombits(le.Uint32(b)))
	case arrow.INT8:
		return float64(int8(b[0]))
	case arrow.UINT8:
		return float64(b[0])
	case arrow.INT16:
		return float64(int16(le.Uint16(b)))
	case arrow.UINT16:
		return float64(le.Uint16(b))
	case arrow.INT32:
		return float64(int32(le.Uint32(b)))
	case arrow.UINT32:
		return float64(le.Uint32(b))
	case arrow.UINT64:
		return float64(le.Uint64(b))
	}
	return float64(int64(le.Uint64(b)))
}

// rawDecimal reads a rawCell DECIMAL value.
func rawDecimal(raw string) decimal128.Num {
	b := []byte(raw)
	return decimal128.New(int64(binary.LittleEndian.Uint64(b[8:])), binary.LittleEndian.Uint64(b))
}

// rawTime reads a rawCell TIMESTAMP (in its unit) or DATE (as
// microseconds) value.
func rawTime(t arrow.DataType, raw string) int64 {
	b := []byte(raw)
	if t.ID() == arrow.DATE32 {
		return int64(int32(binary.LittleEndian.Uint32(b))) * 86_400_000_000
	}
	return int64(binary.LittleEndian.Uint64(b))
}
