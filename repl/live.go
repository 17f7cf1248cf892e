package repl

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

// liveMaxRows is how many rows a live table shows; more would scroll off
// a terminal and break redrawing in place.
const liveMaxRows = 20

// liveMode says how records of a streaming result change the table.
type liveMode int

const (
	liveAppend    liveMode = iota // append-only: show the latest rows
	liveChangelog                 // op column: apply inserts, updates, deletes
	liveReplace                   // EMIT EVERY … FULL: each record is the whole table
)

// liveTable is the current result of a streaming query as the user sees
// it, redrawn in place on a terminal. apply runs on the reader goroutine
// and render on the ticker, so both take mu.
type liveTable struct {
	mu      sync.Mutex
	mode    liveMode
	fields  []arrow.Field // displayed columns (no op column)
	numeric []bool
	rows    [][]string
	// pending is where the row removed by the last -U stood, so the +U
	// that follows takes its place instead of jumping to the end.
	pending int
	rowsOut int64
	start   time.Time
	stats   func() (sluice.Stats, bool)
	lines   int // lines drawn last time, to move the cursor back over
	buf     []byte
}

func newLiveTable(schema *arrow.Schema, changelog, full bool) *liveTable {
	t := &liveTable{mode: liveAppend, pending: -1, start: time.Now()}
	fields := schema.Fields()
	if changelog && len(fields) > 0 && fields[0].Name == exec.OpColumn {
		t.mode = liveChangelog
		fields = fields[1:]
	} else if full {
		t.mode = liveReplace
	}
	t.fields = fields
	for _, f := range fields {
		switch f.Type.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
			t.numeric = append(t.numeric, true)
		default:
			t.numeric = append(t.numeric, false)
		}
	}
	return t
}

// apply folds rec into the table; it keeps no reference to rec.
func (t *liveTable) apply(rec arrow.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rowsOut += rec.NumRows()
	cols := rec.Columns()
	first := 0
	var ops *array.Int8
	if t.mode == liveChangelog {
		ops, _ = cols[0].(*array.Int8)
		first = 1
	}
	if t.mode == liveReplace {
		t.rows = t.rows[:0]
	}
	for r := 0; r < int(rec.NumRows()); r++ {
		row := make([]string, 0, len(cols)-first)
		for c := first; c < len(cols); c++ {
			if cols[c].IsNull(r) {
				row = append(row, "NULL")
				continue
			}
			t.buf = format.AppendFieldValue(t.buf[:0], rec.Schema().Field(c), cols[c], r)
			row = append(row, string(t.buf))
		}
		op := exec.OpInsert
		if ops != nil {
			op = exec.Op(ops.Value(r))
		}
		switch op {
		case exec.OpUpdateBefore, exec.OpDelete:
			t.remove(row, op == exec.OpUpdateBefore)
		case exec.OpUpdateAfter:
			if t.pending >= 0 && t.pending <= len(t.rows) {
				t.rows = append(t.rows[:t.pending], append([][]string{row}, t.rows[t.pending:]...)...)
				t.pending = -1
				continue
			}
			t.rows = append(t.rows, row)
		default:
			t.rows = append(t.rows, row)
		}
	}
	if t.mode == liveAppend && len(t.rows) > liveMaxRows {
		t.rows = append(t.rows[:0], t.rows[len(t.rows)-liveMaxRows:]...)
	}
}

// remove deletes the last row equal to row; for an update it remembers
// the position for the +U that follows.
func (t *liveTable) remove(row []string, update bool) {
	for i := len(t.rows) - 1; i >= 0; i-- {
		if equalRow(t.rows[i], row) {
			t.rows = append(t.rows[:i], t.rows[i+1:]...)
			if update {
				t.pending = i
			}
			return
		}
	}
}

func equalRow(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// frame renders the table and status line.
func (t *liveTable) frame(final bool) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	tw := table.NewWriter()
	hdr := make(table.Row, len(t.fields))
	var cfg []table.ColumnConfig
	for i, f := range t.fields {
		hdr[i] = f.Name
		if t.numeric[i] {
			cfg = append(cfg, table.ColumnConfig{Number: i + 1, Align: text.AlignRight})
		}
	}
	tw.AppendHeader(hdr)
	shown := t.rows
	hidden := 0
	if len(shown) > liveMaxRows {
		hidden = len(shown) - liveMaxRows
		shown = shown[:liveMaxRows]
	}
	for _, r := range shown {
		row := make(table.Row, len(r))
		for i, v := range r {
			row[i] = v
		}
		tw.AppendRow(row)
	}
	tw.SetColumnConfigs(cfg)
	tw.Style().Format.Header = text.FormatDefault
	var b strings.Builder
	b.WriteString(tw.Render())
	b.WriteByte('\n')
	if hidden > 0 {
		fmt.Fprintf(&b, "… %d more rows\n", hidden)
	}
	b.WriteString(t.status(final))
	b.WriteByte('\n')
	return b.String()
}

// status is the line under the table: progress of the running query.
func (t *liveTable) status(final bool) string {
	el := time.Since(t.start)
	secs := el.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	parts := []string{fmt.Sprintf("%d rows", len(t.rows))}
	if st, ok := t.stats(); ok {
		parts = append(parts,
			fmt.Sprintf("in %d (%.0f/s)", st.RowsIn, float64(st.RowsIn)/secs),
			fmt.Sprintf("out %d", st.RowsOut))
		if st.Watermark > 0 {
			parts = append(parts, "watermark "+time.UnixMicro(st.Watermark).UTC().Format("2006-01-02 15:04:05"))
		}
		parts = append(parts, fmt.Sprintf("late dropped %d", st.LateRows),
			fmt.Sprintf("state %d groups/%s", st.StateGroups, bytesText(st.StateBytes)))
	} else {
		parts = append(parts, fmt.Sprintf("out %d (%.0f/s)", t.rowsOut, float64(t.rowsOut)/secs))
	}
	parts = append(parts, el.Round(100*time.Millisecond).String())
	if !final {
		parts = append(parts, "Ctrl-C to stop")
	}
	return strings.Join(parts, " · ")
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// draw redraws the table in place: move the cursor up over the last
// frame, clear to the end of the screen, print the new one.
func (t *liveTable) draw(w io.Writer, final bool) {
	f := t.frame(final)
	var b strings.Builder
	if t.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r\x1b[J", t.lines)
	}
	b.WriteString(f)
	t.lines = strings.Count(f, "\n")
	io.WriteString(w, b.String())
}
