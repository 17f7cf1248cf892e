package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicesql/sluice"
)

// The workload suite (the default of `make bench`): the operators issue 15
// names, each in sluice and in DuckDB over the same file, at parallelism
// 1 and GOMAXPROCS, plus streaming forms compared with the same query in
// batch. Each sluice thread count runs in a child process (sluicebench
// -worker -serve) so its peak RSS is its own, the children of one
// workload taking turns run by run (measureAlternating); DuckDB runs in
// duckq, measured the same way.

// workload is one measured query. sluice and duck are the statement for
// each engine over a table t (and dim); stream marks a streaming query
// (no DuckDB twin) and batch names its batch twin.
type workload struct {
	name   string
	sluice string
	duck   string
	batch  string
}

var workloads = []workload{
	{name: "groupby-100", sluice: "SELECT category, SUM(value) FROM t GROUP BY category"},
	{name: "groupby-1M", sluice: "SELECT value, COUNT(*) FROM t GROUP BY value"},
	{name: "distinct-1M", sluice: "SELECT COUNT(DISTINCT value) FROM t"},
	{name: "topn-10", sluice: "SELECT value FROM t ORDER BY value DESC LIMIT 10"},
	{name: "filter-project", sluice: "SELECT category, value * 2 FROM t WHERE value < 1000"},
	{name: "join-dim-100", sluice: "SELECT d.label, SUM(t.value) FROM t JOIN dim d ON t.category = d.category GROUP BY d.label"},
	{name: "tumble-10s",
		sluice: "SELECT window_start, category, SUM(value) FROM TUMBLE(t, ts, INTERVAL '10' SECOND) GROUP BY window_start, category",
		duck:   "SELECT time_bucket(INTERVAL '10 seconds', ts) AS window_start, category, SUM(value) FROM t GROUP BY ALL"},
	{name: "hop-10s/1s",
		sluice: "SELECT window_start, category, SUM(value) FROM HOP(t, ts, INTERVAL '1' SECOND, INTERVAL '10' SECOND) GROUP BY window_start, category",
		duck: "SELECT ws, category, SUM(value) FROM (SELECT category, value, unnest(generate_series(time_bucket(INTERVAL '1 second', ts) - INTERVAL '9 seconds', " +
			"time_bucket(INTERVAL '1 second', ts), INTERVAL '1 second')) AS ws FROM t) GROUP BY ALL"},
	{name: "stream-every-1s", sluice: "SELECT category, SUM(value) FROM t GROUP BY category EMIT EVERY 1s", batch: "groupby-100"},
	{name: "stream-changes", sluice: "SELECT category, SUM(value) FROM t GROUP BY category EMIT CHANGES", batch: "groupby-100"},
	{name: "stream-join-dim", sluice: "SELECT d.label, SUM(t.value) FROM t JOIN dim d ON t.category = d.category GROUP BY d.label EMIT CHANGES", batch: "join-dim-100"},
	{name: "stream-tumble-final",
		sluice: "SELECT window_start, category, SUM(value) FROM TUMBLE(t, ts, INTERVAL '10' SECOND) GROUP BY window_start, category EMIT FINAL",
		batch:  "tumble-10s"},
}

func findWorkload(name string) (workload, bool) {
	for _, w := range workloads {
		if w.name == name {
			return w, true
		}
	}
	return workload{}, false
}

// suiteVersion names the suite's data in the cache.
const suiteVersion = "v1"

// eventRow is row i of the suite's data: the group-by data plus an event
// time one millisecond apart.
type eventRow struct {
	Category string    `parquet:"category,dict,snappy"`
	Value    int64     `parquet:"value,snappy"`
	TS       time.Time `parquet:"ts,timestamp(microsecond),snappy"`
}

var suiteStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func eventAt(i int64) eventRow {
	k, v := row(i)
	return eventRow{Category: categoryNames[k], Value: v, TS: suiteStart.Add(time.Duration(i) * time.Millisecond)}
}

// suiteData is the suite's files.
type suiteData struct {
	rows         int64
	csv, parquet string
	dim          string
}

func ensureSuiteData(dir string, n int64) (suiteData, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return suiteData{}, fmt.Errorf("cache dir: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("events-%s-%d", suiteVersion, n))
	d := suiteData{rows: n, csv: base + ".csv", parquet: base + ".parquet", dim: filepath.Join(dir, "dim-"+suiteVersion+".csv")}
	write := func(path string, f func(*os.File) error) error {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		logf("generating %s", path)
		return writeAtomically(path, f)
	}
	if err := write(d.csv, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 1<<20)
		w.WriteString("category,value,ts\n")
		var buf []byte
		for i := int64(0); i < n; i++ {
			r := eventAt(i)
			buf = append(buf[:0], r.Category...)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, r.Value, 10)
			buf = append(buf, ',')
			buf = r.TS.AppendFormat(buf, "2006-01-02 15:04:05.000")
			buf = append(buf, '\n')
			w.Write(buf)
		}
		return w.Flush()
	}); err != nil {
		return d, err
	}
	if err := write(d.parquet, func(f *os.File) error {
		w := parquet.NewGenericWriter[eventRow](f, parquet.MaxRowsPerRowGroup(parquetRowGroupRows))
		buf := make([]eventRow, 0, 8192)
		for i := int64(0); i < n; i++ {
			buf = append(buf, eventAt(i))
			if len(buf) == cap(buf) || i == n-1 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		return w.Close()
	}); err != nil {
		return d, err
	}
	err := write(d.dim, func(f *os.File) error {
		w := bufio.NewWriter(f)
		w.WriteString("category,label\n")
		for i, c := range categoryNames {
			fmt.Fprintf(w, "%s,%d\n", c, i%10)
		}
		return w.Flush()
	})
	return d, err
}

// measurement is one engine's figures for one workload, input and thread
// count. checksum is the row count and the sum of every integer cell,
// which both engines must agree on.
type measurement struct {
	Wall     time.Duration `json:"wall"`   // best run
	Median   time.Duration `json:"median"` // median run's wall
	CPU      time.Duration `json:"cpu"`    // mean per warm run
	RSS      int64         `json:"rss"`    // peak, bytes
	Rows     int64         `json:"rows"`
	Checksum int64         `json:"checksum"`
	Err      string        `json:"err,omitempty"`
}

// suiteRow is one line of the table.
type suiteRow struct {
	w              workload
	input          string
	threads        int
	sluice, duck   measurement
	batch          *measurement // the batch twin's sluice measurement
	checksumDiffer bool
}

func sluiceDDL(d suiteData, input string) string {
	path := d.parquet
	if input == "csv" {
		path = d.csv
	}
	return fmt.Sprintf(`CREATE SOURCE t (category VARCHAR, value BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
		WITH (connector = 'file', path = %s, format = '%s');
		CREATE SOURCE dim (category VARCHAR, label BIGINT) WITH (connector = 'file', path = %s, format = 'csv')`,
		sqlString(path), input, sqlString(d.dim))
}

// duckPre defines t and dim as views over the same files.
func duckPre(d suiteData, input string) string {
	from := "read_parquet(" + sqlString(d.parquet) + ")"
	if input == "csv" {
		from = "read_csv(" + sqlString(d.csv) + ", header = true, columns = {'category': 'VARCHAR', 'value': 'BIGINT', 'ts': 'TIMESTAMP'})"
	}
	return fmt.Sprintf("CREATE VIEW t AS SELECT * FROM %s; CREATE VIEW dim AS SELECT * FROM read_csv(%s, header = true, columns = {'category': 'VARCHAR', 'label': 'BIGINT'})",
		from, sqlString(d.dim))
}

// runWorker measures one workload runs times in this process (the
// suite's test and a worker run on its own): GOMAXPROCS = parallelism =
// threads.
func runWorker(ctx context.Context, d suiteData, w workload, input string, threads, runs int) measurement {
	runtime.GOMAXPROCS(threads)
	m, err := measureSluice(ctx, d, w, input, threads, runs)
	if err != nil {
		m.Err = err.Error()
	}
	return m
}

func measureSluice(ctx context.Context, d suiteData, w workload, input string, threads, runs int) (measurement, error) {
	db, err := openSuiteDB(ctx, d, input, threads)
	if err != nil {
		return measurement{}, err
	}
	defer db.Close()
	var rs []runResult
	for range runs {
		r := runOnce(ctx, db, w)
		if r.Err != "" {
			return measurement{}, errors.New(r.Err)
		}
		rs = append(rs, r)
	}
	return summarize(rs), nil
}

// openSuiteDB opens a session at parallelism threads with the suite's
// sources over input.
func openSuiteDB(ctx context.Context, d suiteData, input string, threads int) (*sluice.DB, error) {
	db, err := sluice.Open(sluice.Config{Parallelism: threads})
	if err != nil {
		return nil, err
	}
	if err := db.Exec(ctx, sluiceDDL(d, input)); err != nil {
		db.Close()
		return nil, fmt.Errorf("create sources: %w", err)
	}
	return db, nil
}

// runResult is one timed run of a workload in a worker.
type runResult struct {
	Wall     time.Duration `json:"wall"`
	CPU      time.Duration `json:"cpu"`
	Rows     int64         `json:"rows"`
	Checksum int64         `json:"checksum"`
	Err      string        `json:"err,omitempty"`
}

// runOnce runs w once after a GC, timing wall and process CPU.
func runOnce(ctx context.Context, db *sluice.DB, w workload) runResult {
	runtime.GC()
	t0, c0 := time.Now(), cpuTime()
	rows, sum, err := sluiceChecksum(ctx, db, w.sluice)
	r := runResult{Wall: time.Since(t0), CPU: cpuTime() - c0, Rows: rows, Checksum: sum}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// summarize folds the runs of one workload at one thread count: the best
// and the median wall time, and the mean CPU time of the warm runs (all
// but the first, when there are several).
func summarize(rs []runResult) measurement {
	var m measurement
	if len(rs) == 0 {
		return m
	}
	walls := make([]time.Duration, len(rs))
	var sumCPU time.Duration
	for i, r := range rs {
		walls[i] = r.Wall
		if i > 0 || len(rs) == 1 {
			sumCPU += r.CPU
		}
		m.Rows, m.Checksum = r.Rows, r.Checksum
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	m.Wall, m.Median = walls[0], median(walls)
	m.CPU = sumCPU / time.Duration(max(len(rs)-1, 1))
	return m
}

// median of sorted ds: the middle one, or the mean of the two middle ones.
func median(ds []time.Duration) time.Duration {
	n := len(ds)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

// sluiceChecksum runs q and returns its row count and the sum of its
// integer cells (a changelog's op column left out).
func sluiceChecksum(ctx context.Context, db *sluice.DB, q string) (int64, int64, error) {
	rs, err := db.Query(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	var n, sum int64
	for rs.Next() {
		rec := rs.Record()
		n += rec.NumRows()
		for c, col := range rec.Columns() {
			if c == 0 && rs.Changelog() {
				continue
			}
			sum += intSum(col)
		}
	}
	err = rs.Err()
	if cerr := rs.Close(); err == nil {
		err = cerr
	}
	return n, sum, err
}

func intSum(col arrow.Array) int64 {
	var s int64
	switch a := col.(type) {
	case *array.Int64:
		for i := range a.Len() {
			if a.IsValid(i) {
				s += a.Value(i)
			}
		}
	case *array.Int32:
		for i := range a.Len() {
			if a.IsValid(i) {
				s += int64(a.Value(i))
			}
		}
	case *array.Uint64:
		for i := range a.Len() {
			if a.IsValid(i) {
				s += int64(a.Value(i))
			}
		}
	}
	return s
}

// duckChecksum is sluiceChecksum over duckq's CSV output: every cell that
// parses as an integer counts.
func duckChecksum(out string) (int64, int64) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var n, sum int64
	for _, l := range lines[1:] {
		n++
		for _, c := range strings.Split(l, ",") {
			if v, err := strconv.ParseInt(strings.TrimSpace(c), 10, 64); err == nil {
				sum += v
			}
		}
	}
	return n, sum
}

// measureAlternating measures one workload over one input at every
// thread count, each in a child process of its own (sluicebench -worker
// -serve, so its peak RSS is its own) that keeps its session open: the
// children run one timed run at a time, in turn, round after round (the
// order reversed every other round), so a change in the machine's load
// during the measurement reaches every thread count alike instead of
// whichever ran last. Each child first runs once untimed, as a warm-up of
// the page cache and its session.
func measureAlternating(ctx context.Context, cfg suiteConfig, w workload, input string) []measurement {
	out := make([]measurement, len(cfg.threads))
	workers := make([]*serveWorker, len(cfg.threads))
	defer func() {
		for i, sw := range workers {
			if sw == nil {
				continue
			}
			rss, err := sw.close()
			if err != nil && out[i].Err == "" {
				out[i].Err = fmt.Sprintf("worker: %v: %s", err, firstLine(sw.stderr.String()))
			}
			out[i].RSS = rss
		}
	}()
	for i, n := range cfg.threads {
		sw, err := startServeWorker(ctx, cfg, w, input, n)
		if err != nil {
			out[i].Err = err.Error()
			return out
		}
		workers[i] = sw
	}
	runs := make([][]runResult, len(cfg.threads))
	for round := -1; round < cfg.runs; round++ {
		for k := range workers {
			i := k
			if round%2 == 1 {
				i = len(workers) - 1 - k
			}
			if out[i].Err != "" {
				continue
			}
			r, err := workers[i].run()
			if err == nil && r.Err != "" {
				err = errors.New(r.Err)
			}
			if err != nil {
				out[i].Err = err.Error()
				continue
			}
			if round >= 0 {
				runs[i] = append(runs[i], r)
			}
		}
	}
	for i := range out {
		if out[i].Err == "" {
			out[i] = summarize(runs[i])
		}
	}
	return out
}

// serveWorker is a child process serving timed runs of one workload: a
// line "run" on its stdin runs it once, and it answers with the run's
// runResult as one JSON line.
type serveWorker struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Scanner
	stderr bytes.Buffer
	done   chan rssResult
}

type rssResult struct {
	rss int64
	err error
}

func startServeWorker(ctx context.Context, cfg suiteConfig, w workload, input string, threads int) (*serveWorker, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-worker", "-serve", "-workload", w.name, "-input", input, "-threads", strconv.Itoa(threads),
		"-rows", strconv.FormatInt(cfg.rows, 10), "-dir", cfg.dir)
	if cfg.cpuprofile != "" {
		cmd.Args = append(cmd.Args, "-cpuprofile", fmt.Sprintf("%s.%s.%s.p%d", cfg.cpuprofile, strings.ReplaceAll(w.name, "/", "_"), input, threads))
	}
	sw := &serveWorker{cmd: cmd, done: make(chan rssResult, 1)}
	cmd.Stderr = &sw.stderr
	if sw.in, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sw.out = bufio.NewScanner(stdout)
	started := make(chan error, 1)
	go func() {
		rss, err := runWatchedStarted(cmd, started)
		sw.done <- rssResult{rss, err}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return sw, nil
}

// run asks for one timed run and reads its result.
func (sw *serveWorker) run() (runResult, error) {
	if _, err := io.WriteString(sw.in, "run\n"); err != nil {
		return runResult{}, fmt.Errorf("worker: %v: %s", err, firstLine(sw.stderr.String()))
	}
	if !sw.out.Scan() {
		return runResult{}, fmt.Errorf("worker ended: %s", firstLine(sw.stderr.String()))
	}
	var r runResult
	if err := json.Unmarshal(sw.out.Bytes(), &r); err != nil {
		return runResult{}, fmt.Errorf("worker output %q: %v", firstLine(sw.out.Text()), err)
	}
	return r, nil
}

// close ends the worker (EOF on its stdin) and returns its peak RSS.
func (sw *serveWorker) close() (int64, error) {
	sw.in.Close()
	r := <-sw.done
	return r.rss, r.err
}

// measureDuck runs one workload in DuckDB: best wall of runs, CPU per
// run by the difference of two processes (duckTime), RSS of the process
// that ran it most.
func measureDuck(ctx context.Context, duckq string, d suiteData, w workload, input string, threads, runs int, span time.Duration) measurement {
	q := w.duck
	if q == "" {
		q = w.sluice
	}
	dt, err := duckTime(ctx, duckq, duckPre(d, input), q, runs, threads, span)
	if err != nil {
		return measurement{Err: err.Error()}
	}
	m := measurement{Wall: dt.wall, CPU: dt.cpu, RSS: dt.rss}
	out := dt.out
	m.Rows, m.Checksum = duckChecksum(out)
	return m
}

// suiteConfig is the suite's flags.
type suiteConfig struct {
	rows     int64
	runs     int
	duckSpan time.Duration // duckTime's span
	dir      string
	duckq    string
	inputs   []string
	threads  []int
	only     map[string]bool
	// cpuprofile, when set, makes each worker profile its runs into
	// cpuprofile.<workload>.<input>.p<threads>.
	cpuprofile string
}

func runSuite(ctx context.Context, cfg suiteConfig) error {
	d, err := ensureSuiteData(cfg.dir, cfg.rows)
	if err != nil {
		return err
	}
	duckq, why := findDuckq(ctx, cfg.duckq, cfg.dir, logf)
	if duckq == "" {
		logf("DuckDB unavailable: %s", why)
	}
	var rows []suiteRow
	byKey := map[string]*measurement{}
	for _, w := range workloads {
		if len(cfg.only) > 0 && !cfg.only[w.name] {
			continue
		}
		for _, in := range cfg.inputs {
			logf("%s %s: sluice at %v thread(s), alternating", w.name, in, cfg.threads)
			ms := measureAlternating(ctx, cfg, w, in)
			for ti, n := range cfg.threads {
				r := suiteRow{w: w, input: in, threads: n, sluice: ms[ti]}
				if w.batch == "" && duckq != "" {
					logf("%s %s: duckdb at %d thread(s)", w.name, in, n)
					r.duck = measureDuck(ctx, duckq, d, w, in, n, cfg.runs, cfg.duckSpan)
					r.checksumDiffer = r.duck.Err == "" && r.sluice.Err == "" &&
						(r.duck.Rows != r.sluice.Rows || r.duck.Checksum != r.sluice.Checksum)
				}
				key := fmt.Sprintf("%s/%s/%d", w.name, in, n)
				byKey[key] = &r.sluice
				if w.batch != "" {
					r.batch = byKey[fmt.Sprintf("%s/%s/%d", w.batch, in, n)]
				}
				rows = append(rows, r)
			}
		}
	}
	fmt.Printf("\n%d rows (100 categories, values in [0, 1e6), one event per ms), best of %d runs, %s/%s, GOMAXPROCS up to %d\n",
		cfg.rows, cfg.runs, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	fmt.Println("rows/s/core = rows over mean CPU seconds per warm run; x DuckDB = sluice CPU / DuckDB CPU (below 1 is cheaper); wall x = sluice wall / DuckDB wall; speedup = best wall at the first thread count / best wall here, per engine; median speedup = the same of sluice's median walls (its thread counts run in turn, run by run, so load changes reach them alike); streaming rows compare with the same query in batch (sluice).")
	fmt.Println()
	printSuite(os.Stdout, cfg.rows, rows)
	return nil
}

func printSuite(w io.Writer, n int64, rows []suiteRow) {
	table := [][]string{{"workload", "input", "threads", "sluice rows/s", "rows/s/core", "sluice RSS", "DuckDB rows/s", "DuckDB rows/s/core", "DuckDB RSS", "CPU x DuckDB", "wall x DuckDB", "sluice speedup", "median speedup", "DuckDB speedup", "CPU x batch", "check"}}
	first := map[string]suiteRow{} // workload/input → its row at the first thread count
	for _, r := range rows {
		if _, ok := first[r.w.name+"/"+r.input]; !ok {
			first[r.w.name+"/"+r.input] = r
		}
	}
	for _, r := range rows {
		base := first[r.w.name+"/"+r.input]
		s, d := r.sluice, r.duck
		check := "ok"
		switch {
		case s.Err != "":
			check = "sluice: " + s.Err
		case d.Err != "":
			check = "duckdb: " + d.Err
		case r.checksumDiffer:
			check = fmt.Sprintf("DIFFERS: sluice %d rows Σ%d, duckdb %d rows Σ%d", s.Rows, s.Checksum, d.Rows, d.Checksum)
		case r.w.batch != "":
			check = "streamed"
		}
		vsBatch := "-"
		if r.batch != nil {
			vsBatch = cpuRatio(s.CPU, r.batch.CPU)
		}
		table = append(table, []string{r.w.name, r.input, fmt.Sprint(r.threads),
			rate(n, s.Wall), rate(n, s.CPU), mib(s.RSS), rate(n, d.Wall), rate(n, d.CPU), mib(d.RSS),
			cpuRatio(s.CPU, d.CPU), cpuRatio(s.Wall, d.Wall), cpuRatio(base.sluice.Wall, s.Wall), cpuRatio(base.sluice.Median, s.Median), cpuRatio(base.duck.Wall, d.Wall), vsBatch, check})
	}
	writeTable(w, table)
}

// cpuRatio is a/b as "1.23x", n/a when either is missing.
func cpuRatio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds())
}

func mib(b int64) string {
	if b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20))
}

// workerMain handles -worker: one workload, JSON to stdout.
func workerMain(args []string) {
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	name := fs.String("workload", "", "")
	input := fs.String("input", "parquet", "")
	threads := fs.Int("threads", 1, "")
	runs := fs.Int("runs", 3, "")
	rows := fs.Int64("rows", 0, "")
	dir := fs.String("dir", "", "")
	profile := fs.String("cpuprofile", "", "")
	serve := fs.Bool("serve", false, "run once per line \"run\" on stdin, a JSON runResult per run on stdout")
	fs.Parse(args)
	w, ok := findWorkload(*name)
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown workload %q\n", *name)
		os.Exit(2)
	}
	d, err := ensureSuiteData(*dir, *rows)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stop, err := startProfile(*profile, "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *serve {
		err = serveRuns(context.Background(), d, w, *input, *threads, os.Stdin, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	m := runWorker(context.Background(), d, w, *input, *threads, *runs)
	stop()
	json.NewEncoder(os.Stdout).Encode(m)
}

// serveRuns is -worker -serve: one session at parallelism = GOMAXPROCS =
// threads, one timed run of w per line of in, each answered on out as a
// JSON runResult line, until in ends.
func serveRuns(ctx context.Context, d suiteData, w workload, input string, threads int, in io.Reader, out io.Writer) error {
	runtime.GOMAXPROCS(threads)
	db, err := openSuiteDB(ctx, d, input, threads)
	if err != nil {
		return err
	}
	defer db.Close()
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "run" {
			return fmt.Errorf("worker: unknown request %q (want run)", sc.Text())
		}
		if err := enc.Encode(runOnce(ctx, db, w)); err != nil {
			return err
		}
	}
	return sc.Err()
}

func workloadNames() string {
	var s []string
	for _, w := range workloads {
		s = append(s, w.name)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
