package repl

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestLogHeldUnderLiveTable: messages written while a live table is on
// screen are held (the newest shown in the frame) and printed after it;
// otherwise they pass straight through.
func TestLogHeldUnderLiveTable(t *testing.T) {
	var out bytes.Buffer
	l := &Log{W: &out}
	fmt.Fprintln(l, "before")
	l.hold()
	fmt.Fprint(l, "slow ")
	fmt.Fprintln(l, "trigger 1")
	for i := 2; i <= logHeld+3; i++ {
		fmt.Fprintf(l, "slow trigger %d\n", i)
	}
	if out.String() != "before\n" {
		t.Fatalf("a held line reached the terminal: %q", out.String())
	}
	if got, want := l.latest(), fmt.Sprintf("slow trigger %d", logHeld+3); got != want {
		t.Fatalf("latest %q, want %q", got, want)
	}
	l.release()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if lines[1] != "(3 earlier messages not shown)" || lines[2] != "slow trigger 4" || len(lines) != 2+logHeld {
		t.Fatalf("after the table:\n%s", out.String())
	}
	fmt.Fprintln(l, "after")
	if !strings.HasSuffix(out.String(), "\nafter\n") || l.latest() != "" {
		t.Fatalf("release did not stop holding: %q", out.String())
	}
}
