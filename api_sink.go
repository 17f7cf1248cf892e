package sluice

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/exec"
)

// SinkFunc receives the records a query writes into a sink registered
// with RegisterSink, in order, from one goroutine per query. It does not
// own rec: Retain it to keep it past the call. For a changelog query (EMIT
// CHANGES) the first column is the int8 op column (exec.Op values). An
// error fails the query.
type SinkFunc func(ctx context.Context, rec arrow.Record) error

// RegisterSink makes a Go function a sink that INSERT INTO name … and
// CREATE SINK … AS can write to. Records are handed over as the query
// produces them, not held back until a commit, so a streaming query's
// output reaches fn as soon as it is emitted.
func (db *DB) RegisterSink(name string, fn SinkFunc) error {
	if name == "" || fn == nil {
		return errors.New("RegisterSink: name and fn are required")
	}
	if err := db.s.RegisterSink(name, funcSink(fn)); err != nil {
		return fmt.Errorf("RegisterSink: %w", err)
	}
	return nil
}

// funcSink is an exec.Sink over a SinkFunc.
type funcSink SinkFunc

var _ exec.Sink = funcSink(nil)

func (s funcSink) Open(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, mode exec.SinkMode) (exec.SinkWriter, error) {
	return &funcSinkWriter{fn: SinkFunc(s)}, nil
}

type funcSinkWriter struct {
	fn     SinkFunc
	closed bool
}

func (w *funcSinkWriter) Write(ctx context.Context, rec arrow.Record) error {
	if w.closed {
		return errors.New("go sink: write after close")
	}
	return w.fn(ctx, rec)
}

func (w *funcSinkWriter) Commit(context.Context, exec.Offsets) error { return nil }

func (w *funcSinkWriter) Close() error { w.closed = true; return nil }
