package exec

import (
	"context"
	"fmt"
	"io"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// Scan reads a Source as an Operator: the leaf of every batch plan. It
// drops empty records so operators above never see zero-row batches.
type Scan struct {
	mem    memory.Allocator
	src    Source
	spec   ScanSpec
	schema *arrow.Schema
	reader SourceReader
	opened bool
	closed bool
}

var _ Operator = (*Scan)(nil)

// NewScan returns a scan of src reading spec.Columns (all when nil). A
// column index outside the source schema is an error, found here rather
// than at Open so planning bugs surface early.
func NewScan(mem memory.Allocator, src Source, spec ScanSpec) (*Scan, error) {
	full := src.Schema()
	schema := full
	if spec.Columns != nil {
		fields := make([]arrow.Field, len(spec.Columns))
		for i, c := range spec.Columns {
			if c < 0 || c >= full.NumFields() {
				return nil, fmt.Errorf("scan: column %d out of range (source has %d)", c, full.NumFields())
			}
			fields[i] = full.Field(c)
		}
		md := full.Metadata()
		schema = arrow.NewSchema(fields, &md)
	}
	return &Scan{mem: mem, src: src, spec: spec, schema: schema}, nil
}

// Schema is the scanned columns' schema.
func (s *Scan) Schema() *arrow.Schema { return s.schema }

// Open starts the source reader; a second call is a no-op.
func (s *Scan) Open(ctx context.Context) error {
	if s.opened {
		return nil
	}
	s.opened = true
	r, err := s.src.Open(ctx, s.mem, s.spec)
	if err != nil {
		return fmt.Errorf("scan: open source: %w", err)
	}
	s.reader = r
	return nil
}

// Next returns the next non-empty record of the source.
func (s *Scan) Next(ctx context.Context) (arrow.Record, error) {
	if s.reader == nil {
		return nil, io.EOF
	}
	for {
		b, err := s.reader.Next(ctx)
		if err != nil {
			return nil, err
		}
		if b.Record == nil {
			continue
		}
		if b.Record.NumRows() == 0 {
			b.Record.Release()
			continue
		}
		return b.Record, nil
	}
}

// Reader is the open source reader (nil before Open), exposed so a
// driver can read offsets and partitions for checkpoints and watermarks.
func (s *Scan) Reader() SourceReader { return s.reader }

// Close stops the reader; idempotent.
func (s *Scan) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.reader != nil {
		err := s.reader.Close()
		s.reader = nil
		return err
	}
	return nil
}
