package sql

import (
	"fmt"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// ValuesList is `(VALUES (1, 'a'), (2, 'b')) [AS] t(x, y)` in FROM. The
// TiDB parser reads no VALUES lists in FROM nor column lists after an
// alias, so the whole item reaches it as a placeholder table name, a key
// of Query.Values.
type ValuesList struct {
	// Rows are the rows' expressions, parsed by TiDB with offsets into the
	// query's text.
	Rows [][]ast.ExprNode
	// Alias and Columns name the relation and its columns ("" / nil:
	// DuckDB's defaults, valuesN and col0, col1, …).
	Alias   string
	Columns []string
	Pos     Pos
	// Defaults are the cells written DEFAULT ({row, column}, from 0),
	// which only an INSERT's VALUES may hold: the parser sees NULL there
	// and the planner puts the column's DEFAULT in.
	Defaults map[[2]int]bool
	// DefaultPos is where the first DEFAULT cell is written.
	DefaultPos Pos
}

// FileTable is a file read as a table in FROM, DuckDB style: `'orders.csv'`
// or `read_csv('data/*.csv', header = true)`. It reaches the TiDB parser
// as a placeholder table name, a key of Query.Files.
type FileTable struct {
	// Paths are the file paths or globs as written.
	Paths []string
	// Format is csv, json or parquet when a read_… function named it, ""
	// when the path's extension decides.
	Format string
	// Options are the function's named options, in written order.
	Options Options
	Pos     Pos
}

// Name is the table's default name: the first path's base name without
// its extension, as DuckDB names `FROM 'data/orders.csv'` "orders".
func (f *FileTable) Name() string {
	p := f.Paths[0]
	if i := strings.LastIndexAny(p, "/\\"); i >= 0 {
		p = p[i+1:]
	}
	if i := strings.IndexByte(p, '.'); i > 0 {
		p = p[:i]
	}
	return p
}

// readFuncs are the file table functions and the format each reads.
var readFuncs = map[string]string{
	"READ_CSV": "csv", "READ_CSV_AUTO": "csv",
	"READ_PARQUET": "parquet", "PARQUET_SCAN": "parquet",
	"READ_JSON": "json", "READ_JSON_AUTO": "json", "READ_NDJSON": "json", "READ_NDJSON_AUTO": "json",
}

// fromItem recognises a FROM item at body[i] the TiDB parser cannot read:
// a VALUES list, a quoted file path or a read_… function. It returns the
// replacement for the item's span (with the placeholder named by next)
// and the index of the item's last token; ok is false for anything else.
func (ps *parseState) fromItem(q *Query, body []token, i int) (repl replacement, end int, ok bool, err error) {
	t := body[i]
	switch {
	case t.isPunct("(") && i+1 < len(body) && body[i+1].is("VALUES"):
		return ps.valuesItem(q, body, i)
	case t.kind == tkString:
		name := fmt.Sprintf("_f%d", len(q.Files))
		if t.end-t.off < len(name) {
			return repl, 0, false, Errorf(ParseError, ps.pos(t.off), "file name %s is too short", t.text)
		}
		if q.Files == nil {
			q.Files = map[string]*FileTable{}
		}
		q.Files[name] = &FileTable{Paths: []string{t.val}, Pos: ps.pos(t.off)}
		return replacement{span{t.off, t.end}, name}, i, true, nil
	case t.kind == tkIdent && i+1 < len(body) && body[i+1].isPunct("("):
		format, known := readFuncs[strings.ToUpper(t.text)]
		if !known {
			return repl, 0, false, nil
		}
		return ps.readFunc(q, body, i, format)
	}
	return repl, 0, false, nil
}

// readFunc parses read_csv('path' | ['p1', 'p2'], key = value, …).
func (ps *parseState) readFunc(q *Query, body []token, i int, format string) (replacement, int, bool, error) {
	t := body[i]
	c := &cursor{ps: ps, toks: body}
	close := matchParen(body, i+1)
	if close < 0 {
		return replacement{}, 0, false, c.errAt(body[i+1], "unclosed ( in %s", t.text)
	}
	ft := &FileTable{Format: format, Pos: ps.pos(t.off)}
	ac := &cursor{ps: ps, toks: body[i+2 : close]}
	if ac.eof() {
		return replacement{}, 0, false, c.errAt(body[close], "%s needs a file path", t.text)
	}
	if ac.acceptPunct("[") {
		for !ac.acceptPunct("]") {
			p := ac.next()
			if p.kind != tkString {
				return replacement{}, 0, false, ac.errAt(p, "%s: expected a quoted file path, found %q", t.text, p.text)
			}
			ft.Paths = append(ft.Paths, p.val)
			if !ac.acceptPunct(",") && !ac.peek().isPunct("]") {
				return replacement{}, 0, false, ac.unexpected(`"," or "]"`)
			}
		}
		if len(ft.Paths) == 0 {
			return replacement{}, 0, false, c.errAt(t, "%s needs a file path", t.text)
		}
	} else {
		p := ac.next()
		if p.kind != tkString {
			return replacement{}, 0, false, ac.errAt(p, "%s: expected a quoted file path, found %q", t.text, p.text)
		}
		ft.Paths = []string{p.val}
	}
	for ac.acceptPunct(",") {
		k := ac.next()
		if k.kind != tkIdent && k.kind != tkQIdent && k.kind != tkString {
			return replacement{}, 0, false, ac.errAt(k, "%s: expected an option name, found %q", t.text, k.text)
		}
		if !ac.acceptPunct("=") {
			if ac.acceptPunct(":") {
				if !ac.acceptPunct("=") {
					return replacement{}, 0, false, ac.unexpected(`"="`)
				}
			} else {
				return replacement{}, 0, false, ac.unexpected(`"="`)
			}
		}
		v := ac.next()
		val := v.val
		if v.isPunct("-") && ac.peek().kind == tkNumber {
			val = "-" + ac.next().val
		} else if v.kind != tkString && v.kind != tkNumber && v.kind != tkIdent {
			return replacement{}, 0, false, ac.errAt(v, "%s option %s: expected a value, found %q", t.text, k.val, v.text)
		}
		ft.Options = append(ft.Options, Option{Key: strings.ToLower(k.val), Value: val, Pos: ps.pos(k.off)})
	}
	if !ac.eof() {
		return replacement{}, 0, false, ac.unexpected(`"," or ")"`)
	}
	name := fmt.Sprintf("_f%d", len(q.Files))
	if q.Files == nil {
		q.Files = map[string]*FileTable{}
	}
	q.Files[name] = ft
	return replacement{span{t.off, body[close].end}, name}, close, true, nil
}

// valuesItem parses `(VALUES row, …) [AS] alias [(col, …)]` at body[i].
// The rows go to the TiDB parser as `SELECT row, …` over the same offsets
// (VALUES and SELECT have the same length), everything else blanked.
func (ps *parseState) valuesItem(q *Query, body []token, i int) (replacement, int, bool, error) {
	c := &cursor{ps: ps, toks: body}
	close := matchParen(body, i)
	if close < 0 {
		return replacement{}, 0, false, c.errAt(body[i], "unclosed ( before VALUES")
	}
	vl := &ValuesList{Pos: ps.pos(body[i+1].off)}
	if close == i+2 {
		return replacement{}, 0, false, c.errAt(body[close], "VALUES needs at least one row")
	}
	rows, err := ps.valuesRows(q, body, i+1, body[close].off, vl)
	if err != nil {
		return replacement{}, 0, false, err
	}
	vl.Rows = rows
	end := close
	j := close + 1
	if j < len(body) && body[j].is("AS") {
		j++
	}
	if j < len(body) && (body[j].kind == tkIdent || body[j].kind == tkQIdent) && !clauseWords[strings.ToUpper(body[j].text)] && !notAfterEmit[strings.ToUpper(body[j].text)] {
		vl.Alias = body[j].val
		end = j
		if j+1 < len(body) && body[j+1].isPunct("(") {
			cl := matchParen(body, j+1)
			if cl < 0 {
				return replacement{}, 0, false, c.errAt(body[j+1], "unclosed ( in the column list of %s", vl.Alias)
			}
			cc := &cursor{ps: ps, toks: body[j+2 : cl]}
			for !cc.eof() {
				name, _, err := cc.ident("a column name")
				if err != nil {
					return replacement{}, 0, false, err
				}
				vl.Columns = append(vl.Columns, name)
				if !cc.eof() && !cc.acceptPunct(",") {
					return replacement{}, 0, false, cc.unexpected(`"," or ")"`)
				}
			}
			end = cl
		}
	} else if j > close+1 {
		return replacement{}, 0, false, c.errAt(body[j-1], "expected a name after AS")
	}
	name := fmt.Sprintf("_v%d", len(q.Values))
	if q.Values == nil {
		q.Values = map[string]*ValuesList{}
	}
	q.Values[name] = vl
	return replacement{span{body[i].off, body[end].end}, name}, end, true, nil
}

// byAll finds GROUP BY ALL and ORDER BY ALL: the ALL reaches the TiDB
// parser as the column `$` (same length), which the planner reads as
// ALL when Query.ByAll is set.
func byAll(q *Query, body []token) []replacement {
	var out []replacement
	for i := 2; i < len(body); i++ {
		if !body[i].is("ALL") || !body[i-1].is("BY") || !(body[i-2].is("GROUP") || body[i-2].is("ORDER")) {
			continue
		}
		if i+1 < len(body) && body[i+1].isPunct("(") {
			continue
		}
		q.ByAll = true
		out = append(out, replacement{span{body[i].off, body[i].end}, "`$`"})
	}
	return out
}

// inReplacement reports whether sp lies inside one of repls' spans.
func inReplacement(repls []replacement, sp span) bool {
	for _, r := range repls {
		if sp.off >= r.off && sp.end <= r.end {
			return true
		}
	}
	return false
}

// valuesRows parses the rows of VALUES at body[kw] up to the offset stop:
// the TiDB parser reads them as `SELECT row, …` over the same offsets
// (VALUES and SELECT have the same length), everything else blanked.
// List literals in the rows are read as in a SELECT (q.ListLits).
func (ps *parseState) valuesRows(q *Query, body []token, kw int, stop int, vl *ValuesList) ([][]ast.ExprNode, error) {
	c := &cursor{ps: ps, toks: body}
	kwt := body[kw]
	start, end := body[0].off, body[len(body)-1].end
	casts, castTypes, err := ps.castTypes(body) // the rows' CASTs read as in the query
	if err != nil {
		return nil, err
	}
	// A statement's VALUES (INSERT INTO t VALUES …) is all the query
	// there is: its CASTs' types are recorded here, or nowhere.
	for off, t := range castTypes {
		if q.CastTypes == nil {
			q.CastTypes = map[int]string{}
		}
		if _, ok := q.CastTypes[off]; !ok {
			q.CastTypes[off] = t
		}
	}
	ivs, _ := standaloneIntervals(body) // and its interval literals (Query.Intervals)
	repls := append(casts, ivs...)
	in := func(off int) bool { return off > kwt.off && off < stop }
	var lq Query // the whole body's lists: keep those in the rows
	lists, subs, err := ps.listLiterals(&lq, body, nil)
	if err != nil {
		return nil, err
	}
	for _, l := range lists {
		if in(l.off) {
			repls = append(repls, l)
		}
	}
	for off := range lq.ListLits {
		if in(off + start) {
			if q.ListLits == nil {
				q.ListLits = map[int]bool{}
			}
			q.ListLits[off] = true
		}
	}
	for _, s := range subs {
		if in(body[s.open].off) {
			return nil, Errorf(ParseError, ps.pos(body[s.open].off), "a subscript l[i] in a VALUES row is not supported")
		}
	}
	input := []byte(ps.tidbInput(start, end, repls))
	// A cell that is the word DEFAULT reaches the TiDB parser as NULL
	// (padded to DEFAULT's length) and is remembered by row and column.
	depth, row, col := 0, 0, 0
	for k := kw + 1; k < len(body) && body[k].off < stop; k++ {
		t := body[k]
		switch {
		case t.isPunct("(") || t.isPunct("["):
			depth++
		case t.isPunct(")") || t.isPunct("]"):
			depth--
		case t.isPunct(","):
			if depth == 0 {
				row, col = row+1, 0
			} else if depth == 1 {
				col++
			}
		case t.is("DEFAULT") && depth <= 1 && (body[k-1].isPunct("(") || body[k-1].isPunct(",") || k == kw+1) &&
			k+1 < len(body) && (body[k+1].isPunct(",") || body[k+1].isPunct(")") || body[k+1].off >= stop):
			if vl.Defaults == nil {
				vl.Defaults, vl.DefaultPos = map[[2]int]bool{}, ps.pos(t.off)
			}
			vl.Defaults[[2]int{row, col}] = true
			copy(input[t.off-start:], "NULL   ")
		}
	}
	for k := range input {
		if (k+start < kwt.off || k+start >= stop) && input[k] != '\n' {
			input[k] = ' '
		}
	}
	copy(input[kwt.off-start:], "SELECT")
	stmts, err := ps.parseTiDB(string(input))
	if err != nil {
		return nil, ps.tidbError(err, string(input), start, end)
	}
	if len(stmts) != 1 {
		return nil, c.errAt(kwt, "VALUES takes a list of rows in parentheses")
	}
	sel, ok := stmts[0].(*ast.SelectStmt)
	if !ok || sel.From != nil || sel.Where != nil {
		return nil, c.errAt(kwt, "VALUES takes a list of rows in parentheses")
	}
	var rows [][]ast.ExprNode
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil || f.AsName.O != "" {
			return nil, Errorf(ParseError, ps.pos(start+f.Offset), "VALUES takes a list of rows in parentheses")
		}
		switch e := f.Expr.(type) {
		case *ast.RowExpr:
			rows = append(rows, e.Values)
		case *ast.ParenthesesExpr:
			rows = append(rows, []ast.ExprNode{e.Expr})
		default:
			rows = append(rows, []ast.ExprNode{e})
		}
	}
	return rows, nil
}

// valuesQuery is a statement-level `VALUES (…), …` (INSERT INTO t VALUES
// …): the query `SELECT * FROM` its rows.
func (ps *parseState) valuesQuery(q *Query, body []token) (*Query, error) {
	if len(body) < 2 {
		return nil, Errorf(ParseError, ps.pos(body[0].off), "VALUES needs at least one row")
	}
	vl := &ValuesList{Pos: ps.pos(body[0].off)}
	rows, err := ps.valuesRows(q, body, 0, body[len(body)-1].end, vl)
	if err != nil {
		return nil, err
	}
	vl.Rows = rows
	q.Values = map[string]*ValuesList{"_v0": vl}
	stmts, err := ps.parseTiDB("SELECT * FROM _v0")
	if err != nil {
		return nil, err
	}
	q.Select = stmts[0].(ast.ResultSetNode)
	return q, nil
}

// listTypeSuffix reports whether body[i] opens the `[]` of a list type
// (`INT[]`, `DECIMAL(10,2)[]`, `DOUBLE PRECISION[]`): empty brackets right
// after a type name or its arguments. An empty subscript or list literal
// is an error anyway.
func listTypeSuffix(body []token, i int) bool {
	if i == 0 || i+1 >= len(body) || !body[i+1].isPunct("]") {
		return false
	}
	p := i - 1
	if body[p].isPunct(")") {
		if p = matchOpen(body, p) - 1; p < 0 {
			return false
		}
	}
	_, isType := typeSynonyms[strings.ToUpper(body[p].text)]
	return body[p].kind == tkIdent && (isType || body[p].is("PRECISION"))
}

// listLiterals finds DuckDB's list literals `[a, b, …]`: they reach the
// TiDB parser as `(a, b, …)` (same length) and Query.ListLits keeps the
// offset of each, so the planner binds a list there (done: the spans
// other rewrites took). A `[` right after a name, `)` or `]` opens a
// subscript l[i] or slice l[a:b], returned in subs for subscripts to read.
func (ps *parseState) listLiterals(q *Query, body []token, done []replacement) (out []replacement, subs []subscriptAt, err error) {
	start := body[0].off
	for i, t := range body {
		if !t.isPunct("[") || inReplacement(done, span{t.off, t.end}) {
			continue // not a list, or inside a FROM item already read (read_csv(['a', 'b']))
		}
		if listTypeSuffix(body, i) {
			continue // INT[]: a type, read by castTypes
		}
		depth, end := 0, -1
		for j := i; j < len(body) && end < 0; j++ {
			switch {
			case body[j].isPunct("["):
				depth++
			case body[j].isPunct("]"):
				depth--
				if depth == 0 {
					end = j
				}
			}
		}
		if end < 0 {
			return nil, nil, Errorf(ParseError, ps.pos(t.off), "unclosed [")
		}
		if i > 0 && subscriptAfter(body[i-1]) {
			s, err := ps.subscriptOperand(body, i, end, subs)
			if err != nil {
				return nil, nil, err
			}
			subs = append(subs, s)
			continue
		}
		if end == i+1 {
			return nil, nil, Errorf(ParseError, ps.pos(t.off), "an empty list [] is not supported")
		}
		out = append(out, replacement{span{t.off, t.end}, "("}, replacement{span{body[end].off, body[end].end}, ")"})
		if q.ListLits == nil {
			q.ListLits = map[int]bool{}
		}
		q.ListLits[t.off-start] = true
	}
	return out, subs, nil
}
