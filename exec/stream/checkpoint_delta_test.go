package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// deltaMap is a keyed state that checkpoints incrementally: the smallest
// operator that exercises the checkpoint store's delta chains.
type deltaMap struct {
	m     map[string]int64
	dirty map[string]bool
}

type deltaMapDelta struct {
	Set map[string]int64
	Del []string
}

func newDeltaMap() *deltaMap { return &deltaMap{m: map[string]int64{}, dirty: map[string]bool{}} }

func (d *deltaMap) set(k string, v int64) { d.m[k] = v; d.dirty[k] = true }
func (d *deltaMap) del(k string)          { delete(d.m, k); d.dirty[k] = true }

func (d *deltaMap) Snapshot() ([]byte, error) {
	clear(d.dirty)
	return encode(d.m)
}

func (d *deltaMap) Restore(data []byte) error {
	d.m = map[string]int64{}
	clear(d.dirty)
	return decode(data, &d.m)
}

func (d *deltaMap) SnapshotDelta() ([]byte, error) {
	if len(d.dirty) == 0 {
		return nil, nil
	}
	x := deltaMapDelta{Set: map[string]int64{}}
	for k := range d.dirty {
		if v, ok := d.m[k]; ok {
			x.Set[k] = v
		} else {
			x.Del = append(x.Del, k)
		}
	}
	clear(d.dirty)
	return encode(x)
}

func (d *deltaMap) RestoreDelta(data []byte) error {
	var x deltaMapDelta
	if err := decode(data, &x); err != nil {
		return err
	}
	maps.Copy(d.m, x.Set)
	for _, k := range x.Del {
		delete(d.m, k)
	}
	return nil
}

// The rest of Operator: deltaMap is driven by the test, not by a pipeline.
func (d *deltaMap) Schema() *arrow.Schema   { return nil }
func (d *deltaMap) SinkMode() exec.SinkMode { return exec.SinkMode{} }
func (d *deltaMap) Push(context.Context, arrow.Record, int32) (arrow.Record, error) {
	return nil, nil
}
func (d *deltaMap) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }
func (d *deltaMap) Finish(context.Context) (arrow.Record, error)          { return nil, nil }
func (d *deltaMap) Stats() StateStats                                     { return StateStats{Groups: len(d.m)} }
func (d *deltaMap) Close() error                                          { return nil }

// readManifest decodes checkpoint seq's manifest in dir.
func readManifest(t *testing.T, dir string, seq int64) *manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, manifestName(seq)))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// restoreInto restores dir's newest checkpoint into a new deltaMap.
func restoreInto(t *testing.T, dir string) (*deltaMap, *Checkpointer) {
	t.Helper()
	d := newDeltaMap()
	ck := NewCheckpointer(dir, 0, 0)
	if _, err := ck.Restore(d); err != nil {
		t.Fatal(err)
	}
	return d, ck
}

// Checkpoints after the first write only the keys changed since the one
// before, chained to it; every CompactEvery deltas the part is written in
// full again; each checkpoint restores to exactly the state it was taken
// of; pruning keeps every file a kept checkpoint's chain needs.
func TestIncrementalCheckpointChain(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	ck.CompactEvery = 3
	ck.Retain = 2
	d := newDeltaMap()
	for i := range 5000 {
		d.set(fmt.Sprintf("key-%05d", i), int64(i))
	}
	var states []map[string]int64 // the state of checkpoint i+1
	for seq := int64(1); seq <= 9; seq++ {
		if seq > 1 { // a few changes: updates, a new key, a deletion
			d.set(fmt.Sprintf("key-%05d", seq), -seq)
			d.set(fmt.Sprintf("new-%d", seq), seq)
			d.del(fmt.Sprintf("key-%05d", 100+seq))
		}
		if err := ck.saveFor(d, exec.Offsets{"t/0": seq}, nil, 0); err != nil {
			t.Fatal(err)
		}
		states = append(states, maps.Clone(d.m))

		m := readManifest(t, dir, seq)
		wantDeltas := int((seq - 1) % 4) // full at 1, 5, 9
		if len(m.Parts) != 1 || len(m.Parts[0].Deltas) != wantDeltas {
			t.Fatalf("checkpoint %d: parts %+v, want one part with %d deltas", seq, m.Parts, wantDeltas)
		}
		for _, f := range m.Parts[0].Deltas {
			if f.Size*20 > m.Parts[0].Size {
				t.Errorf("checkpoint %d: delta %s has %d bytes, the full state %d", seq, f.File, f.Size, m.Parts[0].Size)
			}
		}
		got, _ := restoreInto(t, dir)
		if !maps.Equal(got.m, states[seq-1]) {
			t.Fatalf("checkpoint %d restores %d keys, want %d (or other values)", seq, len(got.m), len(states[seq-1]))
		}
		// Every file of a kept chain exists; no other state file does.
		need := map[string]bool{}
		for _, s := range []int64{seq, seq - 1} {
			if s < 1 {
				continue
			}
			for _, p := range readManifest(t, dir, s).Parts {
				need[p.File] = true
				for _, f := range p.Deltas {
					need[f.File] = true
				}
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "state-*.bin"))
		if len(files) != len(need) {
			t.Errorf("checkpoint %d: %d state files on disk, the kept checkpoints need %d", seq, len(files), len(need))
		}
		for f := range need {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("checkpoint %d: %v", seq, err)
			}
		}
	}
}

// A checkpoint with nothing changed since the one before writes no state
// file: its manifest names the same chain.
func TestIncrementalCheckpointUnchanged(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	d := newDeltaMap()
	for i := range 100 {
		d.set(fmt.Sprint(i), int64(i))
	}
	for seq := int64(1); seq <= 2; seq++ {
		if err := ck.saveFor(d, exec.Offsets{"t/0": seq}, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	m1, m2 := readManifest(t, dir, 1), readManifest(t, dir, 2)
	if m2.Parts[0].File != m1.Parts[0].File || len(m2.Parts[0].Deltas) != 0 {
		t.Fatalf("unchanged state: checkpoint 2 names %+v, checkpoint 1 %+v", m2.Parts, m1.Parts)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "state-*.bin")); len(files) != 1 {
		t.Fatalf("%d state files, want 1", len(files))
	}
	got, _ := restoreInto(t, dir)
	if !maps.Equal(got.m, d.m) {
		t.Fatal("restored state differs")
	}
}

// Deltas that add up to the full state's size end the chain: the next
// checkpoint is full, so a restore never reads more than about twice the
// state.
func TestIncrementalCheckpointCompactsBySize(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	d := newDeltaMap()
	d.set("a", 1)
	for seq := int64(1); seq <= 4; seq++ {
		for i := range 50 { // each round adds as much as the state held
			d.set(fmt.Sprintf("k%d-%d", seq, i), seq)
		}
		if err := ck.saveFor(d, exec.Offsets{"t/0": seq}, nil, 0); err != nil {
			t.Fatal(err)
		}
		if n := len(readManifest(t, dir, seq).Parts[0].Deltas); n > 1 {
			t.Fatalf("checkpoint %d has %d deltas: the chain outgrew the state", seq, n)
		}
	}
	got, _ := restoreInto(t, dir)
	if !maps.Equal(got.m, d.m) {
		t.Fatal("restored state differs")
	}
}

// A damaged file of a chain fails every checkpoint that needs it, each
// named in the skipped errors; the newest checkpoint not needing it is
// restored, and with none the query refuses to start.
func TestIncrementalCheckpointDamagedChain(t *testing.T) {
	setup := func(t *testing.T) (string, []map[string]int64) {
		dir := t.TempDir()
		ck := NewCheckpointer(dir, 0, 0)
		ck.Retain = 10
		ck.CompactEvery = 3
		d := newDeltaMap()
		for i := range 1000 {
			d.set(fmt.Sprint(i), int64(i))
		}
		var states []map[string]int64
		for seq := int64(1); seq <= 6; seq++ { // full 1, deltas 2-4, full 5, delta 6
			d.set(fmt.Sprint(seq), -seq)
			if err := ck.saveFor(d, exec.Offsets{"t/0": seq}, nil, 0); err != nil {
				t.Fatal(err)
			}
			states = append(states, maps.Clone(d.m))
		}
		return dir, states
	}
	flip := func(t *testing.T, path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 1
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("delta of the newest chain", func(t *testing.T) {
		dir, states := setup(t)
		m := readManifest(t, dir, 6)
		flip(t, filepath.Join(dir, m.Parts[0].Deltas[0].File))
		got, ck := restoreInto(t, dir)
		if ck.Restored().Seq != 5 || !maps.Equal(got.m, states[4]) {
			t.Fatalf("restored checkpoint %d, want 5 with its state", ck.Restored().Seq)
		}
		if len(ck.Skipped()) != 1 {
			t.Fatalf("skipped %v, want checkpoint 6", ck.Skipped())
		}
	})
	t.Run("base of the newest chain", func(t *testing.T) {
		dir, states := setup(t)
		m := readManifest(t, dir, 6)
		flip(t, filepath.Join(dir, m.Parts[0].File))
		got, ck := restoreInto(t, dir)
		if ck.Restored().Seq != 4 || !maps.Equal(got.m, states[3]) {
			t.Fatalf("restored checkpoint %d, want 4 with its state", ck.Restored().Seq)
		}
		if len(ck.Skipped()) != 2 {
			t.Fatalf("skipped %v, want checkpoints 6 and 5", ck.Skipped())
		}
	})
	t.Run("middle delta of an older chain", func(t *testing.T) {
		dir, states := setup(t)
		for s := int64(5); s <= 6; s++ {
			os.Remove(filepath.Join(dir, manifestName(s)))
		}
		m := readManifest(t, dir, 4)
		flip(t, filepath.Join(dir, m.Parts[0].Deltas[1].File)) // checkpoint 3's delta
		got, ck := restoreInto(t, dir)
		if ck.Restored().Seq != 2 || !maps.Equal(got.m, states[1]) {
			t.Fatalf("restored checkpoint %d, want 2 with its state", ck.Restored().Seq)
		}
	})
	t.Run("only chain damaged", func(t *testing.T) {
		dir, _ := setup(t)
		for s := int64(1); s <= 4; s++ {
			os.Remove(filepath.Join(dir, manifestName(s)))
		}
		m := readManifest(t, dir, 6)
		flip(t, filepath.Join(dir, m.Parts[0].File))
		_, err := NewCheckpointer(dir, 0, 0).Restore(newDeltaMap())
		if !errors.Is(err, ErrNoUsableCheckpoint) {
			t.Fatalf("got %v, want ErrNoUsableCheckpoint", err)
		}
	})
}

// After a restart the next checkpoint's delta extends the chain of the
// checkpoint restored, also when that is not the newest (a sink that
// committed an older one): its state plus the delta is what the query
// then holds.
func TestIncrementalCheckpointAfterRestore(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	d := newDeltaMap()
	for i := range 1000 {
		d.set(fmt.Sprint(i), int64(i))
	}
	for seq := int64(1); seq <= 3; seq++ {
		d.set(fmt.Sprint(seq), -seq)
		if err := ck.saveFor(d, exec.Offsets{"t/0": 10 * seq}, nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, committed := range []int64{30, 20} {
		t.Run(fmt.Sprintf("resume at %d", committed), func(t *testing.T) {
			dir2 := t.TempDir()
			os.CopyFS(dir2, os.DirFS(dir))
			r := newDeltaMap()
			ck2 := NewCheckpointer(dir2, 0, 0)
			if _, err := ck2.RestoreMatching(r, exec.Offsets{"t/0": committed}); err != nil {
				t.Fatal(err)
			}
			base := ck2.Restored()
			r.set("after-restart", 1)
			want := maps.Clone(r.m)
			if err := ck2.saveFor(r, exec.Offsets{"t/0": 99}, nil, 0); err != nil {
				t.Fatal(err)
			}
			m := readManifest(t, dir2, 4)
			if n := len(m.Parts[0].Deltas); n != len(base.chains[PipelineOperator].Deltas)+1 {
				t.Fatalf("checkpoint 4 has %d deltas, want the restored chain's %d plus one", n, len(base.chains[PipelineOperator].Deltas))
			}
			got, _ := restoreInto(t, dir2)
			if !maps.Equal(got.m, want) {
				t.Fatalf("restored %d keys, want %d", len(got.m), len(want))
			}
		})
	}
}

// CompactEvery < 0 turns deltas off: every checkpoint is full.
func TestIncrementalCheckpointOff(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	ck.CompactEvery = -1
	d := newDeltaMap()
	for seq := int64(1); seq <= 3; seq++ {
		d.set(fmt.Sprint(seq), seq)
		if err := ck.saveFor(d, exec.Offsets{"t/0": seq}, nil, 0); err != nil {
			t.Fatal(err)
		}
		if m := readManifest(t, dir, seq); len(m.Parts[0].Deltas) != 0 {
			t.Fatalf("checkpoint %d has deltas", seq)
		}
	}
}
