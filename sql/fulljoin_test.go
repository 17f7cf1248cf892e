package sql

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

// joinKinds describes every join of q as "right-table:kind", in the
// order the AST visits them.
func joinKinds(q *Query) []string {
	var out []string
	for _, j := range collectJoins(q.Select) {
		name := "?"
		if ts, ok := j.Right.(*ast.TableSource); ok {
			switch x := ts.Source.(type) {
			case *ast.TableName:
				name = x.Name.O
			default:
				name = ts.AsName.O
			}
		}
		kind := map[ast.JoinType]string{ast.CrossJoin: "inner", ast.LeftJoin: "left", ast.RightJoin: "right"}[j.Tp]
		if q.FullJoins[j] {
			if j.Tp != ast.LeftJoin {
				kind = "full-but-not-left"
			} else {
				kind = "full"
			}
		}
		out = append(out, name+":"+kind)
	}
	return out
}

func TestFullJoin(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"SELECT * FROM a FULL OUTER JOIN b ON a.x = b.x", []string{"b:full"}},
		{"SELECT * FROM a full join b USING (x) LEFT JOIN c ON a.y = c.y RIGHT JOIN d ON d.z = a.z",
			[]string{"d:right", "c:left", "b:full"}},
		{"SELECT * FROM a JOIN (SELECT * FROM b FULL JOIN c ON b.x = c.x) s ON a.x = s.x FULL JOIN d ON d.x = a.x",
			[]string{"d:full", "s:inner", "c:full"}},
		{"SELECT * FROM a NATURAL FULL OUTER JOIN b", []string{"b:full"}},
		{"SELECT * FROM a WHERE x IN (SELECT x FROM b FULL JOIN c ON (b.x = c.x))", []string{"c:full"}},
		{"SELECT * FROM a LEFT JOIN b ON a.x = b.x", []string{"b:left"}},
		// A source or alias named full is not the keyword.
		{"SELECT full.x FROM full JOIN b ON full.x = b.x", []string{"b:inner"}},
		{"SELECT * FROM a AS full FULL JOIN b ON full.x = b.x", []string{"b:full"}},
		{"SELECT * FROM TUMBLE(o, ts, INTERVAL '5' SECOND) FULL JOIN b ON window_start = b.t EMIT EVERY 5s FULL", []string{"b:full"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			q := parseQuery(t, tt.src)
			if got := joinKinds(q); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("joins = %v, want %v", got, tt.want)
			}
			if q.SQL() != tt.src {
				t.Errorf("SQL() = %q, want the text as written", q.SQL())
			}
		})
	}
}

func TestFullJoinErrors(t *testing.T) {
	tests := []struct {
		src, at, msg string
	}{
		{"SELECT * FROM a FULL JOIN b", "FULL", "FULL JOIN needs an ON or USING condition"},
		{"SELECT * FROM a FULL OUTER JOIN b WHERE a.x = 1", "FULL", "FULL JOIN needs an ON or USING condition"},
		{"SELECT * FROM (a FULL JOIN b) JOIN c ON a.x = c.x", "FULL", "FULL JOIN needs an ON or USING condition"},
		// Positions after a rewritten FULL still point into the user's text.
		{"SELECT * FROM a FULL JOIN b ON a.x = = 1", "= 1", `syntax error at or near "="`},
		{"SELECT * FROM a FULL OUTER JOIN b ON a.x = b.x WHERE AND", "AND", `syntax error at or near "AND"`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			_, err := Parse(tt.src)
			var se *Error
			if !errors.As(err, &se) {
				t.Fatalf("Parse error = %v, want *Error", err)
			}
			off := strings.Index(tt.src, tt.at)
			if se.Kind != ParseError || se.Msg != tt.msg || se.Pos.Offset != off || se.Pos.Col != off+1 {
				t.Errorf("error = %+v, want %q at offset %d", se, tt.msg, off)
			}
		})
	}
}

func TestParseInterval(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"10s", 10 * time.Second, false},
		{"500ms", 500 * time.Millisecond, false},
		{"2 MINUTES", 2 * time.Minute, false},
		{"INTERVAL '3' SECOND", 3 * time.Second, false},
		{"1d", 24 * time.Hour, false},
		{"", 0, true},
		{"ten", 0, true},
		{"10", 0, true},
		{"10s extra", 0, true},
		{"'oops", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseInterval(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		var se *Error
		if err != nil && (!errors.As(err, &se) || se.Pos.Line != 0) {
			t.Errorf("ParseInterval(%q) error %#v: want a *Error without position", tt.in, err)
		}
	}
}
