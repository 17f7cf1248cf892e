package stream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// DeltaSnapshotter is an operator (or graph node) whose state can be
// checkpointed incrementally: SnapshotDelta writes only what changed
// since its last snapshot, so checkpointing a large state costs what the
// input touched since the previous checkpoint, not the whole state.
//
// Every Snapshot, SnapshotDelta, Restore and RestoreDelta moves the
// baseline the next delta is taken against; the Checkpointer asks for a
// delta only when the part's previous snapshot is the newest state
// file(s) it saved or restored, so a delta always extends that chain.
type DeltaSnapshotter interface {
	// SnapshotDelta encodes the changes since the last snapshot or
	// restore: applied over that state by RestoreDelta it gives the
	// current state. Empty (nil) means nothing changed.
	SnapshotDelta() ([]byte, error)
	// RestoreDelta applies one SnapshotDelta over the state restored so
	// far (Restore of the chain's full snapshot, then each delta in
	// order).
	RestoreDelta(delta []byte) error
}

// DeltaPartedSnapshotter is a PartedSnapshotter whose parts may be
// deltas (a Graph whose nodes, or a Parallel whose instances, are
// DeltaSnapshotters).
type DeltaPartedSnapshotter interface {
	PartedSnapshotter
	// SnapshotPartsDelta is SnapshotParts, except that a part for which
	// delta(name) is true and whose operator is a DeltaSnapshotter is a
	// delta (OperatorState.Delta). delta nil: every part is full.
	SnapshotPartsDelta(delta func(part string) bool) ([]OperatorState, error)
}

// DefaultCompactEvery is how many deltas a part's chain holds at most
// before the next checkpoint writes that part in full again.
const DefaultCompactEvery = 10

// SnapshotPolicy says which parts the next checkpoint may write as
// deltas: a part whose previous state (saved by this Checkpointer or
// restored from its directory) is still chained, has fewer than
// CompactEvery deltas, and whose deltas add up to less than its full
// snapshot (past that, restoring would read more than a full snapshot
// costs to write). Every other part is written in full, which starts a
// new chain: that is the compaction.
func (c *Checkpointer) SnapshotPolicy() func(part string) bool {
	every := c.CompactEvery
	if every == 0 {
		every = DefaultCompactEvery
	}
	if every < 0 {
		return nil
	}
	chains := c.chains
	return func(part string) bool {
		ref, ok := chains[part]
		if !ok || len(ref.Deltas) >= every {
			return false
		}
		var sum int64
		for _, d := range ref.Deltas {
			sum += d.Size
		}
		return sum < ref.Size
	}
}

// chain is the manifest entry of a part just written to f: a full part
// starts its own chain, a delta extends the chain of the same part in the
// previous checkpoint (an empty delta, nothing changed, leaves that chain
// as it was and f unused).
func (c *Checkpointer) chain(st OperatorState, f fileRef) (partRef, error) {
	if !st.Delta {
		return partRef{Name: st.Name, File: f.File, Size: f.Size, SHA256: f.SHA256}, nil
	}
	prev, ok := c.chains[st.Name]
	if !ok {
		return partRef{}, fmt.Errorf("checkpoint part %q is a delta, but no previous checkpoint holds that part to apply it to", st.Name)
	}
	ref := prev
	ref.Deltas = slices.Clone(prev.Deltas)
	if len(st.Data) > 0 {
		ref.Deltas = append(ref.Deltas, f)
	}
	return ref, nil
}

// referenced is the set of state files the manifests of seqs name
// (bases and deltas). A manifest that cannot be read names nothing: it
// cannot be restored, and its own files are kept by their number.
func (c *Checkpointer) referenced(seqs []int64) map[string]bool {
	files := map[string]bool{}
	for _, s := range seqs {
		data, err := os.ReadFile(filepath.Join(c.dir, manifestName(s)))
		if err != nil {
			continue
		}
		m, err := DecodeManifest(data)
		if err != nil {
			continue
		}
		for _, p := range m.Parts {
			files[p.File] = true
			for _, d := range p.Deltas {
				files[d.File] = true
			}
		}
	}
	return files
}

// SnapshotPart takes the checkpoint part name of s: a delta when the
// policy allows it for name and s (or the operator a node wraps) is a
// DeltaSnapshotter, else a full Snapshot. Data nil: s keeps no state.
func SnapshotPart(s Snapshotter, name string, delta func(part string) bool) (OperatorState, error) {
	if d, ok := asDelta(s); ok && delta != nil && delta(name) {
		data, err := d.SnapshotDelta()
		if err != nil {
			return OperatorState{}, err
		}
		if data == nil {
			data = []byte{}
		}
		return OperatorState{Name: name, Data: data, Delta: true}, nil
	}
	data, err := s.Snapshot()
	return OperatorState{Name: name, Data: data}, err
}

// RestorePart restores s from a loaded checkpoint part: its full
// snapshot, then its deltas in order.
func RestorePart(s Snapshotter, part OperatorState) error {
	if err := s.Restore(part.Data); err != nil {
		return err
	}
	if len(part.Deltas) == 0 {
		return nil
	}
	d, ok := asDelta(s)
	if !ok {
		return errors.New("the checkpoint holds incremental state, which this operator cannot apply: was the query changed?")
	}
	for i, delta := range part.Deltas {
		if err := d.RestoreDelta(delta); err != nil {
			return fmt.Errorf("applying delta %d of %d: %w", i+1, len(part.Deltas), err)
		}
	}
	return nil
}

// asDelta is s as a DeltaSnapshotter, looking through the node adapter of
// a one-input operator.
func asDelta(s Snapshotter) (DeltaSnapshotter, bool) {
	var x any = s
	if n, ok := s.(*opNode); ok {
		x = n.op
	}
	d, ok := x.(DeltaSnapshotter)
	return d, ok
}

var (
	_ DeltaPartedSnapshotter = (*Graph)(nil)
	_ DeltaPartedSnapshotter = (*Parallel)(nil)
)
