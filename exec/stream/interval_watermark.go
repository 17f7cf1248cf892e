package stream

// OutputWatermarker is a join whose output carries a watermark of its own
// on its left input's event-time column, which a join over its output
// takes as that input's marks (JoinSpec.LeftByMarks, RightByMarks).
type OutputWatermarker interface {
	// OutputWatermark is the lowest left event time any output row still
	// to come can carry, in the event-time column's unit; ok is false
	// for a join that tracks no event time (regular and lookup joins).
	// Every row the join emitted before it may be older; no row it emits
	// after is, so a consumer taking it as its input's watermark finds
	// none of those rows late.
	OutputWatermark() (wm int64, ok bool)
}

var (
	_ OutputWatermarker = (*Join)(nil)
	_ OutputWatermarker = (*ParallelJoin)(nil)
)

// OutputWatermark implements OutputWatermarker.
func (j *Join) OutputWatermark() (int64, bool) {
	if j.spec.Timing != IntervalJoin && j.spec.Timing != WindowJoin {
		return 0, false
	}
	return joinOutputWatermark(j.spec, j.sides[0].tracker.Watermark(), j.sides[1].tracker.Watermark(), j.unit), true
}

// OutputWatermark implements OutputWatermarker: the gate's watermarks,
// which every instance holds between calls.
func (p *ParallelJoin) OutputWatermark() (int64, bool) {
	if p.joins == nil || p.gates[0] == nil || p.gates[1] == nil {
		return 0, false
	}
	return joinOutputWatermark(p.joins[0].spec, p.gates[0].tracker.Watermark(), p.gates[1].tracker.Watermark(), p.unit), true
}

// joinOutputWatermark is the output watermark of an interval or window
// join whose inputs' watermarks are l and r.
//
// A window join emits a window once both watermarks pass its end, before
// it reports them: min(l, r) is its output's watermark on window_end,
// as a windowed aggregate's is.
//
// An interval join's output row carries the left time of a left row on
// time (≥ l as it arrived) or of a held left row matched by a right row
// on time, whose time is at least r.ts − Upper ≥ r − Upper; a left row
// emitted null-padded is one the right watermark has just passed, and was
// at least the previous value. So min(l, r − Upper) bounds the left time
// of every row to come: the watermark held back by the bounds, as Flink
// holds back an interval join's output watermark.
func joinOutputWatermark(spec JoinSpec, l, r, unit int64) int64 {
	if spec.Timing == IntervalJoin && r != MaxWatermark && r != MinWatermark {
		r = sat(r, -int64(spec.Upper)/unit)
	}
	return min(l, r)
}
