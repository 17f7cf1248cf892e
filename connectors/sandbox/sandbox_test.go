package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layout makes tmp/{root,out,root2} with a file in each, a directory and
// links in root that point out of it.
func layout(t *testing.T) (tmp, root string) {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root = filepath.Join(tmp, "root")
	for _, d := range []string{"root/sub", "out", "root2"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"root/a.csv", "root/sub/b.csv", "out/secret.csv", "root2/c.csv"} {
		if err := os.WriteFile(filepath.Join(tmp, f), []byte("x\n1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"root/link":     filepath.Join(tmp, "out"),            // a directory outside
		"root/linkfile": filepath.Join(tmp, "out/secret.csv"), // a file outside
		"root/rel":      "../out",                             // relative, outside
		"root/inner":    "sub",                                // stays inside
	}
	for l, target := range links {
		if err := os.Symlink(target, filepath.Join(tmp, l)); err != nil {
			t.Fatal(err)
		}
	}
	return tmp, root
}

func TestCheck(t *testing.T) {
	tmp, root := layout(t)
	sb, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	in := func(p string) string { return root + "/" + p } // no Join: it would clean the ".."
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{in("a.csv"), true},
		{root, true},
		{root + "/", true},
		{in("sub/b.csv"), true},
		{in("sub/../a.csv"), true},
		{in("inner/b.csv"), true},             // a link that stays inside
		{in("new/dir/out.csv"), true},         // a sink that does not exist yet
		{in("parts") + "/", true},             // a directory sink
		{in("*.csv"), true},                   // a glob inside
		{in("sub/*/x*.csv"), true},            // wildcards further down
		{in("../out/secret.csv"), false},      // ..
		{in("new/../../out/x.csv"), false},    // .. through a directory yet to be made
		{"/etc/passwd", false},                // absolute outside
		{filepath.Join(tmp, "out"), false},    // a sibling
		{in("../root2/c.csv"), false},         // a sibling sharing the prefix "root"
		{in("link/secret.csv"), false},        // a linked directory outside
		{in("linkfile"), false},               // a linked file outside
		{in("rel/secret.csv"), false},         // a relative link outside
		{in("link/new.csv"), false},           // a sink through a link outside
		{in("link/../out/secret.csv"), false}, // the kernel's "..": the parent of the link's target is tmp, not root
		{in("link/../root/a.csv"), true},      // ... so this one is inside
		{in("link/*.csv"), false},             // a glob through a link outside
		{in("../*/secret.csv"), false},        // a glob with ..
		{in("../out/*.csv"), false},           // a glob outside
		{"/*", false},                         // a glob of everything
		{in("sub/../../out/new.csv"), false},  // .. out of an existing directory
	} {
		err := sb.Check("path", c.path)
		if c.ok != (err == nil) {
			t.Errorf("%s: ok=%v, got %v", c.path, c.ok, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrOutside) {
				t.Errorf("%s: %v does not wrap ErrOutside", c.path, err)
			}
			want := `path "` + c.path + `" is outside the sandbox "` + root + `"`
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start %q", err, want)
			}
		}
	}
}

func TestCheckRelative(t *testing.T) {
	_, root := layout(t)
	t.Chdir(filepath.Join(root, "sub"))
	sb, err := New("..") // the sandbox itself may be given relative
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{"b.csv", true}, {"../a.csv", true}, {"out/x.csv", true},
		{"../../out/secret.csv", false}, {"../link/secret.csv", false}, {"../../*", false},
	} {
		if err := sb.Check("path", c.path); c.ok != (err == nil) {
			t.Errorf("%s: ok=%v, got %v", c.path, c.ok, err)
		}
	}
}

func TestLinkedSandbox(t *testing.T) {
	tmp, root := layout(t)
	link := filepath.Join(tmp, "data")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	sb, err := New(link)
	if err != nil {
		t.Fatal(err)
	}
	if sb.Dir() != root {
		t.Errorf("Dir = %q, want %q", sb.Dir(), root)
	}
	for _, p := range []string{filepath.Join(link, "a.csv"), filepath.Join(root, "a.csv")} {
		if err := sb.Check("path", p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	err = sb.Check("--checkpoint-dir", filepath.Join(link, "linkfile"))
	if err == nil || !strings.Contains(err.Error(), `--checkpoint-dir "`) || !strings.Contains(err.Error(), "resolves to") {
		t.Errorf("linked file: %v", err)
	}
}

func TestNilAndBadRoot(t *testing.T) {
	var sb *Root
	if err := sb.Check("path", "/etc/passwd"); err != nil {
		t.Errorf("nil sandbox refused: %v", err)
	}
	tmp, _ := layout(t)
	for _, bad := range []string{filepath.Join(tmp, "missing"), filepath.Join(tmp, "root/a.csv")} {
		if _, err := New(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("New(%s): %v", bad, err)
		}
	}
}
