package stream

import "fmt"

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
