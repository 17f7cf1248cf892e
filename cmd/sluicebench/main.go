// Command sluicebench is `make bench`. By default it runs the workload
// suite (suite.go): group-by over 100 and 1M keys, COUNT(DISTINCT) over 1M
// keys, top-N, filter and projection, a join with a 100-row dimension,
// TUMBLE and HOP windows, and the streaming forms EMIT EVERY 1s, EMIT
// CHANGES and TUMBLE … EMIT FINAL, each from Parquet and CSV at one thread
// and at GOMAXPROCS, in sluice and DuckDB in the same run, with rows per
// CPU-second, peak RSS, the CPU ratio to DuckDB and, for streaming, to the
// same query in batch. Both engines' results are checked against each
// other (row count and the sum of every integer cell). `-quick` (make
// bench-quick) uses 500K rows and 2 runs: every workload, input and thread
// count of the full suite, in under two minutes on an idle two-core machine.
//
// With -groupby it measures only
//
//	SELECT category, SUM(value) FROM t GROUP BY category
//
// over generated rows (100 categories, BIGINT values) read from CSV, from
// Parquet and from in-memory Arrow, in rows per second at each thread
// count of -threads (default 1 and 2): sluice with GOMAXPROCS=N and
// Config.Parallelism=N, DuckDB (through the duckq tool) with SET
// threads=N, and a hand-written single-threaded Go loop, all in the same
// run on the same data. The speedup columns compare each engine with
// itself at one thread.
//
// Usage:
//
//	go run ./cmd/sluicebench [-rows 10000000 | -quick] [-runs 3] [-threads 1,2] [-dir cache] [-duckq path] [-alloc go|pool]
//
// The data is generated once into the cache directory and reused. Rows/s
// come from the best of -runs runs (wall time); the CPU columns are the
// mean process CPU time of one warm run, for sluice from getrusage around
// each run, for DuckDB from the duckq process's CPU time at two repeat
// counts (see duckTime). On a shared machine compare the CPU columns:
// other processes inflate wall time, not CPU time. At N threads sluice runs with
// GOMAXPROCS(N), so the one-thread figure is honestly per core; the Go
// loops run once, at one thread. For "arrow" sluice has no
// embedded-API way yet to register Go memory as a table, so the benchmark
// drives the exec operators the SQL plan uses (Scan → HashAggregate)
// directly; DuckDB's counterpart loads a table first (CREATE TABLE AS,
// untimed) and times only the aggregate.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/bufpool"
)

type config struct {
	rows       int64
	duckSpan   time.Duration // duckTime's span
	runs       int
	dir        string
	duckq      string
	alloc      string
	inputs     []string
	threads    []int
	cpuprofile string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-worker" {
		workerMain(os.Args[2:])
		return
	}
	var cfg config
	var inputs string
	groupby := flag.Bool("groupby", false, "measure only the group-by, against a hand-written Go loop and in-memory Arrow too (the table before the workload suite)")
	only := flag.String("workloads", "", "workloads of the suite to run, comma-separated (default all: "+workloadNames()+")")
	quick := flag.Bool("quick", false, "use 500K rows and 2 runs (overrides -rows and -runs): make bench-quick")
	flag.Int64Var(&cfg.rows, "rows", 10_000_000, "rows to generate")
	flag.IntVar(&cfg.runs, "runs", 5, "runs per measurement; the best is reported")
	flag.StringVar(&cfg.dir, "dir", defaultCacheDir(), "cache directory for the generated data")
	flag.StringVar(&cfg.duckq, "duckq", "", "path of the duckq binary (default $DUCKQ, /tmp/duckq, or built from ../shared/tools/duckq)")
	flag.StringVar(&cfg.alloc, "alloc", "default", "Arrow allocator for sluice: default (what sluice.Open picks), go, or pool (size-class recycling)")
	flag.StringVar(&inputs, "inputs", "", "inputs to measure, comma-separated (default parquet,csv; with -groupby parquet,csv,arrow)")
	defThreads := "1"
	if runtime.NumCPU() > 1 {
		defThreads = fmt.Sprintf("1,%d", runtime.NumCPU())
	}
	threads := flag.String("threads", defThreads, "thread counts to measure (sluice parallelism and GOMAXPROCS, DuckDB threads), comma-separated; arrow runs at the first only")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write CPU profiles of the sluice runs to this file name plus .<input>")
	flag.Parse()
	cfg.duckSpan = duckCPUSpan
	if *quick {
		cfg.rows, cfg.runs, cfg.duckSpan = 500_000, 2, quickCPUSpan
	}
	if inputs == "" {
		inputs = "parquet,csv"
		if *groupby {
			inputs += ",arrow"
		}
	}
	cfg.inputs = strings.Split(inputs, ",")
	for _, t := range strings.Split(*threads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(t))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "sluicebench: -threads: %q is not a positive integer\n", t)
			os.Exit(2)
		}
		cfg.threads = append(cfg.threads, n)
	}
	if cfg.runs < 1 {
		cfg.runs = 1
	}
	if !*groupby {
		sc := suiteConfig{rows: cfg.rows, runs: cfg.runs, duckSpan: cfg.duckSpan, dir: cfg.dir, duckq: cfg.duckq, inputs: cfg.inputs, threads: cfg.threads, only: map[string]bool{}, cpuprofile: cfg.cpuprofile}
		for _, w := range strings.Split(*only, ",") {
			if w = strings.TrimSpace(w); w == "" {
				continue
			}
			if _, ok := findWorkload(w); !ok {
				fmt.Fprintf(os.Stderr, "sluicebench: -workloads: unknown workload %q (have %s)\n", w, workloadNames())
				os.Exit(2)
			}
			sc.only[w] = true
		}
		if err := runSuite(context.Background(), sc); err != nil {
			fmt.Fprintln(os.Stderr, "sluicebench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "sluicebench:", err)
		os.Exit(1)
	}
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sluicebench")
	}
	return filepath.Join(os.TempDir(), "sluicebench")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}

// timing is one engine's measurement of one input: the best wall time
// and the mean process CPU time of one run (warm runs only when there
// are several); zero is n/a.
type timing struct {
	wall, cpu time.Duration
}

// result is one row of the table: one input at one thread count.
type result struct {
	input              string
	threads            int
	sluice, duck, loop timing
	note               string
}

func run(ctx context.Context, cfg config) error {
	ds, err := ensureData(cfg.dir, cfg.rows, logf)
	if err != nil {
		return err
	}
	want := expected(cfg.rows)
	duckq, why := findDuckq(ctx, cfg.duckq, cfg.dir, logf)
	if duckq == "" {
		logf("DuckDB unavailable: %s", why)
	}
	mem, err := allocator(cfg.alloc)
	if err != nil {
		return err
	}
	var results []result
	for _, in := range cfg.inputs {
		rs, err := measureInput(ctx, cfg, strings.TrimSpace(in), ds, want, duckq, mem)
		if err != nil {
			return fmt.Errorf("%s: %w", in, err)
		}
		results = append(results, rs...)
	}
	fmt.Printf("\nSELECT category, SUM(value) … GROUP BY category over %d rows (%d keys), %d runs, at %v threads (sluice: GOMAXPROCS=N, parallelism=N; DuckDB: threads=N), %s/%s, allocator %s\n",
		cfg.rows, numKeys, cfg.runs, cfg.threads, runtime.GOOS, runtime.GOARCH, cfg.alloc)
	fmt.Printf("rows/s from the best wall time; CPU = mean process CPU time per warm run; speedup = rows/s over the same engine's at %d thread(s)\n\n", cfg.threads[0])
	printTable(os.Stdout, cfg.rows, results)
	return nil
}

// allocator returns the Arrow allocator the sluice runs use.
func allocator(name string) (memory.Allocator, error) {
	switch name {
	case "default":
		return nil, nil // sluice.Open's default; the arrow path uses Go's
	case "go":
		return memory.NewGoAllocator(), nil
	case "pool":
		return bufpool.New(), nil
	}
	return nil, fmt.Errorf("unknown -alloc %q (want default, go or pool)", name)
}

// measureInput measures one input on all three engines, one result per
// thread count (the Go loop and the arrow input only at the first).
func measureInput(ctx context.Context, cfg config, input string, ds dataset, want map[string]int64, duckq string, mem memory.Allocator) ([]result, error) {
	var out []result
	for i, n := range cfg.threads {
		if input == "arrow" && i > 0 {
			break
		}
		r, err := measureAt(ctx, cfg, input, n, i == 0, ds, want, duckq, mem)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// measureAt measures one input at one thread count.
func measureAt(ctx context.Context, cfg config, input string, threads int, loop bool, ds dataset, want map[string]int64, duckq string, mem memory.Allocator) (result, error) {
	res := result{input: input, threads: threads}
	var sluiceRun, loopRun func() (map[string]int64, error)
	var duckPre, duckQuery string
	switch input {
	case "csv":
		f, err := sluiceSQL(ctx, mem, ds.csv, "csv", threads)
		if err != nil {
			return res, err
		}
		sluiceRun = f
		loopRun = func() (map[string]int64, error) { return goLoopCSV(ds.csv) }
		duckQuery = fmt.Sprintf(benchQuery, "read_csv("+sqlString(ds.csv)+", header = true, columns = {'category': 'VARCHAR', 'value': 'BIGINT'})")
	case "parquet":
		f, err := sluiceSQL(ctx, mem, ds.parquet, "parquet", threads)
		if err != nil {
			return res, err
		}
		sluiceRun = f
		loopRun = func() (map[string]int64, error) { return goLoopParquet(ds.parquet) }
		duckQuery = fmt.Sprintf(benchQuery, "read_parquet("+sqlString(ds.parquet)+")")
	case "arrow":
		amem := mem
		if amem == nil {
			amem = memory.NewGoAllocator()
		}
		recs := arrowRecords(memory.NewGoAllocator(), ds.rows, exec.DefaultBatchSize)
		defer func() {
			for _, r := range recs {
				r.Release()
			}
		}()
		src := &memSource{schema: benchSchema, recs: recs}
		sluiceRun = func() (map[string]int64, error) { return sluiceArrow(ctx, amem, src) }
		loopRun = func() (map[string]int64, error) { return goLoopArrow(recs) }
		duckPre = "CREATE TABLE t AS SELECT * FROM read_parquet(" + sqlString(ds.parquet) + ")"
		duckQuery = fmt.Sprintf(benchQuery, "t")
		res.note = "sluice: exec Scan→HashAggregate over Go-memory records (no SQL, one thread); duckdb: table loaded untimed"
	default:
		return res, fmt.Errorf("unknown input (want csv, parquet or arrow)")
	}
	var err error
	logf("%s: sluice, %d thread(s)", input, threads)
	stop, err := startProfile(cfg.cpuprofile, fmt.Sprintf("%s.p%d", input, threads))
	if err != nil {
		return res, err
	}
	res.sluice, err = best(cfg.runs, threads, sluiceRun, want)
	stop()
	if err != nil {
		return res, fmt.Errorf("sluice: %w", err)
	}
	if loop {
		logf("%s: go loop", input)
		if res.loop, err = best(cfg.runs, 1, loopRun, want); err != nil {
			return res, fmt.Errorf("go loop: %w", err)
		}
	}
	if duckq != "" {
		logf("%s: duckdb, %d thread(s)", input, threads)
		dt, err := duckTime(ctx, duckq, duckPre, duckQuery, cfg.runs, threads, cfg.duckSpan)
		if err == nil {
			var got map[string]int64
			if got, err = parseDuckResult(dt.out); err == nil {
				err = sameSums(got, want)
			}
		}
		if err != nil {
			logf("%s: DuckDB failed, reporting n/a: %v", input, err)
		} else {
			res.duck = timing{wall: dt.wall, cpu: dt.cpu}
			logf("  best wall %v, mean process CPU per run %v", dt.wall.Round(time.Millisecond), dt.cpu.Round(time.Millisecond))
		}
	}
	return res, nil
}

// best runs f runs times on procs Ps and returns the fastest run's wall
// time and the mean process CPU time per run, leaving out the first
// (warm-up) run when there are several; it checks every result against
// want.
func best(runs, procs int, f func() (map[string]int64, error), want map[string]int64) (timing, error) {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	var min, minCPU, sumCPU time.Duration
	for i := 0; i < runs; i++ {
		runtime.GC()
		start, startCPU := time.Now(), cpuTime()
		got, err := f()
		el, cpu := time.Since(start), cpuTime()-startCPU
		if i == 0 || cpu < minCPU {
			minCPU = cpu
		}
		if i > 0 || runs == 1 {
			sumCPU += cpu
		}
		if err != nil {
			return timing{}, err
		}
		if err := sameSums(got, want); err != nil {
			return timing{}, err
		}
		if i == 0 || el < min {
			min = el
		}
	}
	mean := sumCPU / time.Duration(max(runs-1, 1))
	logf("  best wall %v, best process CPU %v, mean process CPU per warm run %v",
		min.Round(time.Millisecond), minCPU.Round(time.Millisecond), mean.Round(time.Millisecond))
	return timing{wall: min, cpu: mean}, nil
}

// sameSums checks a result against the generator's exact sums.
func sameSums(got, want map[string]int64) error {
	if len(got) != len(want) {
		return fmt.Errorf("wrong result: %d groups, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			return fmt.Errorf("wrong result: %s = %d, want %d", k, g, w)
		}
	}
	return nil
}

// startProfile profiles the sluice runs of one input into prefix.input
// (prefix alone for an empty input); with an empty prefix it does nothing.
func startProfile(prefix, input string) (stop func(), err error) {
	if prefix == "" {
		return func() {}, nil
	}
	name := prefix
	if input != "" {
		name += "." + input
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// cpuTime is the process's user+system CPU time, logged beside wall time:
// on a busy machine it shows what a run cost when other processes stole
// the core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
