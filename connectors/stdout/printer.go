// Package stdout is the 'stdout' sink and the result printer the CLI and
// REPL share: table (go-pretty, buffered until Flush), CSV or JSON lines,
// all by the text rules of package format.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/sluicesql/sluice/connectors"
	"github.com/sluicesql/sluice/connectors/format"
	"github.com/sluicesql/sluice/exec"
)

func init() {
	connectors.RegisterSink("stdout", Options, func(_ connectors.Env, opts connectors.Options) (exec.Sink, error) {
		f := opts["format"]
		if f == "" {
			f = "table"
		}
		if _, err := NewPrinter(io.Discard, f); err != nil {
			return nil, err
		}
		return &Sink{W: os.Stdout, Format: f}, nil
	})
}

// Options are the stdout sink's WITH options.
var Options = []connectors.Option{
	{Name: "format", Type: "enum", Default: "table", Values: []string{"table", "csv", "json"}, Doc: "how rows are printed"},
}

// Printer formats records for people and pipes. CSV and JSON stream as
// records arrive; a table needs every row to size its columns, so it is
// buffered and printed by Flush. Not safe for concurrent use.
type Printer struct {
	w      io.Writer
	format string
	schema *arrow.Schema
	header bool        // CSV header written
	rows   []table.Row // buffered table rows
	buf    []byte
}

// NewPrinter makes a printer for format table, csv or json.
func NewPrinter(w io.Writer, format string) (*Printer, error) {
	f := strings.ToLower(format)
	switch f {
	case "table", "csv", "json":
	default:
		return nil, fmt.Errorf("unknown output format %q (want table, csv or json)", format)
	}
	return &Printer{w: w, format: f}, nil
}

// SetSchema tells the printer the result's columns, so an empty result
// still prints its header.
func (p *Printer) SetSchema(s *arrow.Schema) { p.schema = s }

// Write prints (csv, json) or buffers (table) rec; it keeps no reference
// to rec.
func (p *Printer) Write(rec arrow.Record) error {
	p.schema = rec.Schema()
	switch p.format {
	case "csv":
		err := format.WriteCSV(p.w, rec, !p.header)
		p.header = true
		return err
	case "json":
		return format.WriteJSONLines(p.w, rec)
	}
	cols := rec.Columns()
	for r := 0; r < int(rec.NumRows()); r++ {
		row := make(table.Row, len(cols))
		for c, a := range cols {
			if a.IsNull(r) {
				row[c] = "NULL"
				continue
			}
			p.buf = format.AppendFieldValue(p.buf[:0], rec.Schema().Field(c), a, r)
			row[c] = string(p.buf)
		}
		p.rows = append(p.rows, row)
	}
	return nil
}

// Flush prints a buffered table (and resets it), or the CSV header of a
// result that had no rows.
func (p *Printer) Flush() error {
	switch p.format {
	case "csv":
		if !p.header && p.schema != nil {
			p.header = true
			return format.WriteCSVHeader(p.w, p.schema, ',')
		}
		return nil
	case "json":
		return nil
	}
	if p.schema == nil {
		return nil
	}
	t := table.NewWriter()
	hdr := make(table.Row, p.schema.NumFields())
	var cfg []table.ColumnConfig
	for i, f := range p.schema.Fields() {
		hdr[i] = f.Name
		if isNumeric(f.Type) && !format.IsOpColumn(f) {
			cfg = append(cfg, table.ColumnConfig{Number: i + 1, Align: text.AlignRight})
		}
	}
	t.AppendHeader(hdr, table.RowConfig{AutoMerge: false})
	t.AppendRows(p.rows)
	t.SetColumnConfigs(cfg)
	t.Style().Format.Header = text.FormatDefault
	p.rows = nil
	if _, err := io.WriteString(p.w, t.Render()+"\n"); err != nil {
		return fmt.Errorf("print table: %w", err)
	}
	return nil
}

// Reset drops buffered rows and forgets the header state, for the next
// statement's result.
func (p *Printer) Reset() {
	p.rows, p.schema, p.header = nil, nil, false
}

func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32,
		arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
		return true
	}
	return false
}

// Sink prints results to W (os.Stdout for the registered connector).
type Sink struct {
	W      io.Writer
	Format string // table, csv or json
}

var _ exec.Sink = (*Sink)(nil)

// Open starts printing a result; changelogs print their op column as
// +I/-U/+U/-D.
func (s *Sink) Open(ctx context.Context, mem memory.Allocator, schema *arrow.Schema, mode exec.SinkMode) (exec.SinkWriter, error) {
	p, err := NewPrinter(s.W, s.Format)
	if err != nil {
		return nil, err
	}
	p.SetSchema(schema)
	return &writer{p: p}, nil
}

type writer struct {
	p       *Printer
	closed  bool
	pending int64 // rows written since the last commit
}

// Write prints or buffers rec.
func (w *writer) Write(ctx context.Context, rec arrow.Record) error {
	if w.closed {
		return fmt.Errorf("stdout sink: write after close")
	}
	w.pending += rec.NumRows()
	return w.p.Write(rec)
}

// Commit prints the buffered table (each micro-batch is its own table);
// a commit that brought no rows prints nothing, not an empty table per
// checkpoint of a quiet stream.
func (w *writer) Commit(ctx context.Context, upTo exec.Offsets) error {
	if w.pending == 0 {
		return nil
	}
	w.pending = 0
	return w.p.Flush()
}

// Close discards an uncommitted table; idempotent.
func (w *writer) Close() error {
	w.closed = true
	w.p.rows = nil
	return nil
}
