package all

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connectors"
)

var update = flag.Bool("update", false, "rewrite the README's option reference from the declarations")

const (
	beginMarker = "<!-- options:begin (generated from the connectors' declarations by `go test ./connectors/all -update`) -->\n"
	endMarker   = "<!-- options:end -->"
)

// TestREADMEOptionReference fails when the README's option reference is
// not what the connectors declare, so adding, renaming or re-documenting
// an option without regenerating it (go test ./connectors/all -update)
// is caught.
func TestREADMEOptionReference(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, beginMarker)
	j := strings.Index(text, endMarker)
	if i < 0 || j < i {
		t.Fatalf("README.md has no option reference between %q and %q", beginMarker, endMarker)
	}
	want := connectors.Markdown() + "\n"
	got := text[i+len(beginMarker) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(text[:i+len(beginMarker)]+want+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's option reference is stale: run go test ./connectors/all -update\n--- want\n%s", want)
}

// TestEveryOptionDocumented keeps the declarations complete: each has a
// type and a one-line doc, and an enum lists its values.
func TestEveryOptionDocumented(t *testing.T) {
	n := 0
	for _, kind := range []connectors.Kind{connectors.KindSource, connectors.KindSink} {
		for _, name := range connectors.Connectors(kind) {
			decl, _ := connectors.Declared(name, kind)
			seen := map[string]bool{}
			for _, o := range decl {
				n++
				if o.Doc == "" || o.Type == "" || strings.Contains(o.Doc, "\n") {
					t.Errorf("%s %s option %q: want a type and a one-line doc", name, kind, o.Name)
				}
				if o.Type == "enum" && len(o.Values) == 0 {
					t.Errorf("%s %s option %q: an enum without values", name, kind, o.Name)
				}
				for _, k := range append([]string{o.Name}, o.Aliases...) {
					if seen[k] || k != strings.ToLower(k) {
						t.Errorf("%s %s option %q declared twice or not lower case", name, kind, k)
					}
					seen[k] = true
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d options declared; are the connectors registered?", n)
	}
}
