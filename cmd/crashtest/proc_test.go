package main

import (
	"os/exec"
	"testing"
	"time"
)

// A shell that catches SIGINT itself (dash does, before it reads `trap ''
// INT`) is not a sluice whose handlers are installed: handlersReady took
// it for one, and the SIGTERM sent next killed the shell before it exec'd
// sluice, read as sluice dying of the signal.
func TestHandlersReadyNotInShell(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 1; :")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	defer func() {
		cmd.Process.Kill()
		<-p.done
	}()
	if p.handlersReady(300 * time.Millisecond) {
		t.Error("handlersReady took the shell's own SIGINT handler for sluice's")
	}
}
