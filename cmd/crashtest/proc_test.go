package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTailOfCrash: a panic's or race report's message ends the tail, after
// its first frames one line each, so a log that keeps only the end of a
// failure still shows what the child died of (ci27's cut it off).
func TestTailOfCrash(t *testing.T) {
	panicked := `sluice: warning: state of GROUP BY k grows
panic: send on closed channel

goroutine 31 [running]:
github.com/sluicesql/sluice/connectors/kafka.(*Sink).flush(0xc0001, {0x3e0b568, 0xc0000ab040})
	/check/work/main/connectors/kafka/sink.go:412 +0xcb3
github.com/sluicesql/sluice/engine.(*Session).streamInsert(0xc0005500c0, {0x3e0b568, 0xc0000ab040})
	/check/work/main/engine/stream.go:528 +0x1a
created by github.com/sluicesql/sluice/exec/stream.(*Pipeline).start in goroutine 1
	/check/work/main/exec/stream/pipeline.go:99 +0x2

goroutine 1 [chan receive]:
main.main()
	/check/work/main/cmd/sluice/main.go:12 +0x1c`
	want := `  github.com/sluicesql/sluice/connectors/kafka.(*Sink).flush sink.go:412
  github.com/sluicesql/sluice/engine.(*Session).streamInsert stream.go:528
  created by github.com/sluicesql/sluice/exec/stream.(*Pipeline).start in goroutine 1 pipeline.go:99
panic: send on closed channel`
	if got := tailOf(panicked); got != want {
		t.Errorf("panic tail:\n%s\nwant:\n%s", got, want)
	}
	raced := `==================
WARNING: DATA RACE
Write at 0x00c000123 by goroutine 7:
  github.com/sluicesql/sluice/engine.(*scaleOut).recover()
      /check/work/main/engine/scaleout.go:300 +0x44

Previous read at 0x00c000123 by goroutine 6:
  github.com/sluicesql/sluice/engine.(*scaleOut).save()
      /check/work/main/engine/scaleout.go:200 +0x44

Goroutine 7 (running) created at:
  main.main()
      /check/work/main/cmd/sluice/main.go:12 +0x1c
==================`
	got := tailOf(raced)
	for _, s := range []string{"Write at 0x00c000123 by goroutine 7:", "recover scaleout.go:300", "Previous read", "save scaleout.go:200"} {
		if !strings.Contains(got, s) {
			t.Errorf("race tail lacks %q:\n%s", s, got)
		}
	}
	if !strings.HasSuffix(got, "WARNING: DATA RACE") || strings.Contains(got, "main.main") {
		t.Errorf("race tail:\n%s", got)
	}
	if got := tailOf("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"); got != "c\nd\ne\nf\ng\nh\ni\nj" {
		t.Errorf("plain tail: %q", got)
	}
}

// A shell that catches SIGINT itself (dash does, before it reads `trap ”
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
