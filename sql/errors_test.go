package sql

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
		msg       string // substring of the message
	}{
		{"bad token in select on line 3", "SELECT 1;\nSELECT a\n  FROM t WHERE a = = 1;", 3, 20, `syntax error at or near "="`},
		{"missing select-list item", "SELECT a,\nFROM t", 2, 1, `near "FROM"`},
		{"truncated query", "SELECT 1;\nSELECT a FROM t WHERE\n", 2, 22, "end of query"},
		{"tidb error after a window", "SELECT *\nFROM TUMBLE(t, ts, 5s) x y z", 2, 26, `near "y"`},
		{"unknown type", "CREATE SOURCE s (\n  a BIGINT,\n  b BLOB\n) WITH (connector='x')", 3, 5, `unknown type "BLOB"`},
		{"decimal precision", "CREATE SOURCE s (a DECIMAL(40,2)) WITH (connector='x')", 1, 20, "precision 40"},
		{"decimal scale", "CREATE SOURCE s (a DECIMAL(4,5)) WITH (connector='x')", 1, 20, "scale 5"},
		{"watermark column undeclared", "CREATE SOURCE s (ts TIMESTAMP,\n WATERMARK FOR tz AS tz - INTERVAL '1' SECOND) WITH (connector='x')", 2, 16, `"tz" is not a declared column`},
		{"watermark other column", "CREATE SOURCE s (ts TIMESTAMP, WATERMARK FOR ts AS t2) WITH (c='x')", 1, 52, "must be ts - INTERVAL"},
		{"watermark bad unit", "CREATE SOURCE s (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' WEEK) WITH (c='x')", 1, 66, `unknown interval unit "WEEK"`},
		{"duplicate column", "CREATE SOURCE s (a INT, A INT) WITH (c='x')", 1, 25, `duplicate column "A"`},
		{"missing with", "CREATE SOURCE s (a INT)", 1, 24, "expected WITH"},
		{"duplicate option", "CREATE SINK k WITH (path='a', PATH='b')", 1, 31, `duplicate option "path"`},
		{"bad option value", "CREATE SINK k WITH (path = ,)", 1, 28, "expected a value"},
		{"create table watermark", "CREATE TABLE t (a TIMESTAMP, WATERMARK FOR a AS a)", 1, 30, "an in-memory table has no event time"},
		{"create or replace source", "CREATE OR REPLACE SOURCE s WITH (path = 'x')", 1, 19, "expected VIEW or TABLE after CREATE OR REPLACE"},
		{"view with emit", "CREATE VIEW v AS SELECT a FROM t EMIT CHANGES", 1, 34, "a view cannot have an EMIT clause"},
		{"unknown statement", "SELECT 1;\n  UPDATE t SET a = 1", 2, 3, `unsupported statement "UPDATE"`},
		{"drop what", "DROP INDEX t", 1, 6, "expected SOURCE, SINK, TABLE or VIEW"},
		{"show trailing", "SHOW SOURCES now", 1, 14, "expected end of statement"},
		{"insert without query", "INSERT INTO k VALUE", 1, 15, "expected a query"},
		{"explain nothing", "EXPLAIN ANALYZE", 1, 16, "expected a query"},
		{"emit bad kind", "SELECT a FROM t\nEMIT EVRY 5s", 2, 6, `"EVRY", expected EVERY, CHANGES or FINAL`},
		{"emit bad duration", "SELECT a FROM t EMIT EVERY 5x", 1, 28, `bad duration "5x"`},
		{"emit zero", "SELECT a FROM t EMIT EVERY 0s", 1, 28, "must be positive"},
		{"emit no interval", "SELECT a FROM t EMIT EVERY", 1, 27, "end of statement"},
		{"emit trailing", "SELECT a FROM t EMIT FINAL LIMIT 3", 1, 28, `"LIMIT" after the EMIT clause`},
		{"emit every unitless", "SELECT a FROM t EMIT EVERY 5", 1, 28, "needs a unit"},
		{"tumble arg count", "SELECT * FROM\n  TUMBLE(t, ts)", 2, 3, "TUMBLE takes 3 arguments, got 2"},
		{"hop arg count", "SELECT * FROM HOP(t, ts, INTERVAL '1' SECOND)", 1, 15, "HOP takes 4 arguments, got 3"},
		{"session not an interval", "SELECT * FROM SESSION(t, ts, 30)", 1, 30, "needs a unit"},
		{"tumble string size", "SELECT * FROM TUMBLE(t, ts, 'abc')", 1, 29, "expected an interval"},
		{"tumble zero size", "SELECT * FROM TUMBLE(t, ts, INTERVAL '0' SECOND)", 1, 29, "must be positive"},
		{"hop negative slide", "SELECT * FROM HOP(t, ts, INTERVAL -1 SECOND, INTERVAL 1 SECOND)", 1, 26, "must be positive"},
		{"tumble empty arg", "SELECT * FROM TUMBLE(t, , 5s)", 1, 23, "missing argument 2"},
		{"tumble subquery", "SELECT * FROM TUMBLE((SELECT 1), ts, 5s)", 1, 22, "subqueries are not supported"},
		{"tumble unclosed", "SELECT * FROM TUMBLE(t, ts, 5s", 1, 21, "unclosed ("},
		{"interval trailing junk", "SELECT * FROM TUMBLE(t, ts, 5s 6s)", 1, 32, "expected end of statement"},
		{"descriptor unclosed", "SELECT * FROM TUMBLE(t, DESCRIPTOR(ts, 5s)", 1, 21, "unclosed ("},
		{"unterminated string", "SELECT 1;\nSELECT 'abc\n FROM t", 2, 8, "unterminated string"},
		{"unterminated double-quoted string", `SELECT "abc`, 1, 8, "unterminated string"},
		{"unterminated quoted identifier", "SELECT `abc", 1, 8, "unterminated quoted identifier"},
		{"unterminated comment", "SELECT 1 /* never\nclosed", 1, 10, "unterminated /* comment"},
		{"utf8 column counts characters", "SELECT 'héé' FROM FROM", 1, 19, `near "FROM"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.src)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %v, want a *sql.Error", tt.src, err)
			}
			if e.Kind != ParseError || e.Pos.Line != tt.line || e.Pos.Col != tt.col || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %s (kind %s), want line %d:%d containing %q", e.Error(), e.Kind, tt.line, tt.col, tt.msg)
			}
		})
	}
}
