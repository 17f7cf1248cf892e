package planner_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPlannerImports keeps the planner between the parser and the engine
// (DESIGN.md): it may import sql, but no package under planner/ depends,
// directly or not, on exec, connectors, engine, the root API, repl or
// cmd. The engine builds operators from the physical plan; planner enums,
// not operators, cross the boundary.
func TestPlannerImports(t *testing.T) {
	const mod = "github.com/sluicesql/sluice"
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{mod + "/exec", mod + "/connectors", mod + "/engine", mod + "/repl", mod + "/cmd"}
	var checked int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != mod+"/planner" && !strings.HasPrefix(f[0], mod+"/planner/")) {
			continue
		}
		checked++
		for _, dep := range f[1:] {
			if dep == mod {
				t.Errorf("%s depends on the root package %s; the planner sits below it", f[0], dep)
			}
			for _, bad := range forbidden {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on %s; planner must not import exec, connectors, engine, repl or cmd", f[0], dep)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("go list listed no planner packages; the check would pass vacuously")
	}
}
