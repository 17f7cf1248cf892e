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
func (p *proc) stderrTail() string {
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	// A panic's message comes before its goroutine stacks: keep it and
	// the first frames rather than the bottom of the last stack.
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.Join(lines[i:min(len(lines), i+16)], "\n")
		}
	}
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
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
		caught, err := sigCaught(path, syscall.SIGINT)
		if caught {
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
