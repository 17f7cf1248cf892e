package stream

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
)

var kvSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

var clSchema = arrow.NewSchema([]arrow.Field{
	opField,
	{Name: "k", Type: arrow.BinaryTypes.String},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func TestGroupAggregateChangelogSequence(t *testing.T) {
	input := `[{"k":"a","v":1},{"k":"b","v":2},{"k":"a","v":3},{"k":"b","v":null}]`
	tests := []struct {
		name      string
		batchSize int
		want      []string
	}{
		{"row by row", 1, []string{
			"+I|a|1|1|1", "+I|b|2|1|1",
			"-U|a|1|1|1", "+U|a|4|2|2",
			"-U|b|2|1|1", "+U|b|2|2|1",
		}},
		{"two-row batches compact per batch", 2, []string{
			"+I|a|1|1|1", "+I|b|2|1|1",
			"-U|a|1|1|1", "+U|a|4|2|2",
			"-U|b|2|1|1", "+U|b|2|2|1",
		}},
		{"one batch", 4, []string{"+I|a|4|2|2", "+I|b|2|2|1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			rec := fromJSON(t, mem, kvSchema, input)
			defer rec.Release()
			g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}}, []AggSpec{
				{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"},
				{Func: AggCountStar, Name: "n"},
				{Func: AggCount, Arg: col(kvSchema, 1), Name: "c"},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			batches := cut(rec, tc.batchSize)
			defer releaseAll(batches)
			got := pushAll(t, g, batches, true)
			if !equalStrings(got, tc.want) {
				t.Fatalf("changelog\n got %q\nwant %q", got, tc.want)
			}
			if s := g.Stats(); s.Groups != 2 || s.Bytes <= 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestGroupAggregateRetractions(t *testing.T) {
	tests := []struct {
		name  string
		aggs  func() []AggSpec
		input string
		want  []string
	}{
		{
			name: "min max under retraction",
			aggs: func() []AggSpec {
				return []AggSpec{{Func: AggMin, Arg: col(clSchema, 2), Name: "lo"}, {Func: AggMax, Arg: col(clSchema, 2), Name: "hi"}}
			},
			input: `[{"op":0,"k":"a","v":5},{"op":0,"k":"a","v":3},{"op":0,"k":"a","v":7},
				{"op":3,"k":"a","v":3},{"op":3,"k":"a","v":7},{"op":3,"k":"a","v":5}]`,
			want: []string{
				"+I|a|5|5",
				"-U|a|5|5", "+U|a|3|5",
				"-U|a|3|5", "+U|a|3|7",
				"-U|a|3|7", "+U|a|5|7",
				"-U|a|5|7", "+U|a|5|5",
				"-D|a|5|5",
			},
		},
		{
			name: "count distinct, sum and avg retract",
			aggs: func() []AggSpec {
				return []AggSpec{{Func: AggCountDistinct, Arg: col(clSchema, 2), Name: "d"},
					{Func: AggSum, Arg: col(clSchema, 2), Name: "s"},
					{Func: AggAvg, Arg: col(clSchema, 2), Name: "m"}}
			},
			input: `[{"op":0,"k":"a","v":1},{"op":0,"k":"a","v":1},{"op":0,"k":"a","v":2},
				{"op":1,"k":"a","v":1},{"op":2,"k":"a","v":4},{"op":3,"k":"a","v":1}]`,
			want: []string{
				"+I|a|1|1|1",
				"-U|a|1|1|1", "+U|a|1|2|1",
				"-U|a|1|2|1", "+U|a|2|4|1.33333",
				"-U|a|2|4|1.33333", "+U|a|2|3|1.5",
				"-U|a|2|3|1.5", "+U|a|3|7|2.33333",
				"-U|a|3|7|2.33333", "+U|a|2|6|3",
			},
		},
		{
			name:  "retraction of an unknown group is ignored",
			aggs:  func() []AggSpec { return []AggSpec{{Func: AggCountStar, Name: "n"}} },
			input: `[{"op":3,"k":"z","v":1},{"op":0,"k":"a","v":1}]`,
			want:  []string{"+I|a|1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			rec := fromJSON(t, mem, clSchema, tc.input)
			defer rec.Release()
			g, err := NewGroupAggregate(mem, clSchema, []GroupKey{{Expr: col(clSchema, 1), Name: "k"}}, tc.aggs())
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			batches := cut(rec, 1)
			defer releaseAll(batches)
			got := pushAll(t, g, batches, true)
			if !equalStrings(got, tc.want) {
				t.Fatalf("changelog\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestGroupAggregateRejectsBadSpecs(t *testing.T) {
	mem := checkedMem(t)
	if _, err := NewGroupAggregate(mem, kvSchema, nil, []AggSpec{{Func: AggSum, Name: "s"}}); err == nil {
		t.Fatal("SUM without argument accepted")
	}
	if _, err := NewGroupAggregate(mem, kvSchema, nil, []AggSpec{{Func: AggSum, Arg: col(kvSchema, 0), Name: "s"}}); err == nil {
		t.Fatal("SUM of strings accepted")
	}
}
