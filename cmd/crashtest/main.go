// Command crashtest checks sluice's exactly-once promise from outside: it
// runs a query as a subprocess with --checkpoint-dir, kills it with
// SIGKILL at random moments and at chosen ones (right after a checkpoint
// is renamed into place; after a file sink wrote a part file that is not
// yet visible; right after a part became visible; after records reached a
// Kafka topic inside an uncommitted transaction), stops it with SIGTERM or
// SIGINT (also right after a restart), restarts it on the same checkpoint
// directory each time, and lets the last run finish. The final output
// must equal a clean run's: no row lost, none duplicated (compared as
// multisets of rows; an upsert changelog folded to its last value per
// key, whose counts must also grow strictly).
//
//	crashtest                         every pipeline, 20 kills each (make crashtest)
//	crashtest -kills 4 -run 'gen-'    fewer kills, some pipelines
//	crashtest -seed 12345 -run NAME   replay a failure's schedule
//
// Pipelines: file, generator and Kafka sources; file and Kafka (exactly
// once) sinks; micro-batch (EMIT EVERY) and continuous (EMIT CHANGES into
// Kafka, EMIT FINAL) modes; windowed aggregates and filters; scaled-out
// queries run as three processes in one consumer group, one of them
// killed at a time (pipelines_scaleout.go, members.go). The Kafka
// broker is franz-go's kfake inside this process, so it survives the
// kills; outputs are read with a read_committed consumer.
//
// Exit status: 0 when every pipeline passed, 1 when the product lost or
// duplicated rows (or a run failed, hung or did not stop), 2 when the
// harness itself failed. The seed is printed with every failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("crashtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("sluice", "", "sluice binary to test (default: go build ./cmd/sluice into the work directory)")
	kills := fs.Int("kills", 20, "SIGKILLs per pipeline (half at chosen moments)")
	stops := fs.Int("stops", -1, "SIGTERM/SIGINT stops per pipeline (default kills/4, at least 1)")
	seed := fs.Uint64("seed", 0, "seed of the kill schedules (default: from the clock; printed)")
	only := fs.String("run", "", "regexp: run only the pipelines whose name matches")
	parallel := fs.Int("parallel", 3, "pipelines run at once")
	dir := fs.String("dir", "", "work directory (default a new temporary one, removed when every pipeline passed)")
	seconds := fs.Float64("seconds", 12, "wall-clock length of the paced inputs (generator, Kafka)")
	rate := fs.Float64("rate", 2000, "rows per second of the paced inputs")
	fileRows := fs.Int("file-rows", 1_000_000, "rows of the file pipelines' input")
	fileRun := fs.Duration("file-run", 2*time.Second, "shortest clean run of a file pipeline: a faster one has its input grown until a run lasts this long, so kills land mid-run (0: keep -file-rows)")
	timeout := fs.Duration("timeout", 3*time.Minute, "longest wait for a run to finish or catch up")
	verbose := fs.Bool("v", false, "log every run")
	list := fs.Bool("list", false, "list the pipelines and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		for _, p := range pipelines {
			fmt.Fprintf(stdout, "%-34s %-12s windowed=%v members=%d\n", p.name, p.mode, p.windowed, max(1, p.members))
		}
		return 0
	}
	sel, err := selectPipelines(*only)
	if err != nil {
		fmt.Fprintf(stderr, "crashtest: -run: %v\n", err)
		return 2
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	if *stops < 0 {
		*stops = max(1, *kills/4)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := *dir
	if root == "" {
		if root, err = os.MkdirTemp("", "crashtest-"); err != nil {
			fmt.Fprintf(stderr, "crashtest: %v\n", err)
			return 2
		}
	}
	if *bin == "" {
		*bin = filepath.Join(root, "sluice")
		fmt.Fprintf(stderr, "crashtest: building %s\n", *bin)
		if err := buildSluice(ctx, *bin, false); err != nil {
			fmt.Fprintf(stderr, "crashtest: %v\n", err)
			return 2
		}
	}
	cfg := config{bin: *bin, root: root, seed: *seed, kills: *kills, stops: *stops, timeout: *timeout,
		scale: scale{Seconds: *seconds, Rate: *rate, FileRows: *fileRows, FileRun: *fileRun}, progress: stdout}
	if *verbose {
		cfg.log = stderr
	}
	fmt.Fprintf(stdout, "crashtest: seed %d, %d kills + %d stops per pipeline, work directory %s\n", *seed, *kills, *stops, root)
	results, err := runAll(ctx, cfg, sel, *parallel)
	if err != nil {
		fmt.Fprintf(stderr, "crashtest: %v\n", err)
		return 2
	}
	report(stdout, results)
	status := 0
	for _, r := range results {
		switch {
		case r.err != nil:
			status = max(status, 2)
		case len(r.failures) > 0:
			status = max(status, 1)
		case r.missed > 0:
			status = max(status, 2)
		}
	}
	if status == 0 && *dir == "" {
		os.RemoveAll(root)
	}
	if status != 0 {
		fmt.Fprintf(stdout, "crashtest: FAILED (seed %d; replay one pipeline with: crashtest -seed %d -run '^NAME$'; runs kept in %s)\n", *seed, *seed, root)
	}
	return status
}

func selectPipelines(expr string) ([]pipeline, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	var out []pipeline
	for _, p := range pipelines {
		if re.MatchString(p.name) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no pipeline matches %q", expr)
	}
	return out, nil
}

// buildSluice builds cmd/sluice to out (with the race detector when race
// is set, which reuses what `go test -race` compiled).
func buildSluice(ctx context.Context, out string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "github.com/sluicesql/sluice/cmd/sluice")...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build ./cmd/sluice: %v\n%s", err, b)
	}
	return nil
}

// runAll runs the pipelines, parallel at a time, with one Kafka broker for
// all of them. The error is a harness failure before any pipeline ran.
func runAll(ctx context.Context, cfg config, sel []pipeline, parallel int) ([]*result, error) {
	h := &harness{cfg: cfg}
	for _, p := range sel {
		if p.source == sourceKafka || p.sink.kafka() {
			b, err := startBroker()
			if err != nil {
				return nil, err
			}
			defer b.close()
			h.kafka = b
			break
		}
	}
	results := make([]*result, len(sel))
	sem := make(chan struct{}, max(1, parallel))
	var wg sync.WaitGroup
	for i, p := range sel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r := h.run(ctx, p)
			results[i] = r
			if cfg.progress != nil {
				verdict := r.verdict()
				h.logMu.Lock()
				fmt.Fprintf(cfg.progress, "crashtest: %s: %s (%d kills, %d stops, %d episodes) in %s\n",
					p.name, verdict, r.kills(), r.stops(), r.episodes, r.took.Round(time.Second))
				h.logMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return results, nil
}

// report prints one line per pipeline, then every failure in full.
func report(w io.Writer, results []*result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "pipeline\tmode\tkills\tstops\tat moments (ckpt/pending/visible/sent/committing/committed, fallback)\tepisodes\truns\tclean rows\tclean run\ttook\tresult")
	for _, r := range results {
		verdict := r.verdict()
		l := r.landed
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d/%d/%d/%d/%d/%d, %d\t%d\t%d\t%d\t%s\t%s\t%s\n", r.pipeline.name, r.pipeline.mode,
			r.kills(), r.stops(), l[killCheckpoint], l[killPending], l[killVisible], l[killSent], l[killCommitting], l[killCommitted], r.fallback,
			r.episodes, r.runs, r.clean, r.cleanDur.Round(100*time.Millisecond), r.took.Round(time.Second), verdict)
	}
	tw.Flush()
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(w, "\n%s: harness error: %v\n", r.pipeline.name, r.err)
		}
		if r.err == nil && len(r.failures) == 0 && r.missed > 0 {
			fmt.Fprintf(w, "\n%s: %d planned interruptions never hit a running query in %d episodes: runs end too soon (raise -file-run or -seconds)\n", r.pipeline.name, r.missed, r.episodes)
		}
		for _, f := range r.failures {
			fmt.Fprintf(w, "\n%s: LOST OR DUPLICATED OUTPUT / FAILED RUN\n%s", r.pipeline.name, strings.TrimRight(f, "\n")+"\n")
		}
	}
}

// verdict is r's one-word result: a product failure, a harness error,
// too few interruptions landed to call it a pass, or ok.
func (r *result) verdict() string {
	switch {
	case r.err != nil:
		return "HARNESS ERROR"
	case len(r.failures) > 0:
		return "FAIL"
	case r.missed > 0:
		return "INCOMPLETE"
	}
	return "ok"
}
