package sql

import (
	"fmt"
	"testing"
)

func TestOrderKeys(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want string // "" when ok is false
	}{
		{"SELECT a, b FROM t ORDER BY b DESC, a", "[{b 0 true} {a 0 false}]"},
		{"SELECT a, SUM(b) AS total FROM t GROUP BY a ORDER BY total DESC LIMIT 5 EMIT CHANGES", "[{total 0 true}]"},
		{"SELECT a, b FROM t ORDER BY 2 DESC", "[{ 2 true}]"},
		{"SELECT t.a FROM t ORDER BY t.a", "[{a 0 false}]"},
		{"SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY a DESC", "[{a 0 true}]"},
		{"SELECT a, b FROM t ORDER BY a + b", ""},
		{"SELECT a FROM t", ""},
		{"SELECT a FROM t ORDER BY ALL", ""},
	} {
		stmts, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		keys, ok := stmts[0].(*Query).OrderKeys()
		got := ""
		if ok {
			got = fmt.Sprint(keys)
		}
		if got != tc.want {
			t.Errorf("%s: OrderKeys %q, want %q", tc.q, got, tc.want)
		}
	}
}
