package spill

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A store keeps what a batch set, drops what one deleted, scans in key
// order, and Close deletes its directory. A store directory no process
// holds open and older than staleAfter (a killed process's) is deleted by
// the next Open in that directory; a store in use is not.
func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	for i := range 100 {
		if err := b.Set([]byte(fmt.Sprintf("k%03d", i)), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b = s.NewBatch()
	if err := b.Delete([]byte("k007")); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get([]byte("k042")); err != nil || !ok || string(v) != "42" {
		t.Fatalf("Get(k042) = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := s.Get([]byte("k007")); err != nil || ok {
		t.Fatalf("Get of a deleted key: %v, %v", ok, err)
	}
	var keys []string
	if err := s.Scan(func(k, _ []byte) error { keys = append(keys, string(k)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 99 || keys[0] != "k000" || keys[7] != "k008" || keys[98] != "k099" {
		t.Fatalf("scan: %d keys %v…", len(keys), keys[:min(len(keys), 9)])
	}

	// A stale store (unlocked, old) goes at the next Open; the open one
	// stays.
	stale := filepath.Join(dir, "sluice-spill-stale")
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * staleAfter)
	for _, d := range []string{stale, s.Dir()} {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	s2, err := Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale store kept: %v", err)
	}
	if _, err := os.Stat(s.Dir()); err != nil {
		t.Errorf("open store removed: %v", err)
	}
	for _, st := range []*Store{s, s2} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("%d entries left after Close", len(left))
	}
}
