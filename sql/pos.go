package sql

import "sort"

// PosAt converts a byte offset into script to a 1-based line and column
// (columns count characters, not bytes), so positions from any stage can be
// shown the way an editor shows them. Offsets past the end are clamped.
// It scans script up to offset; code converting many offsets of one text
// uses a lineIndex instead.
func PosAt(script string, offset int) Pos {
	offset = max(0, min(offset, len(script)))
	line, lineStart := 1, 0
	for i := 0; i < offset; i++ {
		if script[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return Pos{Line: line, Col: chars(script[lineStart:offset]) + 1, Offset: offset}
}

// chars counts the characters of s: every byte that does not continue a
// UTF-8 sequence starts one. For valid UTF-8 this is the rune count; it is
// also defined for any byte range, which lets lineIndex count by blocks.
func chars(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i]&0xC0 != 0x80 {
			n++
		}
	}
	return n
}

// markEvery is the block size of lineIndex's character counts.
const markEvery = 64

// lineIndex converts byte offsets of one text into positions in the
// user's script in O(log n): a script of many statements, or a query of
// 50,000 terms, converts each offset without rescanning the text before
// it (which made parsing a long script and binding a long expression
// quadratic).
type lineIndex struct {
	text  string
	base  Pos     // where text starts in the user's script
	lines []int   // byte offset of each line's start; lines[0] == 0
	marks []int32 // marks[k] = chars(text[:k*markEvery])
}

// newLineIndex indexes text, which starts at base in the user's script.
func newLineIndex(text string, base Pos) *lineIndex {
	if base.Line == 0 {
		base = Pos{Line: 1, Col: 1}
	}
	ix := &lineIndex{text: text, base: base, lines: []int{0}, marks: make([]int32, 0, len(text)/markEvery+1)}
	n := int32(0)
	for i := 0; i < len(text); i++ {
		if i%markEvery == 0 {
			ix.marks = append(ix.marks, n)
		}
		c := text[i]
		if c&0xC0 != 0x80 {
			n++
		}
		if c == '\n' {
			ix.lines = append(ix.lines, i+1)
		}
	}
	return ix
}

// charsBefore is chars(text[:off]).
func (ix *lineIndex) charsBefore(off int) int {
	k := off / markEvery
	if k >= len(ix.marks) {
		k = len(ix.marks) - 1
	}
	if k < 0 {
		return 0
	}
	return int(ix.marks[k]) + chars(ix.text[k*markEvery:off])
}

// pos is the script position of byte offset off of the text (clamped to
// the text).
func (ix *lineIndex) pos(off int) Pos {
	off = max(0, min(off, len(ix.text)))
	l := sort.Search(len(ix.lines), func(i int) bool { return ix.lines[i] > off }) - 1
	start := ix.lines[l]
	p := Pos{Line: ix.base.Line + l, Col: ix.charsBefore(off) - ix.charsBefore(start) + 1, Offset: ix.base.Offset + off}
	if l == 0 {
		// Still on the text's first line: shift by the column it starts at.
		p.Col += ix.base.Col - 1
	}
	return p
}

// PosOf converts a byte offset into the query's own text (SQL()), such as
// the one TiDB's OriginTextPosition() returns for a node of q.Select or a
// SelectField's Offset, into a line and column of the user's script, so
// the planner can report `line 3:14: unknown column "valu"`. Offsets
// outside the query's text yield a Pos without a line.
func (q *Query) PosOf(offset int) Pos {
	if offset < 0 || offset > len(q.text) || q.index == nil {
		return Pos{Offset: q.pos.Offset + offset}
	}
	return q.index.pos(q.indexOff + offset)
}
