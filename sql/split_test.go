package sql

import (
	"fmt"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		script string
		want   []string
	}{
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT ';' AS s; -- c;\n SELECT 2", []string{"SELECT ';' AS s", "SELECT 2"}},
		{"SELECT 'it''s;' ; /* ; */ ;", []string{"SELECT 'it''s;'"}},
		{"SELECT \"a;b\" FROM `t;`;", []string{"SELECT \"a;b\" FROM `t;`"}},
		{"  -- only a comment\n", nil},
		{"SELECT 'x\\';y';", []string{"SELECT 'x\\';y'"}},
		{"SELECT 1 AS a # note; more", []string{"SELECT 1 AS a"}},
		{"SELECT 1 AS a --note; more\nFROM t; x", []string{"SELECT 1 AS a --note; more\nFROM t", "x"}},
		{"SELECT /* ; */ 1; SELECT `a``;`", []string{"SELECT /* ; */ 1", "SELECT `a``;`"}},
		{"SET v = 'a;b'; SELECT ${v}", []string{"SET v = 'a;b'", "SELECT ${v}"}},
	}
	for _, tc := range tests {
		chunks, err := Split(tc.script)
		if err != nil {
			t.Fatalf("Split(%q): %v", tc.script, err)
		}
		var got []string
		for _, c := range chunks {
			if PosAt(tc.script, c.Pos.Offset) != c.Pos || !strings.HasPrefix(tc.script[c.Pos.Offset:], c.Text) {
				t.Errorf("Split(%q): chunk %q at %+v does not point into the script", tc.script, c.Text, c.Pos)
			}
			got = append(got, c.Text)
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Split(%q) = %q, want %q", tc.script, got, tc.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		script, want string
	}{
		{"SELECT 1;\nSELECT 'abc", "line 2:8: unterminated string"},
		{"SELECT 1; /* open", "line 1:11: unterminated /* comment"},
		{"SELECT `x", "line 1:8: unterminated quoted identifier"},
	} {
		if _, err := Split(tc.script); err == nil || err.Error() != tc.want {
			t.Errorf("Split(%q) error %v, want %q", tc.script, err, tc.want)
		}
	}
}

// splitAgrees checks that parsing the chunks of Split at their positions
// gives exactly the statements (text and position) and errors Parse
// gives for the whole script: one scanner decides where statements end.
func splitAgrees(t *testing.T, script string) {
	t.Helper()
	whole, werr := Parse(script)
	chunks, serr := Split(script)
	var parts []Statement
	var perr error
	if serr != nil {
		perr = serr
	}
	for _, c := range chunks {
		if perr != nil {
			break
		}
		sts, err := ParseAt(c.Text, c.Pos)
		if err != nil {
			perr = err
			break
		}
		parts = append(parts, sts...)
	}
	if fmt.Sprint(werr) != fmt.Sprint(perr) {
		t.Fatalf("%q: Parse error %v, chunk by chunk %v", script, werr, perr)
	}
	if werr != nil {
		return
	}
	if len(whole) != len(parts) {
		t.Fatalf("%q: Parse found %d statements, Split %d", script, len(whole), len(parts))
	}
	for i := range whole {
		if whole[i].SQL() != parts[i].SQL() || whole[i].Position() != parts[i].Position() {
			t.Fatalf("%q: statement %d is %q at %+v, by chunks %q at %+v", script, i, whole[i].SQL(), whole[i].Position(), parts[i].SQL(), parts[i].Position())
		}
	}
}

func TestSplitAgreesWithParse(t *testing.T) {
	for _, s := range []string{
		"SELECT 1 AS a # note; more",
		"SELECT 1;\n  SELECT a FROM t WHERE a = = 1;",
		"CREATE SOURCE s (a INT) WITH (c = 'x;y'); -- c\n SELECT a\n FROM s /* ; */ WHERE a > 1 EMIT CHANGES;",
		"SELECT 'é;'; SELECT 'héé', nope FROM FROM",
		"SELECT 1; SELECT * FROM TUMBLE(t, ts, 5s) x y z",
		"SELECT 1;\nSELECT 'abc",
		";;; SELECT 1 ;;",
	} {
		splitAgrees(t, s)
	}
}

// BenchmarkParseScript parses a script of 10,000 short statements, as
// `sluice -f` and the REPL do (Split, then each chunk at its position)
// and as Parse does: both must be linear in the script's length (each
// statement used to rescan or copy the whole script before it).
func BenchmarkParseScript(b *testing.B) {
	var sb strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "SELECT id, value + %d FROM t WHERE category = 'c%d'; -- row %d\n", i, i, i)
	}
	script := sb.String()
	b.Run("Parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := Parse(script); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SplitParseAt", func(b *testing.B) {
		for b.Loop() {
			chunks, err := Split(script)
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range chunks {
				if _, err := ParseAt(c.Text, c.Pos); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
