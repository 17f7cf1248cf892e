package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/zeebo/xxh3"
)

// noGroup is the group id of a key not in the table (lookup without
// insert).
const noGroup = math.MaxUint32

// grouper maps the rows of key columns to dense group ids 0, 1, 2, …
// in order of first appearance. It is the hash table behind HashAggregate
// (and the build side of HashJoin); it works a batch at a time so the
// type switch happens once per batch, never per row. NULL is an ordinary
// key value here (GROUP BY puts NULLs in one group); joins skip NULL
// keys themselves.
type grouper interface {
	// assign sets gids[i] to the group of row i of cols (len(gids) must be
	// the row count). With insert, unseen keys get new ids and the key
	// values of the new groups come back as arrays (one per key column,
	// value types, nil when there are none); without insert unseen keys get
	// noGroup.
	assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, gids []uint32, insert bool) ([]arrow.Array, error)
	// numGroups is the number of groups so far.
	numGroups() int
}

// newGrouper picks the fastest table for the key types: a single integer
// or temporal key hashes its 64-bit value, a single string key hashes its
// bytes with xxh3, a single dictionary key maps each dictionary entry once
// per batch, and anything else encodes whole rows to bytes.
func newGrouper(types []arrow.DataType) (grouper, error) {
	if len(types) == 1 {
		switch t := types[0].(type) {
		case *arrow.DictionaryType:
			inner, err := newGrouper([]arrow.DataType{t.ValueType})
			if err != nil {
				return nil, err
			}
			return &dictGrouper{inner: inner}, nil
		case *arrow.StringType, *arrow.LargeStringType, *arrow.BinaryType, *arrow.LargeBinaryType:
			return &stringGrouper{table: newBytesTable()}, nil
		}
		if intLike(types[0]) {
			return newIntGrouper(), nil
		}
	}
	for _, t := range types {
		if !encodable(t) {
			return nil, fmt.Errorf("unsupported key type %s", t)
		}
	}
	return &rowGrouper{table: newBytesTable()}, nil
}

// intLike reports types whose values are integers of at most 64 bits, so a
// uint64 holds them injectively.
func intLike(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.TIME32, arrow.TIME64, arrow.DURATION:
		return true
	}
	return false
}

// intValues widens the values of an integer-like array to uint64.
func intValues(arr arrow.Array, dst []uint64) []uint64 {
	n := arr.Len()
	dst = dst[:0]
	d := arr.Data()
	switch arr.DataType().(arrow.FixedWidthDataType).BitWidth() {
	case 8:
		for _, v := range arrow.GetValues[int8](d, 1) {
			dst = append(dst, uint64(v))
		}
	case 16:
		for _, v := range arrow.GetValues[int16](d, 1) {
			dst = append(dst, uint64(v))
		}
	case 32:
		for _, v := range arrow.GetValues[int32](d, 1) {
			dst = append(dst, uint64(v))
		}
	default:
		for _, v := range arrow.GetValues[int64](d, 1) {
			dst = append(dst, uint64(v))
		}
	}
	for len(dst) < n { // all-empty buffers
		dst = append(dst, 0)
	}
	return dst
}

// intGrouper is an open-addressing table from a 64-bit key to a group id.
type intGrouper struct {
	keys    []uint64
	slots   []uint32 // group id + 1; 0 = empty
	shift   uint
	n       int
	nullGid uint32
	scratch []uint64
	newRows []int32
}

func newIntGrouper() *intGrouper {
	return &intGrouper{keys: make([]uint64, 64), slots: make([]uint32, 64), shift: 64 - 6, nullGid: noGroup}
}

func (g *intGrouper) numGroups() int { return g.n }

func (g *intGrouper) grow() {
	oldK, oldS := g.keys, g.slots
	g.keys = make([]uint64, 2*len(oldK))
	g.slots = make([]uint32, 2*len(oldS))
	g.shift--
	mask := uint64(len(g.slots) - 1)
	for i, s := range oldS {
		if s == 0 {
			continue
		}
		k := oldK[i]
		j := (k * 0x9E3779B97F4A7C15) >> g.shift
		for g.slots[j] != 0 {
			j = (j + 1) & mask
		}
		g.keys[j], g.slots[j] = k, s
	}
}

func (g *intGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, gids []uint32, insert bool) ([]arrow.Array, error) {
	arr := cols[0]
	g.scratch = intValues(arr, g.scratch)
	vals := g.scratch
	g.newRows = g.newRows[:0]
	hasNulls := arr.NullN() > 0
	mask := uint64(len(g.slots) - 1)
	for i, k := range vals {
		if hasNulls && arr.IsNull(i) {
			if g.nullGid == noGroup && insert {
				g.nullGid = uint32(g.n)
				g.n++
				g.newRows = append(g.newRows, int32(i))
			}
			gids[i] = g.nullGid
			continue
		}
		j := (k * 0x9E3779B97F4A7C15) >> g.shift
		for {
			s := g.slots[j]
			if s == 0 {
				if !insert {
					gids[i] = noGroup
					break
				}
				gid := uint32(g.n)
				g.n++
				g.keys[j], g.slots[j] = k, gid+1
				gids[i] = gid
				g.newRows = append(g.newRows, int32(i))
				if g.n*2 > len(g.slots) {
					g.grow()
					mask = uint64(len(g.slots) - 1)
				}
				break
			}
			if g.keys[j] == k {
				gids[i] = s - 1
				break
			}
			j = (j + 1) & mask
		}
	}
	return newKeyArrays(ctx, mem, cols, g.newRows)
}

// newKeyArrays takes the rows that started new groups out of the key
// columns.
func newKeyArrays(ctx context.Context, mem memory.Allocator, cols []arrow.Array, rows []int32) ([]arrow.Array, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	return takeColumns(ctx, mem, cols, rows)
}

// bytesTable is an open-addressing table from byte strings to group ids;
// keys live in one arena so the table holds few pointers for the GC.
type bytesTable struct {
	slots  []bslot
	mask   uint64
	arena  []byte
	offs   []int // group g's key is arena[offs[g]:offs[g+1]]
	hashes []uint64
}

type bslot struct {
	hash uint64
	gid  uint32 // group id + 1; 0 = empty
}

func newBytesTable() *bytesTable {
	return &bytesTable{slots: make([]bslot, 64), mask: 63, offs: []int{0}}
}

func (t *bytesTable) len() int { return len(t.hashes) }

func (t *bytesTable) grow() {
	t.slots = make([]bslot, 2*len(t.slots))
	t.mask = uint64(len(t.slots) - 1)
	for g, h := range t.hashes {
		j := h & t.mask
		for t.slots[j].gid != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = bslot{hash: h, gid: uint32(g) + 1}
	}
}

// find returns the group of key k with hash h, adding it when insert is
// set; isNew reports an addition.
func (t *bytesTable) find(h uint64, k string, insert bool) (gid uint32, isNew bool) {
	j := h & t.mask
	for {
		s := t.slots[j]
		if s.gid == 0 {
			if !insert {
				return noGroup, false
			}
			gid = uint32(len(t.hashes))
			t.slots[j] = bslot{hash: h, gid: gid + 1}
			t.arena = append(t.arena, k...)
			t.offs = append(t.offs, len(t.arena))
			t.hashes = append(t.hashes, h)
			if len(t.hashes)*2 > len(t.slots) {
				t.grow()
			}
			return gid, true
		}
		if s.hash == h {
			g := s.gid - 1
			if string(t.arena[t.offs[g]:t.offs[g+1]]) == k {
				return g, false
			}
		}
		j = (j + 1) & t.mask
	}
}

// stringGrouper groups by one string or binary column.
type stringGrouper struct {
	table   *bytesTable
	nullGid uint32
	hasNull bool
	newRows []int32
}

func (g *stringGrouper) numGroups() int { return g.table.len() + b2i(g.hasNull) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (g *stringGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, gids []uint32, insert bool) ([]arrow.Array, error) {
	arr := cols[0]
	g.newRows = g.newRows[:0]
	d := arr.Data()
	var data []byte
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	switch arr.DataType().ID() {
	case arrow.STRING, arrow.BINARY:
		g.run32(arr, arrow.GetOffsets[int32](d, 1), data, gids, insert)
	default:
		g.run64(arr, arrow.GetOffsets[int64](d, 1), data, gids, insert)
	}
	return newKeyArrays(ctx, mem, cols, g.newRows)
}

// The null group takes an id from the same sequence as the table's keys,
// so the table's ids are shifted past it once it exists.
func (g *stringGrouper) run32(arr arrow.Array, offs []int32, data []byte, gids []uint32, insert bool) {
	hasNulls := arr.NullN() > 0
	for i := range gids {
		if hasNulls && arr.IsNull(i) {
			gids[i] = g.null(int32(i), insert)
			continue
		}
		k := bytesAsString(data[offs[i]:offs[i+1]])
		gids[i] = g.lookup(k, int32(i), insert)
	}
}

func (g *stringGrouper) run64(arr arrow.Array, offs []int64, data []byte, gids []uint32, insert bool) {
	hasNulls := arr.NullN() > 0
	for i := range gids {
		if hasNulls && arr.IsNull(i) {
			gids[i] = g.null(int32(i), insert)
			continue
		}
		k := bytesAsString(data[offs[i]:offs[i+1]])
		gids[i] = g.lookup(k, int32(i), insert)
	}
}

// ids maps table ids to group ids: group ids are dense over table keys and
// the null group, assigned in order of first appearance.
func (g *stringGrouper) lookup(k string, row int32, insert bool) uint32 {
	t, isNew := g.table.find(xxh3.HashString(k), k, insert)
	if t == noGroup {
		return noGroup
	}
	if isNew {
		g.newRows = append(g.newRows, row)
	}
	if g.hasNull && t >= g.nullGid {
		return t + 1
	}
	return t
}

func (g *stringGrouper) null(row int32, insert bool) uint32 {
	if !g.hasNull {
		if !insert {
			return noGroup
		}
		g.hasNull = true
		g.nullGid = uint32(g.table.len())
		g.newRows = append(g.newRows, row)
	}
	return g.nullGid
}

// bytesAsString views b as a string without copying; the table copies
// keys into its arena before keeping them.
func bytesAsString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// dictGrouper groups by one dictionary-encoded column: per batch it finds
// the dictionary entries in use, groups those few values with the inner
// table, and maps every row through its index.
type dictGrouper struct {
	inner grouper
	pos   []int32
	small []uint32
}

func (g *dictGrouper) numGroups() int { return g.inner.numGroups() }

func (g *dictGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, gids []uint32, insert bool) ([]arrow.Array, error) {
	da, ok := cols[0].(*array.Dictionary)
	if !ok {
		return nil, fmt.Errorf("group key: want dictionary array, got %s", cols[0].DataType())
	}
	dict := da.Dictionary()
	if cap(g.pos) < dict.Len() {
		g.pos = make([]int32, dict.Len())
	}
	pos := g.pos[:dict.Len()]
	for i := range pos {
		pos[i] = -1
	}
	var used []int32 // dictionary index per distinct value; -1 = NULL
	nullPos := int32(-1)
	rowPos := make([]int32, len(gids))
	for i := range gids {
		if da.IsNull(i) {
			if nullPos < 0 {
				nullPos = int32(len(used))
				used = append(used, -1)
			}
			rowPos[i] = nullPos
			continue
		}
		j := da.GetValueIndex(i)
		if pos[j] < 0 {
			pos[j] = int32(len(used))
			used = append(used, int32(j))
		}
		rowPos[i] = pos[j]
	}
	vals, err := takeArray(ctx, mem, dict, used)
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	if cap(g.small) < len(used) {
		g.small = make([]uint32, len(used))
	}
	small := g.small[:len(used)]
	keys, err := g.inner.assign(ctx, mem, []arrow.Array{vals}, small, insert)
	if err != nil {
		return nil, err
	}
	for i, p := range rowPos {
		gids[i] = small[p]
	}
	return keys, nil
}

// rowGrouper groups by several columns (or one of a type without a fast
// path) by encoding each row's keys into bytes.
type rowGrouper struct {
	table   *bytesTable
	buf     []byte
	newRows []int32
}

func (g *rowGrouper) numGroups() int { return g.table.len() }

func (g *rowGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, gids []uint32, insert bool) ([]arrow.Array, error) {
	encs := make([]cellEncoder, len(cols))
	for c, col := range cols {
		e, err := newCellEncoder(col)
		if err != nil {
			return nil, err
		}
		encs[c] = e
	}
	g.newRows = g.newRows[:0]
	for i := range gids {
		b := g.buf[:0]
		for _, e := range encs {
			b = e(b, i)
		}
		g.buf = b
		k := bytesAsString(b)
		gid, isNew := g.table.find(xxh3.Hash(b), k, insert)
		if isNew {
			g.newRows = append(g.newRows, int32(i))
		}
		gids[i] = gid
	}
	return newKeyArrays(ctx, mem, cols, g.newRows)
}

// cellEncoder appends an injective byte encoding of row i to dst: a tag
// byte (0 for NULL) then the value.
type cellEncoder func(dst []byte, i int) []byte

// encodable reports types newCellEncoder handles.
func encodable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.NULL:
		return true
	case arrow.DICTIONARY:
		return false
	}
	fw, ok := t.(arrow.FixedWidthDataType)
	return ok && fw.BitWidth()%8 == 0
}

func newCellEncoder(arr arrow.Array) (cellEncoder, error) {
	switch a := arr.(type) {
	case *array.Null:
		return func(dst []byte, i int) []byte { return append(dst, 0) }, nil
	case *array.Boolean:
		return func(dst []byte, i int) []byte {
			if a.IsNull(i) {
				return append(dst, 0)
			}
			if a.Value(i) {
				return append(dst, 2)
			}
			return append(dst, 1)
		}, nil
	case *array.String:
		return func(dst []byte, i int) []byte { return appendBytes(dst, a.IsNull(i), a.Value(i)) }, nil
	case *array.LargeString:
		return func(dst []byte, i int) []byte { return appendBytes(dst, a.IsNull(i), a.Value(i)) }, nil
	case *array.Binary:
		return func(dst []byte, i int) []byte { return appendBytes(dst, a.IsNull(i), bytesAsString(a.Value(i))) }, nil
	case *array.LargeBinary:
		return func(dst []byte, i int) []byte { return appendBytes(dst, a.IsNull(i), bytesAsString(a.Value(i))) }, nil
	case *array.Float64:
		return func(dst []byte, i int) []byte {
			if a.IsNull(i) {
				return append(dst, 0)
			}
			return binary.LittleEndian.AppendUint64(append(dst, 1), canonFloat(a.Value(i)))
		}, nil
	case *array.Float32:
		return func(dst []byte, i int) []byte {
			if a.IsNull(i) {
				return append(dst, 0)
			}
			return binary.LittleEndian.AppendUint64(append(dst, 1), canonFloat(float64(a.Value(i))))
		}, nil
	}
	fw, ok := arr.DataType().(arrow.FixedWidthDataType)
	if !ok || fw.BitWidth()%8 != 0 {
		return nil, fmt.Errorf("unsupported key type %s", arr.DataType())
	}
	w := fw.BitWidth() / 8
	var buf []byte
	if b := arr.Data().Buffers()[1]; b != nil {
		buf = b.Bytes()
	}
	off := arr.Data().Offset()
	return func(dst []byte, i int) []byte {
		if arr.IsNull(i) {
			return append(dst, 0)
		}
		p := (off + i) * w
		return append(append(dst, 1), buf[p:p+w]...)
	}, nil
}

func appendBytes(dst []byte, null bool, v string) []byte {
	if null {
		return append(dst, 0)
	}
	dst = binary.LittleEndian.AppendUint32(append(dst, 1), uint32(len(v)))
	return append(dst, v...)
}

// canonFloat makes -0 equal 0 and every NaN one value, so they group
// together as SQL equality says.
func canonFloat(f float64) uint64 {
	if f == 0 {
		return 0
	}
	if f != f {
		return 0x7ff8000000000001
	}
	return math.Float64bits(f)
}
