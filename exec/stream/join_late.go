package stream

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// lateRule is how a streaming join judges a row late against its own
// input's watermark: one rule for the serial joins and for the gate of a
// partitioned one (ParallelJoin), so both drop exactly the same rows.
type lateRule int

const (
	// lateNever: the input has no watermark (regular and lookup joins).
	lateNever lateRule = iota
	// lateEventTime: late when the event time is below the watermark
	// (interval joins, both inputs of a temporal join).
	lateEventTime
	// lateWindowEnd: late when the window's end is at or below the
	// watermark (window joins).
	lateWindowEnd
)

// reason is why a row of event time ts (and window end end, for
// lateWindowEnd) is late at watermark wm, or "" when it is not; what
// names the input in the message ("join input 2").
func (r lateRule) reason(ts, end Value, wm, unit int64, what string) string {
	switch {
	case r == lateNever:
		return ""
	case ts.IsNull():
		return "NULL event time"
	case r == lateEventTime && ts.I < wm:
		return fmt.Sprintf("event time %s < watermark %s of %s", timeText(ts.I, unit), timeText(wm, unit), what)
	case r == lateWindowEnd && end.IsNull():
		return "NULL window_end"
	case r == lateWindowEnd && end.I <= wm:
		return fmt.Sprintf("window end %s <= watermark %s of %s", timeText(end.I, unit), timeText(wm, unit), what)
	}
	return ""
}

// handleLate applies the late-row policy to one late row: under
// LateError it is the query's error, under LateRoute it goes to onLate;
// otherwise it is dropped (the caller counts it).
func handleLate(policy LatePolicy, onLate func(LateRow) error, r LateRow) error {
	switch policy {
	case LateError:
		return &LateRowError{Row: r}
	case LateRoute:
		if onLate != nil {
			if err := onLate(r); err != nil {
				return fmt.Errorf("late-row sink: %w", err)
			}
		}
	}
	return nil
}

// routeLate applies the late-row policy to late row r of join input side.
// Under LateRoute the row goes to onLate in the join's row shape (out:
// the left input's value columns, then the right's; nleft the left's
// count): its own values, and NULL for the other input's columns, so
// that the late rows of both inputs fit one late sink.
func routeLate(mem memory.Allocator, policy LatePolicy, onLate func(LateRow) error, out *arrow.Schema, nleft, side int, r LateRow) error {
	if policy != LateRoute || onLate == nil {
		return handleLate(policy, onLate, r)
	}
	rec, ok := r.Record.(arrow.Record)
	if !ok {
		return handleLate(policy, onLate, r)
	}
	padded, err := padLateRow(mem, out, nleft, side, rec, r.Index)
	if err != nil {
		return err
	}
	defer padded.Release()
	r.Record, r.Index = padded, 0
	return handleLate(policy, onLate, r)
}

// padLateRow is row i of rec (a record of join input side, its op column
// dropped) as a one-row record of out, the other input's columns NULL.
// Every column is nullable; a right column named like an earlier one is
// suffixed with _2 (then _3, …), so that the sink's columns are distinct.
func padLateRow(mem memory.Allocator, out *arrow.Schema, nleft, side int, rec arrow.Record, i int) (arrow.Record, error) {
	first := 0
	if IsChangelog(rec.Schema()) {
		first = 1
	}
	own := int(rec.NumCols()) - first
	lo, hi := 0, nleft
	if side == 1 {
		lo, hi = nleft, out.NumFields()
	}
	if hi-lo != own {
		return nil, fmt.Errorf("stream: a late row of join input %d has %d columns, want %d", side+1, own, hi-lo)
	}
	fields := make([]arrow.Field, out.NumFields())
	cols := make([]arrow.Array, out.NumFields())
	defer releaseArrays(cols)
	seen := map[string]int{}
	for c, f := range out.Fields() {
		f.Nullable = true
		if n := seen[f.Name]; n > 0 {
			seen[f.Name] = n + 1
			f.Name = fmt.Sprintf("%s_%d", f.Name, n+1)
		} else {
			seen[f.Name] = 1
		}
		fields[c] = f
		if c >= lo && c < hi {
			cols[c] = array.NewSlice(rec.Column(first+c-lo), int64(i), int64(i)+1)
		} else {
			cols[c] = array.MakeArrayOfNull(mem, f.Type, 1)
		}
	}
	return array.NewRecord(arrow.NewSchema(fields, nil), cols, 1), nil
}
