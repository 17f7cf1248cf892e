package compile

import (
	"bytes"
	"testing"
)

// TestCarriedRoundTrip: a partition's saved state holds the carried
// watermark state before the node's and comes apart into both; a
// state saved without one is the node's alone; a cut one is refused.
func TestCarriedRoundTrip(t *testing.T) {
	node := []byte("node state \x00 with bytes")
	carried := []byte(`{"marks":{"o/0":5}}`)
	c, n, err := splitCarried(withCarried(carried, node))
	if err != nil || !bytes.Equal(c, carried) || !bytes.Equal(n, node) {
		t.Fatalf("split: %q %q %v, want %q %q", c, n, err, carried, node)
	}
	if got := withCarried(nil, node); !bytes.Equal(got, node) {
		t.Fatalf("no carried state: %q, want the node's alone", got)
	}
	c, n, err = splitCarried(node)
	if err != nil || c != nil || !bytes.Equal(n, node) {
		t.Fatalf("split of a node's state: %q %q %v", c, n, err)
	}
	whole := withCarried(carried, node)
	if _, _, err := splitCarried(whole[:len(carriedMagic)+6]); err == nil {
		t.Error("a cut state split without an error")
	}
}
