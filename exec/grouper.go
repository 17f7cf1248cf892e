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
	// the row count), for the rows listed in rows only (in that order;
	// other entries of gids are left alone), or for every row when rows
	// is nil. With insert, unseen keys get new ids and the key values of
	// the new groups come back as arrays (one per key column, value types,
	// nil when there are none); without insert unseen keys get noGroup.
	assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, rows []int32, gids []uint32, insert bool) ([]arrow.Array, error)
	// numGroups is the number of groups so far.
	numGroups() int
	// bytes estimates the heap the table holds (statesize.go).
	bytes() int64
	// reset forgets every group, keeping the slots it has grown, so a
	// table refilled with as many keys again does not grow again (the
	// adaptive partial aggregate groups each passed-through batch in one
	// table; aggregate_adaptive.go).
	reset()
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
			return newStringGrouper(), nil
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

func (g *intGrouper) reset() {
	clear(g.slots)
	g.n, g.nullGid = 0, noGroup
}

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

func (g *intGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, rows []int32, gids []uint32, insert bool) ([]arrow.Array, error) {
	arr := cols[0]
	g.scratch = intValues(arr, g.scratch)
	vals := g.scratch
	g.newRows = g.newRows[:0]
	hasNulls := arr.NullN() > 0
	mask := uint64(len(g.slots) - 1)
	n := selected(rows, len(gids))
	for r := 0; r < n; r++ {
		i := r
		if rows != nil {
			i = int(rows[r])
		}
		k := vals[i]
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

// selected is how many rows an assign visits: those listed, or all n.
func selected(rows []int32, n int) int {
	if rows != nil {
		return len(rows)
	}
	return n
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

func (t *bytesTable) reset() {
	clear(t.slots)
	t.arena, t.offs, t.hashes = t.arena[:0], t.offs[:1], t.hashes[:0]
}

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

// stringGrouper groups by one string or binary column. Strings of at
// most 16 bytes (typical categories) are packed into two words and looked
// up without hashing bytes or touching an arena; longer ones go through
// xxh3 and the bytes table.
type stringGrouper struct {
	short   shortTable
	long    *bytesTable
	longIDs []uint32 // bytes-table id → group id
	n       uint32
	nullGid uint32
	hasNull bool
	newRows []int32
}

func newStringGrouper() *stringGrouper {
	// The long-string table is made on the first long key: a window
	// aggregate holds one grouper per open window, most of them small.
	return &stringGrouper{short: newShortTable()}
}

func (g *stringGrouper) numGroups() int { return int(g.n) }

func (g *stringGrouper) reset() {
	clear(g.short.slots)
	g.short.used = 0
	if g.long != nil {
		g.long.reset()
	}
	g.longIDs = g.longIDs[:0]
	g.n, g.hasNull = 0, false
}

func (g *stringGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, rows []int32, gids []uint32, insert bool) ([]arrow.Array, error) {
	g.run(cols[0], rows, gids, insert)
	return newKeyArrays(ctx, mem, cols, g.newRows)
}

// run is assign without the key arrays: the rows that started groups are
// left in g.newRows.
func (g *stringGrouper) run(arr arrow.Array, rows []int32, gids []uint32, insert bool) {
	g.newRows = g.newRows[:0]
	d := arr.Data()
	var data []byte
	if b := d.Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	switch arr.DataType().ID() {
	case arrow.STRING, arrow.BINARY:
		runStrings(g, arr, arrow.GetOffsets[int32](d, 1), data, rows, gids, insert)
	default:
		runStrings(g, arr, arrow.GetOffsets[int64](d, 1), data, rows, gids, insert)
	}
}

func runStrings[O int32 | int64](g *stringGrouper, arr arrow.Array, offs []O, data []byte, rows []int32, gids []uint32, insert bool) {
	hasNulls := arr.NullN() > 0
	n := selected(rows, len(gids))
	for r := 0; r < n; r++ {
		i := r
		if rows != nil {
			i = int(rows[r])
		}
		if hasNulls && arr.IsNull(i) {
			gids[i] = g.null(int32(i), insert)
			continue
		}
		start, end := int(offs[i]), int(offs[i+1])
		if l := end - start; l <= 16 {
			var w0, w1 uint64
			if start+16 <= len(data) { // inlined fast path of loadShort
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
			// First probe inline: with a sparse table it almost always
			// decides.
			if s := &g.short.slots[shortHash(w0, w1, uint64(l))>>g.short.shift]; s.gid != 0 && s.w0 == w0 && s.w1 == w1 && s.l == uint32(l) {
				gids[i] = s.gid - 1
				continue
			}
			gid, isNew := g.short.find(w0, w1, uint64(l), g.n, insert)
			if isNew {
				g.n++
				g.newRows = append(g.newRows, int32(i))
			}
			gids[i] = gid
			continue
		}
		k := bytesAsString(data[start:end])
		if g.long == nil {
			g.long = newBytesTable()
		}
		t, isNew := g.long.find(xxh3.HashString(k), k, insert)
		switch {
		case t == noGroup:
			gids[i] = noGroup
		case isNew:
			g.longIDs = append(g.longIDs, g.n)
			gids[i] = g.n
			g.n++
			g.newRows = append(g.newRows, int32(i))
		default:
			gids[i] = g.longIDs[t]
		}
	}
}

// loadShort packs the l <= 16 bytes at data[start:] into two
// little-endian words, zero-padded.
func loadShort(data []byte, start, l int) (w0, w1 uint64) {
	if start+16 <= len(data) {
		w0 = binary.LittleEndian.Uint64(data[start:])
		w1 = binary.LittleEndian.Uint64(data[start+8:])
		switch {
		case l < 8:
			w0 &= (1 << (8 * uint(l))) - 1
			w1 = 0
		case l < 16:
			w1 &= (1 << (8 * uint(l-8))) - 1
		}
		return w0, w1
	}
	var buf [16]byte
	copy(buf[:], data[start:start+l])
	return binary.LittleEndian.Uint64(buf[:]), binary.LittleEndian.Uint64(buf[8:])
}

func (g *stringGrouper) null(row int32, insert bool) uint32 {
	if !g.hasNull {
		if !insert {
			return noGroup
		}
		g.hasNull = true
		g.nullGid = g.n
		g.n++
		g.newRows = append(g.newRows, row)
	}
	return g.nullGid
}

// shortTable is an open-addressing table keyed by a string of at most 16
// bytes packed as (w0, w1, length).
type shortTable struct {
	slots []shortSlot
	shift uint
	used  int
}

type shortSlot struct {
	w0, w1 uint64
	l      uint32
	gid    uint32 // group id + 1; 0 = empty
}

func newShortTable() shortTable {
	return shortTable{slots: make([]shortSlot, 16), shift: 64 - 4}
}

func shortHash(w0, w1, l uint64) uint64 {
	return (w0 ^ (w1+l)*0x9E3779B97F4A7C15) * 0xC2B2AE3D27D4EB4F
}

// find returns the group of the key, giving it id next when it is new and
// insert is set.
func (t *shortTable) find(w0, w1, l uint64, next uint32, insert bool) (uint32, bool) {
	mask := uint64(len(t.slots) - 1)
	j := shortHash(w0, w1, l) >> t.shift
	for {
		s := &t.slots[j]
		if s.gid == 0 {
			if !insert {
				return noGroup, false
			}
			*s = shortSlot{w0: w0, w1: w1, l: uint32(l), gid: next + 1}
			t.used++
			if t.used*4 > len(t.slots) {
				t.grow()
			}
			return next, true
		}
		if s.w0 == w0 && s.w1 == w1 && uint64(s.l) == l {
			return s.gid - 1, false
		}
		j = (j + 1) & mask
	}
}

func (t *shortTable) grow() {
	old := t.slots
	t.slots = make([]shortSlot, 2*len(old))
	t.shift--
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.gid == 0 {
			continue
		}
		j := shortHash(s.w0, s.w1, uint64(s.l)) >> t.shift
		for t.slots[j].gid != 0 {
			j = (j + 1) & mask
		}
		t.slots[j] = s
	}
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

func (g *dictGrouper) reset() { g.inner.reset() }

func (g *dictGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, rows []int32, gids []uint32, insert bool) ([]arrow.Array, error) {
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
	n := selected(rows, len(gids))
	for r := 0; r < n; r++ {
		i := r
		if rows != nil {
			i = int(rows[r])
		}
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
	keys, err := g.inner.assign(ctx, mem, []arrow.Array{vals}, nil, small, insert)
	if err != nil {
		return nil, err
	}
	if rows != nil {
		for _, i := range rows {
			gids[i] = small[rowPos[i]]
		}
		return keys, nil
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

func (g *rowGrouper) reset() { g.table.reset() }

func (g *rowGrouper) assign(ctx context.Context, mem memory.Allocator, cols []arrow.Array, rows []int32, gids []uint32, insert bool) ([]arrow.Array, error) {
	encs := make([]cellEncoder, len(cols))
	for c, col := range cols {
		e, err := newCellEncoder(col)
		if err != nil {
			return nil, err
		}
		encs[c] = e
	}
	g.newRows = g.newRows[:0]
	n := selected(rows, len(gids))
	for r := 0; r < n; r++ {
		i := r
		if rows != nil {
			i = int(rows[r])
		}
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
