package sql

import "unicode/utf8"

// PosAt converts a byte offset into script to a 1-based line and column
// (columns count characters, not bytes), so positions from any stage can be
// shown the way an editor shows them. Offsets past the end are clamped.
func PosAt(script string, offset int) Pos {
	if offset < 0 {
		offset = 0
	}
	if offset > len(script) {
		offset = len(script)
	}
	line, lineStart := 1, 0
	for i := 0; i < offset; i++ {
		if script[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return Pos{Line: line, Col: utf8.RuneCountInString(script[lineStart:offset]) + 1, Offset: offset}
}

// PosOf converts a byte offset into the whole script, such as the one
// TiDB's OriginTextPosition() returns for a node of q.Select, into a line
// and column, so the planner can report `line 3:14: unknown column "valu"`.
// Offsets outside the query's own text yield a Pos without a line.
func (q *Query) PosOf(offset int) Pos {
	return posIn(q.pos, q.text, offset)
}

// posIn converts offset into a position using the fact that text starts at
// start in the script: lines are counted from start onwards.
func posIn(start Pos, text string, offset int) Pos {
	rel := offset - start.Offset
	if rel < 0 || rel > len(text) || start.Line == 0 {
		return Pos{Offset: offset}
	}
	p := PosAt(text, rel)
	if p.Line == 1 {
		// Still on the statement's first line: shift by its column.
		p.Col += start.Col - 1
	}
	p.Line += start.Line - 1
	p.Offset = offset
	return p
}
