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
	dict   []int // output columns a consumer accepts dictionary-encoded
}

// DictionaryReader is implemented by source readers that can return string
// columns dictionary-encoded (int32 indices over the distinct values, as
// stored in a Parquet file) instead of materialising a string per row.
// Only a consumer that handles dictionary arrays in those columns asks for
// it, through Scan.KeepDictionaries: the batches then no longer match
// Scan.Schema in those columns.
type DictionaryReader interface {
	// KeepDictionaries lists the output columns (indices into
	// ScanSpec.Columns order) to return dictionary-encoded when the data
	// allows; others, and data without a dictionary, stay plain.
	KeepDictionaries(cols []int)
}

// KeepDictionaries lets the source return the given output columns as
// dictionary arrays (see DictionaryReader); sources that cannot ignore it.
// Call it before Open. HashAggregate calls it for a plain string group key
// it reads straight from the scan.
func (s *Scan) KeepDictionaries(cols []int) {
	s.dict = append([]int(nil), cols...)
	if dr, ok := s.reader.(DictionaryReader); ok {
		dr.KeepDictionaries(s.dict)
	}
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
	if dr, ok := r.(DictionaryReader); ok && len(s.dict) > 0 {
		dr.KeepDictionaries(s.dict)
	}
	return nil
}

// Next returns the next non-empty record of the source.
func (s *Scan) Next(ctx context.Context) (arrow.Record, error) {
	if s.reader == nil || s.closed {
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
		s.spec.Progress.addRows(b.Record.NumRows())
		return b.Record, nil
	}
}

// Reader is the source reader (nil before Open), exposed so a driver can
// read offsets and partitions for checkpoints and watermarks. After Close
// it is the closed reader, so counters it keeps stay readable (a parallel
// scan's morsel scans are closed before the query reports them).
func (s *Scan) Reader() SourceReader { return s.reader }

// Close stops the reader; idempotent.
func (s *Scan) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.reader != nil {
		return s.reader.Close()
	}
	return nil
}
