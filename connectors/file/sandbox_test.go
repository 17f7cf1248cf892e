package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/sandbox"
	"github.com/sluicesql/sluice/exec"
)

// The registered 'file' connector reads and writes only inside the
// session's sandbox: every way out is refused before a byte is read or a
// directory made, and ordinary paths work.
func TestFileConnectorSandbox(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root, out := filepath.Join(tmp, "data"), filepath.Join(tmp, "secret")
	for _, d := range []string{root + "/in", root + "/mixed", out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(root, "in/a.csv"), "k,v\na,1\n")
	write(t, filepath.Join(root, "mixed/a.csv"), "k,v\na,1\n")
	write(t, filepath.Join(out, "s.csv"), "k,v\nsecret,42\n")
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(out, filepath.Join(root, "link")))                                // a directory outside
	must(os.Symlink(filepath.Join(out, "s.csv"), filepath.Join(root, "mixed/z.csv"))) // a file outside, listed with a good one
	sb, err := sandbox.New(root)
	must(err)
	env := connectors.Env{Files: sb}
	t.Chdir(filepath.Join(root, "in"))

	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"a.csv", true},
		{root + "/in/*.csv", true},
		{root + "/in/", true},
		{"../in/a.csv", true},
		{"../../secret/s.csv", false},
		{out + "/s.csv", false},
		{root + "/link/s.csv", false},
		{root + "/mixed", false},       // the directory holds a link out
		{root + "/mixed/*.csv", false}, // so does the glob's match
		{root + "/../secret/*", false}, // a glob outside
		{root + "/../*/s.csv", false},  // a glob with .. in it
		{"/etc/passwd", false},
	} {
		src, err := connectors.NewSource(env, connectors.Options{"connector": "file", "path": c.path, "format": "csv"}, nil)
		if c.ok {
			if err != nil {
				t.Errorf("source %s: %v", c.path, err)
			} else if rows, _, err := scan(t, src, exec.ScanSpec{}); err != nil || len(rows) != 1 || rows[0] != "a|1" {
				t.Errorf("source %s: rows %v, %v", c.path, rows, err)
			}
			continue
		}
		if !errors.Is(err, sandbox.ErrOutside) {
			t.Errorf("source %s: got %v, want a sandbox error", c.path, err)
		} else if strings.Contains(err.Error(), "secret,42") || !strings.Contains(err.Error(), `path "`) {
			t.Errorf("source %s: message %q", c.path, err)
		}
	}

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"k":"x"}]`))
	must(err)
	defer rec.Release()
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"out.csv", true},
		{"new/dir/out.csv", true},
		{root + "/parts/", true},
		{"../../escape.csv", false},
		{"new/../../../escape/", false},
		{root + "/link/s.csv", false}, // would overwrite a file outside
		{root + "/link/new.csv", false},
		{root + "/mixed/z.csv", false}, // would grow the linked file
		{tmp + "/escape.csv", false},
	} {
		sink, err := connectors.NewSink(env, connectors.Options{"connector": "file", "path": c.path, "format": "csv"})
		if !c.ok {
			if !errors.Is(err, sandbox.ErrOutside) {
				t.Errorf("sink %s: got %v, want a sandbox error", c.path, err)
			}
			continue
		}
		must(err)
		w, err := sink.Open(context.Background(), mem, schema, exec.SinkMode{})
		must(err)
		must(w.Write(context.Background(), rec))
		must(w.Commit(context.Background(), nil))
		must(w.Close())
	}
	// Nothing was written or made outside the sandbox, and the linked
	// file is untouched.
	ents, _ := os.ReadDir(tmp)
	if len(ents) != 2 {
		t.Errorf("the sandbox's parent holds %d entries, want data and secret", len(ents))
	}
	if b, _ := os.ReadFile(filepath.Join(out, "s.csv")); string(b) != "k,v\nsecret,42\n" {
		t.Errorf("linked file changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(root, "in/new/dir/out.csv")); err != nil {
		t.Errorf("the allowed sink in a new directory: %v", err)
	}
}
