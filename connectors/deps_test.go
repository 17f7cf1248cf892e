package connectors_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestConnectorImports keeps connectors beside exec, below the planner
// (DESIGN.md): no package under connectors/ depends, directly or not, on
// sql, planner or engine. A connector sees its WITH options as strings
// and exec's small interfaces, never parser or plan types; what it can do
// beyond those it declares with exec's capability interfaces.
func TestConnectorImports(t *testing.T) {
	const mod = "github.com/sluicesql/sluice"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{mod + "/planner", mod + "/sql", mod + "/engine"}
	var checked int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], mod+"/connectors") {
			continue
		}
		checked++
		for _, dep := range f[1:] {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s; connectors must not import sql, planner or engine", f[0], dep)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list listed no connector packages; the check would pass vacuously")
	}
}
