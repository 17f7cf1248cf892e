package repl

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/sql"
)

// changes builds records of (op, k, n) rows; op < 0 builds an
// append-only record without the op column.
type changes struct {
	t      *testing.T
	mem    *memory.CheckedAllocator
	schema *arrow.Schema
	op     bool
}

func newChanges(t *testing.T, op bool) *changes {
	fields := []arrow.Field{{Name: "k", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "n", Type: arrow.PrimitiveTypes.Int64}}
	if op {
		fields = append([]arrow.Field{{Name: "op", Type: arrow.PrimitiveTypes.Int8}}, fields...)
	}
	c := &changes{t: t, mem: memory.NewCheckedAllocator(memory.NewGoAllocator()), schema: arrow.NewSchema(fields, nil), op: op}
	t.Cleanup(func() { c.mem.AssertSize(t, 0) })
	return c
}

// apply feeds rows to lt as one record: op (if any), k ("" is NULL), n.
func (c *changes) apply(lt *liveTable, rows ...any) {
	b := array.NewRecordBuilder(c.mem, c.schema)
	defer b.Release()
	per := 2
	if c.op {
		per = 3
	}
	for i := 0; i < len(rows); i += per {
		f := 0
		if c.op {
			b.Field(0).(*array.Int8Builder).Append(int8(rows[i].(exec.Op)))
			f = 1
		}
		if k := rows[i+f].(string); k == "" {
			b.Field(f).AppendNull()
		} else {
			b.Field(f).(*array.StringBuilder).Append(k)
		}
		b.Field(f + 1).(*array.Int64Builder).Append(int64(rows[i+f+1].(int)))
	}
	rec := b.NewRecord()
	lt.apply(rec)
	rec.Release()
}

func liveFor(c *changes, keys []int, order []sql.OrderKey) *liveTable {
	lt := newLiveTable(c.schema, c.op, false, keys, order)
	lt.stats = func() (sluice.Stats, bool) { return sluice.Stats{}, false }
	lt.size = func() (int, int, bool) { return 80, 24, true }
	return lt
}

// shown is the table's rows as the frame orders them, "k=n" each.
func shown(lt *liveTable, rows int) []string {
	f := lt.frame(true, 200, rows)
	var out []string
	for _, line := range strings.Split(f, "\n") {
		fs := strings.Split(line, "|")
		if len(fs) < 3 || strings.Contains(line, " k ") {
			continue
		}
		var cells []string
		for _, c := range fs[1 : len(fs)-1] {
			cells = append(cells, strings.TrimSpace(c))
		}
		out = append(out, strings.Join(cells, "="))
	}
	return out
}

const (
	ins = exec.OpInsert
	ub  = exec.OpUpdateBefore
	ua  = exec.OpUpdateAfter
	del = exec.OpDelete
)

// TestLiveTableUpdateMode: EMIT EVERY in update mode sends only the new
// row of each changed key (+I, +U, no -U): the view is one row per key,
// updated in place in first-seen order, the last op shown.
func TestLiveTableUpdateMode(t *testing.T) {
	c := newChanges(t, true)
	lt := liveFor(c, []int{1}, nil)
	c.apply(lt, ins, "a", 1, ins, "b", 1, ins, "", 4)
	c.apply(lt, ua, "a", 5, ua, "b", 2)
	c.apply(lt, ua, "a", 9, del, "", 0, ins, "c", 1)
	if got, want := strings.Join(shown(lt, 24), ","), "+U=a=9,+U=b=2,+I=c=1"; got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}
}

// TestLiveTableRetractions: EMIT CHANGES on an aggregate sends -U/+U
// pairs; with the key the row stays where it was.
func TestLiveTableRetractions(t *testing.T) {
	c := newChanges(t, true)
	lt := liveFor(c, []int{1}, nil)
	c.apply(lt, ins, "a", 1, ins, "b", 1)
	c.apply(lt, ub, "a", 1, ua, "a", 2, ub, "b", 1)
	c.apply(lt, ua, "b", 7)
	if got, want := strings.Join(shown(lt, 24), ","), "+U=a=2,+U=b=7"; got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}
}

// TestLiveTableTopN: an unkeyed changelog (ORDER BY … LIMIT n EMIT
// CHANGES: -D and +I) is folded row by row and shown in the query's
// order, NULL last descending.
func TestLiveTableTopN(t *testing.T) {
	c := newChanges(t, true)
	lt := liveFor(c, nil, []sql.OrderKey{{Name: "N", Desc: true}, {Position: 1}})
	c.apply(lt, ins, "a", 3, ins, "b", 10, ins, "", 10)
	c.apply(lt, del, "a", 3, ins, "c", 25, ins, "d", 9)
	c.apply(lt, ub, "d", 9, ua, "d", 10)
	if got, want := strings.Join(shown(lt, 24), ","), "+I=c=25,+I=NULL=10,+I=b=10,+U=d=10"; got != want {
		t.Fatalf("rows %s, want %s", got, want)
	}
}

// TestLiveTableTail: an append stream shows its newest rows, and says
// how many older ones are not shown.
func TestLiveTableTail(t *testing.T) {
	c := newChanges(t, false)
	lt := liveFor(c, nil, nil)
	for i := 0; i < 50; i++ {
		c.apply(lt, fmt.Sprint("r", i), i)
	}
	got := shown(lt, 24)
	if len(got) != 24-7 || got[len(got)-1] != "r49=49" || got[0] != fmt.Sprintf("r%d=%d", 50-len(got), 50-len(got)) {
		t.Fatalf("tail %v", got)
	}
	if f := lt.frame(true, 80, 24); !strings.Contains(f, fmt.Sprintf("… %d more rows", 50-len(got))) {
		t.Fatalf("no count of the rows not shown:\n%s", f)
	}
}

// TestLiveTableRetains: an endless append stream keeps liveRetain rows,
// counting the rest.
func TestLiveTableRetains(t *testing.T) {
	c := newChanges(t, false)
	lt := liveFor(c, nil, nil)
	rows := make([]any, 0, 2*1000)
	for i := 0; i < 1000; i++ {
		rows = append(rows, "x", i)
	}
	for i := 0; i < liveRetain/1000+3; i++ {
		c.apply(lt, rows...)
	}
	if len(lt.rows) != liveRetain {
		t.Fatalf("keeps %d rows, want %d", len(lt.rows), liveRetain)
	}
	total := int64(len(lt.rows)) + lt.dropped
	if f := lt.frame(true, 80, 24); !strings.HasPrefix(strings.Split(f, "\n")[len(strings.Split(f, "\n"))-2], fmt.Sprintf("%d rows", total)) {
		t.Fatalf("status does not count all %d rows:\n%s", total, f)
	}
}

// TestLiveFrameFits: whatever the table, a frame has fewer lines than the
// terminal and no line as wide as it, with the rows it leaves out
// counted; the status line is cut, never wrapped.
func TestLiveFrameFits(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {60, 24}, {40, 10}, {200, 50}} {
		for _, keys := range []int{3, 30, 1000} {
			c := newChanges(t, true)
			lt := liveFor(c, []int{1}, nil)
			lt.stats = func() (sluice.Stats, bool) {
				return sluice.Stats{RowsIn: 123456789, RowsOut: 98765, Watermark: 1, LateRows: 5, StateGroups: 1000, StateBytes: 1 << 30}, true
			}
			for i := 0; i < keys; i++ {
				c.apply(lt, ins, fmt.Sprintf("key-with-a-rather-long-name-%04d", i), i*1000003)
			}
			f := lt.frame(false, size[0], size[1])
			lines := strings.Split(strings.TrimSuffix(f, "\n"), "\n")
			if len(lines) > size[1]-1 {
				t.Errorf("%dx%d, %d keys: %d lines", size[0], size[1], keys, len(lines))
			}
			for _, l := range lines {
				if w := len([]rune(ansiSGR.ReplaceAllString(l, ""))); w >= size[0] {
					t.Errorf("%dx%d, %d keys: a line of %d columns: %q", size[0], size[1], keys, w, l)
				}
			}
			if fits := size[1] - 6; keys > fits && !strings.Contains(f, "more rows") {
				t.Errorf("%dx%d, %d keys: no count of rows not shown:\n%s", size[0], size[1], keys, f)
			}
			if !strings.Contains(lines[len(lines)-1], fmt.Sprintf("%d rows", keys)) {
				t.Errorf("%dx%d: status line %q", size[0], size[1], lines[len(lines)-1])
			}
		}
	}
}

// TestLiveDrawInPlace: each frame after the first moves the cursor up
// over the one before and clears below, and rows changed since the last
// frame are bold while the query runs.
func TestLiveDrawInPlace(t *testing.T) {
	c := newChanges(t, true)
	lt := liveFor(c, []int{1}, nil)
	c.apply(lt, ins, "a", 1, ins, "b", 1)
	var buf bytes.Buffer
	lt.draw(&buf, false)
	first := buf.Len()
	n := strings.Count(buf.String(), "\n")
	c.apply(lt, ua, "b", 2)
	lt.draw(&buf, false)
	second := buf.String()[first:]
	if !strings.HasPrefix(second, fmt.Sprintf("\x1b[%dA\r+", n)) || !strings.HasSuffix(second, "\x1b[K\n\x1b[J") {
		t.Fatalf("second frame does not move up over the first (%d lines) and erase below it: %q", n, second)
	}
	var boldB, boldA bool
	for _, l := range strings.Split(second, "\n") {
		if strings.Contains(l, " b ") && strings.Contains(l, "\x1b[1m") {
			boldB = true
		}
		if strings.Contains(l, " a ") && strings.Contains(l, "\x1b[1m") {
			boldA = true
		}
	}
	if !boldB || boldA {
		t.Errorf("changed row b bold: %v, unchanged row a bold: %v:\n%q", boldB, boldA, second)
	}
}

var ansiSGR = regexp.MustCompile(`\x1b\[[0-9;]*m`)
