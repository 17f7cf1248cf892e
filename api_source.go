package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/sluicesql/sluice/engine"
	"github.com/sluicesql/sluice/exec"
)

// SourceFunc produces the records of a source registered with
// RegisterSource. It is called once per scan, in its own goroutine, and
// calls emit for each record, in order. emit does not take ownership of
// the record (it retains what it keeps), so the caller may Release it as
// soon as emit returns; build records with Allocator(ctx). emit blocks while the query is busy, and returns
// an error once the scan is stopped; SourceFunc should then return. The
// scan ends when SourceFunc returns: nil is a normal end, an error fails
// the query.
type SourceFunc func(ctx context.Context, emit func(arrow.Record) error) error

// SourceOption changes how RegisterSource declares a source.
type SourceOption func(*sourceConfig)

type sourceConfig struct {
	unbounded bool
	watermark *engine.Watermark
}

// Unbounded declares that a registered source does not end by itself (a
// live feed), so batch queries over it are planned as they are over Kafka
// and streaming queries never wait for its end. Without it a Go source is
// bounded: its SourceFunc is expected to return.
func Unbounded() SourceOption {
	return func(c *sourceConfig) { c.unbounded = true }
}

// WithWatermark gives a registered source event time, like WATERMARK FOR
// column AS column - INTERVAL delay in CREATE SOURCE: windows over it
// close once the largest timestamp seen passes their end by delay.
func WithWatermark(column string, delay time.Duration) SourceOption {
	return func(c *sourceConfig) { c.watermark = &engine.Watermark{Column: column, Delay: delay} }
}

// RegisterSource makes Go code a source that SQL can query by name, next
// to the sources made by CREATE SOURCE. schema is the schema of every
// record fn emits; use the types the SQL types map to (BIGINT → Int64,
// INT → Int32, DOUBLE → Float64, VARCHAR → String, BOOLEAN → Boolean,
// TIMESTAMP → Timestamp(µs), DATE → Date32).
func (db *DB) RegisterSource(name string, schema *arrow.Schema, fn SourceFunc, opts ...SourceOption) error {
	if name == "" || schema == nil || fn == nil {
		return errors.New("RegisterSource: name, schema and fn are required")
	}
	var cfg sourceConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.watermark != nil && schema.FieldIndices(cfg.watermark.Column) == nil {
		return fmt.Errorf("RegisterSource %s: watermark column %q is not in the schema", name, cfg.watermark.Column)
	}
	src := &funcSource{schema: schema, fn: fn, bounded: !cfg.unbounded}
	if err := db.s.RegisterSource(name, src, cfg.watermark); err != nil {
		return fmt.Errorf("RegisterSource: %w", err)
	}
	return nil
}

// funcSource is an exec.Source over a SourceFunc.
type funcSource struct {
	schema  *arrow.Schema
	fn      SourceFunc
	bounded bool
}

var (
	_ exec.Source         = (*funcSource)(nil)
	_ exec.BoundedAtStart = (*funcSource)(nil)
)

func (s *funcSource) Schema() *arrow.Schema { return s.schema }
func (s *funcSource) Bounded() bool         { return s.bounded }

// BoundedAtStart is true: a batch scan of a Go source ends when its
// SourceFunc returns, Unbounded or not (see Unbounded).
func (s *funcSource) BoundedAtStart() bool { return true }

// Open starts fn in a goroutine that hands records to Next over an
// unbuffered channel, so a slow query pushes back on the producer.
func (s *funcSource) Open(ctx context.Context, mem memory.Allocator, spec exec.ScanSpec) (exec.SourceReader, error) {
	for _, c := range spec.Columns {
		if c < 0 || c >= s.schema.NumFields() {
			return nil, fmt.Errorf("go source: column %d out of range", c)
		}
	}
	rctx, cancel := context.WithCancel(context.WithValue(ctx, allocatorKey{}, mem))
	r := &funcReader{
		cols:   spec.Columns,
		schema: s.schema,
		recs:   make(chan arrow.Record),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	go func() {
		defer close(r.done)
		err := s.fn(rctx, func(rec arrow.Record) error {
			if !rec.Schema().Equal(s.schema) {
				return fmt.Errorf("go source: record schema %s does not match the registered schema %s", rec.Schema(), s.schema)
			}
			rec.Retain()
			select {
			case r.recs <- rec:
				return nil
			case <-rctx.Done():
				rec.Release()
				return rctx.Err()
			}
		})
		if err != nil && rctx.Err() == nil {
			r.err = err
		}
	}()
	return r, nil
}

// funcReader reads one scan of a funcSource.
type funcReader struct {
	cols   []int
	schema *arrow.Schema
	recs   chan arrow.Record
	done   chan struct{}
	cancel context.CancelFunc
	err    error // set by the producer before done closes
	rows   int64
	once   sync.Once
}

// Next returns the next record, io.EOF when the SourceFunc returned nil,
// or its error.
func (r *funcReader) Next(ctx context.Context) (exec.Batch, error) {
	select {
	case rec := <-r.recs:
		r.rows += rec.NumRows()
		return exec.Batch{Record: r.project(rec)}, nil
	case <-r.done:
		// The producer may have sent its last record just before ending.
		select {
		case rec := <-r.recs:
			r.rows += rec.NumRows()
			return exec.Batch{Record: r.project(rec)}, nil
		default:
		}
		if r.err != nil {
			return exec.Batch{}, fmt.Errorf("go source: %w", r.err)
		}
		return exec.Batch{}, io.EOF
	case <-ctx.Done():
		return exec.Batch{}, ctx.Err()
	}
}

// project keeps the scanned columns, taking ownership of rec.
func (r *funcReader) project(rec arrow.Record) arrow.Record {
	if r.cols == nil {
		return rec
	}
	fields := make([]arrow.Field, len(r.cols))
	cols := make([]arrow.Array, len(r.cols))
	for i, c := range r.cols {
		fields[i] = r.schema.Field(c)
		cols[i] = rec.Column(c)
	}
	out := array.NewRecord(arrow.NewSchema(fields, nil), cols, rec.NumRows())
	rec.Release()
	return out
}

// Offsets counts the rows read; a Go source cannot resume, so it is only
// informational.
func (r *funcReader) Offsets() exec.Offsets { return exec.Offsets{"rows": r.rows} }

// Partitions is the single partition of a Go source.
func (r *funcReader) Partitions() []int32 { return []int32{0} }

// Close stops the producer and waits for it, releasing anything it sent.
func (r *funcReader) Close() error {
	r.once.Do(func() {
		r.cancel()
		for {
			select {
			case rec := <-r.recs:
				rec.Release()
			case <-r.done:
				return
			}
		}
	})
	return nil
}
