package exec_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestExecImports keeps the executor below the planner (DESIGN.md): no
// package under exec/ depends, directly or not, on planner or sql. The
// engine builds operators from the physical plan; exec sees only its own
// types and planner-free enums.
func TestExecImports(t *testing.T) {
	const mod = "github.com/sluicesql/sluice"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{mod + "/planner", mod + "/sql", mod + "/engine", mod + "/connectors"}
	var checked int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], mod+"/exec") {
			continue
		}
		checked++
		for _, dep := range f[1:] {
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s; exec must not import planner, sql, engine or connectors", f[0], dep)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list listed no exec packages; the check would pass vacuously")
	}
}
