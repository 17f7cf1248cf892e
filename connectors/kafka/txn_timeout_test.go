package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
)

// TestExactlyOnceCommitAfterTxnTimeout: the broker aborts a transaction
// whose records were all acknowledged at its timeout (the process was
// paused that long), so the commit meets INVALID_TXN_STATE. It must be
// exec.ErrFenced, which a scaled-out query recovers from (Abort makes a
// new producer), not an error that stops the query; the aborted records
// never become visible and the next transaction commits.
func TestExactlyOnceCommitAfterTxnTimeout(t *testing.T) {
	mem := checkedMem(t)
	_, addr := newCluster(t, map[string]int32{"in": 1, "out": 1})
	produce(t, addr, rec("in", 0, "a"), rec("in", 0, "b"), rec("in", 0, "c"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src, err := NewSource(opts("topic", "in", "brokers", addr, "format", "raw", "group.id", "tt", "scan.startup.mode", "earliest-offset"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := src.OpenReader(ctx, mem, exec.ScanSpec{BatchSize: 3, Linger: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sink, err := NewSink(opts("topic", "out", "brokers", addr, "delivery", "exactly-once", "transactional.id", "tt-out", "transaction.timeout", "1s"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sink.OpenWriter(ctx, src.Schema(), exec.SinkMode{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Record.Release()
	if err := w.Write(ctx, b.Record); err != nil {
		t.Fatal(err)
	}
	if err := w.cl.Flush(ctx); err != nil { // every record acknowledged
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // past the transaction timeout
	err = w.Commit(ctx, exec.Offsets{})
	if !errors.Is(err, exec.ErrFenced) {
		t.Fatalf("commit of a transaction the broker aborted at its timeout: %v, want exec.ErrFenced", err)
	}
	if err := w.Abort(ctx); err != nil {
		t.Fatalf("abort after the timeout: %v", err)
	}
	if err := w.Write(ctx, b.Record); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, exec.Offsets{}); err != nil {
		t.Fatalf("commit after a new producer: %v", err)
	}
	if got := consumeAll(t, addr, "out", true); len(got) != int(b.Record.NumRows()) {
		t.Fatalf("committed output has %d records, want %d (the aborted transaction's are not visible)", len(got), b.Record.NumRows())
	}
}
