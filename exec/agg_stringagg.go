package exec

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// errBadFraction is the error of a percentile outside [0, 1] (the planner
// refuses it first, naming the call).
var errBadFraction = errors.New("the fraction of a percentile must be between 0 and 1")

func stringAggResultType(arg arrow.DataType) (arrow.DataType, error) {
	v := structFieldType(arg, 0)
	if v == nil || (v.ID() != arrow.STRING && v.ID() != arrow.LARGE_STRING) {
		return nil, errUnsupportedArg
	}
	if st, ok := arg.(*arrow.StructType); ok {
		for _, f := range st.Fields()[1:] {
			if !sortable(f.Type) {
				return nil, errUnsupportedArg
			}
		}
	}
	return arrow.BinaryTypes.String, nil
}

var stringAggDef = aggDef{
	result: stringAggResultType,
	state: func(_ memory.Allocator, arg, _ arrow.DataType, p AggParams, _ AggOptions) (AggState, error) {
		s := &stringAggState{sep: p.Sep, order: p.Order}
		if st, ok := arg.(*arrow.StructType); ok {
			if st.NumFields()-1 != len(p.Order) {
				return nil, errors.New("STRING_AGG: order keys and ORDER BY directions do not match")
			}
		} else if len(p.Order) > 1 {
			return nil, errors.New("STRING_AGG: ORDER BY keys without their values")
		}
		return s, nil
	},
}

// stringAggState is STRING_AGG(x, sep [ORDER BY k…]) (GROUP_CONCAT,
// LISTAGG): the group's non-NULL values joined by sep, in the order of the
// keys and, among equal keys (or without ORDER BY), in arrival order;
// NULL when the group has no non-NULL value. Each group keeps its live
// values, so a retraction takes one out: of equal values under equal
// keys, the earliest (they print alike under an ORDER BY; without one,
// the order of the rest stays the arrival order).
type stringAggState struct {
	sep   string
	order []AggOrder
	seq   uint64
	lists [][]strEntry
	held  int64
	buf   []byte
}

// strEntry is one value of a group, placed by its order key and arrival.
type strEntry struct {
	key string
	val string
	seq uint64
}

func compareStrEntry(a, b strEntry) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (s *stringAggState) Grow(n int) { s.lists = growSlice(s.lists, n) }

// add inserts (w > 0) or removes (w < 0) a value of g. key and val may
// view input buffers.
func (s *stringAggState) add(g uint32, key, val string, seq uint64, w int64) {
	l := s.lists[g]
	for ; w > 0; w-- {
		e := strEntry{key: strings.Clone(key), val: strings.Clone(val), seq: seq}
		j, _ := slices.BinarySearchFunc(l, e, compareStrEntry)
		l = slices.Insert(l, j, e)
		s.held += int64(len(key)+len(val)) + 40
	}
	for ; w < 0; w++ {
		j, _ := slices.BinarySearchFunc(l, strEntry{key: key}, compareStrEntry)
		for ; j < len(l) && l[j].key == key; j++ {
			if l[j].val == val {
				s.held -= int64(len(l[j].key)+len(l[j].val)) + 40
				l = slices.Delete(l, j, j+1)
				break
			}
		}
	}
	s.lists[g] = l
}

func (s *stringAggState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	fields, isStruct := structArg(arr)
	vals := fields[0]
	get, err := stringAccessor(vals)
	if err != nil {
		return err
	}
	keys := make([]sortKeyer, 0, len(s.order))
	for k, o := range s.order {
		col := vals
		if isStruct {
			col = fields[k+1]
		}
		kf, err := newSortKeyer(col, o)
		if err != nil {
			return err
		}
		keys = append(keys, kf)
	}
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (isStruct && arr.IsNull(i)) || vals.IsNull(i) {
			continue
		}
		b := s.buf[:0]
		for _, kf := range keys {
			b = kf(b, i)
		}
		s.buf = b
		s.add(g, bytesAsString(b), get(i), s.seq, w)
		s.seq++
	}
	return nil
}

func (s *stringAggState) Merge(dst, src uint32) error {
	for _, e := range s.lists[src] {
		s.add(dst, e.key, e.val, e.seq, 1)
	}
	s.Reset(src)
	return nil
}

func (s *stringAggState) Reset(g uint32) {
	for _, e := range s.lists[g] {
		s.held -= int64(len(e.key)+len(e.val)) + 40
	}
	s.lists[g] = nil
}

func (s *stringAggState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.lists))
	}
	vals := make([]string, len(groups))
	valid := make([]bool, len(groups))
	var sb strings.Builder
	for i, g := range groups {
		l := s.lists[g]
		if len(l) == 0 {
			continue
		}
		sb.Reset()
		for k, e := range l {
			if k > 0 {
				sb.WriteString(s.sep)
			}
			sb.WriteString(e.val)
		}
		vals[i], valid[i] = sb.String(), true
	}
	return buildStrings(mem, arrow.BinaryTypes.String, vals, valid)
}

func (s *stringAggState) Save(dst []byte, g uint32) ([]byte, error) {
	dst = appendU64(dst, uint64(len(s.lists[g])))
	for _, e := range s.lists[g] {
		dst = appendU64(appendStr(appendStr(dst, e.key), e.val), e.seq)
	}
	return dst, nil
}

func (s *stringAggState) Load(g uint32, src []byte) ([]byte, error) {
	s.Reset(g)
	r := stateReader{b: src}
	for k := r.count(); k > 0 && r.err == nil; k-- {
		key, val, seq := r.str(), r.str(), r.u64()
		if r.err == nil {
			s.add(g, key, val, seq, 1)
			s.seq = max(s.seq, seq+1)
		}
	}
	return r.done()
}

func (s *stringAggState) Bytes() int64 { return sliceBytes(s.lists, 24) + s.held }
