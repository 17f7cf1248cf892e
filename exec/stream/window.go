package stream

import (
	"container/heap"
	"errors"
	"fmt"
	"time"
)

// WindowKind selects how rows are assigned to event-time windows.
type WindowKind int

// Window kinds.
const (
	// Tumble assigns each row to one window of Size, aligned to the epoch.
	Tumble WindowKind = iota
	// Hop assigns each row to the Size/Slide windows of Size that start
	// every Slide and contain it.
	Hop
	// Session groups rows of a key whose event times are less than Gap
	// apart; sessions merge as rows arrive.
	Session
	// Assigned takes window_start/window_end from input columns StartCol
	// and EndCol, as produced by the batch WindowAssign operator.
	Assigned
)

// WindowSpec describes the windows of a streaming windowed aggregation.
type WindowSpec struct {
	Kind WindowKind
	// TimeCol is the index of the event-time column in the input
	// (TIMESTAMP of any unit, or BIGINT epoch milliseconds).
	TimeCol int
	// Size is the window length (Tumble, Hop).
	Size time.Duration
	// Slide is the hop between window starts (Hop).
	Slide time.Duration
	// Gap is the session gap (Session).
	Gap time.Duration
	// StartCol and EndCol are input column indices (Assigned).
	StartCol, EndCol int
}

// LatePolicy says what happens to a row whose windows the watermark has
// already closed.
type LatePolicy int

// Late row policies.
const (
	// LateDrop drops the row and counts it ('late.policy' = 'drop').
	LateDrop LatePolicy = iota
	// LateError fails the query with a *LateRowError naming the row.
	LateError
	// LateRoute drops the row, counts it and hands it to OnLate.
	LateRoute
)

// LateRow describes a late row for the LateRoute callback and errors.
type LateRow struct {
	// Partition is the source partition of the row.
	Partition int32
	// Row is the row's ordinal among the rows of its partition that
	// reached the window operator (0-based).
	Row int64
	// EventTime is the row's event time, in the time column's unit.
	EventTime int64
	// Watermark is the watermark the row was judged against.
	Watermark int64
	// Reason says why the row was late.
	Reason string
	// Record and Index locate the row; Record is only valid during the
	// callback (Retain it or copy the row to keep it).
	Record interface{ NumRows() int64 }
	Index  int
}

// ErrLateRow is wrapped by LateRowError so callers can test errors.Is.
var ErrLateRow = errors.New("late row")

// LateRowError is returned under LateError for the first late row.
type LateRowError struct{ Row LateRow }

// Error names the row's position.
func (e *LateRowError) Error() string {
	return fmt.Sprintf("late row at partition %d row %d: %s", e.Row.Partition, e.Row.Row, e.Row.Reason)
}

// Unwrap makes errors.Is(err, ErrLateRow) true.
func (e *LateRowError) Unwrap() error { return ErrLateRow }

// WindowOptions are the event-time settings of a windowed aggregation.
type WindowOptions struct {
	// Delay is the watermark delay (WATERMARK FOR ts AS ts - delay).
	Delay time.Duration
	// InputDelays, for a windowed aggregate over a UNION ALL, is each
	// input's own watermark delay (its partitions numbered by
	// UnionPartition); empty: Delay for every partition.
	InputDelays []time.Duration
	// IdleTimeout is 'watermark.idle_timeout'; 0 disables idleness.
	IdleTimeout time.Duration
	// Late is the late-row policy; OnLate receives rows under LateRoute.
	Late   LatePolicy
	OnLate func(LateRow) error
	// Clock is processing time for idleness; RealClock if nil.
	Clock Clock
	// Updates makes the aggregation updating (EMIT CHANGES / EMIT EVERY
	// in update mode): each Push emits a changelog of the (window, key)
	// groups it touched, and a window the watermark closes is freed
	// without output, since its rows were already emitted. Tumble and Hop
	// only: a session's bounds move as it merges.
	Updates bool
	// ByMarks makes the watermark follow the input's marks
	// (FollowMark) instead of the rows' event times: the input carries
	// its watermark (a Kafka exchange's repartition partition, whose
	// rows come from many source partitions out of event-time order),
	// with Delay already applied upstream. Idleness does not apply.
	ByMarks bool
}

// winKey identifies a window.
type winKey struct{ start, end int64 }

// winHeap orders windows by end then start: the order they close in.
type winHeap []winKey

func (h winHeap) Len() int { return len(h) }
func (h winHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	return h[i].start < h[j].start
}
func (h winHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *winHeap) Push(x any)   { *h = append(*h, x.(winKey)) }
func (h *winHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sessHeap orders session close candidates by end; entries whose session
// has since grown or merged are stale and skipped when popped.
type sessEntry struct {
	end  int64
	sess *session
}
type sessHeap []sessEntry

func (h sessHeap) Len() int { return len(h) }
func (h sessHeap) Less(i, j int) bool {
	if h[i].end != h[j].end {
		return h[i].end < h[j].end
	}
	if h[i].sess.start != h[j].sess.start {
		return h[i].sess.start < h[j].sess.start
	}
	return h[i].sess.stamp < h[j].sess.stamp
}
func (h sessHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sessHeap) Push(x any)   { *h = append(*h, x.(sessEntry)) }
func (h *sessHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// session is one open session window of one key; its aggregates are
// group slot of the operator's session accumulators.
type session struct {
	start, end int64
	slot       uint32
	key        []Value
	keyStr     string
	dead       bool
	// stamp is the rows pushed before the one that opened the session:
	// sessions closing together close in the order they opened, whether
	// one operator or several instances of a ParallelWindow hold them.
	stamp int64
}

// heapPush and heapPop keep the container/heap calls in one place.
func pushWin(h *winHeap, k winKey)      { heap.Push(h, k) }
func popWin(h *winHeap) winKey          { return heap.Pop(h).(winKey) }
func pushSess(h *sessHeap, e sessEntry) { heap.Push(h, e) }
func popSess(h *sessHeap) sessEntry     { return heap.Pop(h).(sessEntry) }
