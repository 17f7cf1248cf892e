package sluice

import "time"

// QueryStats is a snapshot of a running streaming query's progress, for
// status lines and monitoring. Counters are cumulative since the query
// started.
type QueryStats struct {
	// RowsIn counts rows read from the sources.
	RowsIn int64
	// RowsOut counts result rows emitted (changelog rows count once each).
	RowsOut int64
	// Watermark is the current event-time watermark; zero when the query
	// has no event time or has not seen a row yet.
	Watermark time.Time
	// LateDropped counts rows that arrived behind the watermark for a
	// window already closed, and were dropped.
	LateDropped int64
	// StateGroups and StateBytes are the size of the stateful operator's
	// state (groups or window×group pairs, and estimated heap bytes).
	StateGroups int
	StateBytes  int64
}
