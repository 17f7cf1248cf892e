package sluice_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// sltRecord is one entry of a golden SQL file: a statement expected to
// succeed or fail, or a query with its expected rows.
//
// The format is sqllogictest's, as DuckDB and DataFusion use it:
//
//	# comment
//	statement ok
//	CREATE SOURCE …
//
//	statement error unknown column "b"
//	SELECT b FROM t
//
//	query TI rowsort
//	SELECT category, SUM(value) FROM t GROUP BY category
//	----
//	books	40
//
// Values in expected rows are separated by tabs; NULL prints as NULL and
// the empty string as (empty). `rowsort` sorts rows before comparing, for
// queries without ORDER BY. `-update` rewrites the expected rows and error
// texts from what sluice returns.
type sltRecord struct {
	kind      string // "statement" or "query"
	ok        bool   // statement ok
	errSubstr string // statement error <substring>
	types     string // query column type letters (informative)
	options   []string
	sql       string
	expected  []string
	line      int // line of the record header, for messages
	// header is the record's first line, and pre the comment and blank
	// lines before it, kept for -update.
	header, pre string
}

func (r *sltRecord) has(opt string) bool {
	for _, o := range r.options {
		if o == opt {
			return true
		}
	}
	return false
}

// parseSLT reads a golden file.
func parseSLT(path string) ([]*sltRecord, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var recs []*sltRecord
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	var cur *sltRecord
	section := "" // "", "sql", "rows"
	pending := ""
	flush := func() {
		if cur != nil {
			cur.sql = strings.TrimSpace(cur.sql)
			recs = append(recs, cur)
		}
		cur, section = nil, ""
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if cur == nil {
			trimmed := strings.TrimSpace(text)
			if trimmed == "" || strings.HasPrefix(trimmed, "#") {
				pending += text + "\n"
				continue
			}
			fields := strings.Fields(trimmed)
			cur = &sltRecord{line: line, header: trimmed, pre: pending}
			pending = ""
			switch fields[0] {
			case "statement":
				cur.kind = "statement"
				if len(fields) < 2 {
					return nil, "", fmt.Errorf("%s:%d: statement needs ok or error", path, line)
				}
				switch fields[1] {
				case "ok":
					cur.ok = true
				case "error":
					cur.errSubstr = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(trimmed, "statement"), " error"))
				default:
					return nil, "", fmt.Errorf("%s:%d: statement needs ok or error, got %q", path, line, fields[1])
				}
			case "query":
				cur.kind = "query"
				if len(fields) > 1 {
					cur.types = fields[1]
				}
				if len(fields) > 2 {
					cur.options = fields[2:]
				}
			default:
				return nil, "", fmt.Errorf("%s:%d: unknown record %q", path, line, fields[0])
			}
			section = "sql"
			continue
		}
		switch section {
		case "sql":
			if strings.TrimSpace(text) == "" {
				flush()
				continue
			}
			if text == "----" && cur.kind == "query" {
				section = "rows"
				continue
			}
			cur.sql += text + "\n"
		case "rows":
			if text == "" {
				flush()
				continue
			}
			cur.expected = append(cur.expected, text)
		}
	}
	flush()
	return recs, pending, sc.Err()
}

// writeSLT renders records back into the golden format (for -update).
func writeSLT(path string, recs []*sltRecord, trailer string) error {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(r.pre)
		b.WriteString(r.header + "\n")
		b.WriteString(r.sql + "\n")
		if r.kind == "query" {
			b.WriteString("----\n")
			for _, row := range r.expected {
				b.WriteString(row + "\n")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(trailer)
	return os.WriteFile(path, []byte(strings.TrimRight(b.String(), "\n")+"\n"), 0o644)
}
