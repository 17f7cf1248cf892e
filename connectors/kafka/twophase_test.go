package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

var tpSchema = schema(col("value", arrow.BinaryTypes.String))

// openEO opens an exactly-once writer into "out" and recovers it from h.
func openEO(t *testing.T, addr string, h []byte) *Writer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sink, err := NewSink(opts("topic", "out", "brokers", addr, "delivery", "exactly-once", "transactional.id", "tp-query"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.OpenWriter(ctx, tpSchema, exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Recover(ctx, h); err != nil {
		w.Close()
		t.Fatal(err)
	}
	return w
}

func writeValues(t *testing.T, mem memory.Allocator, w *Writer, from, to int) {
	t.Helper()
	var js []string
	for i := from; i < to; i++ {
		js = append(js, fmt.Sprintf(`{"value":"%d"}`, i))
	}
	r, _, err := array.RecordFromJSON(mem, tpSchema, strings.NewReader("["+strings.Join(js, ",")+"]"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if err := w.Write(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func committedValues(t *testing.T, addr string) []string {
	t.Helper()
	var got []string
	for _, r := range consumeAll(t, addr, "out", true) {
		got = append(got, string(r.Value))
	}
	sort.Strings(got)
	return got
}

func wantValues(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf(`{"value":"%d"}`, i))
	}
	sort.Strings(out)
	return out
}

// Every crash point of the two-phase commit: a read_committed consumer
// sees exactly the output of the checkpoint the restart resumes from. A
// transaction pre-committed and checkpointed before the crash is
// committed by the restart's Recover (before, InitProducerID aborted it
// and its output was lost); one pre-committed but not checkpointed is
// aborted.
func TestExactlyOnceTwoPhaseCrashPoints(t *testing.T) {
	for _, tc := range []struct {
		name string
		// crash continues the first incarnation after checkpoint 1
		// (values 0-9) and returns the handle the restart restores.
		crash func(t *testing.T, mem memory.Allocator, w *Writer, h1 []byte) []byte
		want  int // values 0..want-1 committed after recovery
	}{
		{"written, not pre-committed", func(t *testing.T, mem memory.Allocator, w *Writer, h1 []byte) []byte {
			writeValues(t, mem, w, 10, 20)
			return h1
		}, 10},
		{"pre-committed, checkpoint not saved", func(t *testing.T, mem memory.Allocator, w *Writer, h1 []byte) []byte {
			writeValues(t, mem, w, 10, 20)
			if _, err := w.PreCommit(context.Background(), 2, nil); err != nil {
				t.Fatal(err)
			}
			return h1
		}, 10},
		{"checkpoint saved, not committed", func(t *testing.T, mem memory.Allocator, w *Writer, h1 []byte) []byte {
			writeValues(t, mem, w, 10, 20)
			h, err := w.PreCommit(context.Background(), 2, nil)
			if err != nil {
				t.Fatal(err)
			}
			return h
		}, 20},
		// A checkpoint with no output in it (no window closed since the
		// last): kgo sends no EndTxn for a transaction it produced nothing
		// in, so the marker and offsets staged by PreCommit stayed in an
		// open transaction that the next output joined, and Recover then
		// committed that output with the checkpoint's producer id and
		// epoch while the restored state emitted it again.
		{"empty checkpoint committed, next transaction open", func(t *testing.T, mem memory.Allocator, w *Writer, h1 []byte) []byte {
			h, err := w.PreCommit(context.Background(), 2, nil)
			if err == nil {
				err = w.CommitPending(context.Background(), h)
			}
			if err != nil {
				t.Fatal(err)
			}
			writeValues(t, mem, w, 10, 20)
			if err := w.flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			return h
		}, 10},
		{"committed, next transaction open", func(t *testing.T, mem memory.Allocator, w *Writer, h1 []byte) []byte {
			writeValues(t, mem, w, 10, 20)
			h, err := w.PreCommit(context.Background(), 2, nil)
			if err == nil {
				err = w.CommitPending(context.Background(), h)
			}
			if err != nil {
				t.Fatal(err)
			}
			writeValues(t, mem, w, 20, 30)
			return h
		}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			_, addr := newCluster(t, map[string]int32{"out": 2})
			ctx := context.Background()
			first := openEO(t, addr, nil)
			writeValues(t, mem, first, 0, 10)
			h1, err := first.PreCommit(ctx, 1, nil)
			if err == nil {
				err = first.CommitPending(ctx, h1)
			}
			if err != nil {
				t.Fatal(err)
			}
			h := tc.crash(t, mem, first, h1)
			// kill -9: the first incarnation never ends its transaction.
			zombie := first
			defer zombie.cl.Close()

			again := openEO(t, addr, h)
			defer again.Close()
			if got, want := committedValues(t, addr), wantValues(0, tc.want); !equal(got, want) {
				t.Fatalf("after recovery %d committed records, want %d (%v)", len(got), len(want), first3(got))
			}
			// The restart goes on from there.
			writeValues(t, mem, again, tc.want, tc.want+5)
			h3, err := again.PreCommit(ctx, 3, nil)
			if err == nil {
				err = again.CommitPending(ctx, h3)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := committedValues(t, addr), wantValues(0, tc.want+5); !equal(got, want) {
				t.Fatalf("after the restart's commit %d records, want %d", len(got), len(want))
			}
			// Recovering the same handle again changes nothing.
			openEO(t, addr, h3).Close()
			if got := committedValues(t, addr); len(got) != tc.want+5 {
				t.Fatalf("recovering twice: %d records, want %d", len(got), tc.want+5)
			}
		})
	}
}

func first3(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}
