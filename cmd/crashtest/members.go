package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A scaled-out pipeline's episode runs p.members sluice processes on one
// group, each with its own directory (checkpoint directory, hence its
// identity and the transactional ids of its internal topics) and its own
// sink transactional id. Each planned action interrupts one member while
// the others run on; the member is started again after a downtime.

// takeoverDown is the shortest downtime past the scaled-out query's group
// session timeout (6 s, connectors/kafka exchangeSessionTimeout): the
// other members take the dead one's partitions over before it is back,
// and give them back when it rejoins.
const takeoverDown = 7 * time.Second

// scheduleMembers plans the interruptions of a scaled-out pipeline of n
// members, as schedule does for one process: kills, half of them at
// chosen moments of the member's own transactions (a record sent, a
// commit asked for and dropped, a commit done), the rest at random, and
// clean stops (a quick one stops the member the action before
// restarted). Each action picks its member and a downtime: half short
// (the restarted static member takes its place back at once), half past
// the session timeout.
func scheduleMembers(rng *rand.Rand, kills, stops, n int) []action {
	chosen := []actionKind{killSent, killCommitting, killCommitted}
	nChosen := max(kills/2, min(len(chosen), kills-1))
	var out []action
	for i := 0; i < kills; i++ {
		if i < nChosen {
			out = append(out, action{kind: chosen[i%len(chosen)], nth: 1 + rng.IntN(3), frac: 0.1 + 0.5*rng.Float64()})
			continue
		}
		out = append(out, action{kind: killRandom, frac: 0.1 + 0.7*rng.Float64()})
	}
	out = append(out, planStops(rng, stops)...)
	shuffle(rng, out)
	for i := range out {
		out[i].member = rng.IntN(n)
		if out[i].kind == stopQuick && i > 0 {
			out[i].member = out[i-1].member
		}
		out[i].down = time.Duration(rng.Int64N(int64(time.Second)))
		if rng.IntN(2) == 0 {
			out[i].down = takeoverDown + time.Duration(rng.Int64N(int64(2*time.Second)))
		}
	}
	return out
}

// member is one process slot of a scaled-out episode.
type member struct {
	n    int // 1-based, for the history
	dir  string
	vars map[string]string
	// txn is the member's sink 'transactional.id'; ident the identity
	// sluice derives from its checkpoint directory, which its internal
	// topics' transactional ids start with.
	txn   string
	ident string
	pr    *proc // nil while the member is down
	runs  int
}

// owns reports whether txnID is one of the member's transactions.
func (m *member) owns(txnID string) bool {
	return txnID == m.txn || strings.HasPrefix(txnID, m.ident+"-")
}

// memberIdentity is the identity sluice gives the query of a member run
// in dir with --checkpoint-dir ck (engine.compileStream: "sluice-" and
// 8 bytes of the SHA-256 of the absolute path of the sink's checkpoint,
// ck/sink-out, the sink being named out in every scaled-out script). A
// mismatch only makes the chosen moments fall back to timeouts, which
// the report counts.
func memberIdentity(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	h := sha256.Sum256([]byte(filepath.Join(abs, "ck", "sink-out")))
	return "sluice-" + hex.EncodeToString(h[:8]), nil
}

func (e *episode) newMembers(n int) ([]*member, error) {
	ms := make([]*member, n)
	for i := range ms {
		m := &member{n: i + 1, dir: filepath.Join(e.dir, fmt.Sprintf("m%d", i+1)), vars: maps.Clone(e.vars)}
		if err := os.MkdirAll(filepath.Join(m.dir, "ck"), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(m.dir, "query.sql"), []byte(e.p.script), 0o644); err != nil {
			return nil, err
		}
		m.txn = fmt.Sprintf("%s_m%d", e.vars["txn"], m.n)
		m.vars["txn"] = m.txn
		var err error
		if m.ident, err = memberIdentity(m.dir); err != nil {
			return nil, err
		}
		ms[i] = m
	}
	return ms, nil
}

func (e *episode) noteMember(m *member, format string, args ...any) {
	line := fmt.Sprintf("m%d run %d: ", m.n, m.runs) + fmt.Sprintf(format, args...)
	e.events = append(e.events, line)
	e.h.logf("%s/%s %s", e.p.name, e.name, line)
}

func (e *episode) startMember(ctx context.Context, m *member, res *result) error {
	m.runs++
	e.runs++
	res.runs++
	pr, err := startSluice(ctx, e.h.cfg.bin, m.dir, "query.sql", m.vars, m.runs)
	if err != nil {
		return err
	}
	m.pr = pr
	return nil
}

// alive fails when a running member has exited: a query over Kafka runs
// until it is stopped.
func (e *episode) alive(ms []*member) error {
	for _, m := range ms {
		if m.pr != nil && m.pr.exited() {
			e.noteMember(m, "exited with %s unasked: %s", m.pr.exitStatus(), m.pr.stderrTail())
			return productf("member %d (run %d) exited with %s without being stopped:\n%s", m.n, m.runs, m.pr.exitStatus(), m.pr.stderrTail())
		}
	}
	return nil
}

// pause waits d while the running members must stay up.
func (e *episode) pause(ctx context.Context, ms []*member, d time.Duration) error {
	end := time.Now().Add(d)
	for {
		if err := e.alive(ms); err != nil {
			return err
		}
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(left, 100*time.Millisecond)):
		}
	}
}

// playMembers sets the episode up, starts every member, applies plan
// (each action to its member, restarting it after its downtime) and
// lets all of them catch up with the input before a clean stop. Every
// action lands: the members run until stopped.
func (e *episode) playMembers(ctx context.Context, plan []action, dur time.Duration, res *result) error {
	if err := e.setup(ctx); err != nil {
		return err
	}
	ms, err := e.newMembers(e.p.members)
	if err != nil {
		return err
	}
	defer func() {
		for _, m := range ms {
			if m.pr != nil {
				m.pr.kill()
			}
		}
	}()
	for _, m := range ms {
		if err := e.startMember(ctx, m, res); err != nil {
			return err
		}
	}
	for _, a := range plan {
		m := ms[a.member]
		if err := e.interruptMember(ctx, ms, m, a, dur, res); err != nil {
			return err
		}
		if err := e.pause(ctx, ms, a.down); err != nil {
			return err
		}
		if err := e.startMember(ctx, m, res); err != nil {
			return err
		}
		e.noteMember(m, "started again after %s down", a.down.Round(time.Millisecond))
	}
	prs := make([]*proc, len(ms))
	for i, m := range ms {
		prs[i] = m.pr
	}
	_, err = e.finish(ctx, prs...)
	for _, m := range ms {
		m.pr = nil // finish stopped them
	}
	return err
}

// interruptMember applies a to member m while the others run on. It
// returns once m is down.
func (e *episode) interruptMember(ctx context.Context, ms []*member, m *member, a action, cleanDur time.Duration, res *result) error {
	pr := m.pr
	// A chosen moment is looked for from a random point on (so kills
	// spread over the run), for at most eventWait; then the member is
	// killed anyway and the kill counts as a fallback.
	eventWait := cleanDur*3/2 + 2*time.Second
	wait := func(d time.Duration) error {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			if err := e.alive(ms); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(time.Until(end), 20*time.Millisecond)):
			}
		}
		return e.alive(ms)
	}
	switch a.kind {
	case stopQuick:
		if !pr.handlersReady(e.h.cfg.timeout) {
			if err := e.alive(ms); err != nil {
				return err
			}
			return fmt.Errorf("member %d run %d: cannot tell when sluice handles signals (no SIGINT in /proc/%d/status SigCgt within %s)", m.n, m.runs, pr.cmd.Process.Pid, e.h.cfg.timeout)
		}
		if err := wait(a.delay); err != nil {
			return err
		}
	case killRandom, stopRandom:
		if err := wait(time.Duration(a.frac * float64(cleanDur))); err != nil {
			return err
		}
	case killSent, killCommitting, killCommitted:
		if err := wait(time.Duration(a.frac * float64(cleanDur))); err != nil {
			return err
		}
		tr := e.h.kafka.trap(m.owns, a.kind, a.nth, func() { pr.signal(syscall.SIGKILL) })
		defer tr.disarm()
		timeout := time.After(eventWait)
		others := make([]*member, 0, len(ms)-1)
		for _, o := range ms {
			if o != m {
				others = append(others, o)
			}
		}
	look:
		for !tr.hasFired() {
			// The trap marks itself fired before it kills: an exit
			// without it is the member's own.
			if pr.exited() && !tr.hasFired() {
				return e.alive(ms)
			}
			if err := e.alive(others); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tr.fired:
			case <-timeout:
				break look
			case <-time.After(20 * time.Millisecond):
			}
		}
		since := time.Since(pr.started).Round(time.Millisecond)
		what, fired := tr.disarm()
		if !fired {
			if !pr.signal(syscall.SIGKILL) {
				return e.alive(ms)
			}
			res.fallback++
		}
		<-pr.done
		m.pr = nil
		res.landed[a.kind]++
		if fired {
			e.noteMember(m, "SIGKILL at %s: %s (%s)", since, a, what)
		} else {
			e.noteMember(m, "SIGKILL at %s: %s never happened within %s, killed anyway", since, a, eventWait)
		}
		return nil
	}
	since := time.Since(pr.started).Round(time.Millisecond)
	if a.kind.isKill() {
		if !pr.signal(syscall.SIGKILL) {
			return e.alive(ms)
		}
		<-pr.done
		m.pr = nil
		res.landed[a.kind]++
		e.noteMember(m, "SIGKILL at %s: %s", since, a)
		return nil
	}
	if !pr.signal(a.sig) {
		return e.alive(ms)
	}
	if !pr.wait(60 * time.Second) {
		pr.dump()
		e.noteMember(m, "%s at %s: did not stop within 60s; goroutine dump in %s", a.sig, since, pr.stderr)
		return productf("member %d run %d did not stop within 60s of %s (goroutine dump in %s)", m.n, m.runs, a.sig, pr.stderr)
	}
	m.pr = nil
	res.landed[a.kind]++
	if !pr.success() {
		e.noteMember(m, "%s at %s: ended with %s: %s", a.sig, since, pr.exitStatus(), pr.stderrTail())
		return productf("member %d run %d: a clean stop (%s) ended with %s:\n%s", m.n, m.runs, a.sig, pr.exitStatus(), pr.stderrTail())
	}
	e.noteMember(m, "%s at %s: clean stop", a.sig, since)
	return nil
}
