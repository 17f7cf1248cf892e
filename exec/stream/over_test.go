package stream

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

var overIn = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64},
	{Name: "ts", Type: arrow.PrimitiveTypes.Int64},
}, nil)

// overSpec is an OVER aggregate whose kernel appends, to each row, the
// sum of v over the rows of its key in the record at most 2 ms older
// (RANGE BETWEEN 2 PRECEDING AND CURRENT ROW): computed by brute force,
// it is right exactly when the operator hands it every row a frame
// reaches.
func overSpec(t *testing.T) OverSpec {
	out := arrow.NewSchema(append(overIn.Fields(), arrow.Field{Name: "s", Type: arrow.PrimitiveTypes.Int64}), nil)
	mem := checkedMem(t)
	kernel := func(_ context.Context, rec arrow.Record) ([]arrow.Record, error) {
		rows, err := readRows(rec)
		if err != nil {
			return nil, err
		}
		var res [][]Value
		for _, r := range rows {
			var s int64
			for _, o := range rows {
				if o[0].I == r[0].I && o[2].I <= r[2].I && o[2].I >= r[2].I-2 {
					s += o[1].I
				}
			}
			res = append(res, append(append([]Value(nil), r...), Int(s)))
		}
		rb := array.NewRecordBuilder(mem, out)
		defer rb.Release()
		rec2, err := buildRecord(rb, res)
		if err != nil {
			return nil, err
		}
		return []arrow.Record{rec2}, nil
	}
	return OverSpec{TimeCol: 2, Partition: []int{0}, Range: 2, Kernel: kernel, Out: out}
}

// TestOverAggregate: rows come out once the watermark passes them, with
// frames that reach back over earlier emissions; a row behind the
// watermark is late; a run restored from a snapshot taken midway ends
// with the same rows; the state holds only what later frames reach.
func TestOverAggregate(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	var rows []string
	for i := 0; i < 40; i++ {
		rows = append(rows, fmt.Sprintf(`{"k":%d,"v":%d,"ts":%d}`, i%3, i, i/2))
	}
	rows = append(rows, `{"k":1,"v":100,"ts":3}`) // late
	run := func(restoreAt int) ([]string, int64, int) {
		o, err := NewOverAggregate(mem, overIn, overSpec(t))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { o.Close() }()
		var out []string
		most := 0
		collect := func(rec arrow.Record, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			if rec != nil {
				out = append(out, rowsOf(t, rec)...)
				rec.Release()
			}
		}
		for i, r := range rows {
			rec := fromJSON(t, mem, overIn, "["+r+"]")
			collect(o.Push(ctx, rec, 0))
			rec.Release()
			most = max(most, o.Stats().Groups)
			if i == restoreAt {
				snap, err := o.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
				if o, err = NewOverAggregate(mem, overIn, overSpec(t)); err != nil {
					t.Fatal(err)
				}
				if err := o.Restore(snap); err != nil {
					t.Fatal(err)
				}
			}
		}
		collect(o.Finish(ctx))
		sort.Strings(out)
		return out, o.Late(), most
	}
	got, late, most := run(-1)
	var want []string
	for i := 0; i < 40; i++ {
		var s int64
		for j := 0; j < 40; j++ {
			if j%3 == i%3 && j/2 <= i/2 && j/2 >= i/2-2 {
				s += int64(j)
			}
		}
		want = append(want, fmt.Sprintf("%d|%d|%d|%d", i%3, i, i/2, s))
	}
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if late != 1 {
		t.Fatalf("%d late rows, want 1", late)
	}
	if most > 12 {
		t.Fatalf("held up to %d rows, want at most the rows 2 ms before the watermark and the waiting ones", most)
	}
	restored, _, _ := run(17)
	if strings.Join(restored, ",") != strings.Join(want, ",") {
		t.Fatalf("restored run: got %v\nwant %v", restored, want)
	}
}

// TestOverAggregateSweepsIdleKeys: a RANGE frame's rows of keys that stop
// receiving rows are freed once the watermark passes their frame, not
// kept until the key's next row: 200 keys with a few rows each, then
// one key alone for a long while, leave only that key's last frame.
// Restored from a snapshot, the sweep goes on.
func TestOverAggregateSweepsIdleKeys(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	o, err := NewOverAggregate(mem, overIn, overSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { o.Close() }()
	push := func(js string) {
		t.Helper()
		rec := fromJSON(t, mem, overIn, js)
		defer rec.Release()
		out, err := o.Push(ctx, rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
	}
	for k := 0; k < 200; k++ {
		push(fmt.Sprintf(`[{"k":%d,"v":1,"ts":%d},{"k":%d,"v":2,"ts":%d}]`, k, k/20, k, k/20+1))
	}
	if g := o.Stats().Groups; g < 40 {
		t.Fatalf("only %d rows held while the keys are within the frame: the test proves nothing", g)
	}
	for ts := 12; ts < 30; ts++ {
		push(fmt.Sprintf(`[{"k":0,"v":1,"ts":%d}]`, ts))
		if ts == 20 {
			snap, err := o.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			o.Close()
			if o, err = NewOverAggregate(mem, overIn, overSpec(t)); err != nil {
				t.Fatal(err)
			}
			if err := o.Restore(snap); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Watermark 29: key 0's rows at 27..29 (frame 2 ms) and the row
	// waiting at 29 are all a later row can need.
	if g := o.Stats().Groups; g > 4 {
		t.Fatalf("%d rows held after the other 199 keys went idle, want ≤ 4", g)
	}
}
