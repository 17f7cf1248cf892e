package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// printTable writes the results as a Markdown table, so it pastes into
// issues and PRs as is.
func printTable(w io.Writer, rows int64, results []result) {
	head := []string{"input", "threads", "sluice rows/s", "duckdb rows/s", "sluice/duckdb", "sluice speedup", "duckdb speedup",
		"go loop rows/s", "sluice CPU", "duckdb CPU", "sluice/duckdb CPU"}
	table := [][]string{head}
	var notes []string
	first := map[string]result{} // each input's first thread count
	for _, r := range results {
		base, ok := first[r.input]
		if !ok {
			first[r.input], base = r, r
		}
		table = append(table, []string{
			r.input, fmt.Sprint(r.threads), rate(rows, r.sluice.wall), rate(rows, r.duck.wall),
			ratio(r.duck.wall, r.sluice.wall), ratio(base.sluice.wall, r.sluice.wall), ratio(base.duck.wall, r.duck.wall),
			rate(rows, r.loop.wall), ms(r.sluice.cpu), ms(r.duck.cpu), ratio(r.duck.cpu, r.sluice.cpu),
		})
		if r.note != "" {
			notes = append(notes, r.input+": "+r.note)
		}
	}
	writeTable(w, table)
	for _, n := range notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

// writeTable writes rows (the first is the header) as a Markdown table,
// the first column left-aligned and the others right-aligned.
func writeTable(w io.Writer, table [][]string) {
	width := make([]int, len(table[0]))
	for _, row := range table {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	for ri, row := range table {
		cells := make([]string, len(row))
		for i, c := range row {
			if i == 0 {
				cells[i] = c + strings.Repeat(" ", width[i]-len(c))
			} else {
				cells[i] = strings.Repeat(" ", width[i]-len(c)) + c
			}
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		if ri == 0 {
			var sep strings.Builder
			sep.WriteString("|")
			for i, wd := range width {
				if i == 0 {
					sep.WriteString(strings.Repeat("-", wd+2) + "|")
				} else {
					sep.WriteString(strings.Repeat("-", wd+1) + ":|")
				}
			}
			fmt.Fprintln(w, sep.String())
		}
	}
}

// rate formats rows per second of a run, "n/a" when not measured.
func rate(rows int64, d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	r := float64(rows) / d.Seconds()
	switch {
	case r >= 1e9:
		return fmt.Sprintf("%.2fG", r/1e9)
	case r >= 1e6:
		return fmt.Sprintf("%.1fM", r/1e6)
	case r >= 1e3:
		return fmt.Sprintf("%.1fk", r/1e3)
	}
	return fmt.Sprintf("%.0f", r)
}

// ms formats a duration in milliseconds, "n/a" when not measured.
func ms(d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// ratio is how many times faster sluice (time s) is than other (time o):
// o/s, since both ran the same rows.
func ratio(o, s time.Duration) string {
	if o <= 0 || s <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", o.Seconds()/s.Seconds())
}
