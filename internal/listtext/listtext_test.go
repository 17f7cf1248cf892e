package listtext

import (
	"fmt"
	"strings"
	"testing"
)

// TestSplit: a list's text splits at commas outside quotes and
// brackets, unquoted NULL is NULL, quoted text is kept as written, a
// backslash takes the next character; malformed text says why.
func TestSplit(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[1, 2, NULL]", "1|2|<NULL>"},
		{"  [ a b ,  c ]  ", "a b|c"},
		{"[]", ""},
		{"[ ]", ""},
		{`['a, b', "c'd", 'NULL', null, '']`, "a, b|c'd|NULL|<NULL>|"},
		{`['it\'s', a\,b, back\\slash]`, `it's|a,b|back\slash`},
		{"[[1, 2], [3]]", "[1, 2]|[3]"},
		{"[' x ' , y]", " x |y"},
		{"[1,,2]", "1||2"},
	} {
		es, err := Split(nil, tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var parts []string
		for _, e := range es {
			if e.Null {
				parts = append(parts, "<NULL>")
			} else {
				parts = append(parts, e.Text)
			}
		}
		if got := strings.Join(parts, "|"); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"1, 2", "brackets"},
		{"[1, 2", "brackets"},
		{"['a]", "quote ' is not closed"},
		{"[[1]", "[ is not closed"},
		{"[1]]", "] closes no ["},
		{`[a\]`, "backslash ends"},
	} {
		_, err := Split(nil, tc.in)
		if err == nil || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}
