package repl

import (
	"fmt"
	"io"
	"sort"
	"strconv"
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
	"github.com/sluicesql/sluice/sql"
)

// liveRetain bounds the rows a live table keeps of a stream that only
// grows (an append stream, a changelog without a key): the newest are
// shown, the rest only counted, so an endless query runs in bounded
// memory. It is far more than any terminal shows.
const liveRetain = 10000

// tableChrome is the lines a rendered table has besides its data rows:
// the top border, the header, the line under it and the bottom border.
const tableChrome = 4

// liveMode says how records of a streaming result change the table.
type liveMode int

const (
	liveAppend    liveMode = iota // append-only: show the newest rows
	liveChangelog                 // op column: apply inserts, updates, deletes
	liveReplace                   // EMIT EVERY … FULL: each record is the whole table
)

// liveRow is one row of the table as shown: its cells as text, the
// change that last touched it and when (the frame it changed in).
type liveRow struct {
	cells []string
	nulls []bool // nil when no cell is NULL
	op    exec.Op
	frame int64
}

// sortCol is an output column the query's ORDER BY sorts on.
type sortCol struct {
	col  int
	desc bool
}

// liveTable is the current result of a streaming query as the user sees
// it, redrawn in place on a terminal and always fitted to it: at most as
// many lines as the terminal has rows (less one for the cursor), each at
// most as wide as it, so moving the cursor up over the last frame always
// reaches its first line and no copy is left in the scrollback.
//
// An updating result with a key (GROUP BY, EMIT CHANGES or EMIT EVERY) is
// the current table, one row per key, updated in place; an unkeyed
// changelog (a top-N) is folded row by row; both show the last change's
// op and sort by the query's ORDER BY when it names output columns. An
// append stream shows its newest rows. apply runs on the reader
// goroutine and draw on the ticker, so both take mu.
type liveTable struct {
	mu      sync.Mutex
	mode    liveMode
	fields  []arrow.Field // displayed columns (no op column)
	numeric []bool
	keys    []int // displayed-column indices of an upsert key; nil: none
	order   []sortCol
	rows    []*liveRow
	byKey   map[string]*liveRow
	// pending is where the row removed by the last -U of an unkeyed
	// changelog stood, so the +U that follows takes its place instead of
	// jumping to the end.
	pending int
	dropped int64 // rows no longer kept (liveRetain), still counted
	rowsOut int64
	frameNo int64
	start   time.Time
	stats   func() (sluice.Stats, bool)
	// size reports the terminal's columns and rows; ok false means no
	// terminal, and 80x24 is assumed.
	size  func() (cols, rows int, ok bool)
	log   *Log // its newest held message is shown above the status
	lines int  // lines drawn last time, to move the cursor back over
	buf   []byte
}

// newLiveTable prepares the view of a result with schema; keys are the
// upsert key's columns counting the op column (Rows.Keys), order the
// query's ORDER BY.
func newLiveTable(schema *arrow.Schema, changelog, full bool, keys []int, order []sql.OrderKey) *liveTable {
	t := &liveTable{mode: liveAppend, pending: -1, start: time.Now()}
	fields := schema.Fields()
	if changelog && len(fields) > 0 && fields[0].Name == exec.OpColumn {
		t.mode = liveChangelog
		fields = fields[1:]
		for _, k := range keys {
			if k < 1 || k > len(fields) {
				t.keys = nil
				break
			}
			t.keys = append(t.keys, k-1)
		}
		if len(t.keys) > 0 {
			t.byKey = map[string]*liveRow{}
		}
	} else if full {
		t.mode = liveReplace
	}
	t.fields = fields
	for _, f := range fields {
		switch f.Type.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
			arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
			t.numeric = append(t.numeric, true)
		default:
			t.numeric = append(t.numeric, false)
		}
	}
	t.order = sortCols(fields, order)
	return t
}

// sortCols maps ORDER BY items to displayed columns; nil when one names
// no output column (the view keeps arrival order then).
func sortCols(fields []arrow.Field, order []sql.OrderKey) []sortCol {
	var out []sortCol
	for _, k := range order {
		col := -1
		if k.Position > 0 {
			col = k.Position - 1
		} else {
			for i, f := range fields {
				if strings.EqualFold(f.Name, k.Name) {
					col = i
					break
				}
			}
		}
		if col < 0 || col >= len(fields) {
			return nil
		}
		out = append(out, sortCol{col: col, desc: k.Desc})
	}
	return out
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
		row := &liveRow{cells: make([]string, 0, len(cols)-first), op: exec.OpInsert, frame: t.frameNo}
		for c := first; c < len(cols); c++ {
			if cols[c].IsNull(r) {
				if row.nulls == nil {
					row.nulls = make([]bool, len(cols)-first)
				}
				row.nulls[c-first] = true
				row.cells = append(row.cells, "NULL")
				continue
			}
			t.buf = format.AppendFieldValue(t.buf[:0], rec.Schema().Field(c), cols[c], r)
			row.cells = append(row.cells, string(t.buf))
		}
		if ops != nil {
			row.op = exec.Op(ops.Value(r))
		}
		if t.byKey != nil {
			t.upsert(row)
			continue
		}
		switch row.op {
		case exec.OpUpdateBefore, exec.OpDelete:
			t.remove(row.cells, row.op == exec.OpUpdateBefore)
		case exec.OpUpdateAfter:
			if t.pending >= 0 && t.pending <= len(t.rows) {
				t.rows = append(t.rows[:t.pending], append([]*liveRow{row}, t.rows[t.pending:]...)...)
				t.pending = -1
				continue
			}
			t.rows = append(t.rows, row)
		default:
			t.rows = append(t.rows, row)
		}
	}
	if t.byKey == nil && len(t.rows) > liveRetain {
		n := len(t.rows) - liveRetain
		t.dropped += int64(n)
		t.rows = append(t.rows[:0], t.rows[n:]...)
	}
}

// upsert applies one change of a keyed result: the row of its key is
// replaced where it stands (a new key goes at the end), a delete removes
// it. A -U only marks the row: its +U follows with the new values.
func (t *liveTable) upsert(row *liveRow) {
	k := t.keyOf(row)
	old, ok := t.byKey[k]
	switch row.op {
	case exec.OpDelete:
		if ok {
			delete(t.byKey, k)
			for i, r := range t.rows {
				if r == old {
					t.rows = append(t.rows[:i], t.rows[i+1:]...)
					break
				}
			}
		}
	case exec.OpUpdateBefore:
		if ok {
			old.op, old.frame = row.op, row.frame
		}
	default:
		if ok {
			*old = *row
			return
		}
		t.byKey[k] = row
		t.rows = append(t.rows, row)
	}
}

func (t *liveTable) keyOf(row *liveRow) string {
	var b strings.Builder
	for _, c := range t.keys {
		if row.nulls != nil && row.nulls[c] {
			b.WriteByte(0)
		} else {
			b.WriteByte(1)
			b.WriteString(row.cells[c])
		}
		b.WriteByte(0xff) // not in UTF-8 text: ends the cell
	}
	return b.String()
}

// remove deletes the last row equal to cells; for an update it remembers
// the position for the +U that follows.
func (t *liveTable) remove(cells []string, update bool) {
	for i := len(t.rows) - 1; i >= 0; i-- {
		if equalRow(t.rows[i].cells, cells) {
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

// less orders two rows by the query's ORDER BY: numbers as numbers, other
// values (timestamps print in sortable form) as text, NULL first
// ascending and last descending, as the planner sorts.
func (t *liveTable) less(a, b *liveRow) bool {
	for _, s := range t.order {
		c := t.compare(a, b, s.col)
		if c == 0 {
			continue
		}
		if s.desc {
			return c > 0
		}
		return c < 0
	}
	return false
}

func (t *liveTable) compare(a, b *liveRow, col int) int {
	an, bn := a.nulls != nil && a.nulls[col], b.nulls != nil && b.nulls[col]
	switch {
	case an && bn:
		return 0
	case an:
		return -1
	case bn:
		return 1
	}
	x, y := a.cells[col], b.cells[col]
	if t.numeric[col] {
		fx, ex := strconv.ParseFloat(x, 64)
		fy, ey := strconv.ParseFloat(y, 64)
		if ex == nil && ey == nil && fx != fy {
			if fx < fy {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(x, y)
}

// termSize is the terminal's size, 80x24 when it cannot be told.
func (t *liveTable) termSize() (cols, rows int) {
	if t.size != nil {
		if c, r, ok := t.size(); ok && c > 0 && r > 0 {
			return c, r
		}
	}
	return 80, 24
}

// frame renders the table and status line to fit a terminal of cols x
// rows: at most rows-1 lines (the cursor waits on the line after), none
// wider than cols-1, so nothing wraps. Rows changed since the last frame
// are bold while the query runs.
func (t *liveTable) frame(final bool, cols, rows int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	shown := t.rows
	if len(t.order) > 0 {
		shown = append([]*liveRow(nil), t.rows...)
		sort.SliceStable(shown, func(i, j int) bool { return t.less(shown[i], shown[j]) })
	}
	total := int64(len(shown)) + t.dropped
	// Lines: the table's chrome and rows, the status line, the cursor's
	// line, and a "more rows" line when not all rows fit.
	msg := t.log.latest()
	room := rows - 1 - 1 - tableChrome
	if msg != "" {
		room--
	}
	// A stream that only grows is shown as a tail, the newest rows at
	// the bottom; a table (keyed, sorted or replaced) from its top.
	tail := len(t.order) == 0 && (t.mode == liveAppend || t.mode == liveChangelog && t.byKey == nil)
	hidden := int64(0)
	if int64(len(shown)) > int64(room) || t.dropped > 0 {
		room-- // the "more rows" line
		room = max(room, 1)
		if len(shown) > room {
			if tail {
				shown = shown[len(shown)-room:]
			} else {
				shown = shown[:room]
			}
		}
		hidden = total - int64(len(shown))
	}
	showOp := t.mode == liveChangelog
	tw := table.NewWriter()
	var hdr table.Row
	var cfg []table.ColumnConfig
	off := 0
	if showOp {
		hdr = append(hdr, exec.OpColumn)
		off = 1
	}
	for i, f := range t.fields {
		hdr = append(hdr, f.Name)
		if t.numeric[i] {
			cfg = append(cfg, table.ColumnConfig{Number: i + 1 + off, Align: text.AlignRight})
		}
	}
	tw.AppendHeader(hdr)
	var changed []bool
	for _, r := range shown {
		row := make(table.Row, 0, len(r.cells)+off)
		if showOp {
			row = append(row, r.op.String())
		}
		for _, v := range r.cells {
			row = append(row, v)
		}
		tw.AppendRow(row)
		changed = append(changed, r.frame == t.frameNo)
	}
	if !final && t.mode != liveReplace {
		tw.SetRowPainter(table.RowPainterWithAttributes(func(_ table.Row, a table.RowAttributes) text.Colors {
			if a.Number >= 1 && a.Number <= len(changed) && changed[a.Number-1] {
				return text.Colors{text.Bold}
			}
			return nil
		}))
	}
	tw.SetColumnConfigs(cfg)
	tw.Style().Format.Header = text.FormatDefault
	tw.SetAllowedRowLength(cols - 1)
	var b strings.Builder
	b.WriteString(tw.Render())
	b.WriteByte('\n')
	if hidden > 0 {
		what := ""
		if tail {
			what = " before these, the newest"
		}
		b.WriteString(fit(fmt.Sprintf("… %d more rows%s", hidden, what), cols))
		b.WriteByte('\n')
	}
	if msg != "" {
		b.WriteString(fit(msg, cols))
		b.WriteByte('\n')
	}
	b.WriteString(t.status(final, total, cols))
	b.WriteByte('\n')
	t.frameNo++
	return b.String()
}

// fit cuts s to fewer than cols display columns, so it never wraps.
func fit(s string, cols int) string {
	return text.Snip(s, cols-1, "…")
}

// status is the line under the table: progress of the running query,
// fitted to cols. When it is too wide the least telling parts go first
// (state size, late rows, watermark), so what remains is whole.
func (t *liveTable) status(final bool, rows int64, cols int) string {
	el := time.Since(t.start)
	secs := el.Seconds()
	if secs <= 0 {
		secs = 1e-9
	}
	type part struct {
		text string
		rank int // lower goes first when the line is too wide
	}
	parts := []part{{fmt.Sprintf("%d rows", rows), 9}}
	if st, ok := t.stats(); ok {
		parts = append(parts,
			part{fmt.Sprintf("in %d (%.0f/s)", st.RowsIn, float64(st.RowsIn)/secs), 8},
			part{fmt.Sprintf("out %d", st.RowsOut), 7})
		if st.Watermark > 0 {
			parts = append(parts, part{"watermark " + time.UnixMicro(st.Watermark).UTC().Format("2006-01-02 15:04:05"), 3})
		}
		parts = append(parts, part{fmt.Sprintf("late dropped %d", st.LateRows), 2},
			part{fmt.Sprintf("state %d groups/%s", st.StateGroups, bytesText(st.StateBytes)), 1})
		if st.StateSpilled > 0 {
			parts = append(parts, part{fmt.Sprintf("spilled %d groups/%s", st.StateSpilled, bytesText(st.StateSpilledBytes)), 1})
		}
	} else {
		parts = append(parts, part{fmt.Sprintf("out %d (%.0f/s)", t.rowsOut, float64(t.rowsOut)/secs), 7})
	}
	parts = append(parts, part{el.Round(100 * time.Millisecond).String(), 6})
	if !final {
		parts = append(parts, part{"Ctrl-C to stop", 5})
	}
	for rank := 1; ; rank++ {
		var keep []string
		for _, p := range parts {
			if p.rank >= rank {
				keep = append(keep, p.text)
			}
		}
		line := strings.Join(keep, " · ")
		if text.StringWidthWithoutEscSequences(line) < cols || len(keep) <= 1 {
			return fit(line, cols)
		}
	}
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
// frame, print the new one over it line by line, each line erased to
// its end, then erase what is left below. It never clears the screen
// from its top-left corner: tmux (scroll-on-clear) would push the whole
// screen into the scrollback, a copy of the table at every redraw. The
// frame fits the terminal as it is now, so a resize re-fits at the next
// draw.
func (t *liveTable) draw(w io.Writer, final bool) {
	cols, rows := t.termSize()
	f := t.frame(final, cols, rows)
	var b strings.Builder
	if t.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\r", t.lines)
	}
	for _, line := range strings.SplitAfter(f, "\n") {
		if body, ok := strings.CutSuffix(line, "\n"); ok {
			b.WriteString(body)
			b.WriteString("\x1b[K\n")
		}
	}
	b.WriteString("\x1b[J")
	t.lines = strings.Count(f, "\n")
	io.WriteString(w, b.String())
}
