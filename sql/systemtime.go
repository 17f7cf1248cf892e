package sql

import "strings"

// SystemTime is `FOR SYSTEM_TIME AS OF o.ts` (or `AS OF PROCTIME()`)
// after a table name in FROM: a temporal join's versioned table, read as
// of the other input's event time (or as of now). The TiDB parser has no
// such clause, so it sees blanks in its place and the table name with its
// alias; the planner finds the clause by Table and Alias.
type SystemTime struct {
	// Table and Alias are the versioned table's name and alias ("" for
	// none) as written.
	Table, Alias string
	// Qualifier and Column name the time column of the other input
	// (Qualifier "" when unqualified); both empty for PROCTIME().
	Qualifier, Column string
	// Proctime: AS OF PROCTIME(), the table's current version.
	Proctime bool
	Pos      Pos
	// ColumnPos is where the time column is written.
	ColumnPos Pos
}

// systemTime recognises `FOR SYSTEM_TIME AS OF expr` at body[i] (i > 0,
// in a FROM clause) and returns the blank replacement for it and the
// index of its last token; ok is false when body[i] starts no such
// clause.
func (ps *parseState) systemTime(q *Query, body []token, i int) (repl replacement, end int, ok bool, err error) {
	if i+3 >= len(body) || !body[i].is("FOR") || !body[i+1].is("SYSTEM_TIME") {
		return repl, 0, false, nil
	}
	for k, kw := range []string{"AS", "OF"} {
		if t := body[i+2+k]; !t.is(kw) {
			return repl, 0, false, Errorf(ParseError, ps.pos(t.off), "syntax error at or near %q, expected FOR SYSTEM_TIME AS OF", t.text)
		}
	}
	table := body[i-1]
	if table.isPunct(")") {
		// Flink reads a versioned view there, not a subquery: one
		// spelling, which the planner checks is versioned.
		return repl, 0, false, Errorf(ParseError, ps.pos(body[i].off), "FOR SYSTEM_TIME AS OF follows a table or view name, not a subquery: name the subquery in WITH (WITH r AS (SELECT …) … JOIN r FOR SYSTEM_TIME AS OF …) or CREATE VIEW; it must be a versioned view, keeping the latest row per key by event time (ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) = 1)")
	}
	if table.kind != tkIdent && table.kind != tkQIdent {
		return repl, 0, false, Errorf(ParseError, ps.pos(body[i].off), "FOR SYSTEM_TIME AS OF follows a table name")
	}
	st := &SystemTime{Table: table.val, Pos: ps.pos(body[i].off)}
	j := i + 4
	ident := func(k int) bool {
		return k < len(body) && (body[k].kind == tkIdent || body[k].kind == tkQIdent)
	}
	switch {
	case ident(j) && strings.EqualFold(body[j].val, "PROCTIME") && j+2 < len(body) && body[j+1].isPunct("(") && body[j+2].isPunct(")"):
		st.Proctime = true
		end = j + 2
	case ident(j) && j+2 < len(body) && body[j+1].isPunct(".") && ident(j+2):
		st.Qualifier, st.Column, st.ColumnPos = body[j].val, body[j+2].val, ps.pos(body[j].off)
		end = j + 2
	case ident(j):
		st.Column, st.ColumnPos = body[j].val, ps.pos(body[j].off)
		end = j
	default:
		at := body[len(body)-1]
		if j < len(body) {
			at = body[j]
		}
		return repl, 0, false, Errorf(ParseError, ps.pos(at.off), "FOR SYSTEM_TIME AS OF needs the other input's time column (o.ts) or PROCTIME()")
	}
	// The alias after the clause: [AS] name.
	if k := end + 1; k < len(body) {
		switch {
		case body[k].is("AS") && ident(k+1):
			st.Alias = body[k+1].val
		case body[k].kind == tkQIdent || (body[k].kind == tkIdent && !clauseWords[strings.ToUpper(body[k].text)] && !notAfterEmit[strings.ToUpper(body[k].text)]):
			st.Alias = body[k].val
		}
	}
	q.SystemTimes = append(q.SystemTimes, st)
	return replacement{span: span{body[i].off, body[end].end}}, end, true, nil
}
