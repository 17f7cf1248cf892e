package planner

import (
	"strings"
	"unicode"

	"github.com/sluicesql/sluice/sql"
)

// posOf converts a TiDB byte offset (node.OriginTextPosition, an offset
// into the query's text) into a line and column of the script.
func posOf(q *sql.Query, offset int) sql.Pos {
	return q.PosOf(offset)
}

// textOffset returns the offset into q's text of the first whole-word
// occurrence of word at or after the first occurrence of after (if any),
// or -1. Table names carry no position in the TiDB AST, so errors about
// them locate the name this way.
func textOffset(q *sql.Query, word, after string) int {
	text := q.SQL()
	from := 0
	if after != "" {
		if i := findWord(text, after, 0); i >= 0 {
			from = i
		}
	}
	i := findWord(text, word, from)
	if i < 0 {
		return -1
	}
	return i
}

// findWord returns the byte offset of the first whole-word, case-insensitive
// occurrence of word in text at or after from, or -1. Table names carry no
// position in the TiDB AST, so errors about them locate the name this way.
func findWord(text, word string, from int) int {
	if word == "" {
		return -1
	}
	lt, lw := strings.ToLower(text), strings.ToLower(word)
	isWord := func(i int) bool {
		if i < 0 || i >= len(text) {
			return false
		}
		r := rune(text[i])
		return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	for i := from; i <= len(lt)-len(lw); {
		j := strings.Index(lt[i:], lw)
		if j < 0 {
			return -1
		}
		j += i
		if !isWord(j-1) && !isWord(j+len(lw)) {
			return j
		}
		i = j + 1
	}
	return -1
}

// levenshtein is the edit distance between a and b (case-insensitive).
func levenshtein(a, b string) int {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// suggest returns ` (did you mean "x"?)` for the closest candidate within
// a small edit distance, or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", 0
	limit := max(1, min(3, len(name)/2))
	for _, c := range candidates {
		d := levenshtein(name, c)
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}
