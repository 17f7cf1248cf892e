package main

import (
	"strconv"
	"strings"
)

// vt replays terminal output onto a grid the way a terminal shows it, so
// tests (and the README transcript) see the screen, not the stream of
// redraws: readline repaints the line on every key and the live table
// moves the cursor up to redraw itself. It understands what sluice and
// readline emit: printable text, CR, LF, BS, and CSI sequences for cursor
// movement (A B C D G) and erasing (J K); other sequences are skipped.
func vt(out string) string {
	var lines [][]rune
	row, col := 0, 0
	ensure := func() {
		for len(lines) <= row {
			lines = append(lines, nil)
		}
	}
	put := func(r rune) {
		ensure()
		for len(lines[row]) < col {
			lines[row] = append(lines[row], ' ')
		}
		if col < len(lines[row]) {
			lines[row][col] = r
		} else {
			lines[row] = append(lines[row], r)
		}
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\r':
			col = 0
		case r == '\n':
			row++
			col = 0
			ensure()
		case r == '\b':
			if col > 0 {
				col--
			}
		case r == 0x07: // bell
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';' || rs[j] == '?') {
				j++
			}
			if j >= len(rs) {
				i = j
				break
			}
			arg := string(rs[i+2 : j])
			n, err := strconv.Atoi(strings.TrimPrefix(arg, "?"))
			if err != nil || n == 0 {
				n = 1
			}
			ensure()
			switch rs[j] {
			case 'A':
				row = max(row-n, 0)
			case 'B':
				row += n
				ensure()
			case 'C':
				col += n
			case 'D':
				col = max(col-n, 0)
			case 'G':
				col = n - 1
			case 'K':
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
			case 'J':
				if col < len(lines[row]) {
					lines[row] = lines[row][:col]
				}
				lines = lines[:row+1]
			}
			i = j
		case r == 0x1b:
			i++ // a two-byte escape
		case r < 0x20:
		default:
			put(r)
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(strings.TrimRight(string(l), " "))
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
