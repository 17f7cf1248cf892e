package stream

import (
	"context"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/expr"
)

// benchBatches builds count batches of size rows over 100 keys.
func benchBatches(mem memory.Allocator, count, size int) []arrow.Record {
	var out []arrow.Record
	for b := 0; b < count; b++ {
		rb := array.NewRecordBuilder(mem, kvSchema)
		for i := 0; i < size; i++ {
			rb.Field(0).(*array.StringBuilder).Append(fmt.Sprint("key", (b*size+i*7)%100))
			rb.Field(1).(*array.Int64Builder).Append(int64(i))
		}
		out = append(out, rb.NewRecord())
		rb.Release()
	}
	return out
}

func BenchmarkChangesGroupBy(b *testing.B) {
	mem := checkedMem(b)
	batches := benchBatches(mem, 8, 1024)
	defer releaseAll(batches)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}, {Func: AggCountStar, Name: "n"}})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var rows int
	for i := 0; i < b.N; i++ {
		in := batches[i%len(batches)]
		out, err := g.Push(ctx, in, 0)
		if err != nil {
			b.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
		rows += int(in.NumRows())
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkStatelessFilterProject(b *testing.B) {
	mem := checkedMem(b)
	batches := benchBatches(mem, 8, 1024)
	defer releaseAll(batches)
	feed := NewFeed(kvSchema)
	pred, err := expr.Call("gt", []expr.Expr{expr.Column(1, arrow.PrimitiveTypes.Int64, "v"), expr.Literal(arrow.PrimitiveTypes.Int64, int64(100))}, arrow.FixedWidthTypes.Boolean)
	if err != nil {
		b.Skip(err)
	}
	proj, err := exec.NewProject(mem, exec.NewFilter(mem, feed, pred),
		[]expr.Expr{expr.Column(1, arrow.PrimitiveTypes.Int64, "v"), expr.Column(0, arrow.BinaryTypes.String, "k")}, []string{"v", "k"})
	if err != nil {
		b.Fatal(err)
	}
	defer proj.Close()
	tr := OperatorTransform(mem, feed, proj)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var rows int
	for i := 0; i < b.N; i++ {
		in := batches[i%len(batches)]
		out, err := tr(ctx, in)
		if err != nil {
			b.Fatal(err)
		}
		if out != nil {
			out.Release()
		}
		rows += int(in.NumRows())
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "events/s")
}

// pacedReader produces one-row batches at a fixed rate, stamping each with
// its arrival time (wall clock, nanoseconds) in column v.
type pacedReader struct {
	mem   memory.Allocator
	every time.Duration
	left  int
	next  time.Time
}

func (r *pacedReader) Next(ctx context.Context) (exec.Batch, error) {
	if r.left == 0 {
		return exec.Batch{}, io.EOF
	}
	r.left--
	if d := time.Until(r.next); d > 0 {
		time.Sleep(d) // pacing the benchmark's input, not synchronising a test
	}
	r.next = r.next.Add(r.every)
	rb := array.NewRecordBuilder(r.mem, kvSchema)
	defer rb.Release()
	rb.Field(0).(*array.StringBuilder).Append(fmt.Sprint("key", r.left%100))
	rb.Field(1).(*array.Int64Builder).Append(time.Now().UnixNano())
	return exec.Batch{Record: rb.NewRecord()}, nil
}

func (r *pacedReader) Offsets() exec.Offsets { return nil }
func (r *pacedReader) Partitions() []int32   { return []int32{0} }
func (r *pacedReader) Close() error          { return nil }

// BenchmarkContinuousLatency measures arrival→emit latency of EMIT CHANGES
// GROUP BY through RunContinuous at 10,000 events/s.
func BenchmarkContinuousLatency(b *testing.B) {
	mem := checkedMem(b)
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggMax, Arg: col(kvSchema, 1), Name: "sent"}})
	if err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	emit := func(_ context.Context, rec arrow.Record) error {
		now := time.Now()
		ops := rec.Column(0).(*array.Int8)
		sent := rec.Column(2).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			if exec.Op(ops.Value(i)) != exec.OpUpdateBefore {
				lat = append(lat, now.Sub(time.Unix(0, sent.Value(i))))
			}
		}
		return nil
	}
	r := &pacedReader{mem: mem, every: 100 * time.Microsecond, left: b.N, next: time.Now()}
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: emit}
	b.ResetTimer()
	if err := p.RunContinuous(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
}
