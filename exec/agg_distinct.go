package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// distinctKeyable reports argument types distinctMulti can key.
func distinctKeyable(t arrow.DataType) bool { return encodable(t) }

// distinctKey returns a reader of row i's value as bytes that are equal
// exactly when the values are equal under SQL (floats: -0 = 0, one NaN),
// a view into arr's buffers for strings.
func distinctKey(arr arrow.Array) (func(i int) string, error) {
	switch a := arr.(type) {
	case *array.Null:
		return func(int) string { return "" }, nil
	case *array.Boolean:
		return func(i int) string {
			if a.Value(i) {
				return "\x01"
			}
			return "\x00"
		}, nil
	case *array.String, *array.LargeString, *array.Binary, *array.LargeBinary:
		return stringAccessor(arr)
	case *array.Float64:
		var buf [8]byte
		return func(i int) string {
			binary.LittleEndian.PutUint64(buf[:], canonFloat(a.Value(i)))
			return string(buf[:])
		}, nil
	case *array.Float32:
		var buf [4]byte
		return func(i int) string {
			v := a.Value(i)
			b := math.Float32bits(v)
			switch {
			case v == 0:
				b = 0
			case v != v:
				b = 0x7fc00001
			}
			binary.LittleEndian.PutUint32(buf[:], b)
			return string(buf[:])
		}, nil
	}
	fw, ok := arr.DataType().(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth()%8 != 0 {
		return nil, fmt.Errorf("DISTINCT: unsupported type %s", arr.DataType())
	}
	w := fw.BitWidth() / 8
	var buf []byte
	if b := arr.Data().Buffers()[1]; b != nil {
		buf = b.Bytes()
	}
	off := arr.Data().Offset()
	return func(i int) string {
		p := (off + i) * w
		return bytesAsString(buf[p : p+w])
	}, nil
}

// decodeKeys rebuilds an array of type typ from distinctKey encodings.
func decodeKeys(mem memory.Allocator, typ arrow.DataType, keys []string) (arrow.Array, error) {
	switch typ.ID() {
	case arrow.BOOL:
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		for _, k := range keys {
			b.Append(k == "\x01")
		}
		return b.NewArray(), nil
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return buildStrings(mem, typ, keys, trueSlice(len(keys)))
	}
	if _, ok := typ.(arrow.FixedWidthDataType); !ok {
		return nil, fmt.Errorf("DISTINCT: cannot rebuild values of %s", typ)
	}
	buf := memory.NewResizableBuffer(mem)
	defer buf.Release()
	n := 0
	for _, k := range keys {
		n += len(k)
	}
	buf.Resize(n)
	b := buf.Bytes()[:0]
	for _, k := range keys {
		b = append(b, k...)
	}
	data := array.NewData(typ, len(keys), []*memory.Buffer{nil, buf}, nil, 0, 0)
	defer data.Release()
	return array.MakeFromData(data), nil
}

func trueSlice(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

// distinctMulti is DISTINCT for the streaming operators: each group keeps
// the multiset of its values, and the inner accumulator sees a value when
// its multiplicity goes 0 → 1 (weight +1) and when it goes back to 0
// (weight −1). So it retracts, and Merge, Reset and Save can enumerate a
// group's values.
type distinctMulti struct {
	mem   memory.Allocator
	inner AggState
	typ   arrow.DataType
	sets  []map[string]*int64
	held  int64
	// Per-call scratch.
	rows    []int32
	rowGids []uint32
	rowW    []int8
}

func (s *distinctMulti) Grow(n int) {
	s.inner.Grow(n)
	s.sets = growSlice(s.sets, n)
}

// add moves value k's multiplicity in g by w and returns the weight the
// inner state sees (+1, −1 or 0). Counts sit behind pointers so that an
// existing entry is never assigned again: assigning a string key that is
// in the map already replaces the stored key with the new one, and k may
// view an input buffer that is reused after the batch.
func (s *distinctMulti) add(g uint32, k string, w int64) int8 {
	m := s.sets[g]
	if m == nil {
		m = make(map[string]*int64)
		s.sets[g] = m
	}
	c, had := m[k]
	if !had {
		if w <= 0 {
			return 0
		}
		k = strings.Clone(k)
		s.held += int64(len(k)) + 32
		n := w
		m[k] = &n
		return 1
	}
	*c += w
	if *c <= 0 {
		delete(m, k)
		s.held -= int64(len(k)) + 32
		return -1
	}
	return 0
}

func (s *distinctMulti) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	key, err := distinctKey(arr)
	if err != nil {
		return err
	}
	s.rows, s.rowGids, s.rowW = s.rows[:0], s.rowGids[:0], s.rowW[:0]
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		if d := s.add(g, key(i), w); d != 0 {
			s.rows = append(s.rows, int32(i))
			s.rowGids = append(s.rowGids, g)
			s.rowW = append(s.rowW, d)
		}
	}
	if len(s.rows) == 0 {
		return nil
	}
	sub, err := takeArray(context.Background(), s.mem, arr, s.rows)
	if err != nil {
		return err
	}
	defer sub.Release()
	return s.inner.Update(s.rowGids, sub, s.rowW)
}

// feed passes the values keys with weights to the inner state of g.
func (s *distinctMulti) feed(g uint32, keys []string, ws []int8) error {
	if len(keys) == 0 {
		return nil
	}
	vals, err := decodeKeys(s.mem, s.typ, keys)
	if err != nil {
		return err
	}
	defer vals.Release()
	gids := make([]uint32, len(keys))
	for i := range gids {
		gids[i] = g
	}
	return s.inner.Update(gids, vals, ws)
}

func (s *distinctMulti) Merge(dst, src uint32) error {
	var keys []string
	var ws []int8
	for k, c := range s.sets[src] {
		if d := s.add(dst, k, *c); d != 0 {
			keys, ws = append(keys, k), append(ws, d)
		}
	}
	s.Reset(src)
	return s.feed(dst, keys, ws)
}

func (s *distinctMulti) Reset(g uint32) {
	for k := range s.sets[g] {
		s.held -= int64(len(k)) + 32
	}
	s.sets[g] = nil
	s.inner.Reset(g)
}

func (s *distinctMulti) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return s.inner.Result(mem, groups)
}

func (s *distinctMulti) Save(dst []byte, g uint32) ([]byte, error) {
	dst = appendU64(dst, uint64(len(s.sets[g])))
	for k, c := range s.sets[g] {
		dst = appendI64(appendStr(dst, k), *c)
	}
	return dst, nil
}

// Load restores the multiset and rebuilds the inner state from it, so the
// saved form is the same for every inner function.
func (s *distinctMulti) Load(g uint32, src []byte) ([]byte, error) {
	s.Reset(g)
	r := stateReader{b: src}
	var keys []string
	var ws []int8
	for k := r.count(); k > 0 && r.err == nil; k-- {
		key, c := r.str(), r.i64()
		if r.err == nil {
			if d := s.add(g, key, c); d != 0 {
				keys, ws = append(keys, key), append(ws, d)
			}
		}
	}
	rest, err := r.done()
	if err != nil {
		return nil, err
	}
	if err := s.feed(g, keys, ws); err != nil {
		return nil, err
	}
	return rest, nil
}

func (s *distinctMulti) Bytes() int64 {
	return s.inner.Bytes() + sliceBytes(s.sets, 8) + s.held
}
