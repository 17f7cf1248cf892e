package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// sourceLines reads path back through the file source, as a user's
// CREATE SOURCE over the sink's output does.
func sourceLines(t *testing.T, mem memory.Allocator, path string) []string {
	t.Helper()
	src, err := NewSource(connectors.Options{"path": path, "format": "csv"}, tpSchema)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.Open(context.Background(), mem, exec.ScanSpec{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for {
		b, err := r.Next(context.Background())
		if err != nil {
			break
		}
		if b.Record == nil {
			continue
		}
		col := b.Record.Column(0)
		for i := 0; i < col.Len(); i++ {
			out = append(out, col.ValueStr(i))
		}
		b.Record.Release()
	}
	return out
}

// TestSinkModeRefusesExistingData: a new user's second run into the same
// file or folder fails before writing, naming the path and the option,
// and leaves the data as it was; a resumed query is not refused.
func TestSinkModeRefusesExistingData(t *testing.T) {
	for _, target := range []string{"precious.csv", "out/"} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		path := filepath.Join(t.TempDir(), target)
		if strings.HasSuffix(target, "/") {
			path += "/"
		}
		first := openTwoPhase(t, mem, path, nil)
		first.write(0, 3)
		h := first.preCommit(1)
		first.commit(h)
		first.w.Close()

		sink, err := NewSink(connectors.Options{"path": path, "format": "csv"})
		if err != nil {
			t.Fatal(err)
		}
		w, err := sink.Open(context.Background(), mem, tpSchema, exec.SinkMode{})
		if err != nil {
			t.Fatal(err)
		}
		err = w.(exec.TwoPhaseWriter).Recover(context.Background(), nil)
		var oe *connectors.OptionError
		if !errors.As(err, &oe) || oe.Option != "mode" || !strings.Contains(err.Error(), strings.TrimSuffix(path, "/")) || !strings.Contains(err.Error(), "'mode' = 'overwrite'") {
			t.Errorf("%s: second run: %v, want an error naming the path and 'mode'", target, err)
		}
		w.Close()
		// A batch writer (never recovered) is refused at its first write.
		w, _ = sink.Open(context.Background(), mem, tpSchema, exec.SinkMode{})
		bw := &twoPhase{t: t, mem: mem, w: w.(exec.TwoPhaseWriter)}
		if err := bw.w.Commit(context.Background(), nil); err == nil {
			t.Errorf("%s: a batch commit over existing data succeeded", target)
		}
		w.Close()
		if got := strings.Join(sourceLines(t, mem, path), ","); got != "0,1,2" {
			t.Errorf("%s: data after the refused runs %s, want 0,1,2", target, got)
		}
		// The same query resuming from its checkpoint goes on.
		again := openTwoPhase(t, mem, path, h)
		again.write(3, 4)
		again.commit(again.preCommit(2))
		again.w.Close()
		if got := strings.Join(sourceLines(t, mem, path), ","); got != "0,1,2,3" {
			t.Errorf("%s: after resuming %s, want 0,1,2,3", target, got)
		}
		mem.AssertSize(t, 0)
	}
}

// TestSinkModeAppendAndOverwrite: append keeps earlier runs' rows (part
// files of different runs never collide), overwrite replaces them at its
// first commit, so re-running a job twice gives its output once.
func TestSinkModeAppendAndOverwrite(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "out") + "/"
	run := func(mode string, from, to int) {
		p := openTwoPhase(t, mem, path, nil, mode)
		p.write(from, to)
		p.commit(p.preCommit(1))
		p.write(to, to+1)
		p.commit(p.preCommit(2))
		p.w.Close()
	}
	run(ModeAppend, 0, 2)
	run(ModeAppend, 10, 12)
	if got := strings.Join(sourceLines(t, mem, path), ","); got != "0,1,2,10,11,12" {
		t.Errorf("two appending runs: %s", got)
	}
	if lines, _ := visible(t, path); len(lines) != 6 {
		t.Errorf("the folder holds %v", lines)
	}
	run(ModeOverwrite, 20, 22)
	run(ModeOverwrite, 20, 22)
	if got := strings.Join(sourceLines(t, mem, path), ","); got != "20,21,22" {
		t.Errorf("after overwriting twice: %s, want one run's rows", got)
	}
	if lines, _ := visible(t, path); strings.Join(lines, ",") != "20,21,22" {
		t.Errorf("overwritten folder still holds %v", lines)
	}
}

// TestManifestHidesUncommittedFiles: the file source reads a sink's
// folder by its manifest, so a part file that no commit listed (left by a
// writer that crashed between rename and manifest, or copied in) is not
// read, and a listed file that is gone is an error naming it.
func TestManifestHidesUncommittedFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "out") + "/"
	p := openTwoPhase(t, mem, path, nil)
	p.write(0, 2)
	p.commit(p.preCommit(1))
	p.w.Close()
	if err := os.WriteFile(filepath.Join(path, "part-zz-00000.csv"), []byte("v\n99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sourceLines(t, mem, path), ","); got != "0,1" {
		t.Errorf("read %s, want only the committed 0,1", got)
	}
	listed, _, _ := readManifest(path)
	os.Remove(filepath.Join(path, listed[0]))
	_, err := NewSource(connectors.Options{"path": path, "format": "csv"}, tpSchema)
	if err == nil || !strings.Contains(err.Error(), listed[0]) || !strings.Contains(err.Error(), ManifestName) {
		t.Errorf("a committed file removed by hand: %v, want an error naming it and the manifest", err)
	}
}
