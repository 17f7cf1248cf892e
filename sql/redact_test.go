package sql

import (
	"strings"
	"testing"
)

func TestRedactOptions(t *testing.T) {
	secret := func(k string) bool { return strings.Contains(k, "password") || strings.Contains(k, "jaas") }
	for _, c := range []struct{ in, want, same string }{
		{
			`CREATE SOURCE o WITH (connector = 'kafka', 'properties.sasl.password' = 'p@ss''w', topic = 't')`,
			`CREATE SOURCE o WITH (connector = 'kafka', 'properties.sasl.password' = '***', topic = 't')`,
			`CREATE SOURCE o WITH (connector = 'kafka', 'properties.sasl.password' = '*******', topic = 't')`,
		},
		{ // bare dotted key, double quotes, a number, two secrets
			"CREATE SINK s WITH (sasl.password = \"x y\", sasl.jaas.config = 12345)",
			"CREATE SINK s WITH (sasl.password = \"***\", sasl.jaas.config = ***)",
			"CREATE SINK s WITH (sasl.password = \"***\", sasl.jaas.config = *****)",
		},
		{ // = outside WITH is not an option
			`SELECT password = 'x' FROM t WHERE a = 1`, `SELECT password = 'x' FROM t WHERE a = 1`, `SELECT password = 'x' FROM t WHERE a = 1`,
		},
		{ // unterminated: masked to the end of the line
			"CREATE SOURCE o WITH (password = 'abc\n, x = 1)", "CREATE SOURCE o WITH (password ***\n, x = 1)", "CREATE SOURCE o WITH (password ***\n, x = 1)",
		},
	} {
		if got := RedactOptions(c.in, secret, false); got != c.want {
			t.Errorf("RedactOptions(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := RedactOptions(c.in, secret, true); got != c.same {
			t.Errorf("RedactOptions(%q, keepLength)\n got %q\nwant %q", c.in, got, c.same)
		}
	}
}
