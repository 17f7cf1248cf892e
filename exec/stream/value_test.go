package stream

import (
	"slices"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Interval Values order as batch ORDER BY orders intervals (months, then
// days, then time, each after carrying 24 h into a day and 30 days into
// a month), not by their bytes; they survive a list and a builder, and
// print as DuckDB prints them.
func TestIntervalValues(t *testing.T) {
	iv := func(m, d int32, ns int64) Value {
		return Interval(arrow.MonthDayNanoInterval{Months: m, Days: d, Nanoseconds: ns})
	}
	const sec = int64(1e9)
	ascending := []Value{
		{},                  // NULL first
		iv(-1, 0, 0),        // a month back
		iv(0, -2, 0),        // two days back
		iv(0, 0, -sec),      // a second back
		iv(0, 0, 0),         // zero
		iv(0, 0, sec),       // 1 s: its bytes sort after 2 s's
		iv(0, 0, 2*sec),     // 2 s
		iv(0, 0, 86000*sec), // just under a day
		iv(0, 1, sec),       // a day and a second
		iv(0, 29, 0),        // 29 days
		iv(1, 0, 0),         // a month
		iv(1, 0, 3600*sec),  // a month and an hour
		iv(12, -1, 0),       // a year less a day
	}
	for i := range ascending {
		for j := range ascending {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := Compare(ascending[i], ascending[j]); got != want {
				t.Errorf("Compare(%v, %v) = %d, want %d", ascending[i], ascending[j], got, want)
			}
		}
	}
	// A day of hours equals a day, as batch compares them.
	if Compare(iv(0, 0, 86400*sec), iv(0, 1, 0)) != 0 || Compare(iv(0, 30, 0), iv(1, 0, 0)) != 0 {
		t.Errorf("24 h vs 1 day or 30 days vs 1 month not equal")
	}
	if got := iv(1, 2, 3*sec).String(); got != "1 month 2 days 00:00:03" {
		t.Errorf("String = %q", got)
	}
	list := Value{K: KList, S: string(appendElem(appendElem(nil, iv(0, 0, sec)), Value{}))}
	elems, err := listElems(list.S)
	if err != nil || !slices.Equal(elems, []Value{iv(0, 0, sec), {}}) {
		t.Errorf("listElems = %v, %v", elems, err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := array.NewMonthDayNanoIntervalBuilder(mem)
	defer b.Release()
	for _, v := range ascending {
		if err := appendValue(b, v); err != nil {
			t.Fatal(err)
		}
	}
	arr := b.NewArray()
	defer arr.Release()
	read, err := reader(arr)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ascending {
		if got := read(i); got != v {
			t.Errorf("row %d reads back %v, want %v", i, got, v)
		}
	}
	if err := appendValue(b, Value{K: KInterval, S: "short"}); err == nil {
		t.Errorf("a 5-byte interval was appended")
	}
}
