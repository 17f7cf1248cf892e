package sql

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns
// is a ParseError whose position lies inside the script, and that Split
// followed by ParseAt of each chunk agrees with Parse.
func FuzzParse(f *testing.F) {
	seeds := []string{
		"SELECT a FROM t WHERE b = 'x;y' -- c\n;",
		"CREATE SOURCE s (a BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', scan.startup.mode = earliest)",
		"CREATE SINK k WITH (path = 'out/') AS SELECT * FROM TUMBLE(s, ts, INTERVAL '5' SECOND) EMIT FINAL",
		"SELECT * FROM TABLE(HOP(TABLE s, DESCRIPTOR(ts), 1s, 5s)) w JOIN SESSION(u, ts, 30s) x ON w.a = x.a EMIT EVERY 5s FULL",
		"INSERT INTO k SELECT 1; DROP SINK IF EXISTS k; SHOW SOURCES; DESC s; EXPLAIN ANALYZE SELECT 1 EMIT CHANGES; SET a = 'b'",
		"/* x */ SELECT `a``b`, 'it''s', \"q\\\"\" # c",
		"SELECT 'unterminated",
		"TUMBLE(",
		"SELECT * FROM TUMBLE(t, ts, INTERVAL",
		"SELECT * FROM t EMIT EVERY",
		"SELECT * FROM TABLE(TUMBLE(t, ts, 1s)",
		"SELECT 1 AS a # note; more",
		"SELECT 1;\nSELECT 'abc",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		splitAgrees(t, script)
		_, err := Parse(script)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != ParseError {
			t.Fatalf("Parse(%q): error %v is not a ParseError", script, err)
		}
		if e.Pos.Line < 1 || e.Pos.Offset < 0 || e.Pos.Offset > len(script) {
			t.Fatalf("Parse(%q): error %v has position %+v outside the script", script, err, e.Pos)
		}
		Complete(script)
	})
}
