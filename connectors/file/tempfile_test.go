//go:build unix

package file

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// Published sink files get 0666 less the umask, like any file a program
// creates, not os.CreateTemp's 0600: a part file, a single file's first
// commit and its regrown copy after a second commit.
func TestSinkFileModeFollowsUmask(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"a":1}]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	ctx := context.Background()
	for _, umask := range []int{0o022, 0o027, 0o002} {
		old := syscall.Umask(umask)
		dir := t.TempDir()
		for _, path := range []string{filepath.Join(dir, "one.csv"), filepath.Join(dir, "parts") + "/"} {
			sink, err := NewSink(connectors.Options{"path": path})
			if err != nil {
				t.Fatal(err)
			}
			w, err := sink.Open(ctx, mem, schema, exec.SinkMode{})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				if err := w.Write(ctx, rec); err != nil {
					t.Fatal(err)
				}
				if err := w.Commit(ctx, nil); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
		}
		syscall.Umask(old)
		want := fs.FileMode(0o666 &^ umask)
		n := 0
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			n++
			st, err := os.Stat(p)
			if err != nil {
				return err
			}
			if got := st.Mode().Perm(); got != want {
				t.Errorf("umask %03o: %s has mode %03o, want %03o", umask, p, got, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != 4 { // one.csv, two part files, the directory's manifest
			t.Errorf("umask %03o: %d files, want 4", umask, n)
		}
	}
}
