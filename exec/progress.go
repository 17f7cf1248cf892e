package exec

import (
	"context"
	"sync/atomic"
)

// ProgressUnit is what a bounded scan counts its progress in: the unit
// its source knows a total of before reading.
type ProgressUnit int

const (
	// ProgressBytes: bytes of text files (CSV, JSON lines) read.
	ProgressBytes ProgressUnit = iota
	// ProgressRows: rows of a source that knows its row count before
	// reading (Parquet from its footers, a generator with max_rows),
	// read or passed over.
	ProgressRows
	numProgressUnits
)

// ScanProgress is how far the scans of one batch statement have read,
// for a progress display: per unit, the total the sources expect and what
// they have done so far, and the rows every scan has returned. Sources
// report into it through ScanSpec.Progress (Expect when a scan or its
// morsels are listed, Advance as they read); a display polls Snapshot
// from another goroutine. Every method is safe for concurrent use and a
// no-op on a nil *ScanProgress, so a source calls it unconditionally and
// a scan without a display costs one nil check.
type ScanProgress struct {
	total, done [numProgressUnits]atomic.Int64
	rows        atomic.Int64
}

// Expect adds n to the total of unit u. A source calls it once per piece
// of work when the scan opens (Source.Open) or is split
// (MorselSource.Morsels), never both for the same piece.
func (p *ScanProgress) Expect(u ProgressUnit, n int64) {
	if p != nil && n > 0 {
		p.total[u].Add(n)
	}
}

// Advance adds n to what is done of unit u.
func (p *ScanProgress) Advance(u ProgressUnit, n int64) {
	if p != nil && n > 0 {
		p.done[u].Add(n)
	}
}

// addRows counts rows a Scan returned.
func (p *ScanProgress) addRows(n int64) {
	if p != nil {
		p.rows.Add(n)
	}
}

// ProgressSnapshot is a ScanProgress at one moment.
type ProgressSnapshot struct {
	// Done and Total per unit (index by ProgressUnit); Done never exceeds
	// Total in a snapshot (a reader may read a little past a range's end).
	Done, Total [numProgressUnits]int64
	// Rows are the rows every scan has returned so far.
	Rows int64
}

// Snapshot reads the counters; zero on a nil *ScanProgress.
func (p *ScanProgress) Snapshot() ProgressSnapshot {
	var s ProgressSnapshot
	if p == nil {
		return s
	}
	for u := range numProgressUnits {
		s.Total[u] = p.total[u].Load()
		s.Done[u] = min(p.done[u].Load(), s.Total[u])
	}
	s.Rows = p.rows.Load()
	return s
}

type scanProgressKey struct{}

// WithScanProgress returns a context under which a batch statement run by
// the engine reports its scans' progress into p (the CLI's progress bar
// polls it). Streaming statements ignore it.
func WithScanProgress(ctx context.Context, p *ScanProgress) context.Context {
	return context.WithValue(ctx, scanProgressKey{}, p)
}

// ScanProgressOf is the ScanProgress WithScanProgress put in ctx, or nil.
func ScanProgressOf(ctx context.Context) *ScanProgress {
	p, _ := ctx.Value(scanProgressKey{}).(*ScanProgress)
	return p
}
