package stream

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

func TestInputMarks(t *testing.T) {
	type step struct {
		input  int
		mark   Mark
		finish bool
		want   Mark
		moved  bool
	}
	for _, tc := range []struct {
		name  string
		n     int
		steps []step
	}{
		{"min over inputs", 2, []step{
			{input: 0, mark: Mark{Time: 10}, want: NoMark},
			{input: 1, mark: Mark{Time: 5}, want: Mark{Time: 5}, moved: true},
			{input: 1, mark: Mark{Time: 20}, want: Mark{Time: 10}, moved: true},
		}},
		{"never backwards", 1, []step{
			{input: 0, mark: Mark{Time: 10}, want: Mark{Time: 10}, moved: true},
			{input: 0, mark: Mark{Time: 3}, want: Mark{Time: 10}},
		}},
		{"an idle input does not hold the min back", 2, []step{
			{input: 0, mark: Mark{Time: 30}, want: NoMark},
			{input: 1, mark: Mark{Time: 1, Idle: true}, want: Mark{Time: 30}, moved: true},
			{input: 1, mark: Mark{Time: 2}, want: Mark{Time: 30}},
		}},
		{"all idle: the max", 2, []step{
			{input: 0, mark: Mark{Time: 30, Idle: true}, want: NoMark},
			{input: 1, mark: Mark{Time: 40, Idle: true}, want: Mark{Time: 40, Idle: true}, moved: true},
			{input: 1, mark: Mark{Time: 41}, want: Mark{Time: 41}, moved: true},
		}},
		{"a finished input is +inf", 2, []step{
			{input: 0, mark: Mark{Time: 7}, want: NoMark},
			{input: 1, finish: true, want: Mark{Time: 7}, moved: true},
			{input: 0, finish: true, want: Mark{Time: MaxWatermark}, moved: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewInputMarks(tc.n)
			for i, s := range tc.steps {
				var moved bool
				if s.finish {
					moved = m.Finish(s.input)
				} else {
					moved = m.Set(s.input, s.mark)
				}
				if m.Mark() != s.want || moved != s.moved {
					t.Fatalf("step %d: mark %+v moved %v, want %+v moved %v", i, m.Mark(), moved, s.want, s.moved)
				}
			}
		})
	}
}

// recordingNode is a two-input node for tests: it passes every batch on,
// tagged with nothing, and records the messages it heard.
type recordingNode struct {
	schema *arrow.Schema
	in     *InputMarks
	log    []string
	closed bool
}

func (r *recordingNode) Schema() *arrow.Schema   { return r.schema }
func (r *recordingNode) SinkMode() exec.SinkMode { return exec.SinkMode{} }
func (r *recordingNode) Push(_ context.Context, input int, b exec.Batch) (arrow.Record, error) {
	r.log = append(r.log, fmt.Sprintf("push %d: %d rows", input, b.Record.NumRows()))
	b.Record.Retain()
	return b.Record, nil
}
func (r *recordingNode) Advance(_ context.Context, input int, m Mark) (arrow.Record, error) {
	r.log = append(r.log, fmt.Sprintf("mark %d: %d", input, m.Time))
	r.in.Set(input, m)
	return nil, nil
}
func (r *recordingNode) Watermark() Mark                                       { return r.in.Mark() }
func (r *recordingNode) Tick(context.Context, time.Time) (arrow.Record, error) { return nil, nil }
func (r *recordingNode) Finish(_ context.Context, input int) (arrow.Record, error) {
	r.log = append(r.log, fmt.Sprintf("finish %d", input))
	r.in.Finish(input)
	return nil, nil
}
func (r *recordingNode) Snapshot() ([]byte, error) { return []byte(fmt.Sprint(len(r.log))), nil }
func (r *recordingNode) Restore(b []byte) error {
	r.log = append(r.log, "restored "+string(b))
	return nil
}
func (r *recordingNode) Stats() StateStats { return StateStats{Groups: len(r.log)} }
func (r *recordingNode) Close() error      { r.closed = true; return nil }

// twoSourceGraph is source 0 and source 1 (each with its own watermark
// delay) → a recording two-input node → a GroupAggregate counting by k
// and summing v.
func twoSourceGraph(t *testing.T, rec *recordingNode) *Graph {
	t.Helper()
	mem := checkedMem(t)
	g, err := NewGroupAggregate(mem, evSchema, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}},
		[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(evSchema, 2), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	graph, err := NewGraph(mem, GraphSpec{
		Sources: []GraphSource{
			{Name: "a", Schema: evSchema, Watermark: &SourceWatermark{TimeCol: 0}},
			{Name: "b", Schema: evSchema, Watermark: &SourceWatermark{TimeCol: 0, Delay: 10 * time.Millisecond}},
		},
		Nodes: []GraphNode{
			{Name: "0:rec", Node: rec, Inputs: []Port{FromSource(0), FromSource(1)}},
			{Name: "1:GroupAggregate", Node: OperatorNode(g), Inputs: []Port{FromNode(0)}},
		},
		Output:       1,
		ReaderInputs: []int{0, 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { graph.Close() })
	return graph
}

// TestGraphTwoSources runs two sources through a two-input node into an
// aggregate: each input hears its own source's watermark after that
// source's batch, the node's watermark is the minimum, the aggregate's
// output is the changelog of both inputs' rows, and Finish ends each input
// once.
func TestGraphTwoSources(t *testing.T) {
	ctx := context.Background()
	rec := &recordingNode{schema: evSchema, in: NewInputMarks(2)}
	graph := twoSourceGraph(t, rec)
	mem := checkedMem(t)
	push := func(input int, evs []ev) []string {
		t.Helper()
		r := evRecord(mem, evs)
		defer r.Release()
		out, err := graph.Push(ctx, r, UnionPartition(input, 0))
		if err != nil {
			t.Fatal(err)
		}
		if out == nil {
			return nil
		}
		defer out.Release()
		return rowsOf(t, out)
	}
	if got, want := push(0, []ev{{ts: 100, k: "x", v: 1}, {ts: 50, k: "y", v: 2}}), []string{"+I|x|1|1", "+I|y|1|2"}; !slices.Equal(got, want) {
		t.Errorf("first output %v, want %v", got, want)
	}
	if got, want := push(1, []ev{{ts: 40, k: "x", v: 5}}), []string{"-U|x|1|1", "+U|x|2|6"}; !slices.Equal(got, want) {
		t.Errorf("second output %v, want %v", got, want)
	}
	if m := rec.Watermark(); m.Time != 30 {
		t.Errorf("node watermark %d, want min(100, 40-10) = 30", m.Time)
	}
	out, err := graph.Finish(ctx)
	if err != nil || out != nil {
		t.Fatalf("Finish: %v, %v", out, err)
	}
	want := []string{"push 0: 2 rows", "mark 0: 100", "push 1: 1 rows", "mark 1: 30", "finish 0", "finish 1"}
	if !slices.Equal(rec.log, want) {
		t.Errorf("messages %q, want %q", rec.log, want)
	}
	if st := graph.Stats(); st.Groups != 2+len(want) {
		t.Errorf("stats %+v, want the aggregate's 2 groups and the recorder's %d", st, len(want))
	}
}

// TestGraphCheckpointParts checks that each stateful node writes its own
// named part and a restored graph continues from it, and that a part of
// an unknown node is refused.
func TestGraphCheckpointParts(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	rec := &recordingNode{schema: evSchema, in: NewInputMarks(2)}
	graph := twoSourceGraph(t, rec)
	r := evRecord(mem, []ev{{ts: 1, k: "x", v: 3}})
	defer r.Release()
	out, err := graph.Push(ctx, r, UnionPartition(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	out.Release()
	ck := NewCheckpointer(t.TempDir(), 0, 0)
	if err := ck.saveFor(graph, exec.Offsets{"p": 1}, nil, ck.NextSeq()); err != nil {
		t.Fatal(err)
	}
	cp, err := ck.Load()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range cp.State {
		names = append(names, p.Name)
	}
	if want := []string{"0:rec", "1:GroupAggregate"}; !slices.Equal(names, want) {
		t.Fatalf("parts %v, want %v", names, want)
	}
	rec2 := &recordingNode{schema: evSchema, in: NewInputMarks(2)}
	graph2 := twoSourceGraph(t, rec2)
	if _, err := NewCheckpointer(ck.Dir(), 0, 0).Restore(graph2); err != nil {
		t.Fatal(err)
	}
	if want := []string{"restored 2"}; !slices.Equal(rec2.log, want) {
		t.Errorf("recorder after restore %q, want %q", rec2.log, want)
	}
	out, err = graph2.Push(ctx, r, UnionPartition(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if got, want := rowsOf(t, out), []string{"-U|x|1|3", "+U|x|2|6"}; !slices.Equal(got, want) {
		t.Errorf("restored aggregate emitted %v, want %v", got, want)
	}
	err = graph2.RestoreParts([]OperatorState{{Name: "2:TopN", Data: []byte("x")}})
	if err == nil {
		t.Error("a part of an unknown node was accepted")
	}
}

// TestNewGraphRefusesBadShapes checks the graph's shape errors.
func TestNewGraphRefusesBadShapes(t *testing.T) {
	mem := checkedMem(t)
	node := func() Node { return &recordingNode{schema: evSchema, in: NewInputMarks(1)} }
	for _, tc := range []struct {
		name string
		spec GraphSpec
	}{
		{"no sources", GraphSpec{Nodes: []GraphNode{{Name: "a", Node: node(), Inputs: []Port{FromSource(0)}}}}},
		{"forward edge", GraphSpec{Sources: []GraphSource{{Schema: evSchema}}, Nodes: []GraphNode{
			{Name: "a", Node: node(), Inputs: []Port{FromNode(1)}}, {Name: "b", Node: node(), Inputs: []Port{FromSource(0)}}}}},
		{"unknown source", GraphSpec{Sources: []GraphSource{{Schema: evSchema}}, Nodes: []GraphNode{{Name: "a", Node: node(), Inputs: []Port{FromSource(1)}}}}},
		{"same name twice", GraphSpec{Sources: []GraphSource{{Schema: evSchema}}, Nodes: []GraphNode{
			{Name: "a", Node: node(), Inputs: []Port{FromSource(0)}}, {Name: "a", Node: node(), Inputs: []Port{FromNode(0)}}}, Output: 1}},
		{"output out of range", GraphSpec{Sources: []GraphSource{{Schema: evSchema}}, Nodes: []GraphNode{{Name: "a", Node: node(), Inputs: []Port{FromSource(0)}}}, Output: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewGraph(mem, tc.spec); err == nil {
				t.Errorf("accepted")
			}
		})
	}
}

// TestGraphSourceIdle checks idleness per input: a source whose
// partitions all went idle sends an idle mark, and the two-input node's
// watermark then follows the other source alone.
func TestGraphSourceIdle(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	clock := NewManualClock(time.Unix(0, 0))
	rec := &recordingNode{schema: evSchema, in: NewInputMarks(2)}
	wm := func(idle time.Duration) *SourceWatermark { return &SourceWatermark{TimeCol: 0, Idle: idle} }
	graph, err := NewGraph(mem, GraphSpec{
		Sources:      []GraphSource{{Name: "a", Schema: evSchema, Watermark: wm(time.Minute)}, {Name: "b", Schema: evSchema, Watermark: wm(time.Second)}},
		Nodes:        []GraphNode{{Name: "0:rec", Node: rec, Inputs: []Port{FromSource(0), FromSource(1)}}},
		ReaderInputs: []int{0, 1},
		Clock:        clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer graph.Close()
	push := func(input int, ts int64) {
		t.Helper()
		r := evRecord(mem, []ev{{ts: ts, k: "x", v: 1}})
		defer r.Release()
		out, err := graph.Push(ctx, r, UnionPartition(input, 0))
		if err != nil {
			t.Fatal(err)
		}
		out.Release()
	}
	push(1, 10)
	push(0, 500)
	if m := rec.Watermark(); m.Time != 10 {
		t.Fatalf("watermark %+v, want the slower source's 10", m)
	}
	clock.Advance(2 * time.Second)
	if out, err := graph.Tick(ctx, clock.Now()); err != nil || out != nil {
		t.Fatalf("Tick: %v %v", out, err)
	}
	if m := rec.in.Input(1); !m.Idle {
		t.Errorf("input 1 mark %+v after its idle timeout, want idle", m)
	}
	if m := rec.Watermark(); m.Time != 500 || m.Idle {
		t.Errorf("watermark %+v, want source a's 500 once b is idle", m)
	}
}
