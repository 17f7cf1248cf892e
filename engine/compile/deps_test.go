package compile_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCompileImports keeps the compiler a translator of physical plans
// (DESIGN.md): it reads planner nodes and their enums and builds exec
// operators, so it imports neither the parser (sql) nor the engine above
// it; parser types stop at the binder.
func TestCompileImports(t *testing.T) {
	const mod = "github.com/sluicesql/sluice"
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	imports := strings.Fields(string(out))
	if len(imports) == 0 {
		t.Fatal("go list listed no imports; the check would pass vacuously")
	}
	for _, imp := range imports {
		for _, bad := range []string{mod + "/sql", mod + "/engine", mod + "/connectors", mod} {
			if imp == bad || (bad != mod && strings.HasPrefix(imp, bad+"/")) {
				t.Errorf("engine/compile imports %s; it may import planner and exec only", imp)
			}
		}
	}
}
