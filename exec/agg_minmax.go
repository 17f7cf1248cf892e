package exec

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// appendRaw appends the in-memory bytes of a pointer-free value (numbers,
// decimal128.Num) for Save.
func appendRaw[T any](dst []byte, v T) []byte {
	return append(dst, unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v))...)
}

// readRaw reads what appendRaw wrote.
func readRaw[T any](r *stateReader) T {
	var v T
	n := int(unsafe.Sizeof(v))
	if r.err != nil || len(r.b) < n {
		r.err = errShortState
		return v
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&v)), n), r.b)
	r.b = r.b[n:]
	return v
}

type ordered interface {
	integer | ~float32 | ~float64
}

// above reports a > b in the engine's order of values: a float's NaN is
// above every number (valcmp.Floats; DuckDB's and PostgreSQL's order), so
// MIN and MAX do not depend on where a NaN comes in the input. For
// integers a != a is false and the test compiles to a > b.
func above[T ordered](a, b T) bool {
	return a > b || (a != a && b == b)
}

// orderCompare is cmp.Compare in the engine's order (cmp.Compare puts NaN
// below every number).
func orderCompare[T ordered](a, b T) int {
	switch {
	case above(a, b):
		return 1
	case above(b, a):
		return -1
	}
	return 0
}

// orderedFixed are the physical types of the fixed-width orderable
// columns (integers, floats; timestamps and dates are integers
// underneath).
type orderedFixed interface {
	ordered
	arrow.FixedWidthType
}

// newMinMaxState returns MIN or MAX over values of type arg for an
// insert-only input.
func newMinMaxState(arg, res arrow.DataType, isMax bool) AggState {
	switch arg.ID() {
	case arrow.BOOL:
		return &minMaxBool{max: isMax}
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return &minMaxString{max: isMax, typ: res}
	case arrow.DECIMAL128:
		return &minMaxDecimal{max: isMax, typ: res}
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return &minMaxInterval{max: isMax, typ: res}
	case arrow.FLOAT32:
		return &minMaxState[float32]{max: isMax, typ: res}
	case arrow.FLOAT64:
		return &minMaxState[float64]{max: isMax, typ: res}
	}
	if !intLike(arg) {
		return nil
	}
	switch physicalInt(arg) {
	case arrow.INT8:
		return &minMaxState[int8]{max: isMax, typ: res}
	case arrow.UINT8:
		return &minMaxState[uint8]{max: isMax, typ: res}
	case arrow.INT16:
		return &minMaxState[int16]{max: isMax, typ: res}
	case arrow.UINT16:
		return &minMaxState[uint16]{max: isMax, typ: res}
	case arrow.INT32:
		return &minMaxState[int32]{max: isMax, typ: res}
	case arrow.UINT32:
		return &minMaxState[uint32]{max: isMax, typ: res}
	case arrow.UINT64:
		return &minMaxState[uint64]{max: isMax, typ: res}
	}
	return &minMaxState[int64]{max: isMax, typ: res}
}

// physicalInt is the integer type holding an integer-like type's values.
func physicalInt(t arrow.DataType) arrow.Type {
	signed := t.ID() != arrow.UINT8 && t.ID() != arrow.UINT16 && t.ID() != arrow.UINT32 && t.ID() != arrow.UINT64
	switch w := t.(arrow.FixedWidthDataType).BitWidth(); {
	case w == 8 && signed:
		return arrow.INT8
	case w == 8:
		return arrow.UINT8
	case w == 16 && signed:
		return arrow.INT16
	case w == 16:
		return arrow.UINT16
	case w == 32 && signed:
		return arrow.INT32
	case w == 32:
		return arrow.UINT32
	case signed:
		return arrow.INT64
	}
	return arrow.UINT64
}

// minMaxState is MIN/MAX over a fixed-width type, compared on its
// physical values.
type minMaxState[T orderedFixed] struct {
	max  bool
	typ  arrow.DataType
	vals []T
	has  []bool
}

func (s *minMaxState[T]) Grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxState[T]) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[T](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	cur, has := s.vals, s.has
	if signs != nil {
		for i, g := range gids {
			switch w := signs[i]; {
			case w < 0:
				return errRetract("MIN/MAX")
			case w == 0, hasNulls && arr.IsNull(i):
				continue
			}
			if v := vals[i]; !has[g] || (s.max && above(v, cur[g])) || (!s.max && above(cur[g], v)) {
				cur[g], has[g] = v, true
			}
		}
		return nil
	}
	if s.max {
		for i, g := range gids {
			if hasNulls && arr.IsNull(i) {
				continue
			}
			if v := vals[i]; !has[g] || above(v, cur[g]) {
				cur[g], has[g] = v, true
			}
		}
		return nil
	}
	for i, g := range gids {
		if hasNulls && arr.IsNull(i) {
			continue
		}
		if v := vals[i]; !has[g] || above(cur[g], v) {
			cur[g], has[g] = v, true
		}
	}
	return nil
}

func (s *minMaxState[T]) Merge(dst, src uint32) error {
	if s.has[src] {
		if v := s.vals[src]; !s.has[dst] || (s.max && above(v, s.vals[dst])) || (!s.max && above(s.vals[dst], v)) {
			s.vals[dst], s.has[dst] = v, true
		}
	}
	s.Reset(src)
	return nil
}

func (s *minMaxState[T]) Reset(g uint32) {
	var zero T
	s.vals[g], s.has[g] = zero, false
}

func (s *minMaxState[T]) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, s.typ, pick(s.vals, groups), pick(s.has, groups)), nil
}

func (s *minMaxState[T]) Save(dst []byte, g uint32) ([]byte, error) {
	return appendRaw(appendBool(dst, s.has[g]), s.vals[g]), nil
}

func (s *minMaxState[T]) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.has[g] = r.boolean()
	s.vals[g] = readRaw[T](&r)
	return r.done()
}

func (s *minMaxState[T]) Bytes() int64 {
	var zero T
	return sliceBytes(s.vals, int64(unsafe.Sizeof(zero))) + sliceBytes(s.has, 1)
}

// minMaxDecimal is MIN/MAX over DECIMAL.
type minMaxDecimal struct {
	max  bool
	typ  arrow.DataType
	vals []decimal128.Num
	has  []bool
}

func (s *minMaxDecimal) Grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxDecimal) better(v decimal128.Num, g uint32) bool {
	return !s.has[g] || (s.max && v.Greater(s.vals[g])) || (!s.max && v.Less(s.vals[g]))
}

func (s *minMaxDecimal) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	vals := arrow.GetValues[decimal128.Num](arr.Data(), 1)
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		switch w := weight(signs, i); {
		case w < 0:
			return errRetract("MIN/MAX")
		case w == 0, hasNulls && arr.IsNull(i):
			continue
		}
		if v := vals[i]; s.better(v, g) {
			s.vals[g], s.has[g] = v, true
		}
	}
	return nil
}

func (s *minMaxDecimal) Merge(dst, src uint32) error {
	if s.has[src] && s.better(s.vals[src], dst) {
		s.vals[dst], s.has[dst] = s.vals[src], true
	}
	s.Reset(src)
	return nil
}

func (s *minMaxDecimal) Reset(g uint32) { s.vals[g], s.has[g] = decimal128.Num{}, false }

func (s *minMaxDecimal) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return newFixedArray(mem, s.typ, pick(s.vals, groups), pick(s.has, groups)), nil
}

func (s *minMaxDecimal) Save(dst []byte, g uint32) ([]byte, error) {
	return appendRaw(appendBool(dst, s.has[g]), s.vals[g]), nil
}

func (s *minMaxDecimal) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.has[g] = r.boolean()
	s.vals[g] = readRaw[decimal128.Num](&r)
	return r.done()
}

func (s *minMaxDecimal) Bytes() int64 { return sliceBytes(s.vals, 16) + sliceBytes(s.has, 1) }

// minMaxBool is MIN (AND) / MAX (OR) over BOOLEAN.
type minMaxBool struct {
	max  bool
	vals []bool
	has  []bool
}

func (s *minMaxBool) Grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxBool) fold(g uint32, v bool) {
	if !s.has[g] || (s.max && v) || (!s.max && !v) {
		s.vals[g], s.has[g] = v, true
	}
}

func (s *minMaxBool) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	a := arr.(*array.Boolean)
	for i, g := range gids {
		switch w := weight(signs, i); {
		case w < 0:
			return errRetract("MIN/MAX")
		case w == 0, a.IsNull(i):
			continue
		}
		s.fold(g, a.Value(i))
	}
	return nil
}

func (s *minMaxBool) Merge(dst, src uint32) error {
	if s.has[src] {
		s.fold(dst, s.vals[src])
	}
	s.Reset(src)
	return nil
}

func (s *minMaxBool) Reset(g uint32) { s.vals[g], s.has[g] = false, false }

func (s *minMaxBool) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	b := array.NewBooleanBuilder(mem)
	defer b.Release()
	b.AppendValues(pick(s.vals, groups), pick(s.has, groups))
	return b.NewArray(), nil
}

func (s *minMaxBool) Save(dst []byte, g uint32) ([]byte, error) {
	return appendBool(appendBool(dst, s.has[g]), s.vals[g]), nil
}

func (s *minMaxBool) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	s.has[g], s.vals[g] = r.boolean(), r.boolean()
	return r.done()
}

func (s *minMaxBool) Bytes() int64 { return sliceBytes(s.vals, 1) + sliceBytes(s.has, 1) }

// minMaxString is MIN/MAX over strings and binaries (byte order). It
// copies a value only when it becomes the new extreme.
type minMaxString struct {
	max  bool
	typ  arrow.DataType
	vals []string
	has  []bool
	held int64 // bytes of the strings in vals, for Bytes
}

func (s *minMaxString) Grow(n int) {
	s.vals = growSlice(s.vals, n)
	s.has = growSlice(s.has, n)
}

func (s *minMaxString) fold(g uint32, v string) {
	if !s.has[g] || (s.max && v > s.vals[g]) || (!s.max && v < s.vals[g]) {
		s.held += int64(len(v) - len(s.vals[g]))
		s.vals[g], s.has[g] = strings.Clone(v), true
	}
}

func (s *minMaxString) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	at, err := stringAccessor(arr)
	if err != nil {
		return err
	}
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		switch w := weight(signs, i); {
		case w < 0:
			return errRetract("MIN/MAX")
		case w == 0, hasNulls && arr.IsNull(i):
			continue
		}
		s.fold(g, at(i))
	}
	return nil
}

func (s *minMaxString) Merge(dst, src uint32) error {
	if s.has[src] {
		s.fold(dst, s.vals[src])
	}
	s.Reset(src)
	return nil
}

func (s *minMaxString) Reset(g uint32) {
	s.held -= int64(len(s.vals[g]))
	s.vals[g], s.has[g] = "", false
}

func (s *minMaxString) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	return buildStrings(mem, s.typ, pick(s.vals, groups), pick(s.has, groups))
}

func (s *minMaxString) Save(dst []byte, g uint32) ([]byte, error) {
	return appendStr(appendBool(dst, s.has[g]), s.vals[g]), nil
}

func (s *minMaxString) Load(g uint32, src []byte) ([]byte, error) {
	r := stateReader{b: src}
	has, v := r.boolean(), r.str()
	s.held += int64(len(v) - len(s.vals[g]))
	s.has[g], s.vals[g] = has, v
	return r.done()
}

func (s *minMaxString) Bytes() int64 {
	return sliceBytes(s.vals, 16) + sliceBytes(s.has, 1) + s.held
}

// buildStrings builds a string or binary array of type typ.
func buildStrings(mem memory.Allocator, typ arrow.DataType, vals []string, valid []bool) (arrow.Array, error) {
	bld := array.NewBuilder(mem, typ)
	defer bld.Release()
	app, ok := bld.(interface{ AppendString(string) })
	if !ok {
		return nil, fmt.Errorf("min/max: no string builder for %s", typ)
	}
	for i, v := range vals {
		if valid[i] {
			app.AppendString(v)
		} else {
			bld.AppendNull()
		}
	}
	return bld.NewArray(), nil
}

// stringAccessor returns a function viewing row i of a string or binary
// array as a string, without copying.
func stringAccessor(arr arrow.Array) (func(i int) string, error) {
	switch a := arr.(type) {
	case *array.String:
		return a.Value, nil
	case *array.LargeString:
		return a.Value, nil
	case *array.Binary:
		return func(i int) string { return bytesAsString(a.Value(i)) }, nil
	case *array.LargeBinary:
		return func(i int) string { return bytesAsString(a.Value(i)) }, nil
	}
	return nil, fmt.Errorf("not a string array: %s", arr.DataType())
}

// multiOps are the type-specific parts of a retracting MIN/MAX.
type multiOps[T comparable] struct {
	// get returns a reader of row i (a view: own copies it for keeping).
	get   func(arr arrow.Array) (func(i int) T, error)
	own   func(T) T
	cmp   func(a, b T) int
	build func(mem memory.Allocator, typ arrow.DataType, vals []T, valid []bool) (arrow.Array, error)
	save  func(dst []byte, v T) []byte
	load  func(r *stateReader) T
	size  func(v T) int64
	// rekey: equal values can differ (floats: -0 and 0), so the set keeps
	// the latest one; never for strings, whose views must not be stored.
	rekey bool
}

func fixedOps[T orderedFixed]() multiOps[T] {
	var zero T
	return multiOps[T]{
		get: func(arr arrow.Array) (func(int) T, error) {
			v := arrow.GetValues[T](arr.Data(), 1)
			return func(i int) T { return v[i] }, nil
		},
		own: func(v T) T { return v },
		cmp: orderCompare[T],
		build: func(mem memory.Allocator, typ arrow.DataType, vals []T, valid []bool) (arrow.Array, error) {
			return newFixedArray(mem, typ, vals, valid), nil
		},
		save:  appendRaw[T],
		load:  readRaw[T],
		size:  func(T) int64 { return int64(unsafe.Sizeof(zero)) },
		rekey: true,
	}
}

var decimalOps = multiOps[decimal128.Num]{
	get: func(arr arrow.Array) (func(int) decimal128.Num, error) {
		v := arrow.GetValues[decimal128.Num](arr.Data(), 1)
		return func(i int) decimal128.Num { return v[i] }, nil
	},
	own: func(v decimal128.Num) decimal128.Num { return v },
	cmp: func(a, b decimal128.Num) int { return a.Cmp(b) },
	build: func(mem memory.Allocator, typ arrow.DataType, vals []decimal128.Num, valid []bool) (arrow.Array, error) {
		return newFixedArray(mem, typ, vals, valid), nil
	},
	save: appendRaw[decimal128.Num],
	load: readRaw[decimal128.Num],
	size: func(decimal128.Num) int64 { return 16 },
}

var boolOps = multiOps[bool]{
	get: func(arr arrow.Array) (func(int) bool, error) {
		a, ok := arr.(*array.Boolean)
		if !ok {
			return nil, fmt.Errorf("not a boolean array: %s", arr.DataType())
		}
		return a.Value, nil
	},
	own: func(v bool) bool { return v },
	cmp: func(a, b bool) int {
		switch {
		case a == b:
			return 0
		case !a:
			return -1
		}
		return 1
	},
	build: func(mem memory.Allocator, _ arrow.DataType, vals []bool, valid []bool) (arrow.Array, error) {
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.AppendValues(vals, valid)
		return b.NewArray(), nil
	},
	save: appendBool,
	load: (*stateReader).boolean,
	size: func(bool) int64 { return 1 },
}

var stringOps = multiOps[string]{
	get:   stringAccessor,
	own:   strings.Clone,
	cmp:   strings.Compare,
	build: buildStrings,
	save:  appendStr,
	load:  (*stateReader).str,
	size:  func(v string) int64 { return 16 + int64(len(v)) },
}

// newMinMaxMulti returns MIN or MAX over a retracting input: each group
// keeps the multiset of its values, so retracting the current extreme
// finds the next one.
func newMinMaxMulti(arg, res arrow.DataType, isMax bool) AggState {
	switch arg.ID() {
	case arrow.BOOL:
		return &minMaxMulti[bool]{ops: boolOps, max: isMax, typ: res}
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY:
		return &minMaxMulti[string]{ops: stringOps, max: isMax, typ: res}
	case arrow.DECIMAL128:
		return &minMaxMulti[decimal128.Num]{ops: decimalOps, max: isMax, typ: res}
	case arrow.INTERVAL_MONTH_DAY_NANO:
		return &minMaxMulti[arrow.MonthDayNanoInterval]{ops: intervalOps, max: isMax, typ: res}
	case arrow.FLOAT32:
		return &minMaxMulti[float32]{ops: fixedOps[float32](), max: isMax, typ: res}
	case arrow.FLOAT64:
		return &minMaxMulti[float64]{ops: fixedOps[float64](), max: isMax, typ: res}
	}
	if !intLike(arg) {
		return nil
	}
	switch physicalInt(arg) {
	case arrow.INT8:
		return &minMaxMulti[int8]{ops: fixedOps[int8](), max: isMax, typ: res}
	case arrow.UINT8:
		return &minMaxMulti[uint8]{ops: fixedOps[uint8](), max: isMax, typ: res}
	case arrow.INT16:
		return &minMaxMulti[int16]{ops: fixedOps[int16](), max: isMax, typ: res}
	case arrow.UINT16:
		return &minMaxMulti[uint16]{ops: fixedOps[uint16](), max: isMax, typ: res}
	case arrow.INT32:
		return &minMaxMulti[int32]{ops: fixedOps[int32](), max: isMax, typ: res}
	case arrow.UINT32:
		return &minMaxMulti[uint32]{ops: fixedOps[uint32](), max: isMax, typ: res}
	case arrow.UINT64:
		return &minMaxMulti[uint64]{ops: fixedOps[uint64](), max: isMax, typ: res}
	}
	return &minMaxMulti[int64]{ops: fixedOps[int64](), max: isMax, typ: res}
}

// minMaxMulti is MIN/MAX under retraction. Per group: n, the net count of
// non-NULL values; cur, the extreme (valid when ok); set, the multiset.
// An unset extreme orders below every value, so it never wins a MIN and
// always loses a MAX (the rule the streaming Value order had).
type minMaxMulti[T comparable] struct {
	ops  multiOps[T]
	max  bool
	typ  arrow.DataType
	n    []int64
	cur  []T
	ok   []bool
	sets []map[T]*int64
	held int64
}

func (s *minMaxMulti[T]) Grow(n int) {
	s.n = growSlice(s.n, n)
	s.cur = growSlice(s.cur, n)
	s.ok = growSlice(s.ok, n)
	s.sets = growSlice(s.sets, n)
}

// better reports whether v beats group g's extreme.
func (s *minMaxMulti[T]) better(v T, g uint32) bool {
	if !s.ok[g] {
		return s.max
	}
	c := s.ops.cmp(v, s.cur[g])
	if s.max {
		return c > 0
	}
	return c < 0
}

// count adds w to v's multiplicity in g's set (an entry at or below 0 is
// removed) and returns the new multiplicity. Counts sit behind pointers
// so that an existing entry is never assigned again: assigning a string
// key already in the map replaces the stored key, and v may view an input
// buffer that is reused after the batch.
func (s *minMaxMulti[T]) count(g uint32, v T, w int64) int64 {
	m := s.sets[g]
	if m == nil {
		m = make(map[T]*int64)
		s.sets[g] = m
	}
	c, had := m[v]
	if !had {
		if w <= 0 {
			return 0
		}
		v = s.ops.own(v)
		s.held += s.ops.size(v) + 16
		n := w
		m[v] = &n
		return n
	}
	*c += w
	if *c <= 0 {
		delete(m, v)
		s.held -= s.ops.size(v) + 16
		return 0
	}
	if s.ops.rekey {
		// Keep the latest of equal values (-0 after 0 keeps -0), as
		// assigning a float key does.
		m[v] = c
	}
	return *c
}

func (s *minMaxMulti[T]) add(g uint32, v T, w int64) {
	s.n[g] += w
	c := s.count(g, v, w)
	switch {
	case w > 0 && (s.n[g] == 1 || s.better(v, g)):
		s.cur[g], s.ok[g] = s.ops.own(v), true
	case w < 0 && c == 0 && s.ok[g] && v == s.cur[g]:
		s.rescan(g)
	}
}

// rescan finds the extreme again after the current one left the set.
func (s *minMaxMulti[T]) rescan(g uint32) {
	var zero T
	s.cur[g], s.ok[g] = zero, false
	for v := range s.sets[g] {
		if !s.ok[g] || s.better(v, g) {
			s.cur[g], s.ok[g] = v, true
		}
	}
}

func (s *minMaxMulti[T]) Update(gids []uint32, arr arrow.Array, signs []int8) error {
	get, err := s.ops.get(arr)
	if err != nil {
		return err
	}
	hasNulls := arr.NullN() > 0
	for i, g := range gids {
		w := weight(signs, i)
		if w == 0 || (hasNulls && arr.IsNull(i)) {
			continue
		}
		s.add(g, get(i), w)
	}
	return nil
}

func (s *minMaxMulti[T]) Merge(dst, src uint32) error {
	if s.n[src] != 0 {
		for v, c := range s.sets[src] {
			s.count(dst, v, *c)
		}
		if s.ok[src] && (s.n[dst] == 0 || s.better(s.cur[src], dst)) {
			s.cur[dst], s.ok[dst] = s.cur[src], true
		}
		s.n[dst] += s.n[src]
	}
	s.Reset(src)
	return nil
}

func (s *minMaxMulti[T]) Reset(g uint32) {
	var zero T
	for v := range s.sets[g] {
		s.held -= s.ops.size(v) + 16
	}
	s.n[g], s.cur[g], s.ok[g], s.sets[g] = 0, zero, false, nil
}

func (s *minMaxMulti[T]) Result(mem memory.Allocator, groups []uint32) (arrow.Array, error) {
	if groups == nil {
		groups = allGroups(len(s.n))
	}
	vals := make([]T, len(groups))
	valid := make([]bool, len(groups))
	for i, g := range groups {
		if s.n[g] != 0 && s.ok[g] {
			vals[i], valid[i] = s.cur[g], true
		}
	}
	return s.ops.build(mem, s.typ, vals, valid)
}

func (s *minMaxMulti[T]) Save(dst []byte, g uint32) ([]byte, error) {
	dst = appendI64(dst, s.n[g])
	dst = s.ops.save(appendBool(dst, s.ok[g]), s.cur[g])
	dst = appendU64(dst, uint64(len(s.sets[g])))
	for v, c := range s.sets[g] {
		dst = appendI64(s.ops.save(dst, v), *c)
	}
	return dst, nil
}

func (s *minMaxMulti[T]) Load(g uint32, src []byte) ([]byte, error) {
	s.Reset(g)
	r := stateReader{b: src}
	s.n[g] = r.i64()
	s.ok[g] = r.boolean()
	s.cur[g] = s.ops.load(&r)
	for k := r.count(); k > 0 && r.err == nil; k-- {
		v := s.ops.load(&r)
		s.count(g, v, r.i64())
	}
	return r.done()
}

func (s *minMaxMulti[T]) Bytes() int64 {
	var zero T
	return sliceBytes(s.n, 8) + sliceBytes(s.cur, int64(unsafe.Sizeof(zero))) + sliceBytes(s.ok, 1) +
		sliceBytes(s.sets, 8) + s.held
}
