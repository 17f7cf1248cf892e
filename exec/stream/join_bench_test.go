package stream

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// joinBenchBatch is batch n of one join input: 1024 rows with ids
// n*1024…, each id once per input, and event times in step with n.
func joinBenchBatch(mem memory.Allocator, schema *arrow.Schema, n int) arrow.Record {
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for i := 0; i < 1024; i++ {
		id := int64(n*1024 + i)
		rb.Field(0).(*array.Int64Builder).Append(id % (1 << 20))
		rb.Field(1).(*array.Int64Builder).Append(id)
		rb.Field(2).(*array.Int64Builder).Append(int64(n)*10 + int64(i%10))
	}
	return rb.NewRecord()
}

// cpuNow is the process's CPU time (user + system): events per
// CPU-second is events per core, whatever else shares the machine.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchJoiner is a Join or a ParallelJoin.
type benchJoiner interface {
	PushSide(ctx context.Context, side int, rec arrow.Record, partition int32) (arrow.Record, error)
	Tick(ctx context.Context, now time.Time) (arrow.Record, error)
	Stats() StateStats
}

// benchJoin pushes b.N pairs of batches (left n, then right n, each id
// matching once, event times rising) through j, ticking the clock 10ms
// per pair, and reports input events per CPU-second (per core) and the
// peak state. Building the batches is not measured.
func benchJoin(b *testing.B, j benchJoiner, clock *ManualClock) {
	mem := memory.NewGoAllocator()
	ctx := context.Background()
	peak, out := 0, 0
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var batch [2]arrow.Record
		for s, schema := range []*arrow.Schema{joinLeft, joinRight} {
			batch[s] = joinBenchBatch(mem, schema, i)
		}
		b.StartTimer()
		c0 := cpuNow(b)
		for s := 0; s < 2; s++ {
			res, err := j.PushSide(ctx, s, batch[s], UnionPartition(s, 0))
			if err != nil {
				b.Fatal(err)
			}
			if res != nil {
				out += int(res.NumRows())
				res.Release()
			}
		}
		if clock != nil {
			clock.Advance(10 * time.Millisecond)
			if res, err := j.Tick(ctx, clock.Now()); err != nil {
				b.Fatal(err)
			} else if res != nil {
				res.Release()
			}
		}
		cpu += cpuNow(b) - c0
		b.StopTimer()
		batch[0].Release()
		batch[1].Release()
		peak = max(peak, j.Stats().Groups)
		b.StartTimer()
	}
	b.ReportMetric(float64(2*1024*b.N)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(peak), "peak-rows")
	if out < 1024*b.N {
		b.Fatalf("the join emitted %d rows for %d matching pairs", out, 1024*b.N)
	}
}

// BenchmarkJoinRegular: a regular inner join of two append-only streams
// on a key each row of one side matches once on the other, with
// 'state.ttl' = 100ms of processing time bounding the state.
func BenchmarkJoinRegular(b *testing.B) {
	clock := NewManualClock(time.Unix(0, 0))
	j, err := NewJoin(memory.NewGoAllocator(), joinLeft, joinRight, JoinSpec{Kind: InnerJoin,
		LeftKeys: []Expr{col(joinLeft, 0)}, RightKeys: []Expr{col(joinRight, 0)}, TTL: 100 * time.Millisecond, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	benchJoin(b, j, clock)
}

// BenchmarkJoinInterval: an interval join (right.ts within [-20, 20] ms
// of left.ts) whose state the watermarks free.
func BenchmarkJoinInterval(b *testing.B) {
	j, err := NewJoin(memory.NewGoAllocator(), joinLeft, joinRight, JoinSpec{Kind: LeftJoin, Timing: IntervalJoin,
		LeftKeys: []Expr{col(joinLeft, 0)}, RightKeys: []Expr{col(joinRight, 0)}, LeftTime: 2, RightTime: 2,
		Lower: -20 * time.Millisecond, Upper: 20 * time.Millisecond, LeftDelay: 10 * time.Millisecond, RightDelay: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	benchJoin(b, j, nil)
}

// BenchmarkParallelJoinInterval: the interval join of
// BenchmarkJoinInterval run serially and as 2 and 4 key-partitioned
// instances behind ParallelJoin's gate (events per CPU-second: the cost
// of the gate, the cut and the instances' goroutines per event).
func BenchmarkParallelJoinInterval(b *testing.B) {
	spec := JoinSpec{Kind: LeftJoin, Timing: IntervalJoin,
		LeftKeys: []Expr{col(joinLeft, 0)}, RightKeys: []Expr{col(joinRight, 0)}, LeftTime: 2, RightTime: 2,
		Lower: -20 * time.Millisecond, Upper: 20 * time.Millisecond, LeftDelay: 10 * time.Millisecond, RightDelay: 10 * time.Millisecond}
	b.Run("serial", func(b *testing.B) {
		j, err := NewJoin(memory.NewGoAllocator(), joinLeft, joinRight, spec)
		if err != nil {
			b.Fatal(err)
		}
		defer j.Close()
		benchJoin(b, j, nil)
	})
	for _, n := range []int{2, 4} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			j, err := NewParallelJoin(memory.NewGoAllocator(), joinLeft, joinRight, spec, n)
			if err != nil {
				b.Fatal(err)
			}
			defer j.Close()
			benchJoin(b, j, nil)
		})
	}
}
