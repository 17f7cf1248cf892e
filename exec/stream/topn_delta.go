package stream

import (
	"fmt"
	"sort"
)

// topNSnap is a TopN's checkpointed form: its rows in order.
type topNSnap struct {
	Rows    []topRowSnap
	Ignored int64
}

type topRowSnap struct {
	Vals []Value
	Key  string
	N    int64
}

// topNDelta is a TopN's incremental checkpoint: the rows added or whose
// count changed since the last snapshot, and the keys of the rows that
// snapshot held which left since.
type topNDelta struct {
	Rows    []topRowSnap
	Gone    []string
	Ignored int64
}

var (
	_ Snapshotter      = (*TopN)(nil)
	_ DeltaSnapshotter = (*TopN)(nil)
)

// Snapshot encodes the rows the top-N holds (every live input row over a
// changelog, the first n over an append-only input) with their counts.
// It is the baseline of the next SnapshotDelta.
func (t *TopN) Snapshot() ([]byte, error) {
	s := topNSnap{Rows: make([]topRowSnap, len(t.rows)), Ignored: t.Ignored}
	for i, r := range t.rows {
		s.Rows[i] = topRowSnap{Vals: r.vals, Key: r.key, N: r.n}
		r.snapped, r.snapN = true, r.n
	}
	t.gone = nil
	return encode(s)
}

// SnapshotDelta encodes what changed since the last Snapshot,
// SnapshotDelta, Restore or RestoreDelta: finding the changed rows reads
// two words a held row; what is encoded is what changed.
func (t *TopN) SnapshotDelta() ([]byte, error) {
	d := topNDelta{Gone: t.gone, Ignored: t.Ignored}
	t.gone = nil
	for _, r := range t.rows {
		if r.snapped && r.snapN == r.n {
			continue
		}
		d.Rows = append(d.Rows, topRowSnap{Vals: r.vals, Key: r.key, N: r.n})
		r.snapped, r.snapN = true, r.n
	}
	return encode(d)
}

// Restore replaces the rows with a snapshot's.
func (t *TopN) Restore(data []byte) error {
	var s topNSnap
	if err := decode(data, &s); err != nil {
		return err
	}
	if err := t.checkRows(s.Rows); err != nil {
		return err
	}
	t.Close()
	t.rows = make([]*topRow, len(s.Rows))
	for i, rs := range s.Rows {
		t.rows[i] = t.restoredRow(rs)
	}
	t.Ignored = s.Ignored
	return nil
}

// RestoreDelta applies a SnapshotDelta over the state restored so far:
// the gone rows are dropped, the changed ones take their new count, the
// new ones are added, and the rows are put back in order.
func (t *TopN) RestoreDelta(data []byte) error {
	var d topNDelta
	if err := decode(data, &d); err != nil {
		return err
	}
	if err := t.checkRows(d.Rows); err != nil {
		return err
	}
	byKey := make(map[string]*topRow, len(t.rows))
	for _, r := range t.rows {
		byKey[r.key] = r
	}
	for _, k := range d.Gone {
		if r, ok := byKey[k]; ok {
			t.bytes -= topRowBytes(r)
			delete(byKey, k)
		}
	}
	added := false
	for _, rs := range d.Rows {
		if r, ok := byKey[rs.Key]; ok {
			r.n, r.snapN = rs.N, rs.N
			continue
		}
		byKey[rs.Key] = t.restoredRow(rs)
		added = true
	}
	if len(d.Gone) > 0 || added {
		rows := make([]*topRow, 0, len(byKey))
		for _, r := range byKey {
			rows = append(rows, r)
		}
		// The order is total (ties broken by the whole row), so sorting
		// gives back the order the rows were held in.
		sort.Slice(rows, func(i, k int) bool { return t.less(rows[i].vals, rows[k].vals) })
		t.rows = rows
	}
	t.Ignored, t.gone = d.Ignored, nil
	t.byKey = nil // made again from the rows on the next one
	return nil
}

// restoredRow is a snapshot's row as held, the baseline of the next
// delta, counted in the state's bytes.
func (t *TopN) restoredRow(rs topRowSnap) *topRow {
	r := &topRow{vals: rs.Vals, key: rs.Key, n: rs.N, snapped: true, snapN: rs.N}
	t.bytes += topRowBytes(r)
	return r
}

// checkRows refuses rows of another query's shape (they would index past
// the values when compared) and counts that are not positive.
func (t *TopN) checkRows(rows []topRowSnap) error {
	want := t.schema.NumFields() - 1
	for _, r := range rows {
		if len(r.Vals) != want || r.N <= 0 {
			return fmt.Errorf("stream: restoring a top-N: a row of %d columns and count %d, want %d columns (was the query changed?)", len(r.Vals), r.N, want)
		}
	}
	return nil
}
