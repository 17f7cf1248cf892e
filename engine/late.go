package engine

import (
	"context"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/stream"
	"github.com/sluicesql/sluice/planner"
)

// lateWriter writes late rows, with the reason they were late, to the sink
// named by a source's 'late.sink' option, so that no row is silently lost.
// Its schema is decided by the first late row (the columns that reach the
// window operator) plus a `late_reason` column.
type lateWriter struct {
	db   *Session
	name string
	sink exec.Sink
	w    exec.SinkWriter
	n    int64
}

func (db *Session) openLateSink(ctx context.Context, name string, src *planner.SourceDef) (*lateWriter, error) {
	db.mu.Lock()
	e, ok := db.cat.Sink(name)
	db.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown sink %q (create it first with CREATE SINK)", name)
	}
	return &lateWriter{db: db, name: name, sink: e.Sink}, nil
}

// write is the stream.WindowOptions.OnLate callback.
func (l *lateWriter) write(row stream.LateRow) error {
	rec, ok := row.Record.(arrow.Record)
	if !ok {
		return fmt.Errorf("late sink %s: unexpected row holder %T", l.name, row.Record)
	}
	ctx := context.Background()
	fields := append(append([]arrow.Field(nil), rec.Schema().Fields()...), arrow.Field{Name: "late_reason", Type: arrow.BinaryTypes.String})
	schema := arrow.NewSchema(fields, nil)
	if l.w == nil {
		w, err := l.sink.Open(ctx, l.db.mem, schema, exec.SinkMode{})
		if err != nil {
			return fmt.Errorf("late sink %s: %w", l.name, err)
		}
		l.w = w
	}
	one := rec.NewSlice(int64(row.Index), int64(row.Index)+1)
	defer one.Release()
	b := array.NewStringBuilder(l.db.mem)
	defer b.Release()
	b.Append(row.Reason)
	reason := b.NewArray()
	defer reason.Release()
	cols := append(append([]arrow.Array(nil), one.Columns()...), reason)
	out := array.NewRecord(schema, cols, 1)
	defer out.Release()
	l.n++
	return l.w.Write(ctx, out)
}

// close commits what was written.
func (l *lateWriter) close() error {
	if l.w == nil {
		return nil
	}
	defer l.w.Close()
	return l.w.Commit(context.Background(), nil)
}
