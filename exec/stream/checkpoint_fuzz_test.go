package stream

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// withHeader prefixes body with a manifest header whose checksum is
// right, so the fuzzer gets past the checksum into the JSON.
func withHeader(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(fmt.Appendf(nil, "%s %d %s\n", manifestMagic, formatVersion, hex.EncodeToString(sum[:])), body...)
}

// fuzzSeeds are a real checkpoint of each stateful operator: the
// manifest and the state file.
func fuzzSeeds(t testing.TB) [][2][]byte {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	g := fuzzGroupAgg(t, mem)
	defer g.Close()
	w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Delay: time.Second})
	defer w.Close()
	kv := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1},{"k":"b","v":2},{"k":null,"v":3}]`)
	defer kv.Release()
	evs := evRecord(mem, []ev{{sec(1), "a", 1}, {sec(4), "b", 2}, {sec(12), "a", 3}})
	defer evs.Release()
	pushAll(t, g, cut(kv, 3), false)
	pushAll(t, w, cut(evs, 3), false)
	var out [][2][]byte
	for _, op := range []Snapshotter{g, w} {
		dir := t.TempDir()
		st, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		ck := NewCheckpointer(dir, 0, 0)
		ck.Fingerprint = "fp"
		if err := ck.Save(Checkpoint{Offsets: map[string]exec.Offsets{PipelineSource: {"t/0": 3}},
			State: []OperatorState{{Name: PipelineOperator, Data: st}}, Sinks: map[string][]byte{PipelineSink: []byte(`{"next_part":1,"size":-1}`)}}); err != nil {
			t.Fatal(err)
		}
		man, err := os.ReadFile(filepath.Join(dir, manifestName(1)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, [2][]byte{man, st})
	}
	return out
}

func fuzzGroupAgg(t testing.TB, mem memory.Allocator) *GroupAggregate {
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}, {Func: AggAvg, Arg: col(kvSchema, 1), Name: "a"},
			{Func: AggCountDistinct, Arg: col(kvSchema, 1), Name: "d"}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// FuzzCheckpointReader feeds arbitrary bytes to everything that reads a
// checkpoint: the manifest decoder (as found on disk, and behind a valid
// checksum so the JSON itself is explored), the directory loader, and the
// operators' Restore followed by more input. None may panic, leak memory,
// or return a checkpoint that does not round-trip; a damaged checkpoint is
// an error naming its file.
func FuzzCheckpointReader(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], s[1])
		// The seed's JSON body behind a fresh header.
		if i := bytes.IndexByte(s[0], '\n'); i >= 0 {
			f.Add(s[0][i+1:], s[1])
		}
	}
	f.Fuzz(fuzzCheckpointReader)
}

func fuzzCheckpointReader(t *testing.T, man, state []byte) {
	{
		DecodeManifest(man)
		m, err := DecodeManifest(withHeader(man))
		if err == nil {
			again, err := encodeManifest(m)
			if err != nil {
				t.Fatalf("re-encoding a decoded manifest: %v", err)
			}
			// Compared encoded: an empty map and an absent one are the
			// same manifest.
			m2, err := DecodeManifest(again)
			if err != nil {
				t.Fatalf("a re-encoded manifest does not decode: %v", err)
			}
			if third, _ := encodeManifest(m2); !bytes.Equal(again, third) {
				t.Fatalf("manifest does not round-trip:\n%s\n%s", again, third)
			}
		}
		// The directory loader, over the fuzzed manifest and state file.
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, manifestName(1)), withHeader(man), 0o644)
		os.WriteFile(filepath.Join(dir, "state-0000000001-0.bin"), state, 0o644)
		if cp, err := NewCheckpointer(dir, 0, 0).Load(); err == nil {
			if cp.Seq != 1 {
				t.Fatalf("loaded checkpoint %d from %s", cp.Seq, manifestName(1))
			}
		} else if !bytes.Contains([]byte(err.Error()), []byte(dir)) {
			t.Fatalf("error does not name the directory: %v", err)
		}
		// The operators, restored from the state and then run on.
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		ctx := context.Background()
		g := fuzzGroupAgg(t, mem)
		if g.Restore(state) == nil {
			kv := fromJSON(t, mem, kvSchema, `[{"k":"a","v":5},{"k":"z","v":7}]`)
			if out, err := g.Push(ctx, kv, 0); err == nil && out != nil {
				out.Release()
			}
			kv.Release()
		}
		g.Close()
		w := newWinAgg(t, mem, WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}, WindowOptions{Delay: time.Second})
		if w.Restore(state) == nil {
			evs := evRecord(mem, []ev{{sec(2), "a", 1}, {sec(40), "b", 2}})
			if out, err := w.Push(ctx, evs, 0); err == nil && out != nil {
				out.Release()
			}
			evs.Release()
			if out, err := w.Finish(ctx); err == nil && out != nil {
				out.Release()
			}
		}
		w.Close()
		mem.AssertSize(t, 0)
	}
}
