package file

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/exec"
)

// twoPhase is one incarnation of a query's file sink.
type twoPhase struct {
	t   *testing.T
	mem memory.Allocator
	w   exec.TwoPhaseWriter
}

var tpSchema = arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64}}, nil)

// openTwoPhase opens the sink at path and recovers it from h (nil: a
// fresh start).
func openTwoPhase(t *testing.T, mem memory.Allocator, path string, h []byte, mode ...string) *twoPhase {
	t.Helper()
	opts := connectors.Options{"path": path, "format": "csv"}
	if len(mode) > 0 {
		opts["mode"] = mode[0]
	}
	sink, err := NewSink(opts)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.Open(context.Background(), mem, tpSchema, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	tp := w.(exec.TwoPhaseWriter)
	if err := tp.Recover(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	return &twoPhase{t: t, mem: mem, w: tp}
}

// write writes rows with values from..to-1.
func (p *twoPhase) write(from, to int) {
	p.t.Helper()
	var js []string
	for v := from; v < to; v++ {
		js = append(js, `{"v":`+strconv.Itoa(v)+`}`)
	}
	rec, _, err := array.RecordFromJSON(p.mem, tpSchema, strings.NewReader("["+strings.Join(js, ",")+"]"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer rec.Release()
	if err := p.w.Write(context.Background(), rec); err != nil {
		p.t.Fatal(err)
	}
}

func (p *twoPhase) preCommit(id int) []byte {
	p.t.Helper()
	h, err := p.w.PreCommit(context.Background(), exec.CheckpointID(id), nil)
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

func (p *twoPhase) commit(h []byte) {
	p.t.Helper()
	if err := p.w.CommitPending(context.Background(), h); err != nil {
		p.t.Fatal(err)
	}
}

// visible reads what a file source sees under path: the data lines of
// every visible file, sorted, and the number of hidden files left.
func visible(t *testing.T, path string) (lines []string, hidden int) {
	t.Helper()
	dir := path
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		dir = filepath.Dir(path)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			hidden++
			continue
		}
		if e.Name() != ManifestName {
			names = append(names, e.Name())
		}
	}
	if dir == path {
		// A directory's manifest lists exactly its committed part files.
		listed, _, err := readManifest(dir)
		if err != nil {
			t.Fatal(err)
		}
		sorted := append([]string(nil), listed...)
		sort.Strings(sorted)
		if strings.Join(sorted, ",") != strings.Join(names, ",") {
			t.Errorf("%s: the manifest lists %v, the directory holds %v", dir, listed, names)
		}
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "v" && l != "" {
				lines = append(lines, l)
			}
		}
	}
	sort.Slice(lines, func(i, j int) bool {
		return len(lines[i]) < len(lines[j]) || len(lines[i]) == len(lines[j]) && lines[i] < lines[j]
	})
	return lines, hidden
}

func seq(from, to int) []string {
	var out []string
	for v := from; v < to; v++ {
		out = append(out, strconv.Itoa(v))
	}
	return out
}

// Every crash point of the two-phase commit, for a directory and a
// single-file sink: the restarted sink holds exactly the output of the
// checkpoint it resumes from, whatever the crash left behind.
func TestSinkTwoPhaseCrashPoints(t *testing.T) {
	for _, target := range []string{"out/", "out.csv"} {
		t.Run(target, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				// crash runs the first incarnation after checkpoint 1
				// (rows 0-9) is committed and returns the handle the
				// restart finds in the newest intact checkpoint.
				crash func(p *twoPhase, h1 []byte) []byte
				want  []string
			}{
				{"rows written, no pre-commit", func(p *twoPhase, h1 []byte) []byte {
					p.write(10, 20)
					return h1
				}, seq(0, 10)},
				{"pre-committed, checkpoint not saved", func(p *twoPhase, h1 []byte) []byte {
					p.write(10, 20)
					p.preCommit(2)
					return h1
				}, seq(0, 10)},
				{"checkpoint saved, not committed", func(p *twoPhase, h1 []byte) []byte {
					p.write(10, 20)
					return p.preCommit(2)
				}, seq(0, 20)},
				{"committed", func(p *twoPhase, h1 []byte) []byte {
					p.write(10, 20)
					h := p.preCommit(2)
					p.commit(h)
					return h
				}, seq(0, 20)},
				{"committed, newest checkpoint damaged: fall back", func(p *twoPhase, h1 []byte) []byte {
					p.write(10, 20)
					p.commit(p.preCommit(2))
					return h1
				}, seq(0, 10)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
					defer mem.AssertSize(t, 0)
					path := filepath.Join(t.TempDir(), target)
					if strings.HasSuffix(target, "/") {
						path += "/"
					}
					first := openTwoPhase(t, mem, path, nil)
					first.write(0, 10)
					h1 := first.preCommit(1)
					first.commit(h1)
					h := tc.crash(first, h1)
					// kill -9: the first incarnation is never closed.

					again := openTwoPhase(t, mem, path, h)
					lines, hidden := visible(t, path)
					if strings.Join(lines, ",") != strings.Join(tc.want, ",") || hidden != 0 {
						t.Fatalf("after recovery %v (%d hidden files), want %v and none", lines, hidden, tc.want)
					}
					// Recovery is idempotent.
					openTwoPhase(t, mem, path, h).w.Close()
					// The restart goes on appending after what it kept.
					n := len(tc.want)
					again.write(n, n+5)
					again.commit(again.preCommit(3))
					again.w.Close()
					lines, hidden = visible(t, path)
					if strings.Join(lines, ",") != strings.Join(seq(0, n+5), ",") || hidden != 0 {
						t.Fatalf("after the restart's commit %v (%d hidden files), want %v", lines, hidden, seq(0, n+5))
					}
					if target == "out.csv" {
						b, _ := os.ReadFile(path)
						if strings.Count(string(b), "v\n") != 1 {
							t.Fatalf("single file has %d headers:\n%s", strings.Count(string(b), "v\n"), b)
						}
					}
				})
			}
		})
	}
}

// A query started without a checkpoint deletes the pending files an
// earlier crashed run left; then 'mode' decides what happens to the
// committed output (append: kept beside the new, overwrite: replaced).
func TestSinkFreshStartDropsOrphans(t *testing.T) {
	for _, target := range []string{"out/", "out.csv"} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		path := filepath.Join(t.TempDir(), target)
		if strings.HasSuffix(target, "/") {
			path += "/"
		}
		old := openTwoPhase(t, mem, path, nil)
		old.write(0, 3)
		old.commit(old.preCommit(1))
		old.write(3, 6)
		old.preCommit(2) // orphan
		mode := ModeAppend
		if target == "out.csv" {
			mode = ModeOverwrite
		}
		fresh := openTwoPhase(t, mem, path, nil, mode)
		if _, hidden := visible(t, path); hidden != 0 {
			t.Errorf("%s: %d pending files left after a fresh start", target, hidden)
		}
		fresh.write(100, 102)
		fresh.commit(fresh.preCommit(1))
		fresh.w.Close()
		lines, _ := visible(t, path)
		want := "0,1,2,100,101"
		if target == "out.csv" {
			want = "100,101"
		}
		if strings.Join(lines, ",") != want {
			t.Errorf("%s: %v, want %s", target, lines, want)
		}
		mem.AssertSize(t, 0)
	}
}
