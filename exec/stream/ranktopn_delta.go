package stream

import (
	"fmt"
	"sort"
)

// rankSnap is a RankTopN's checkpointed form: each key's TopN snapshot,
// in key order so equal states encode equally. As a delta (Delta set) it
// holds the keys changed since the last snapshot, whole, and Gone the
// keys that left since.
type rankSnap struct {
	Keys  []string
	Tops  [][]byte
	Gone  []string
	Delta bool
}

var _ DeltaSnapshotter = (*RankTopN)(nil)

// Snapshot encodes every key's held rows. It is the baseline of the next
// SnapshotDelta.
func (r *RankTopN) Snapshot() ([]byte, error) {
	keys := make([]string, 0, len(r.parts))
	for k := range r.parts {
		keys = append(keys, k)
	}
	return r.snap(keys, false)
}

// SnapshotDelta encodes the keys a batch changed since the last Snapshot,
// SnapshotDelta, Restore or RestoreDelta: those still held whole, the
// others as gone. Its cost is the changed keys', not the state's.
func (r *RankTopN) SnapshotDelta() ([]byte, error) {
	keys := make([]string, 0, len(r.dirty))
	for k := range r.dirty {
		keys = append(keys, k)
	}
	return r.snap(keys, true)
}

// snap encodes keys (sorted, so equal states encode equally) and makes
// the state the next delta's baseline.
func (r *RankTopN) snap(keys []string, delta bool) ([]byte, error) {
	sort.Strings(keys)
	s := rankSnap{Delta: delta}
	for _, k := range keys {
		t := r.parts[k]
		if t == nil {
			s.Gone = append(s.Gone, k)
			continue
		}
		b, err := t.Snapshot()
		if err != nil {
			return nil, err
		}
		s.Keys = append(s.Keys, k)
		s.Tops = append(s.Tops, b)
	}
	clear(r.dirty)
	return encode(s)
}

// Restore replaces the state with a snapshot's.
func (r *RankTopN) Restore(data []byte) error {
	s, err := r.decodeSnap(data, false)
	if err != nil {
		return err
	}
	r.Close()
	return r.apply(s)
}

// RestoreDelta applies a SnapshotDelta over the state restored so far:
// gone keys are dropped, changed keys replaced whole.
func (r *RankTopN) RestoreDelta(data []byte) error {
	s, err := r.decodeSnap(data, true)
	if err != nil {
		return err
	}
	return r.apply(s)
}

func (r *RankTopN) decodeSnap(data []byte, delta bool) (rankSnap, error) {
	var s rankSnap
	if err := decode(data, &s); err != nil {
		return s, err
	}
	if len(s.Keys) != len(s.Tops) {
		return s, fmt.Errorf("stream: per-key top-N snapshot holds %d keys and %d tops", len(s.Keys), len(s.Tops))
	}
	if s.Delta != delta {
		return s, fmt.Errorf("stream: restoring a per-key top-N: a delta where a full snapshot was expected, or the reverse")
	}
	return s, nil
}

// apply drops s's gone keys and puts its keys' TopNs in place.
func (r *RankTopN) apply(s rankSnap) error {
	for _, k := range s.Gone {
		r.drop(k)
	}
	for i, k := range s.Keys {
		t, err := r.newTop()
		if err != nil {
			return err
		}
		if err := t.Restore(s.Tops[i]); err != nil {
			return err
		}
		r.drop(k)
		r.parts[k] = t
		r.bytes += t.bytes + rankKeyBytes(k)
	}
	clear(r.dirty)
	return nil
}

// drop forgets key k's rows, if held.
func (r *RankTopN) drop(k string) {
	if t, ok := r.parts[k]; ok {
		r.bytes -= t.bytes + rankKeyBytes(k)
		delete(r.parts, k)
	}
}
