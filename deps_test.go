package sluice

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRootImports keeps the root package the thin public API that
// DESIGN.md describes: it reaches planning, compilation and connectors only
// through engine, so its direct imports (test files aside) are the
// standard library, Arrow, engine and exec's small interfaces (Source,
// Sink) that Go sources and sinks implement.
func TestRootImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/sluicesql/sluice"
	allowed := map[string]bool{mod + "/engine": true, mod + "/exec": true}
	var imports int
	for _, imp := range strings.Fields(string(out)) {
		imports++
		if strings.HasPrefix(imp, mod) && !allowed[imp] {
			t.Errorf("root package imports %s directly; go through engine (allowed: engine, exec)", imp)
		}
	}
	if imports == 0 {
		t.Fatal("go list reported no imports; the check would pass vacuously")
	}
}
