package connectors

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/connectors/format"
)

// The pieces every generated source (generator, nexmark) shares: matching
// the declared columns to the ones it makes, and pacing its items (rows,
// events) at a rate per second of wall time into batches.

// MatchColumns maps each column of declared to the index of the column of
// the same name (in any case) in full, the columns the source makes; a
// column of another type or name is an error naming it.
func MatchColumns(declared, full *arrow.Schema) ([]int, error) {
	idx := make([]int, 0, declared.NumFields())
	for _, f := range declared.Fields() {
		k := -1
		for i, g := range full.Fields() {
			if strings.EqualFold(f.Name, g.Name) {
				if !arrow.TypeEqual(f.Type, g.Type) {
					return nil, fmt.Errorf("column %q must be %s, not %s", f.Name, format.SQLTypeName(g.Type), format.SQLTypeName(f.Type))
				}
				k = i
			}
		}
		if k < 0 {
			names := make([]string, full.NumFields())
			for i, g := range full.Fields() {
				names[i] = g.Name
			}
			return nil, fmt.Errorf("unknown column %q (it makes %s)", f.Name, strings.Join(names, ", "))
		}
		idx = append(idx, k)
	}
	return idx, nil
}

// Pacer paces a generated scan: Rate items per second of wall time from
// Start (0: as fast as possible), First being the scan's first item, cut
// into batches of BatchSize rows, a partial batch returned once its first
// row has waited Linger (continuous mode; 0: fill batches).
type Pacer struct {
	Rate      float64
	BatchSize int
	Linger    time.Duration
	Start     time.Time
	First     int64
}

// Allowed is the first item not yet allowed at now; -1 when any is.
func (p *Pacer) Allowed(now time.Time) int64 {
	if p.Rate <= 0 {
		return -1
	}
	return p.First + int64(now.Sub(p.Start).Seconds()*p.Rate) + 1
}

// Expect is the rows a new batch is likely to hold (to reserve): fewer
// than a batch when a slow rate and a linger cut it short.
func (p *Pacer) Expect() int {
	if p.Rate > 0 && p.Linger > 0 {
		return min(p.BatchSize, int(p.Rate*p.Linger.Seconds()*2)+16)
	}
	return p.BatchSize
}

// Ready reports whether a batch of rows rows, whose first row came at
// firstAt, is to be returned at now: it is full, the input ended, or it
// has lingered long enough.
func (p *Pacer) Ready(rows int, atEnd bool, now, firstAt time.Time) bool {
	return rows >= p.BatchSize || (atEnd && rows > 0) || (rows > 0 && p.Linger > 0 && now.Sub(firstAt) >= p.Linger)
}

// Wait sleeps until item next is allowed or, with rows waiting in a
// partial batch since firstAt, until its linger ends (at least 50µs);
// ctx.Err() when ctx ends first.
func (p *Pacer) Wait(ctx context.Context, next int64, rows int, now, firstAt time.Time) error {
	wait := time.Until(p.Start.Add(time.Duration(float64(next-p.First) / p.Rate * float64(time.Second))))
	if rows > 0 && p.Linger > 0 {
		wait = min(wait, p.Linger-now.Sub(firstAt))
	}
	t := time.NewTimer(max(wait, 50*time.Microsecond))
	select {
	case <-ctx.Done():
		t.Stop()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
