package sluice_test

// End-to-end streaming benchmarks (issue 4): SQL text → planner → stream
// pipeline → Rows, fed by the generator connector.
//
//	go test -run XXX -bench 'StreamLatency' -benchtime 3x .
//	go test -run XXX -bench 'StreamThroughput' -benchtime 3x .
//
// The operator-level versions (no SQL, no Rows channel, synthetic input)
// are in exec/stream/bench_test.go.

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
)

// benchStart is the generator's start_time: row i has event time
// benchStart + i*spacing (no disorder), which is how the latency
// benchmarks recover each row's index from its ts.
var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// countingAllocator is the Go allocator with an allocation counter. The
// benchmarks use it instead of memory.CheckedAllocator, whose
// runtime.Callers on every allocation would dominate the profile, while
// still failing on a leak (AssertZero).
type countingAllocator struct {
	mem memory.Allocator
	sz  atomic.Int64
}

func newCountingAllocator() *countingAllocator {
	return &countingAllocator{mem: memory.NewGoAllocator()}
}

func (a *countingAllocator) Allocate(n int) []byte {
	a.sz.Add(int64(n))
	return a.mem.Allocate(n)
}

func (a *countingAllocator) Reallocate(n int, b []byte) []byte {
	a.sz.Add(int64(n - len(b)))
	return a.mem.Reallocate(n, b)
}

func (a *countingAllocator) Free(b []byte) {
	a.sz.Add(-int64(len(b)))
	a.mem.Free(b)
}

func (a *countingAllocator) assertZero(b testing.TB) {
	b.Helper()
	if n := a.sz.Load(); n != 0 {
		b.Errorf("arrow memory leaked: %d bytes still allocated", n)
	}
}

// openGenerator opens a DB over allocator mem with a generator source g
// (category, value, ts with a 1s watermark delay). rps 0 = as fast as
// possible; maxRows < 0 = unbounded; batch 0 = the default batch size.
func openGenerator(b testing.TB, mem memory.Allocator, rps, maxRows int64, categories, batch int) *sluice.DB {
	b.Helper()
	db, err := sluice.Open(sluice.Config{Allocator: mem, BatchSize: batch})
	if err != nil {
		b.Fatal(err)
	}
	bound := ""
	if maxRows >= 0 {
		bound = fmt.Sprintf(", max_rows='%d'", maxRows)
	}
	ddl := fmt.Sprintf(`CREATE SOURCE g (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH (connector='generator', rows_per_second='%d', categories='%d', seed='1', start_time='%s'%s)`,
		rps, categories, benchStart.Format("2006-01-02 15:04:05"), bound)
	if err := db.Exec(context.Background(), ddl); err != nil {
		b.Fatal(err)
	}
	return db
}

// colIndex finds a column by name in rec's schema.
func colIndex(tb testing.TB, s *arrow.Schema, name string) int {
	tb.Helper()
	idx := s.FieldIndices(name)
	if len(idx) == 0 {
		tb.Fatalf("no column %q in %s", name, s)
	}
	return idx[0]
}

// latencyProbe turns emitted records into per-row latencies. Arrival of
// generator row i is its scheduled release time t0 + i*spacing (the
// generator's token bucket releases row i at reader start + i/rps; t0 is
// taken just before db.Query, so the reader starts a little after t0 and
// the figures err on the high side by at most the query's setup time).
type latencyProbe struct {
	t0      time.Time
	spacing time.Duration
	last    int64 // highest row index accounted for; -1 at start
	lat     []time.Duration
	setup   time.Duration // t0 → db.Query returned: the bound on the bias
}

// rowIndex maps an event time (µs) to the generator row index.
func (p *latencyProbe) rowIndex(tsMicros int64) int64 {
	return (tsMicros - benchStart.UnixMicro()) / p.spacing.Microseconds()
}

// coverUpTo records rows last+1 … idx as emitted at now: in a continuous
// run each input batch (consecutive rows, in order) yields one output
// record, so the record whose largest ts is row idx is the one that
// carries the effect of every row after the previous record's largest.
func (p *latencyProbe) coverUpTo(idx int64, now time.Time) {
	for i := p.last + 1; i <= idx; i++ {
		p.lat = append(p.lat, now.Sub(p.t0.Add(time.Duration(i)*p.spacing)))
	}
	if idx > p.last {
		p.last = idx
	}
}

func (p *latencyProbe) report(b *testing.B) {
	if len(p.lat) == 0 {
		b.Fatal("no latencies recorded")
	}
	slices.Sort(p.lat)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(p.lat[len(p.lat)/2]), "p50_ms")
	b.ReportMetric(ms(p.lat[len(p.lat)*99/100]), "p99_ms")
	b.ReportMetric(ms(p.lat[len(p.lat)-1]), "max_ms")
}

// BenchmarkStreamLatency measures arrival → emitted row through SQL on a
// paced generator: each iteration streams one second of input at the given
// rate and every input row gets a latency sample. The group-by adds
// MAX(ts) so an output record tells which input rows it covers (the 100
// keys are each touched many times per second); the stateless query
// reports each row's ts directly. The batch256 runs set Config.BatchSize
// to 256: the generator reserves a full batch of builder capacity for
// every linger-flushed ~100-row batch, and at the default 8192 that
// garbage (≈3 KB per row) makes GC pauses the p99.
func BenchmarkStreamLatency(b *testing.B) {
	queries := []struct {
		name, sql, tsCol string
	}{
		{"groupby", `SELECT category, SUM(value) AS total, MAX(ts) AS last_ts FROM g GROUP BY category EMIT CHANGES`, "last_ts"},
		{"stateless", `SELECT category, value, ts FROM g WHERE value > 10 EMIT CHANGES`, "ts"},
	}
	for _, cfg := range []struct {
		rate  int64
		batch int
	}{{10_000, 0}, {100_000, 0}, {100_000, 256}} {
		rate := cfg.rate
		for _, q := range queries {
			name := fmt.Sprintf("%s/%dk_rows_per_s", q.name, rate/1000)
			if cfg.batch > 0 {
				name += fmt.Sprintf("/batch%d", cfg.batch)
			}
			b.Run(name, func(b *testing.B) {
				mem := newCountingAllocator()
				db := openGenerator(b, mem, rate, rate, 100, cfg.batch)
				defer db.Close()
				var all []time.Duration
				var setup time.Duration
				noise := startNoiseProbe()
				for i := 0; i < b.N; i++ {
					p := runLatency(b, db, q.sql, q.tsCol, time.Second/time.Duration(rate))
					if len(p.lat) != int(rate) && q.name == "groupby" {
						b.Fatalf("latency for %d rows, want %d", len(p.lat), rate)
					}
					all = append(all, p.lat...)
					setup = max(setup, p.setup)
				}
				(&latencyProbe{lat: all}).report(b)
				b.ReportMetric(noise(), "sched_p99_ms")
				b.ReportMetric(float64(setup)/1e6, "setup_ms")
				mem.assertZero(b)
			})
		}
	}
}

// runLatency runs one bounded continuous query and returns its probe.
func runLatency(b *testing.B, db *sluice.DB, query, tsCol string, spacing time.Duration) *latencyProbe {
	ctx := context.Background()
	p := &latencyProbe{spacing: spacing, last: -1, t0: time.Now()}
	rows, err := db.Query(ctx, query)
	if err != nil {
		b.Fatal(err)
	}
	p.setup = time.Since(p.t0)
	defer rows.Close()
	if !rows.Changelog() {
		b.Fatal("EMIT CHANGES result is not a changelog")
	}
	tsIdx := colIndex(b, rows.Schema(), tsCol)
	for rows.Next() {
		now := time.Now()
		rec := rows.Record()
		ts := rec.Column(tsIdx).(*array.Timestamp)
		ops := rec.Column(0).(*array.Int8)
		if tsCol == "ts" { // stateless: each output row is one input row
			for r := 0; r < int(rec.NumRows()); r++ {
				p.lat = append(p.lat, now.Sub(p.t0.Add(time.Duration(p.rowIndex(int64(ts.Value(r))))*spacing)))
			}
			continue
		}
		maxIdx := int64(-1)
		for r := 0; r < int(rec.NumRows()); r++ {
			if exec.Op(ops.Value(r)) == exec.OpUpdateBefore || ts.IsNull(r) {
				continue
			}
			maxIdx = max(maxIdx, p.rowIndex(int64(ts.Value(r))))
		}
		p.coverUpTo(maxIdx, now)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return p
}

// startNoiseProbe measures the machine's scheduling noise while a latency
// benchmark runs: a goroutine sleeps 1ms at a time and records how late it
// wakes. The returned func stops it and gives the p99 lateness in ms: a
// latency p99 close to it is the host, not the engine.
func startNoiseProbe() func() float64 {
	stop := make(chan struct{})
	done := make(chan []time.Duration)
	go func() {
		var late []time.Duration
		for {
			select {
			case <-stop:
				done <- late
				return
			default:
			}
			t := time.Now()
			time.Sleep(time.Millisecond) // the probe itself: how late does a 1ms sleep wake?
			late = append(late, time.Since(t)-time.Millisecond)
		}
	}()
	return func() float64 {
		close(stop)
		late := <-done
		if len(late) == 0 {
			return 0
		}
		slices.Sort(late)
		return float64(late[len(late)*99/100]) / 1e6
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// drain runs query to its end and returns the rows it output, the wall
// and CPU time. For a stream it checks that all wantIn rows went in.
func drain(b *testing.B, db *sluice.DB, query string, wantIn int64) (rowsOut int64, wall, cpu time.Duration) {
	ctx := context.Background()
	c0, w0 := cpuTime(), time.Now()
	rows, err := db.Query(ctx, query)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		rowsOut += rows.Record().NumRows()
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if st := rows.Stats(); rows.Changelog() && st.RowsIn != wantIn {
		b.Fatalf("%s: %d rows in, want %d", query, st.RowsIn, wantIn)
	}
	rows.Close()
	return rowsOut, time.Since(w0), cpuTime() - c0
}

// BenchmarkStreamThroughput measures events/s through SQL on an unpaced
// generator (rows_per_second = 0, max_rows bounded): the EMIT CHANGES
// query, then the same query without EMIT (batch mode) in the same
// iteration as the baseline. events_per_cpu_s divides by the process CPU
// time (getrusage), i.e. events/s/core whatever GOMAXPROCS is; the
// generator's own cost is included, as it would be for any source.
func BenchmarkStreamThroughput(b *testing.B) {
	const n = 2_000_000
	queries := []struct{ name, sql string }{
		{"groupby", `SELECT category, SUM(value) AS total FROM g GROUP BY category`},
		{"stateless", `SELECT category, value + 1 AS v FROM g WHERE value > 10`},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			mem := newCountingAllocator()
			db := openGenerator(b, mem, 0, n, 100, 0)
			defer db.Close()
			var sWall, sCPU, bWall, bCPU time.Duration
			for i := 0; i < b.N; i++ {
				out, w, c := drain(b, db, q.sql+" EMIT CHANGES", n)
				if out == 0 {
					b.Fatal("stream emitted nothing")
				}
				sWall, sCPU = sWall+w, sCPU+c
				if _, w, c = drain(b, db, q.sql, n); true {
					bWall, bCPU = bWall+w, bCPU+c
				}
			}
			events := float64(n) * float64(b.N)
			b.ReportMetric(events/sWall.Seconds(), "events/s")
			b.ReportMetric(events/sCPU.Seconds(), "events/cpu_s")
			b.ReportMetric(events/bWall.Seconds(), "batch_events/s")
			b.ReportMetric(events/bCPU.Seconds(), "batch_events/cpu_s")
			b.ReportMetric(bWall.Seconds()/sWall.Seconds(), "stream/batch")
			mem.assertZero(b)
		})
	}
}
