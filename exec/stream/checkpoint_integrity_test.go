package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"

	"github.com/sluicesql/sluice/exec"
)

// saveSeqs writes checkpoints 1..n with offsets t/0 = 10·seq and one
// operator part.
func saveSeqs(t *testing.T, ck *Checkpointer, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		cp := Checkpoint{Offsets: map[string]exec.Offsets{PipelineSource: {"t/0": int64(10 * i)}},
			State: []OperatorState{{Name: PipelineOperator, Data: []byte(strings.Repeat("state", i))}}}
		if err := ck.Save(cp); err != nil {
			t.Fatal(err)
		}
	}
}

// A damaged newest checkpoint is detected, reported with its path, and
// the previous complete one is restored.
func TestCheckpointDamagedFallsBackToPrevious(t *testing.T) {
	flip := func(path string, at func(size int) int) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			data, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Fatal(err)
			}
			data[at(len(data))] ^= 0x10
			if err := os.WriteFile(filepath.Join(dir, path), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	truncate := func(path string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			p := filepath.Join(dir, path)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}
	}
	man, state := manifestName(3), "state-0000000003-0.bin"
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
		blame  string // the file the error must name
	}{
		{"bit flip in the manifest body", flip(man, func(n int) int { return n - 5 }), man},
		{"bit flip in the manifest header", flip(man, func(int) int { return 20 }), man},
		{"bit flip in the state", flip(state, func(n int) int { return n / 2 }), state},
		{"truncated manifest", truncate(man), man},
		{"truncated state", truncate(state), state},
		{"empty manifest", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, man), nil, 0o644) }, man},
		{"state file missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, state)) }, state},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			saveSeqs(t, NewCheckpointer(dir, 0, 0), 3)
			tc.damage(t, dir)
			ck := NewCheckpointer(dir, 0, 0)
			cp, err := ck.Load()
			if err != nil {
				t.Fatal(err)
			}
			if cp == nil || cp.Seq != 2 || cp.Offsets[PipelineSource]["t/0"] != 20 || string(cp.Part(PipelineOperator)) != "statestate" {
				t.Fatalf("restored %+v, want checkpoint 2", cp)
			}
			if len(ck.Skipped()) != 1 || !strings.Contains(ck.Skipped()[0].Error(), tc.blame) {
				t.Fatalf("skipped %v, want one error naming %s", ck.Skipped(), tc.blame)
			}
			// The next checkpoint follows the damaged one and the
			// damaged one no longer counts against Retain.
			if err := ck.Save(Checkpoint{Offsets: map[string]exec.Offsets{PipelineSource: {"t/0": 40}}}); err != nil {
				t.Fatal(err)
			}
			cp, err = NewCheckpointer(dir, 0, 0).Load()
			if err != nil || cp.Seq != 4 {
				t.Fatalf("after saving: %+v %v, want checkpoint 4", cp, err)
			}
		})
	}
}

// With every checkpoint damaged the query refuses to start instead of
// silently starting from scratch.
func TestCheckpointAllDamagedRefuses(t *testing.T) {
	dir := t.TempDir()
	saveSeqs(t, NewCheckpointer(dir, 0, 0), 2)
	for _, s := range []int64{1, 2} {
		if err := os.Truncate(filepath.Join(dir, manifestName(s)), 10); err != nil {
			t.Fatal(err)
		}
	}
	_, err := NewCheckpointer(dir, 0, 0).Load()
	if !errors.Is(err, ErrNoUsableCheckpoint) {
		t.Fatalf("got %v, want ErrNoUsableCheckpoint", err)
	}
	for _, want := range []string{manifestName(1), manifestName(2), "delete the directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// A checkpoint written by a different query (another fingerprint) is
// refused with a message saying how to start fresh.
func TestCheckpointOfDifferentQueryRefused(t *testing.T) {
	dir := t.TempDir()
	ck := NewCheckpointer(dir, 0, 0)
	ck.Fingerprint = "plan A"
	saveSeqs(t, ck, 1)
	other := NewCheckpointer(dir, 0, 0)
	other.Fingerprint = "plan B"
	_, err := other.Load()
	if !errors.Is(err, ErrCheckpointMismatch) {
		t.Fatalf("got %v, want ErrCheckpointMismatch", err)
	}
	if !strings.Contains(err.Error(), "delete the directory") || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not say how to start fresh", err)
	}
	same := NewCheckpointer(dir, 0, 0)
	same.Fingerprint = "plan A"
	if cp, err := same.Load(); err != nil || cp.Seq != 1 {
		t.Fatalf("same query: %+v %v", cp, err)
	}
}

// A directory with the single-file checkpoint of earlier versions is
// refused rather than ignored.
func TestCheckpointLegacyFormatRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, legacyFile), []byte("gob"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCheckpointer(dir, 0, 0).Load(); err == nil || !strings.Contains(err.Error(), legacyFile) {
		t.Fatalf("got %v, want an error naming %s", err, legacyFile)
	}
}

// A checkpoint of an earlier format version (1 and 2: Value
// accumulators, before the aggregation core; 3 and 4: parallel
// instances partitioned by an earlier key hash) is refused with a message
// saying so and how to start fresh; it is neither skipped for an older
// checkpoint nor restored into the new state layout.
func TestCheckpointOlderFormatRefused(t *testing.T) {
	for _, version := range []int{1, 2, 3, 4} {
		dir := t.TempDir()
		saveSeqs(t, NewCheckpointer(dir, 0, 0), 2)
		for _, seq := range []int64{1, 2} {
			path := filepath.Join(dir, manifestName(seq))
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			nl := strings.IndexByte(string(data), '\n')
			body := data[nl+1:]
			sum := sha256.Sum256(body)
			old := append(fmt.Appendf(nil, "%s %d %s\n", manifestMagic, version, hex.EncodeToString(sum[:])), body...)
			if err := os.WriteFile(path, old, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ck := NewCheckpointer(dir, 0, 0)
		cp, err := ck.Load()
		if err == nil || cp != nil {
			t.Fatalf("version %d: got %+v, %v; want the old checkpoint refused", version, cp, err)
		}
		for _, want := range []string{"earlier sluice version", fmt.Sprintf("version %d", version), "delete the directory", dir} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if errors.Is(err, ErrNoUsableCheckpoint) {
			t.Errorf("error %q calls an old format damage", err)
		}
		if _, err := os.Stat(filepath.Join(dir, manifestName(2))); err != nil {
			t.Errorf("the old checkpoint was moved or deleted: %v", err)
		}
	}
}

// Only the newest Retain checkpoints and their state files are kept.
func TestCheckpointPrunesToRetain(t *testing.T) {
	for _, retain := range []int{0, 1, 2, 5} {
		dir := t.TempDir()
		ck := NewCheckpointer(dir, 0, 0)
		ck.Retain = retain
		saveSeqs(t, ck, 7)
		want := retain
		if want == 0 {
			want = DefaultRetain
		}
		mans, _ := filepath.Glob(filepath.Join(dir, "chk-*.manifest"))
		states, _ := filepath.Glob(filepath.Join(dir, "state-*.bin"))
		tmps, _ := filepath.Glob(filepath.Join(dir, ".*"))
		if len(mans) != want || len(states) != want || len(tmps) != 0 {
			t.Errorf("retain %d: %d manifests, %d state files, %d temp files; want %d, %d, 0", retain, len(mans), len(states), len(tmps), want, want)
		}
		cp, err := NewCheckpointer(dir, 0, 0).Load()
		if err != nil || cp.Seq != 7 {
			t.Errorf("retain %d: newest %+v %v", retain, cp, err)
		}
	}
}

// recordingSink is a two-phase sink that records the protocol's calls,
// checking at each step what the checkpoint directory holds.
type recordingSink struct {
	mu    sync.Mutex
	dir   string
	calls []string
	t     *testing.T
}

func (s *recordingSink) log(c string) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

func (s *recordingSink) Write(context.Context, arrow.Record) error  { return nil }
func (s *recordingSink) Commit(context.Context, exec.Offsets) error { return nil }
func (s *recordingSink) Close() error                               { return nil }

func (s *recordingSink) PreCommit(_ context.Context, id exec.CheckpointID, upTo exec.Offsets) ([]byte, error) {
	if _, err := os.Stat(filepath.Join(s.dir, manifestName(int64(id)))); err == nil {
		s.t.Errorf("checkpoint %d saved before the sink pre-committed", id)
	}
	s.log("pre")
	return []byte{byte(id)}, nil
}

func (s *recordingSink) CommitPending(_ context.Context, h []byte) error {
	if _, err := os.Stat(filepath.Join(s.dir, manifestName(int64(h[0])))); err != nil {
		s.t.Errorf("sink committed %d before its checkpoint was saved", h[0])
	}
	s.log("commit")
	return nil
}

func (s *recordingSink) Recover(_ context.Context, h []byte) error {
	if h == nil {
		s.log("recover-fresh")
	} else {
		s.log("recover-" + string('0'+rune(h[0])))
	}
	return nil
}

// A restarted query stopped before its first batch checkpoints the
// offsets it restored, never empty ones (the bug: the next start kept the
// state and replayed the whole source, doubling every total), and the
// sink's two-phase commit brackets every checkpoint.
func TestPipelineQuickStopAfterRestartKeepsOffsets(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	run := func(batches int) []string {
		g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
			[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
		if err != nil {
			t.Fatal(err)
		}
		ck := NewCheckpointer(dir, 0, 0)
		from, err := ck.Restore(g)
		if err != nil {
			t.Fatal(err)
		}
		r := newScriptReader()
		r.rows[0] = from["p0"]
		sink := &recordingSink{dir: dir, t: t}
		c := newCollector()
		p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: c.emit(t), Clock: NewManualClock(epoch),
			Checkpoint: ck, TwoPhase: sink}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.RunContinuous(ctx) }()
		r.start()
		for i := 0; i < batches; i++ {
			rec := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1},{"k":"b","v":2}]`)
			r.push(rec, 0)
			rec.Release()
			<-c.recs
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("run: %v", err)
		}
		return sink.calls
	}
	if got := strings.Join(run(3), ","); got != "recover-fresh,pre,commit,pre,commit,pre,commit,pre,commit" {
		t.Fatalf("first run: %s", got)
	}
	// Restart, stop at once: the checkpoint keeps p0 = 6.
	if got := strings.Join(run(0), ","); got != "recover-4,pre,commit" {
		t.Fatalf("quick stop: %s", got)
	}
	cp, err := NewCheckpointer(dir, 0, 0).Load()
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 5 || cp.Offsets[PipelineSource]["p0"] != 6 {
		t.Fatalf("after a quick stop checkpoint %d holds offsets %v, want 5 and p0=6", cp.Seq, cp.Offsets)
	}
}

// Output of a burst followed by idle input is checkpointed and committed
// on the tick once the interval passes: it does not wait for more input
// (an idle Kafka source left its transaction open until it timed out).
func TestPipelineIdleInputCommits(t *testing.T) {
	mem := checkedMem(t)
	dir := t.TempDir()
	g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
		[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := NewManualClock(epoch)
	ck := NewCheckpointer(dir, 0, time.Second)
	commits := make(chan exec.Offsets, 16)
	r := newScriptReader()
	c := newCollector()
	p := &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: c.emit(t), Clock: clock, Checkpoint: ck,
		TickEvery: 100 * time.Millisecond,
		Commit:    func(_ context.Context, o exec.Offsets) error { commits <- o; return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.RunContinuous(ctx) }()
	r.start()
	for i := 0; i < 2; i++ {
		rec := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1}]`)
		r.push(rec, 0)
		rec.Release()
		<-c.recs
	}
	// The first batch's checkpoint was due at once; the second is not.
	if o := <-commits; o["p0"] != 1 {
		t.Fatalf("first commit %v", o)
	}
	// Input is idle now; time passes.
	for i := 0; i < 12; i++ {
		clock.BlockUntil(1)
		clock.Advance(100 * time.Millisecond)
	}
	select {
	case o := <-commits:
		if o["p0"] != 2 {
			t.Fatalf("idle commit %v, want p0=2", o)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("idle input: the last batch was never committed")
	}
	cancel()
	<-done
}

// State of a query with other aggregates (an AVG added) is refused by
// Restore, not folded into until an index goes out of range.
func TestRestoreRefusesStateOfAnotherShape(t *testing.T) {
	mem := checkedMem(t)
	spec := WindowSpec{Kind: Tumble, TimeCol: 0, Size: 10 * time.Second}
	for _, sessions := range []bool{false, true} {
		if sessions {
			spec = WindowSpec{Kind: Session, TimeCol: 0, Gap: 5 * time.Second}
		}
		old := newWinAgg(t, mem, spec, WindowOptions{Delay: time.Second})
		evs := evRecord(mem, []ev{{sec(1), "a", 1}, {sec(4), "b", 2}})
		pushAll(t, old, []arrow.Record{evs}, false)
		evs.Release()
		snap, err := old.Snapshot()
		old.Close()
		if err != nil {
			t.Fatal(err)
		}
		wider, err := NewWindowAggregate(mem, evSchema, spec, []GroupKey{{Expr: col(evSchema, 1), Name: "k"}},
			[]AggSpec{{Func: AggCountStar, Name: "n"}, {Func: AggSum, Arg: col(evSchema, 2), Name: "s"}, {Func: AggAvg, Arg: col(evSchema, 2), Name: "a"}},
			WindowOptions{Delay: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := wider.Restore(snap); err == nil || !strings.Contains(err.Error(), "aggregates") {
			t.Errorf("sessions=%v: restoring 2 aggregates into 3: %v", sessions, err)
		}
		wider.Close()
		g := fuzzGroupAgg(t, mem)
		if err := g.Restore(snap); err == nil {
			t.Errorf("sessions=%v: a window snapshot restored into a group aggregate", sessions)
		}
		g.Close()
	}
}

// A restarted query whose input has all been processed (the crash came
// after its last checkpoint but before the offsets reached the consumer
// group) commits the restored offsets without waiting for new input, in
// both drivers: the group's lag otherwise showed input never processed,
// and the crash harness waited for a commit that never came.
func TestRestoredOffsetsCommittedWithoutNewInput(t *testing.T) {
	for _, mode := range []string{"continuous", "micro-batch"} {
		t.Run(mode, func(t *testing.T) {
			mem := checkedMem(t)
			dir := t.TempDir()
			newPipeline := func(clock *ManualClock, commits chan exec.Offsets) (*Pipeline, *scriptReader, *collector) {
				g, err := NewGroupAggregate(mem, kvSchema, []GroupKey{{Expr: col(kvSchema, 0), Name: "k"}},
					[]AggSpec{{Func: AggSum, Arg: col(kvSchema, 1), Name: "s"}})
				if err != nil {
					t.Fatal(err)
				}
				ck := NewCheckpointer(dir, 0, time.Second)
				from, err := ck.Restore(g)
				if err != nil {
					t.Fatal(err)
				}
				r := newScriptReader()
				r.rows[0] = from["p0"]
				c := newCollector()
				return &Pipeline{Mem: mem, Reader: r, Schema: kvSchema, Op: g, Emit: c.emit(t), Clock: clock,
					Checkpoint: ck, TickEvery: 100 * time.Millisecond,
					Commit: func(_ context.Context, o exec.Offsets) error { commits <- maps.Clone(o); return nil }}, r, c
			}
			run := func(p *Pipeline, ctx context.Context) error {
				if mode == "continuous" {
					return p.RunContinuous(ctx)
				}
				return p.RunMicroBatch(ctx, 200*time.Millisecond, false)
			}
			// First run: three rows, checkpointed; the commits it makes are
			// dropped, as a crash before the group commit would.
			clock := NewManualClock(epoch)
			p, r, c := newPipeline(clock, make(chan exec.Offsets, 64))
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(p, ctx) }()
			r.start()
			rec := fromJSON(t, mem, kvSchema, `[{"k":"a","v":1},{"k":"b","v":2},{"k":"a","v":3}]`)
			r.push(rec, 0)
			rec.Release()
			if mode == "micro-batch" {
				clock.BlockUntil(1)
				clock.Advance(200 * time.Millisecond)
			}
			<-c.recs
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v", err)
			}
			// Second run: no input at all; time passes.
			clock = NewManualClock(epoch.Add(time.Minute))
			commits := make(chan exec.Offsets, 64)
			p, r, _ = newPipeline(clock, commits)
			ctx, cancel = context.WithCancel(context.Background())
			defer cancel()
			go func() { done <- run(p, ctx) }()
			r.start()
			deadline := time.After(10 * time.Second)
			for i := 0; ; i++ {
				select {
				case o := <-commits:
					if o["p0"] != 3 {
						t.Fatalf("restored run committed %v, want p0=3", o)
					}
					cancel()
					if err := <-done; !errors.Is(err, context.Canceled) {
						t.Fatalf("second run: %v", err)
					}
					return
				case <-deadline:
					cancel()
					<-done
					t.Fatal("a restored run with no new input never committed its restored offsets")
				default:
				}
				if i < 40 {
					clock.BlockUntil(1)
					clock.Advance(100 * time.Millisecond)
				} else {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
}
