// Command soak runs sluice's streaming queries at a steady high rate for a
// long time and watches them: every -every (10 s) it samples, per query,
// its throughput (for a windowed aggregate the input rows per second its
// emitted windows account for, for the join the joined rows per second),
// the emit latency of its output rows (p50/p99/max), and the process's
// resident memory; it prints one table row per query and sample, and
// fails when a process's RSS grows past the bound (the query leaks) or a
// query stops emitting.
//
//	soak                          10 minutes at 200k rows/s (make soak)
//	soak -duration 2m -rate 50000
//
// The queries read the generator connector paced at -rate rows a second,
// whose event time starts at the wall clock of the launch, so event time
// tracks wall time and a window's results are due at window_end plus the
// watermark delay. Emit latency is the time a window row reaches the soak
// (sluice prints it on stdout) minus that due time: the engine's own delay,
// including any backlog when it cannot keep up (the paced generator then
// falls behind the wall clock and latency grows).
//
// Queries: a 1-second TUMBLE aggregate (COUNT, SUM) and a HOP aggregate
// (10-second windows sliding by 1 second: ten windows per row, COUNT, SUM,
// MIN, MAX) over the generator, and an interval join of the Nexmark bids
// with their auctions (a bid within 10 s of its auction's creation), whose
// two nexmark sources pace event time by the wall clock from the launch
// too. A join row is due when its bid is: its latency is its arrival minus
// the bid's event time (the interval join emits a pair as soon as both
// sides have arrived, no watermark wait).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// watermarkDelay is the queries' WATERMARK delay: a window is due this
// long after its end.
const watermarkDelay = time.Second

// query is one soaked query; the script's ${start} and ${rate} are the
// sources' start time and rate.
type query struct {
	name   string
	script string
	// rowsPerInput is how many windows each input row counts in (the sum
	// of the n column over windows is rowsPerInput × the input rows).
	rowsPerInput int
	// row reads one CSV output row: when it was due and how many rows it
	// accounts for; ok false for a row to skip.
	row func(fields []string) (due time.Time, n int64, ok bool)
}

// windowRow reads a windowed aggregate's row: window_end, a key, n (the
// window's input rows); it is due the watermark delay after its end.
func windowRow(f []string) (time.Time, int64, bool) {
	if len(f) < 3 {
		return time.Time{}, 0, false
	}
	end, err := time.Parse(timeLayout, f[0])
	n, nerr := strconv.ParseInt(f[2], 10, 64)
	if err != nil || nerr != nil {
		return time.Time{}, 0, false
	}
	return end.Add(watermarkDelay), n, true
}

// joinRow reads a join changelog row: op, bid_time, …; one joined row,
// due at its bid's event time.
func joinRow(f []string) (time.Time, int64, bool) {
	if len(f) < 2 || f[0] != "+I" {
		return time.Time{}, 0, false
	}
	at, err := time.Parse(timeLayout, f[1])
	if err != nil {
		return time.Time{}, 0, false
	}
	return at, 1, true
}

// timeLayout is sluice's CSV timestamp (fraction only when non-zero).
const timeLayout = "2006-01-02 15:04:05.999999"

const source = `CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'generator', rows_per_second = '${rate}', categories = '100', seed = '1',
      start_time = '${start}', max_out_of_orderness = '500ms');
`

var queries = []query{
	{name: "tumble-1s", rowsPerInput: 1, row: windowRow, script: source + `
SELECT window_end, category, COUNT(*) AS n, SUM(value) AS total
FROM TUMBLE(orders, ts, INTERVAL '1' SECOND)
GROUP BY window_end, category EMIT FINAL;`},
	{name: "hop-10s-by-1s", rowsPerInput: 10, row: windowRow, script: source + `
SELECT window_end, category, COUNT(*) AS n, SUM(value) AS total, MIN(value) AS lo, MAX(value) AS hi
FROM HOP(orders, ts, INTERVAL '1' SECOND, INTERVAL '10' SECOND)
GROUP BY window_end, category EMIT FINAL;`},
	// -rate events a second of the Nexmark sequence: 92% of them bids, 6%
	// auctions.
	{name: "join-bid-auction", rowsPerInput: 1, row: joinRow, script: `
CREATE SOURCE bid WITH (connector = 'nexmark', table = 'bid', rate = '${rate}', start_time = '${start}');
CREATE SOURCE auction WITH (connector = 'nexmark', table = 'auction', rate = '${rate}', start_time = '${start}');
SELECT B.` + "`dateTime`" + ` AS bid_time, A.category, B.price, B.bidder
FROM bid B JOIN auction A
  ON B.auction = A.id AND B.` + "`dateTime`" + ` BETWEEN A.` + "`dateTime`" + ` AND A.` + "`dateTime`" + ` + INTERVAL '10' SECOND
EMIT CHANGES;`},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("sluice", "bin/sluice", "sluice binary")
	duration := fs.Duration("duration", 10*time.Minute, "how long to run")
	every := fs.Duration("every", 10*time.Second, "sampling interval")
	rate := fs.Float64("rate", 200_000, "generator rows (join: Nexmark events) per second, per query")
	only := fs.String("run", "", "run only the queries whose name contains this")
	warmup := fs.Duration("warmup", time.Minute, "RSS baseline: the largest RSS sampled in this first stretch")
	growth := fs.Float64("rss-growth", 0.25, "fail when the last RSS exceeds the warm-up baseline by more than this fraction")
	slack := fs.Int64("rss-slack-mb", 32, "... plus this many MB (small processes' noise)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "soak-")
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 2
	}
	defer os.RemoveAll(dir)

	var procs []*soaked
	for _, q := range queries {
		if !strings.Contains(q.name, *only) {
			continue
		}
		// Event time starts at the launch: the generator's first row is
		// produced a process start later, so latencies include that
		// (small, constant) startup and are never negative.
		start := time.Now().UTC().Truncate(time.Millisecond)
		p, err := launch(*bin, dir, q, start, *rate)
		if err != nil {
			fmt.Fprintf(stderr, "soak: %v\n", err)
			for _, p := range procs {
				p.stop()
			}
			return 2
		}
		procs = append(procs, p)
	}
	fmt.Fprintf(stdout, "soak: %d queries at %.0f rows/s each for %s, sampled every %s (rows/s: input rows of the emitted windows; for the join, joined rows)\n",
		len(procs), *rate, *duration, *every)
	// Fixed widths: the table grows a row per sample, as it happens.
	const rowFormat = "%7s  %-16s %9s %8s %7s %7s %7s %7s\n"
	fmt.Fprintf(stdout, rowFormat, "t", "query", "rows/s", "emitted", "p50 ms", "p99 ms", "max ms", "RSS MB")

	failed := false
	baseline := map[string]int64{}
	last := map[string]int64{}
	began := time.Now()
	tick := time.NewTicker(*every)
	defer tick.Stop()
	prev := time.Now()
loop:
	for time.Since(began) < *duration {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		now := time.Now()
		el := now.Sub(began).Round(time.Second)
		for _, p := range procs {
			s := p.take()
			rss, err := rssBytes(p.cmd.Process.Pid)
			if err != nil {
				fmt.Fprintf(stderr, "soak: %s: %v (%s)\n", p.q.name, err, p.tail())
				failed = true
				break loop
			}
			if el <= *warmup {
				baseline[p.q.name] = max(baseline[p.q.name], rss)
			}
			last[p.q.name] = rss
			rowsPerSec := float64(s.rows) / float64(p.q.rowsPerInput) / now.Sub(prev).Seconds()
			fmt.Fprintf(stdout, rowFormat, el, p.q.name, fmt.Sprintf("%.0f", rowsPerSec), fmt.Sprint(s.windows),
				ms(s.quantile(0.5)), ms(s.quantile(0.99)), ms(s.quantile(1)), fmt.Sprintf("%.1f", float64(rss)/(1<<20)))
			if s.windows == 0 && el > 2*watermarkDelay+*every {
				fmt.Fprintf(stderr, "soak: %s emitted nothing in the last %s\n", p.q.name, *every)
				failed = true
			}
		}
		prev = now
	}
	for _, p := range procs {
		p.stop()
	}
	for _, p := range procs {
		if err := p.err(); err != nil {
			fmt.Fprintf(stderr, "soak: %s: %v\n%s\n", p.q.name, err, p.tail())
			failed = true
		}
	}
	fmt.Fprintln(stdout)
	for _, p := range procs {
		b, l := baseline[p.q.name], last[p.q.name]
		bound := int64(float64(b)*(1+*growth)) + *slack<<20
		verdict := "flat"
		if l > bound {
			verdict = "GREW"
			failed = true
		}
		fmt.Fprintf(stdout, "soak: %s: RSS %.1f MB after warm-up (max of the first %s), %.1f MB at the end, bound %.1f MB: %s\n",
			p.q.name, float64(b)/(1<<20), *warmup, float64(l)/(1<<20), float64(bound)/(1<<20), verdict)
	}
	if failed {
		fmt.Fprintln(stdout, "soak: FAILED")
		return 1
	}
	return 0
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return strconv.FormatInt(d.Milliseconds(), 10)
}

// soaked is one running query.
type soaked struct {
	q      query
	cmd    *exec.Cmd
	errBuf *tailBuffer
	done   chan struct{}
	waitEr error

	mu  sync.Mutex
	cur sample
}

// sample is what one query emitted since the last take.
type sample struct {
	windows int   // output rows
	rows    int64 // input rows they account for
	lat     []time.Duration
}

func (s sample) quantile(q float64) time.Duration {
	if len(s.lat) == 0 {
		return -1
	}
	l := append([]time.Duration(nil), s.lat...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(math.Ceil(q*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

func launch(bin, dir string, q query, start time.Time, rate float64) (*soaked, error) {
	path := filepath.Join(dir, q.name+".sql")
	if err := os.WriteFile(path, []byte(q.script), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--format", "csv",
		"--var", "start="+start.Format("2006-01-02 15:04:05.000"),
		"--var", "rate="+strconv.FormatFloat(rate, 'f', -1, 64), "-f", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &soaked{q: q, cmd: cmd, errBuf: &tailBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.errBuf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go p.read(out)
	return p, nil
}

// read timestamps every output row as it arrives and records its emit
// latency.
func (p *soaked) read(out io.Reader) {
	defer func() {
		p.waitEr = p.cmd.Wait()
		close(p.done)
	}()
	sc := bufio.NewScanner(out)
	header := true
	for sc.Scan() {
		at := time.Now()
		if header {
			header = false
			continue
		}
		due, n, ok := p.q.row(strings.Split(sc.Text(), ","))
		if !ok {
			continue
		}
		p.mu.Lock()
		p.cur.windows++
		p.cur.rows += n
		p.cur.lat = append(p.cur.lat, at.Sub(due))
		p.mu.Unlock()
	}
	io.Copy(io.Discard, out)
}

func (p *soaked) take() sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.cur
	p.cur = sample{}
	return s
}

// stop ends the query with SIGTERM (a clean stop), SIGKILL after 30 s.
func (p *soaked) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// err is the process's exit error, unless it ended by the soak's SIGTERM.
func (p *soaked) err() error {
	var ee *exec.ExitError
	if p.waitEr == nil || errors.As(p.waitEr, &ee) && ee.ExitCode() == -1 {
		return nil
	}
	return p.waitEr
}

func (p *soaked) tail() string { return p.errBuf.String() }

// tailBuffer keeps the last 4 KB written to it (a process's stderr).
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// rssBytes is the process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb << 10, nil
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
