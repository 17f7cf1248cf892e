package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

// runWatched runs cmd and returns the peak of its resident set, sampled
// from /proc/<pid>/status (VmHWM) every few milliseconds. The rusage
// ru_maxrss of a child is no use here: Linux counts in it the parent's
// resident set at the moment of exec (os/exec forks with the parent's
// memory), so every child of a big parent looks at least that big.
func runWatched(cmd *exec.Cmd) (int64, error) {
	return runWatchedStarted(cmd, nil)
}

// runWatchedStarted is runWatched that reports on started (when not nil)
// whether the process started, for a caller that talks to it meanwhile.
func runWatchedStarted(cmd *exec.Cmd, started chan<- error) (int64, error) {
	err := cmd.Start()
	if started != nil {
		started <- err
	}
	if err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	var peak int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if hwm := vmHWM(status); hwm > peak {
			peak = hwm
		}
		select {
		case err := <-done:
			return peak, err
		case <-tick.C:
		}
	}
}

// vmHWM reads the VmHWM line of a /proc status file, in bytes; 0 when it
// cannot (the process is gone).
func vmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+len("VmHWM:"):])
	if len(f) < 2 {
		return 0
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0
	}
	return kb * 1024
}
