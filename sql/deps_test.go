package sql_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSQLImports keeps the parser at the bottom of the stack (DESIGN.md):
// sql wraps the TiDB parser and depends, directly or not, on no other
// sluice package and on nothing of Arrow. Parser types stop at the binder.
func TestSQLImports(t *testing.T) {
	const mod = "github.com/sluicesql/sluice"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var checked int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != mod+"/sql" && !strings.HasPrefix(f[0], mod+"/sql/")) {
			continue
		}
		checked++
		for _, dep := range f[1:] {
			inSQL := dep == mod+"/sql" || strings.HasPrefix(dep, mod+"/sql/")
			if (dep == mod || strings.HasPrefix(dep, mod+"/")) && !inSQL {
				t.Errorf("%s depends on %s; sql must not import other sluice packages", f[0], dep)
			}
			if strings.HasPrefix(dep, "github.com/apache/arrow") {
				t.Errorf("%s depends on %s; sql knows nothing of Arrow", f[0], dep)
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list listed no sql packages; the check would pass vacuously")
	}
}
