package stream

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// BenchmarkWindowTumble folds 64K rows of 30 keys (randomEvents) in
// 8192-row batches into a TUMBLE … EMIT FINAL, as one operator and as a
// ParallelWindow of 2: every row's event time moves the watermark. Its
// cpu-ns/op (the process's user+system time, all goroutines) is the
// figure to compare, since the instances run concurrently.
func BenchmarkWindowTumble(b *testing.B) {
	mem := checkedMem(b)
	rec := randomEvents(mem, 1<<16, 1)
	defer rec.Release()
	batches := cut(rec, 8192)
	defer func() {
		for _, r := range batches {
			r.Release()
		}
	}()
	spec := WindowSpec{Kind: Tumble, TimeCol: 0, Size: 2 * time.Second}
	opts := WindowOptions{Delay: 2 * time.Second, Late: LateDrop}
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			ctx := context.Background()
			start := cpuTime()
			b.ResetTimer()
			for range b.N {
				var node Node
				if n == 1 {
					node = OperatorNode(newWinAgg(b, mem, spec, opts))
				} else {
					p, err := NewParallelWindow(mem, []Expr{col(evSchema, 1)}, n, func(int) (*WindowAggregate, error) {
						return newWinAgg(b, mem, spec, opts), nil
					})
					if err != nil {
						b.Fatal(err)
					}
					node = p
				}
				release := func(out arrow.Record, err error) {
					if err != nil {
						b.Fatal(err)
					}
					if out != nil {
						out.Release()
					}
				}
				for _, r := range batches {
					release(node.Push(ctx, 0, exec.Batch{Record: r}))
				}
				release(node.Finish(ctx, 0))
				node.Close()
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
