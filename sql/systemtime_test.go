package sql

import (
	"errors"
	"strings"
	"testing"
)

// TestSystemTime: FOR SYSTEM_TIME AS OF after a joined table is read into
// Query.SystemTimes (table, alias, time column or PROCTIME()), TiDB sees
// the join without it, and a malformed clause is an error at its place.
func TestSystemTime(t *testing.T) {
	for _, tc := range []struct {
		src                     string
		table, alias, qual, col string
		proctime                bool
		line, colPos            int
	}{
		{"SELECT * FROM o JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.c = r.c", "rates", "r", "o", "ts", false, 1, 28},
		{"SELECT * FROM o JOIN rates FOR SYSTEM_TIME AS OF ts r ON o.c = r.c", "rates", "r", "", "ts", false, 1, 28},
		{"SELECT *\nFROM o LEFT JOIN rates for system_time as of PROCTIME() ON o.c = rates.c", "rates", "", "", "", true, 2, 24},
	} {
		q := parseQuery(t, tc.src)
		if len(q.SystemTimes) != 1 {
			t.Fatalf("%q: %d clauses, want 1", tc.src, len(q.SystemTimes))
		}
		st := q.SystemTimes[0]
		if st.Table != tc.table || st.Alias != tc.alias || st.Qualifier != tc.qual || st.Column != tc.col || st.Proctime != tc.proctime {
			t.Errorf("%q: got %+v", tc.src, *st)
		}
		if st.Pos.Line != tc.line || st.Pos.Col != tc.colPos {
			t.Errorf("%q: clause at %d:%d, want %d:%d", tc.src, st.Pos.Line, st.Pos.Col, tc.line, tc.colPos)
		}
	}
	for _, tc := range []struct {
		src       string
		line, col int
	}{
		{"SELECT * FROM o JOIN rates FOR SYSTEM_TIME AS 3 r ON o.c = r.c", 1, 47},
		{"SELECT * FROM o JOIN rates FOR SYSTEM_TIME AS OF 3 r ON o.c = r.c", 1, 50},
		{"SELECT * FROM o JOIN (SELECT 1) FOR SYSTEM_TIME AS OF o.ts r ON true", 1, 33},
	} {
		_, err := Parse(tc.src)
		var se *Error
		if !errors.As(err, &se) || se.Pos.Line != tc.line || se.Pos.Col != tc.col {
			t.Errorf("%q: error %v, want one at %d:%d", tc.src, err, tc.line, tc.col)
		}
	}
	// A subquery as the versioned side: the error says what is allowed.
	_, err := Parse("SELECT * FROM o JOIN (SELECT * FROM r)\n  FOR SYSTEM_TIME AS OF o.ts AS v ON o.k = v.k")
	var se *Error
	if !errors.As(err, &se) || se.Pos.Line != 2 || se.Pos.Col != 3 || !strings.Contains(se.Msg, "not a subquery") || !strings.Contains(se.Msg, "WITH r AS") {
		t.Errorf("subquery FOR SYSTEM_TIME: error %v, want one at 2:3 naming the WITH or view form", err)
	}
}
