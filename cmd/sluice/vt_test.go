package main

import (
	"strconv"
	"strings"
	"testing"
)

// vterm is a minimal VT100/xterm screen: a grid of cols x rows cells and
// the scrollback the lines scrolled off its top go to, as a terminal
// keeps them. Tests replay what sluice printed to a pty onto it and read
// what a person would see (the screen) and could scroll back to. It
// understands what sluice, readline and the progress bar emit: printable
// text with xterm's deferred autowrap, CR, LF, BS, TAB, and CSI sequences
// for cursor movement (A B C D E F G H f d) and erasing (J K); SGR (m),
// modes (h l) and other sequences are skipped. Clearing the whole screen
// keeps its lines in the scrollback, as tmux does.
type vterm struct {
	cols, rows int
	grid       [][]rune
	scrollback [][]rune
	row, col   int
	wrapNext   bool // the last column was written: the next rune wraps
}

func newVterm(cols, rows int) *vterm {
	v := &vterm{cols: cols, rows: rows}
	for i := 0; i < rows; i++ {
		v.grid = append(v.grid, v.blank())
	}
	return v
}

func (v *vterm) blank() []rune {
	l := make([]rune, v.cols)
	for i := range l {
		l[i] = ' '
	}
	return l
}

// lineFeed moves down a line, scrolling the screen at its bottom.
func (v *vterm) lineFeed() {
	if v.row < v.rows-1 {
		v.row++
		return
	}
	v.scrollback = append(v.scrollback, v.grid[0])
	copy(v.grid, v.grid[1:])
	v.grid[v.rows-1] = v.blank()
}

func (v *vterm) put(r rune) {
	if v.wrapNext {
		v.col = 0
		v.lineFeed()
		v.wrapNext = false
	}
	v.grid[v.row][v.col] = r
	if v.col == v.cols-1 {
		v.wrapNext = true
	} else {
		v.col++
	}
}

func clamp(x, lo, hi int) int { return max(lo, min(x, hi)) }

// write replays out onto the screen.
func (v *vterm) write(out string) {
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\r':
			v.col, v.wrapNext = 0, false
		case r == '\n':
			v.lineFeed()
			v.wrapNext = false
		case r == '\b':
			if v.col > 0 {
				v.col--
			}
			v.wrapNext = false
		case r == '\t':
			v.col = min((v.col/8+1)*8, v.cols-1)
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] >= 0x30 && rs[j] <= 0x3f) { // parameter bytes
				j++
			}
			for j < len(rs) && (rs[j] >= 0x20 && rs[j] <= 0x2f) { // intermediate bytes
				j++
			}
			if j >= len(rs) {
				return
			}
			v.csi(string(rs[i+2:j]), rs[j])
			i = j
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == ']': // OSC … BEL or ST
			j := i + 2
			for j < len(rs) && rs[j] != 0x07 && !(rs[j] == 0x1b && j+1 < len(rs) && rs[j+1] == '\\') {
				j++
			}
			if j < len(rs) && rs[j] == 0x1b {
				j++
			}
			i = j
		case r == 0x1b:
			i++ // a two-byte escape
		case r < 0x20 || r == 0x7f:
		default:
			v.put(r)
		}
	}
}

func (v *vterm) csi(params string, final rune) {
	private := strings.HasPrefix(params, "?") || strings.HasPrefix(params, ">")
	var args []int
	for _, p := range strings.Split(strings.TrimLeft(params, "?>="), ";") {
		n, _ := strconv.Atoi(p)
		args = append(args, n)
	}
	arg := func(i, def int) int {
		if i < len(args) && args[i] > 0 {
			return args[i]
		}
		return def
	}
	if private {
		return
	}
	if final != 'm' {
		v.wrapNext = false
	}
	switch final {
	case 'A':
		v.row = max(v.row-arg(0, 1), 0)
	case 'B':
		v.row = min(v.row+arg(0, 1), v.rows-1)
	case 'C':
		v.col = min(v.col+arg(0, 1), v.cols-1)
	case 'D':
		v.col = max(v.col-arg(0, 1), 0)
	case 'E':
		v.row, v.col = min(v.row+arg(0, 1), v.rows-1), 0
	case 'F':
		v.row, v.col = max(v.row-arg(0, 1), 0), 0
	case 'G':
		v.col = clamp(arg(0, 1)-1, 0, v.cols-1)
	case 'd':
		v.row = clamp(arg(0, 1)-1, 0, v.rows-1)
	case 'H', 'f':
		v.row, v.col = clamp(arg(0, 1)-1, 0, v.rows-1), clamp(arg(1, 1)-1, 0, v.cols-1)
	case 'K':
		l := v.grid[v.row]
		from, to := v.col, v.cols
		switch arg(0, 0) {
		case 1:
			from, to = 0, v.col+1
		case 2:
			from = 0
		}
		for c := from; c < to && c < v.cols; c++ {
			l[c] = ' '
		}
	case 'J':
		mode := arg(0, 0)
		if mode == 2 || mode == 0 && v.row == 0 && v.col == 0 {
			// The whole screen is cleared: like tmux (scroll-on-clear,
			// its default) keep its lines in the scrollback, so a
			// redraw that clears from the top leaves a copy there.
			v.scrollback = append(v.scrollback, v.grid...)
			v.grid = nil
			for i := 0; i < v.rows; i++ {
				v.grid = append(v.grid, v.blank())
			}
			return
		}
		switch mode {
		case 0:
			v.csi("0", 'K')
			for r := v.row + 1; r < v.rows; r++ {
				v.grid[r] = v.blank()
			}
		case 1:
			for r := 0; r < v.row; r++ {
				v.grid[r] = v.blank()
			}
			v.csi("1", 'K')
		case 2, 3:
			for r := range v.grid {
				v.grid[r] = v.blank()
			}
		}
	}
}

// resize changes the screen's size as xterm does: lines are cut or
// padded to the new width, and a shorter screen pushes its top lines into
// the scrollback so the cursor's line stays on screen.
func (v *vterm) resize(cols, rows int) {
	fit := func(l []rune) []rune {
		if len(l) >= cols {
			return l[:cols]
		}
		for len(l) < cols {
			l = append(l, ' ')
		}
		return l
	}
	for v.row >= rows {
		v.scrollback = append(v.scrollback, v.grid[0])
		v.grid = v.grid[1:]
		v.row--
	}
	v.grid = v.grid[:min(len(v.grid), rows)]
	v.cols, v.rows = cols, rows
	for len(v.grid) < rows {
		v.grid = append(v.grid, v.blank())
	}
	for i := range v.grid {
		v.grid[i] = fit(v.grid[i])
	}
	v.col = min(v.col, cols-1)
	v.wrapNext = false
}

func text(lines [][]rune) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(string(l), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// screen is what the terminal shows now, trailing blank lines dropped.
func (v *vterm) screen() string { return strings.TrimRight(text(v.grid), "\n") + "\n" }

// history is the scrollback and the screen: everything a person can
// scroll back to.
func (v *vterm) history() string {
	return strings.TrimRight(text(v.scrollback)+text(v.grid), "\n") + "\n"
}

// TestVterm checks the emulator itself on what a redraw in place does:
// wrapping at the last column, scrolling into the scrollback, moving up
// and clearing below.
func TestVterm(t *testing.T) {
	v := newVterm(10, 3)
	v.write("0123456789abc\r\nline2\r\nline3\r\nline4")
	if got := v.screen(); got != "line2\nline3\nline4\n" {
		t.Errorf("screen %q, want the wrapped line scrolled off", got)
	}
	if got := v.history(); got != "0123456789\nabc\nline2\nline3\nline4\n" {
		t.Errorf("history %q", got)
	}
	v.write("\x1b[1A\r\x1b[JX\x1b[1;31mY\x1b[0m")
	if got := v.screen(); got != "line2\nXY\n" {
		t.Errorf("after moving up and clearing: %q", got)
	}
	v.write("\x1b[H\x1b[Jnew")
	if got, hist := v.screen(), v.history(); got != "new\n" || hist != "0123456789\nabc\nline2\nXY\n\nnew\n" {
		t.Errorf("a whole-screen clear must keep the screen in the scrollback: screen %q, history %q", got, hist)
	}
	v = newVterm(10, 3)
	v.write("0123456789\n")
	if got := v.screen(); got != "0123456789\n" {
		t.Errorf("a full line then LF must not leave a blank line (deferred wrap): %q", got)
	}
}
