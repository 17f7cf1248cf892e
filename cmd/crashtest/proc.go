package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one sluice process of an episode.
type proc struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // Wait's result, set before done closes
	stderr  string        // path of the stderr file
}

// startSluice runs `sluice --checkpoint-dir ck --var … -f script` in dir,
// stdout and stderr to files named after the run.
// The process is killed when ctx ends (the harness was interrupted).
func startSluice(ctx context.Context, bin, dir, script string, vars map[string]string, run int) (*proc, error) {
	args := []string{"--checkpoint-dir", "ck"}
	for k, v := range vars {
		args = append(args, "--var", k+"="+v)
	}
	args = append(args, "-f", script)
	// The shell execs sluice with SIGINT ignored: Go keeps an inherited
	// SIG_IGN for SIGINT until signal.Notify asks for it, so a SIGINT
	// before the CLI installed its handler is ignored rather than fatal,
	// and handlersReady can see the moment the handler is installed.
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `trap '' INT; exec "$0" "$@"`, bin}, args...)...)
	cmd.Dir = dir
	out, err := os.Create(filepath.Join(dir, fmt.Sprintf("run-%02d.stdout", run)))
	if err != nil {
		return nil, err
	}
	errPath := filepath.Join(dir, fmt.Sprintf("run-%02d.stderr", run))
	errf, err := os.Create(errPath)
	if err != nil {
		out.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, errf
	if err := cmd.Start(); err != nil {
		out.Close()
		errf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &proc{cmd: cmd, started: time.Now(), done: make(chan struct{}), stderr: errPath}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		errf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process has already exited; it reports
// whether the signal was delivered to a live process.
func (p *proc) signal(sig syscall.Signal) bool {
	if p.exited() {
		return false
	}
	return p.cmd.Process.Signal(sig) == nil
}

// wait waits up to d for the exit; false on timeout.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// dump makes the Go runtime write every goroutine's stack to the
// process's stderr (SIGQUIT, which also ends it): where it is stuck, kept
// for the report.
func (p *proc) dump() {
	p.signal(syscall.SIGQUIT)
	p.wait(5 * time.Second)
}

// kill ends the process for good (harness cleanup) and waits for it.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

// exitStatus describes how the process ended: "exit 0", "exit 1",
// "signal killed".
func (p *proc) exitStatus() string {
	if p.err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return p.err.Error()
}

// success reports a zero exit status.
func (p *proc) success() bool { return p.err == nil }

// stderrTail is the last lines of the process's stderr, for reports.
// A panic (or fatal error, or race report) is shown as its panicking
// goroutine's innermost frames, one line each, followed by its message:
// a CI log that keeps only the end of a failure still shows the message
// (ci27's kept the frames and cut the panic text), and the frames that say
// where.
func (p *proc) stderrTail() string {
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		return ""
	}
	return tailOf(string(b))
}

// tailOf is stderrTail of the text s.
func tailOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") || l == "WARNING: DATA RACE" {
			return crashText(lines[i:])
		}
	}
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// crashText condenses a Go crash report (lines from its "panic: ",
// "fatal error: " or "WARNING: DATA RACE" line on) into the frames of
// its first stack, at most 12, each "function file:line" (a race
// report: its first two stacks, the two accesses), then the message.
func crashText(lines []string) string {
	race := lines[0] == "WARNING: DATA RACE"
	stacks := 1
	if race {
		stacks = 2
	}
	var msg, frames []string
	inStack, done := false, 0
	for _, l := range lines {
		trimmed := strings.TrimSpace(l)
		switch {
		case !inStack && done == 0 && !race && strings.HasPrefix(l, "goroutine "):
			inStack = true
		case !inStack && race && (strings.HasSuffix(l, ":") && strings.Contains(l, " by ")):
			inStack = true
			frames = append(frames, l)
		case !inStack:
			if done == 0 && trimmed != "" {
				msg = append(msg, l)
			}
		case trimmed == "":
			inStack = false
			done++
		case strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "      "):
			// The file:line under a function: joined onto it.
			loc := trimmed
			if j := strings.LastIndex(loc, "/"); j >= 0 {
				loc = loc[j+1:]
			}
			if j := strings.Index(loc, " +0x"); j >= 0 {
				loc = loc[:j]
			}
			if n := len(frames); n > 0 {
				frames[n-1] += " " + loc
			}
		default:
			frames = append(frames, "  "+funcName(trimmed))
		}
		if done >= stacks {
			break
		}
	}
	if len(frames) > 12*stacks {
		frames = frames[:12*stacks]
	}
	if len(msg) > 4 {
		msg = msg[:4]
	}
	return strings.Join(append(frames, msg...), "\n")
}

// funcName drops a stack frame's argument list: "pkg.f(0xc0001, …)" is
// "pkg.f".
func funcName(l string) string {
	l = strings.TrimSpace(l)
	if j := strings.LastIndex(l, "("); j > 0 && strings.HasSuffix(l, ")") {
		l = l[:j]
	}
	return l
}

// handlersReady waits until the CLI has installed its SIGINT/SIGTERM
// handler (SIGINT moves from the ignored to the caught set in
// /proc/PID/status; both are installed by one signal.NotifyContext), up
// to limit. False when the process exited first or the moment never came.
func (p *proc) handlersReady(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	for time.Now().Before(deadline) {
		if p.exited() {
			return false
		}
		// Until the shell has exec'd sluice, the PID is dash's, which
		// catches SIGINT itself before it reads `trap '' INT`: a SIGTERM
		// sent then killed the shell ("signal terminated", empty stderr),
		// taken for sluice dying of the signal.
		caught, err := sigCaught(path, syscall.SIGINT)
		if caught && !p.inShell() {
			return true
		}
		if err != nil {
			// The status file goes away as the process exits, a moment
			// before its Wait returns: look again until exited says so,
			// so a run that ended is not taken for one that never
			// installed its handlers.
			time.Sleep(2 * time.Millisecond)
			continue
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// shellExe is the program /bin/sh is, which startSluice's PID runs until
// the shell execs sluice.
var shellExe, _ = filepath.EvalSymlinks("/bin/sh")

// inShell reports whether the process still runs the shell (or is gone:
// then it is not known to run sluice either).
func (p *proc) inShell() bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.cmd.Process.Pid))
	return err != nil || exe == shellExe
}

// sigCaught reads whether sig is in the SigCgt mask of a /proc status
// file.
func sigCaught(path string, sig syscall.Signal) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, err
			}
			return mask&(1<<(uint(sig)-1)) != 0, nil
		}
	}
	return false, errors.New("no SigCgt in " + path)
}
