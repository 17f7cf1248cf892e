package engine

import (
	"testing"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/planner"
)

// TestCatalogEntries: one entry holds a source's definition and its opened
// object, names ignore case, a drop removes both, and a query's snapshot
// keeps its sources while DDL changes the session.
func TestCatalogEntries(t *testing.T) {
	src, err := connectors.NewSource(connectors.Env{}, connectors.Options{"connector": "generator", "max_rows": "3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	schema := src.Schema()
	cat := NewCatalog()
	if err := cat.AddSource(&planner.SourceDef{Name: "Orders", Schema: schema}, src); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddSource(&planner.SourceDef{Name: "ORDERS"}, src); err == nil {
		t.Fatal("a second source of the same name (other case) was accepted")
	}
	e, ok := cat.Source("orders")
	if !ok || e.Def.Name != "Orders" || e.Source != src {
		t.Fatalf("Source(orders) = %+v, %v; want the definition and the object added", e, ok)
	}
	if def, ok := cat.LookupSource("oRdErS"); !ok || def != e.Def {
		t.Fatalf("LookupSource = %v, %v; want the entry's definition", def, ok)
	}
	if err := cat.AddSink(&planner.SinkDef{Name: "out"}, nil); err != nil {
		t.Fatal(err)
	}
	snap := cat.snapshot()
	if err := cat.DropSource("ORDERS"); err != nil {
		t.Fatal(err)
	}
	if _, ok := cat.Source("orders"); ok {
		t.Error("the source is still there after DROP")
	}
	if got := len(cat.Sources()); got != 0 {
		t.Errorf("Sources() lists %d definitions after DROP, want 0", got)
	}
	if err := cat.DropSource("orders"); err == nil {
		t.Error("dropping a missing source succeeded")
	}
	if e, ok := snap.Source("orders"); !ok || e.Source != src {
		t.Error("the snapshot lost the source dropped after it was taken")
	}
	if got := len(snap.Sinks()); got != 1 {
		t.Errorf("snapshot lists %d sinks, want 1", got)
	}
}
