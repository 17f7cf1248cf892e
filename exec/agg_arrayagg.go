package exec

import (
	"cmp"
	"errors"
	"slices"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/bitutil"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// ARRAY_AGG(x [ORDER BY k…]) (DuckDB's LIST): the group's values as a
// list, NULLs included (DuckDB, Postgres), in the order of the keys and,
// among equal keys or without ORDER BY, in arrival order; NULL for a group
// without rows. The argument is always an agg_args struct, so that NULL
// values are told apart from the rows FILTER dropped (a NULL struct row):
// field 0 is the value, the fields after it the ORDER BY keys.
// ARRAY_AGG(DISTINCT x [ORDER BY x]) keeps each value once (NULL too).

func arrayAggResultType(arg arrow.DataType) (arrow.DataType, error) {
	st, ok := arg.(*arrow.StructType)
	if !ok {
		return nil, errUnsupportedArg
	}
	v := st.Field(0).Type
	if !encodable(v) {
		return nil, errUnsupportedArg
	}
	for _, f := range st.Fields()[1:] {
		if !sortable(f.Type) {
			return nil, errUnsupportedArg
		}
	}
	return arrow.ListOf(v), nil
}

func arrayAggState(distinct bool) func(memory.Allocator, arrow.DataType, arrow.DataType, AggParams, AggOptions) (AggState, error) {
	return func(_ memory.Allocator, arg, res arrow.DataType, p AggParams, _ AggOptions) (AggState, error) {
		st := arg.(*arrow.StructType)
		switch {
		case distinct && (st.NumFields() != 1 || len(p.Order) > 1):
			// DISTINCT orders by the value itself, or by arrival.
			return nil, errors.New("ARRAY_AGG(DISTINCT …): the ORDER BY key must be the argument")
		case !distinct && st.NumFields()-1 != len(p.Order):
			return nil, errors.New("ARRAY_AGG: order keys and ORDER BY directions do not match")
		}
		return &listAggState{elem: res.(*arrow.ListType).Elem(), order: p.Order, distinct: distinct}, nil
	}
}

var arrayAggDef = aggDef{
	result:   arrayAggResultType,
	state:    arrayAggState(false),
	distinct: arrayAggState(true),
}

// listAggState is ARRAY_AGG's state: per group its live values, so a
// retraction takes one out (of equal values under equal keys, the
// earliest: they print alike). Without DISTINCT a group's entries are kept
// sorted by (order key, arrival); with it, one entry per value with its
// count of live copies, sorted by the value's key (which is the order key
// when there is an ORDER BY), and Result orders them by first arrival when
// there is none.
type listAggState struct {
	elem     arrow.DataType
	order    []AggOrder
	distinct bool
	seq      uint64
	lists    [][]listEntry
	held     int64
	buf      []byte
}

// listEntry is one value of a group: val is "\x00" for NULL, else "\x01"
// followed by the value's rawCell bytes; seqs are the arrivals of its live
// copies, earliest first (one without DISTINCT). A retraction takes the
// earliest copy out, so a value's place is its earliest live copy's, as
// a window frame sliding forward drops its oldest rows.
type listEntry struct {
	key  string
	val  string
	seqs []uint64
}

// listEntryBytes is the heap an entry costs beyond its strings.
const listEntryBytes = 64

func compareListEntry(a, b listEntry) int {
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seqs[0], b.seqs[0])
}

func (s *listAggState) Grow(n int) { s.lists = growSlice(s.lists, n) }

// add puts w copies (w > 0) of (key, val) arriving at seq into group g,
// or takes -w copies out (w < 0). key and val may view input buffers.
func (s *listAggState) add(g uint32, key, val string, seq uint64, w int64) {
	l := s.lists[g]
	if s.distinct {
		j, ok := slices.BinarySearchFunc(l, key, func(e listEntry, k string) int { return strings.Compare(e.key, k) })
		switch {
		case ok && w > 0:
			e := &l[j]
			k, _ := slices.BinarySearch(e.seqs, seq)
			for ; w > 0; w-- {
				e.seqs = slices.Insert(e.seqs, k, seq)
				s.held += 8
			}
		case ok:
			e := &l[j]
			n := min(int(-w), len(e.seqs))
			e.seqs = e.seqs[n:]
			s.held -= 8 * int64(n)
			if len(e.seqs) == 0 {
				s.held -= int64(len(e.key)+len(e.val)) + listEntryBytes
				l = slices.Delete(l, j, j+1)
			}
		case w > 0:
			seqs := make([]uint64, w)
			for k := range seqs {
				seqs[k] = seq
			}
			l = slices.Insert(l, j, listEntry{key: strings.Clone(key), val: strings.Clone(val), seqs: seqs})
			s.held += int64(len(key)+len(val)) + listEntryBytes + 8*w
		}
		s.lists[g] = l
		return
	}
	for ; w > 0; w-- {
		e := listEntry{key: strings.Clone(key), val: strings.Clone(val), seqs: []uint64{seq}}
		j, _ := slices.BinarySearchFunc(l, e, compareListEntry)
		l = slices.Insert(l, j, e)
		s.held += int64(len(key)+len(val)) + listEntryBytes + 8
	}
	for ; w < 0; w++ {
		j, _ := slices.BinarySearchFunc(l, key, func(e listEntry, k string) int { return strings.Compare(e.key, k) })
		for ; j < len(l) && l[j].key == key; j++ {
			if l[j].val == val {
				s.held -= int64(len(l[j].key)+len(l[j].val)) + listEntryBytes + 8
				l = slices.Delete(l, j, j+1)
				break
			}
		}
	}
	s.lists[g] = l
}

func (s *listAggState) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	fields, _ := structArg(arr)
	vals := fields[0]
	get, err := rawCell(vals)
	if err != nil {
		return err
	}
	var keys []sortKeyer
	switch {
	case s.distinct:
		// The value's own key: equal exactly when the values are equal
		// (floats: -0 = 0), in the ORDER BY's direction when there is one.
		o := AggOrder{}
		if len(s.order) > 0 {
			o = s.order[0]
		}
		kf, err := newSortKeyer(vals, o)
		if err != nil {
			return err
		}
		keys = append(keys, kf)
	default:
		for k, o := range s.order {
			kf, err := newSortKeyer(fields[k+1], o)
			if err != nil {
				return err
			}
			keys = append(keys, kf)
		}
	}
	var vb []byte
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || arr.IsNull(i) {
			continue
		}
		b := s.buf[:0]
		for _, kf := range keys {
			b = kf(b, i)
		}
		s.buf = b
		vb = vb[:0]
		if vals.IsNull(i) {
			vb = append(vb, 0)
		} else {
			vb = append(append(vb, 1), get(i)...)
		}
		s.add(g, bytesAsString(b), bytesAsString(vb), s.seq, w)
		s.seq++
	}
	return nil
}

func (s *listAggState) Merge(dst, src uint32) error {
	for _, e := range s.lists[src] {
		for _, seq := range e.seqs {
			s.add(dst, e.key, e.val, seq, 1)
		}
	}
	s.Reset(src)
	return nil
}

func (s *listAggState) Reset(g uint32) {
	for _, e := range s.lists[g] {
		s.held -= int64(len(e.key)+len(e.val)) + listEntryBytes + 8*int64(len(e.seqs))
	}
	s.lists[g] = nil
}

func (s *listAggState) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.lists))
	}
	offsets := make([]int32, len(groups)+1)
	var raws []string
	var valid []bool
	var ordered []listEntry
	nulls := 0
	for i, g := range groups {
		l := s.lists[g]
		if len(l) == 0 {
			nulls++
		}
		if s.distinct && len(s.order) == 0 && len(l) > 1 {
			ordered = append(ordered[:0], l...)
			slices.SortFunc(ordered, func(a, b listEntry) int { return cmp.Compare(a.seqs[0], b.seqs[0]) })
			l = ordered
		}
		for _, e := range l {
			raws = append(raws, e.val[1:])
			valid = append(valid, e.val[0] == 1)
		}
		offsets[i+1] = int32(len(raws))
	}
	child, err := buildRaw(mem, s.elem, raws, valid)
	if err != nil {
		return nil, err
	}
	defer child.Release()
	offBuf := memory.NewResizableBuffer(mem)
	defer offBuf.Release()
	offBuf.Resize(4 * len(offsets))
	copy(arrow.Int32Traits.CastFromBytes(offBuf.Bytes()), offsets)
	var bitmap *memory.Buffer
	if nulls > 0 {
		bitmap = memory.NewResizableBuffer(mem)
		defer bitmap.Release()
		bitmap.Resize(int(bitutil.BytesForBits(int64(len(groups)))))
		bm := bitmap.Bytes()
		clear(bm)
		for i := range groups {
			if offsets[i+1] > offsets[i] {
				bitutil.SetBit(bm, i)
			}
		}
	}
	data := array.NewData(arrow.ListOf(s.elem), len(groups), []*memory.Buffer{bitmap, offBuf}, []arrow.ArrayData{child.Data()}, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

func (s *listAggState) Save(dst []byte, g uint32) ([]byte, error) {
	dst = appendU64(dst, uint64(len(s.lists[g])))
	for _, e := range s.lists[g] {
		dst = appendU64(appendStr(appendStr(dst, e.key), e.val), uint64(len(e.seqs)))
		for _, seq := range e.seqs {
			dst = appendU64(dst, seq)
		}
	}
	return dst, nil
}

func (s *listAggState) Load(g uint32, src []byte) ([]byte, error) {
	s.Reset(g)
	r := stateReader{b: src}
	for k := r.count(); k > 0 && r.err == nil; k-- {
		key, val := r.str(), r.str()
		n := r.count()
		if r.err == nil && (val == "" || n == 0) {
			return nil, errShortState
		}
		for ; n > 0 && r.err == nil; n-- {
			seq := r.u64()
			if r.err == nil {
				s.add(g, key, val, seq, 1)
				s.seq = max(s.seq, seq+1)
			}
		}
	}
	return r.done()
}

func (s *listAggState) Bytes() int64 { return sliceBytes(s.lists, 24) + s.held }
