package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sluicesql/sluice/connectors/file"
)

// config is one harness invocation.
type config struct {
	bin     string        // the sluice binary
	root    string        // working directory: one subdirectory per pipeline
	seed    uint64        // seeds every pipeline's schedule (mixed with its name)
	kills   int           // SIGKILLs per pipeline
	stops   int           // SIGTERM/SIGINT stops per pipeline
	scale   scale         // input sizes
	timeout time.Duration // bound on a run that should finish (or catch up)
	log     io.Writer     // a line per run; nil for none
	// progress gets a line per finished pipeline; nil for none.
	progress io.Writer
}

// harness runs pipelines against one sluice binary.
type harness struct {
	cfg   config
	kafka *broker // started once for all Kafka pipelines

	logMu sync.Mutex
}

// result is one pipeline's outcome.
type result struct {
	pipeline pipeline
	episodes int
	runs     int
	landed   map[actionKind]int // interruptions that hit a live process, by kind
	fallback int                // chosen-moment kills whose moment never came (killed at a timeout instead)
	clean    int                // rows of the clean run
	fileRows int                // rows of a file pipeline's input, after any growth
	missed   int                // planned interruptions that never hit a running query
	cleanDur time.Duration
	failures []string // product failures: lost/duplicated rows, unexpected exits, hangs
	err      error    // harness error: the check itself could not be done
	took     time.Duration
}

func (r *result) kills() int {
	n := 0
	for k, c := range r.landed {
		if k.isKill() {
			n += c
		}
	}
	return n
}

func (r *result) stops() int {
	n := 0
	for k, c := range r.landed {
		if !k.isKill() {
			n += c
		}
	}
	return n
}

func (h *harness) logf(format string, args ...any) {
	if h.cfg.log == nil {
		return
	}
	h.logMu.Lock()
	defer h.logMu.Unlock()
	fmt.Fprintf(h.cfg.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// pipelineRNG is the pipeline's schedule source: the same seed and name
// give the same plan whatever other pipelines run.
func pipelineRNG(seed uint64, name string) *rand.Rand {
	f := fnv.New64a()
	f.Write([]byte(name))
	return rand.New(rand.NewPCG(seed, f.Sum64()))
}

// errProduct marks a failure of the product under test (as opposed to a
// failure of the harness).
var errProduct = errors.New("product failure")

func productf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProduct, fmt.Sprintf(format, args...))
}

// run checks one pipeline: a clean run gives the reference output; then
// episodes of killed and restarted runs on one checkpoint directory each
// must end with exactly that output. Episodes repeat (each from scratch)
// until every planned interruption hit a live process.
func (h *harness) run(ctx context.Context, p pipeline) *result {
	start := time.Now()
	res := &result{pipeline: p, landed: map[actionKind]int{}}
	defer func() {
		res.took = time.Since(start)
		if err := ctx.Err(); err != nil {
			// Interrupted: whatever the runs showed is not a verdict.
			res.failures, res.err = nil, fmt.Errorf("harness interrupted: %w", err)
		}
	}()
	dir := filepath.Join(h.cfg.root, p.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.err = err
		return res
	}
	input := ""
	rows := h.cfg.scale.FileRows
	var clean *episode
	var dur time.Duration
	for {
		if p.source == sourceFile {
			input = filepath.Join(dir, "input.csv")
			if err := writeInputCSV(input, rows); err != nil {
				res.err = fmt.Errorf("writing input: %w", err)
				return res
			}
		}
		// A regrown input's clean run gets a name of its own: it names
		// the episode's Kafka topics, which the last attempt created.
		name := "clean"
		if rows != h.cfg.scale.FileRows {
			name = fmt.Sprintf("clean-%d", rows)
		}
		clean = h.newEpisode(p, dir, name, input)
		var err error
		dur, err = clean.play(ctx, res)
		clean.saveHistory()
		if err != nil {
			if errors.Is(err, errProduct) {
				res.failures = append(res.failures, fmt.Sprintf("clean run (no interruption): %v\n%s", err, clean.history()))
			} else {
				res.err = fmt.Errorf("clean run: %w", err)
			}
			return res
		}
		next := h.cfg.scale.fileRowsFor(p, rows, dur)
		if next == rows {
			break
		}
		// A file read faster than kills can land (the process needs tens
		// of milliseconds to install its handlers) would let most planned
		// kills miss: grow the input until a clean run lasts long enough.
		h.logf("%s: clean run of %d rows took %s, growing the input to %d rows", p.name, rows, dur.Round(time.Millisecond), next)
		rows = next
		if err := os.RemoveAll(clean.dir); err != nil {
			res.err = err
			return res
		}
	}
	res.fileRows = rows
	res.cleanDur = dur
	want, notes, err := clean.read(ctx)
	if err != nil {
		if errors.Is(err, errProduct) {
			res.failures = append(res.failures, fmt.Sprintf("clean run (no interruption): %v\n%s", err, clean.history()))
		} else {
			res.err = fmt.Errorf("clean run output: %w", err)
		}
		return res
	}
	if len(notes) > 0 {
		res.err = fmt.Errorf("clean run output is inconsistent: %s", strings.Join(notes, "; "))
		return res
	}
	res.clean = want.total()
	if res.clean == 0 {
		res.err = fmt.Errorf("clean run wrote no rows (see %s)", clean.dir)
		return res
	}
	h.logf("%s: clean run %d rows in %s", p.name, res.clean, dur.Round(time.Millisecond))

	rng := pipelineRNG(h.cfg.seed, p.name)
	var plan []action
	if p.members > 0 {
		plan = scheduleMembers(rng, h.cfg.kills, h.cfg.stops, p.members)
	} else {
		plan = schedule(rng, h.cfg.kills, h.cfg.stops, p.sink)
	}
	for ep := 1; len(plan) > 0 && ep <= 2*(h.cfg.kills+h.cfg.stops)+2; ep++ {
		e := h.newEpisode(p, dir, fmt.Sprintf("ep%02d", ep), input)
		// A random interruption lands at 45% of the clean run on average.
		e.span = time.Duration(float64(len(plan)) * 0.45 * float64(dur))
		res.episodes++
		var left []action
		var err error
		if p.members > 0 {
			// Every action lands (the members run until stopped); each
			// member is down a while after its interruption.
			for _, a := range plan {
				e.span += a.down
			}
			err = e.playMembers(ctx, plan, dur, res)
		} else {
			left, err = e.playPlan(ctx, plan, &dur, res)
		}
		e.saveHistory()
		if err != nil {
			if errors.Is(err, errProduct) {
				res.failures = append(res.failures, fmt.Sprintf("%s: %v\n%s", e.name, err, e.history()))
				return res
			}
			res.err = fmt.Errorf("%s: %w", e.name, err)
			return res
		}
		plan = left
		got, notes, err := e.read(ctx)
		if err != nil {
			if errors.Is(err, errProduct) {
				res.failures = append(res.failures, fmt.Sprintf("%s: %v\n%s", e.name, err, e.history()))
			} else {
				res.err = fmt.Errorf("%s output: %w", e.name, err)
			}
			return res
		}
		d := compare(want, got)
		if !d.empty() || len(notes) > 0 {
			msg := fmt.Sprintf("%s: %s\n", e.name, d.summary())
			for _, n := range notes {
				msg += "  " + n + "\n"
			}
			msg += d.details(5) + e.history()
			res.failures = append(res.failures, msg)
			return res
		}
		h.logf("%s: %s ok after %d runs", p.name, e.name, e.runs)
	}
	res.missed = len(plan)
	return res
}

// episode is one sequence of runs sharing a checkpoint directory and an
// output (a directory or a topic).
type episode struct {
	h      *harness
	p      pipeline
	name   string
	dir    string
	vars   map[string]string
	in     string // input topic (Kafka sources)
	out    string // output topic (Kafka sinks)
	group  string
	runs   int
	events []string // one line per run, for the failure report
	prod   chan error
	// lastRun is how long the last run that ended by itself took.
	lastRun time.Duration
	// span is how long producing the Kafka input may take (at least the
	// scale's Seconds): a crashed episode spreads it over about the time
	// its planned runs take, so most kills land while input arrives.
	span time.Duration
}

func (h *harness) newEpisode(p pipeline, pdir, name, input string) *episode {
	e := &episode{h: h, p: p, name: name, dir: filepath.Join(pdir, name)}
	rows := h.cfg.scale.pacedRows()
	e.vars = map[string]string{"in": input, "rows": fmt.Sprint(rows), "rate": fmt.Sprint(h.cfg.scale.Rate)}
	if h.kafka != nil {
		tag := strings.ReplaceAll(p.name, "-", "_") + "_" + name
		e.in, e.out, e.group = "in_"+tag, "out_"+tag, "g_"+tag
		e.vars["brokers"] = h.kafka.addr
		e.vars["group"] = e.group
		e.vars["txn"] = "txn_" + tag
		if p.source == sourceKafka {
			e.vars["in"] = e.in
		}
		e.vars["out"] = e.out
	}
	return e
}

func (e *episode) outDir() string { return filepath.Join(e.dir, "out") }
func (e *episode) ckDir() string  { return filepath.Join(e.dir, "ck") }

func (e *episode) note(format string, args ...any) {
	line := fmt.Sprintf("run %d: ", e.runs) + fmt.Sprintf(format, args...)
	e.events = append(e.events, line)
	e.h.logf("%s/%s %s", e.p.name, e.name, line)
}

// saveRecords writes the Kafka output as read (partition, offset, key,
// value per line) next to the runs, for the post-mortem of a failure.
func (e *episode) saveRecords(recs []record) {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d\t%d\t%s\t%s\n", r.Partition, r.Offset, r.Key, r.Value)
	}
	_ = os.WriteFile(filepath.Join(e.dir, "output-topic.tsv"), []byte(b.String()), 0o644)
}

// saveHistory writes the episode's history next to its runs.
func (e *episode) saveHistory() {
	_ = os.WriteFile(filepath.Join(e.dir, "history.txt"), []byte(e.history()), 0o644)
}

func (e *episode) history() string {
	return "  history (" + e.dir + "):\n    " + strings.Join(e.events, "\n    ") + "\n"
}

// setup makes the episode's directories, script and topics, and starts
// producing its Kafka input.
func (e *episode) setup(ctx context.Context) error {
	for _, d := range []string{e.outDir(), e.ckDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(e.dir, "query.sql"), []byte(e.p.script), 0o644); err != nil {
		return err
	}
	if e.p.source == sourceKafka || e.p.sink.kafka() {
		if e.h.kafka == nil {
			return errors.New("a Kafka pipeline without a broker")
		}
	}
	if e.p.sink.kafka() {
		if err := e.h.kafka.createTopic(ctx, e.out, 2); err != nil {
			return err
		}
	}
	if e.p.source == sourceKafka {
		if err := e.h.kafka.createTopic(ctx, e.in, inputPartitions); err != nil {
			return err
		}
		e.prod = make(chan error, 1)
		sc := e.h.cfg.scale
		spacing := time.Duration(float64(time.Second) / sc.Rate)
		span := max(time.Duration(sc.Seconds*float64(time.Second)), e.span)
		go func() { e.prod <- e.h.kafka.produce(ctx, e.in, sc.pacedRows(), spacing, span) }()
	}
	return nil
}

func (e *episode) start(ctx context.Context) (*proc, error) {
	e.runs++
	return startSluice(ctx, e.h.cfg.bin, e.dir, "query.sql", e.vars, e.runs)
}

// play sets the episode up and runs it with no interruption to its end:
// the clean run. It returns how long the query took to finish or, for a
// Kafka source, to catch up with all input.
func (e *episode) play(ctx context.Context, res *result) (time.Duration, error) {
	if err := e.setup(ctx); err != nil {
		return 0, err
	}
	pr, err := e.start(ctx)
	if err != nil {
		return 0, err
	}
	res.runs++
	return e.finish(ctx, pr)
}

// playPlan sets the episode up and interrupts its runs as plan says, one
// action per run, restarting after each; when the plan is used up a last
// run goes to the end. A run that finishes before its action ends the
// episode: the actions left over are returned for the next episode.
//
// dur is the expected length of a whole run, which random moments are
// fractions of: a first run that ends by itself sooner (the machine got
// less busy) becomes the new estimate, so later episodes land their
// interruptions again.
func (e *episode) playPlan(ctx context.Context, plan []action, dur *time.Duration, res *result) ([]action, error) {
	if err := e.setup(ctx); err != nil {
		return nil, err
	}
	for len(plan) > 0 {
		a := plan[0]
		finished, err := e.interrupt(ctx, a, *dur, res)
		if err != nil {
			return nil, err
		}
		if finished {
			if e.runs == 1 && e.lastRun < *dur {
				*dur = e.lastRun
			}
			if e.runs == 1 && plan[0].nth > 1 {
				// A fresh run ended before its nth file or send event:
				// this pipeline may never write that many mid-run, so the
				// next episode waits for an earlier one instead of
				// retrying a moment that does not come.
				plan[0].nth--
			}
			return plan, nil
		}
		plan = plan[1:]
	}
	pr, err := e.start(ctx)
	if err != nil {
		return nil, err
	}
	res.runs++
	if _, err := e.finish(ctx, pr); err != nil {
		return nil, err
	}
	return nil, nil
}

// finalSettle is how long a last run over Kafka runs at least before the
// harness stops it, even when the input was all committed before it began.
const finalSettle = 2 * time.Second

// finish lets a run end: a bounded query must exit 0 by itself; a Kafka
// query must commit its group's offsets up to the end of the input (a
// scaled-out one, also those of its repartition topics), and is then
// stopped with SIGTERM and must exit 0. prs are the run's processes: one,
// or every member of a scaled-out query, stopped together.
func (e *episode) finish(ctx context.Context, prs ...*proc) (time.Duration, error) {
	defer func() {
		for _, pr := range prs {
			pr.kill()
		}
	}()
	pr := prs[0]
	limit := e.h.cfg.timeout
	if e.p.bounded() {
		if !pr.wait(limit) {
			e.note("did not finish within %s", limit)
			return 0, productf("run %d did not finish within %s (bounded input)", e.runs, limit)
		}
		took := time.Since(pr.started)
		if !pr.success() {
			e.note("final run ended with %s: %s", pr.exitStatus(), pr.stderrTail())
			return 0, productf("run %d (to the end) ended with %s:\n%s", e.runs, pr.exitStatus(), pr.stderrTail())
		}
		e.note("ran to the end in %s", took.Round(time.Millisecond))
		return took, nil
	}
	select {
	case err := <-e.prod:
		e.prod <- err // later waits see it too
		if err != nil {
			return 0, err
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	exited := func() *proc {
		for _, pr := range prs {
			if pr.exited() {
				return pr
			}
		}
		return nil
	}
	// The runs must be up (handling signals, their recovery done) before
	// the offsets count: earlier runs may have committed them all.
	for _, pr := range prs {
		if !pr.handlersReady(limit) && !pr.exited() {
			return 0, fmt.Errorf("run %d: cannot tell when sluice handles signals (no SIGINT in /proc/%d/status SigCgt within %s)", e.runs, pr.cmd.Process.Pid, limit)
		}
	}
	upAt := time.Now()
	deadline := time.Now().Add(limit)
	var cu catchUp
	for {
		ok, where, err := e.caughtUp(ctx, &cu)
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		if pr := exited(); pr != nil {
			e.note("exited with %s before catching up (%s): %s", pr.exitStatus(), where, pr.stderrTail())
			return 0, productf("run %d exited with %s before catching up with the input:\n%s", e.runs, pr.exitStatus(), pr.stderrTail())
		}
		if time.Now().After(deadline) {
			// SIGQUIT makes the Go runtime write every goroutine's stack
			// to the run's stderr: where it is stuck, kept for the report.
			var dumps []string
			for _, pr := range prs {
				pr.dump()
				dumps = append(dumps, pr.stderr)
			}
			e.note("did not catch up within %s (%s); goroutine dump in %s", limit, where, strings.Join(dumps, ", "))
			return 0, productf("run %d did not catch up with the input within %s: %s (goroutine dump in %s)", e.runs, limit, where, strings.Join(dumps, ", "))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	took := time.Since(pr.started)
	// Whatever the offsets say, give the run a moment past its start to
	// finish what a crash left pending, before the clean stop.
	if d := finalSettle - time.Since(upAt); d > 0 {
		time.Sleep(d)
	}
	if pr := exited(); pr != nil {
		e.note("caught up, then exited with %s unasked: %s", pr.exitStatus(), pr.stderrTail())
		return 0, productf("run %d exited with %s without being stopped:\n%s", e.runs, pr.exitStatus(), pr.stderrTail())
	}
	for _, pr := range prs {
		pr.signal(syscall.SIGTERM)
	}
	for _, pr := range prs {
		if !pr.wait(60 * time.Second) {
			pr.dump()
			e.note("caught up in %s, then did not stop within 60s of SIGTERM; goroutine dump in %s", took.Round(time.Millisecond), pr.stderr)
			return 0, productf("run %d did not stop within 60s of SIGTERM (goroutine dump in %s)", e.runs, pr.stderr)
		}
		if !pr.success() {
			e.note("caught up, then SIGTERM ended it with %s: %s", pr.exitStatus(), pr.stderrTail())
			return 0, productf("run %d: SIGTERM after catching up ended it with %s:\n%s", e.runs, pr.exitStatus(), pr.stderrTail())
		}
	}
	e.note("caught up in %s, stopped with SIGTERM", took.Round(time.Millisecond))
	return took, nil
}

// catchUp is what caughtUp remembers between two looks of a scaled-out
// query: the group's committed offsets and since when they stood still.
type catchUp struct {
	last  string
	since time.Time
}

// quietFor is how long a scaled-out query's group must commit nothing
// new, all input committed, before the query counts as caught up.
const quietFor = 5 * time.Second

// caughtUp reports whether the query has processed all input: its group
// committed the input topic's end offsets. A scaled-out query's
// downstream part commits the repartition offsets only of batches that
// carry rows or move a watermark (the watermarks the upstream re-sends
// after them stay uncommitted), so no end offset says when it is done:
// once the upstream has committed all input (every input row is in the
// repartition topics then), the group, stable, must commit nothing for
// quietFor, with an offset for every repartition partition that holds
// records.
func (e *episode) caughtUp(ctx context.Context, cu *catchUp) (bool, string, error) {
	ok, where, err := e.h.kafka.caughtUp(ctx, e.group, e.in)
	if err != nil || !ok || e.p.members == 0 {
		return ok, where, err
	}
	ends, err := e.h.kafka.internalEnds(ctx, e.group, "repartition")
	if err != nil {
		return false, "", err
	}
	ok, now, down, err := e.h.kafka.groupSettled(ctx, e.group, ends)
	if err != nil {
		return false, "", err
	}
	where += "; " + down
	if !ok || now != cu.last {
		cu.last, cu.since = now, time.Now()
		return false, where, nil
	}
	return time.Since(cu.since) >= quietFor, where, nil
}

// interrupt starts a run and applies a to it. It reports finished when the
// run ended by itself (exit 0) before a could land.
func (e *episode) interrupt(ctx context.Context, a action, cleanDur time.Duration, res *result) (finished bool, err error) {
	var w *watcher
	switch a.kind {
	case killCheckpoint:
		w, err = newWatcher(e.ckDir())
	case killPending, killVisible:
		w, err = newWatcher(e.outDir())
	}
	if err != nil {
		e.h.logf("%s: no file watcher (%v): %s becomes a random kill", e.p.name, err, a)
		a = action{kind: killRandom, frac: 0.5}
	}
	if w != nil {
		defer w.close()
	}
	pr, err := e.start(ctx)
	if err != nil {
		return false, err
	}
	defer pr.kill()
	res.runs++
	at := func(frac float64) <-chan time.Time { return time.After(time.Duration(frac * float64(cleanDur))) }
	// A chosen moment may never come (a restart with no input left writes
	// no checkpoint): after this long past the CLI's start the run is
	// killed anyway, and the kill counts as a fallback.
	eventWait := cleanDur*3/2 + 2*time.Second

	var fire <-chan time.Time
	var sent func() (bool, error)
	what := a.String()
	switch a.kind {
	case killRandom, stopRandom:
		fire = at(a.frac)
	case stopQuick:
		// The delay counts from the moment the CLI handles signals (a
		// loaded machine can take a second to get there).
		ch := make(chan time.Time, 1)
		fire = ch
		go func() {
			pr.handlersReady(e.h.cfg.timeout)
			time.Sleep(a.delay)
			ch <- time.Now()
		}()
	case killCheckpoint, killPending, killVisible:
		seen := 0
		fire = e.waitEvent(w, a, &seen, &what, eventWait, pr)
	case killSent:
		base, err := e.h.kafka.sentRecords(ctx, e.out)
		if err != nil {
			return false, err
		}
		seen := 0
		sent = func() (bool, error) {
			n, err := e.h.kafka.sentRecords(ctx, e.out)
			if err != nil {
				return false, err
			}
			if n > base {
				seen++
				base = n
				what = fmt.Sprintf("%s (topic end offsets reached %d)", a, n)
			}
			return seen >= a.nth, nil
		}
		ch := make(chan time.Time, 1)
		fire = ch
		go func() {
			pr.handlersReady(e.h.cfg.timeout)
			time.Sleep(eventWait)
			ch <- time.Now()
		}()
	}
	var tick <-chan time.Time
	if sent != nil {
		t := time.NewTicker(3 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	timedOut := false
wait:
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-pr.done:
			break wait
		case <-tick:
			ok, err := sent()
			if err != nil {
				return false, err
			}
			if ok {
				break wait
			}
		case <-fire:
			if a.kind == killSent {
				timedOut = true
			}
			break wait
		}
	}
	// exitedFirst: the run ended before the action could land.
	exitedFirst := func() (bool, error) {
		<-pr.done
		e.lastRun = time.Since(pr.started)
		if pr.success() {
			e.note("finished by itself before %s", a)
			return true, nil
		}
		e.note("ended with %s before %s: %s", pr.exitStatus(), a, pr.stderrTail())
		return false, productf("run %d ended with %s before it was interrupted:\n%s", e.runs, pr.exitStatus(), pr.stderrTail())
	}
	if pr.exited() {
		return exitedFirst()
	}
	if strings.HasPrefix(what, "timeout:") {
		timedOut = true
	}
	if a.kind.isKill() {
		since := time.Since(pr.started).Round(time.Millisecond)
		if !pr.signal(syscall.SIGKILL) {
			return exitedFirst()
		}
		<-pr.done
		res.landed[a.kind]++
		if timedOut {
			res.fallback++
			e.note("SIGKILL at %s: %s never happened within %s, killed anyway", since, a, eventWait)
		} else {
			e.note("SIGKILL at %s: %s", since, what)
		}
		return false, nil
	}
	if !pr.handlersReady(e.h.cfg.timeout) {
		if pr.exited() {
			return exitedFirst()
		}
		return false, fmt.Errorf("run %d: cannot tell when sluice handles signals (no SIGINT in /proc/%d/status SigCgt within %s)", e.runs, pr.cmd.Process.Pid, e.h.cfg.timeout)
	}
	if !pr.signal(a.sig) {
		return exitedFirst()
	}
	since := time.Since(pr.started).Round(time.Millisecond)
	if !pr.wait(60 * time.Second) {
		pr.dump()
		e.note("%s at %s: did not stop within 60s; goroutine dump in %s", a.sig, since, pr.stderr)
		return false, productf("run %d did not stop within 60s of %s (goroutine dump in %s)", e.runs, a.sig, pr.stderr)
	}
	res.landed[a.kind]++
	switch {
	case pr.success():
		e.note("%s at %s: clean stop", a.sig, since)
	default:
		e.note("%s at %s: ended with %s: %s", a.sig, since, pr.exitStatus(), pr.stderrTail())
		return false, productf("run %d: a clean stop (%s) ended with %s:\n%s", e.runs, a.sig, pr.exitStatus(), pr.stderrTail())
	}
	return false, nil
}

// waitEvent returns a channel that fires at the nth file event matching
// a's moment, or after limit (what then starts with "timeout:").
func (e *episode) waitEvent(w *watcher, a action, seen *int, what *string, limit time.Duration, pr *proc) <-chan time.Time {
	fire := make(chan time.Time, 1)
	go func() {
		pr.handlersReady(e.h.cfg.timeout) // the start may take long on a loaded machine
		deadline := time.After(limit)
		for {
			select {
			case ev := <-w.events:
				if !e.matches(a.kind, ev) {
					continue
				}
				*seen++
				if *seen >= a.nth {
					*what = fmt.Sprintf("%s (%s %s)", a, filepath.Base(ev.Path), map[bool]string{true: "renamed into place", false: "written"}[ev.Rename])
					fire <- time.Now()
					return
				}
			case <-deadline:
				*what = "timeout: " + a.String()
				fire <- time.Now()
				return
			case <-pr.done:
				return
			}
		}
	}()
	return fire
}

// isTemp says whether a file name looks temporary or pending: hidden, or
// marked .tmp, .pending or .inprogress.
func isTemp(name string) bool {
	if isSinkManifest(name) {
		return false
	}
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || strings.Contains(name, ".tmp") ||
		strings.Contains(name, ".pending") || strings.Contains(name, ".inprogress")
}

// isSinkManifest says whether name is a folder sink's manifest or the
// temporary file it is written through: neither a part file nor a
// checkpoint, though its name looks like both (hidden, ".tmp",
// "manifest").
func isSinkManifest(name string) bool {
	return strings.Contains(name, file.ManifestName)
}

// isCheckpointPublication says whether a file landing in the checkpoint
// directory publishes a checkpoint: a manifest (chk-N.manifest, written
// after the state files it lists) or a whole checkpoint file
// (checkpoint.gob), not a temporary file, a state part or the copy of the
// previous checkpoint.
func isCheckpointPublication(name string) bool {
	if isTemp(name) || isSinkManifest(name) || strings.Contains(name, "prev") {
		return false
	}
	return strings.Contains(name, "manifest") || strings.HasPrefix(name, "checkpoint")
}

// matches says whether ev is the moment kind waits for.
func (e *episode) matches(kind actionKind, ev fsEvent) bool {
	name := filepath.Base(ev.Path)
	switch kind {
	case killCheckpoint:
		return isCheckpointPublication(name)
	case killPending:
		return isTemp(name)
	case killVisible:
		return isOutputFile(name, ".csv")
	}
	return false
}

// read returns the episode's output and any inconsistency of the output
// itself (an upsert stream whose counts go back).
func (e *episode) read(ctx context.Context) (rows, []string, error) {
	switch e.p.sink {
	case sinkFileDir, sinkFileSingle:
		r, _, err := readCSVDir(e.outDir())
		return r, nil, err
	}
	recs, err := e.h.kafka.readTopic(ctx, e.out, 30*time.Second)
	if err != nil {
		return nil, nil, err
	}
	e.saveRecords(recs)
	if e.p.sink == sinkKafkaUpsert {
		r, bad := upsertRows(recs, e.p.countCol)
		if len(bad) > 5 {
			bad = append(bad[:5], fmt.Sprintf("… %d more", len(bad)-5))
		}
		return r, bad, nil
	}
	return appendRows(recs), nil, nil
}
