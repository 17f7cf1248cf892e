package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
func startSluice(bin, dir, script string, vars map[string]string, run int) (*proc, error) {
	args := []string{"--checkpoint-dir", "ck"}
	for k, v := range vars {
		args = append(args, "--var", k+"="+v)
	}
	args = append(args, "-f", script)
	cmd := exec.Command(bin, args...)
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

// killedBy reports whether the process died of sig.
func (p *proc) killedBy(sig syscall.Signal) bool {
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return ws.Signaled() && ws.Signal() == sig
		}
	}
	return false
}

// stderrTail is the last lines of the process's stderr, for reports.
func (p *proc) stderrTail() string {
	b, err := os.ReadFile(p.stderr)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}
