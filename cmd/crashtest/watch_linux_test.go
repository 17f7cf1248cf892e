package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatcher: a file written in place, a file renamed into place and a
// file in a directory created after the watch started are reported; a
// bare directory creation is not.
func TestWatcher(t *testing.T) {
	root := t.TempDir()
	w, err := newWatcher(root)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	next := func() fsEvent {
		t.Helper()
		select {
		case ev := <-w.events:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return fsEvent{}
	}
	if err := os.WriteFile(filepath.Join(root, "a.csv"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Path != filepath.Join(root, "a.csv") || ev.Rename {
		t.Errorf("write: %+v", ev)
	}
	sub := filepath.Join(root, "sink-x")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	// The watch on the new directory is added when its creation is read;
	// give the loop that moment before writing into it.
	time.Sleep(200 * time.Millisecond)
	tmp := filepath.Join(sub, ".ck.tmp1")
	if err := os.WriteFile(tmp, []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Path != tmp || ev.Rename {
		t.Errorf("write in new dir: %+v", ev)
	}
	if err := os.Rename(tmp, filepath.Join(sub, "ck")); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Path != filepath.Join(sub, "ck") || !ev.Rename {
		t.Errorf("rename: %+v", ev)
	}
	select {
	case ev := <-w.events:
		t.Errorf("unexpected event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}
