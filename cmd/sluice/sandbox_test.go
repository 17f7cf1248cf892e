package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --sandbox DIR confines every file path a script names — sources, sinks,
// checkpoints — and refuses ways out with a message naming the path.
func TestSandboxFlag(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(tmp, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"data/sales.csv": salesCSV, "secret.csv": "k\nsecret\n"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(tmp, "secret.csv"), filepath.Join(data, "link.csv")); err != nil {
		t.Fatal(err)
	}
	src := func(p string) string {
		return "CREATE SOURCE s WITH (connector = 'file', path = '" + p + "', format = 'csv');"
	}
	sink := func(p string) string {
		return src(data+"/sales.csv") + " CREATE SINK o WITH (connector = 'file', path = '" + p + "') AS SELECT id FROM s;"
	}
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		out    string
		errHas string
	}{
		{"reads inside", []string{"-e", src(data+"/sales.csv") + " SELECT COUNT(*) AS n FROM s;"}, 0, "n\n4\n", ""},
		{"writes inside", []string{"-e", sink(data + "/out/ids.csv")}, 0, "", ""},
		{"absolute path outside", []string{"-e", src("/etc/passwd")}, 1, "", `path "/etc/passwd" is outside the sandbox "` + data + `"`},
		{"dot-dot", []string{"-e", src(data + "/../secret.csv")}, 1, "", `path "` + data + `/../secret.csv" is outside the sandbox`},
		{"symlink out", []string{"-e", src(data + "/link.csv")}, 1, "", `(it resolves to "` + tmp + `/secret.csv")`},
		{"glob out", []string{"-e", src(data + "/../*.csv")}, 1, "", "is outside the sandbox"},
		{"sink outside", []string{"-e", sink(tmp + "/stolen.csv")}, 1, "", `path "` + tmp + `/stolen.csv" is outside the sandbox`},
		{"checkpoint outside", []string{"--checkpoint-dir", tmp + "/ck", "-e", "SELECT 1;"}, 1, "", `checkpoint directory "` + tmp + `/ck" is outside the sandbox`},
		{"no such sandbox", []string{"--sandbox", tmp + "/nope", "-e", "SELECT 1;"}, 1, "", `sandbox "` + tmp + `/nope"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := c.args
			if args[0] != "--sandbox" {
				args = append([]string{"--sandbox", data}, args...)
			}
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			if code != c.code || stdout.String() != c.out || !strings.Contains(stderr.String(), c.errHas) {
				t.Errorf("exit %d (want %d), stdout %q (want %q), stderr %q (want %q)", code, c.code, stdout.String(), c.out, stderr.String(), c.errHas)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(data, "out/ids.csv")); err != nil || !strings.HasPrefix(string(b), "id\n") {
		t.Errorf("the sink inside: %q, %v", b, err)
	}
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 2 { // data/ and secret.csv: nothing written or made outside
		t.Errorf("outside the sandbox: %d entries", len(ents))
	}
}
